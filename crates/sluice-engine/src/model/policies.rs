//! What a job does with a file that changed since it was loaded, and with one whose columns
//! are not the job's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a run does with a file whose columns differ from the job's (matched by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaPolicy {
    /// Refuse the file with the column-by-column difference, kept as a proposed version a
    /// person can approve.
    #[default]
    Fail,
    /// Add the file's new columns to the table (nullable); load missing columns as NULL.
    AddColumns,
    /// Also widen a column's type where no value is lost (INT64 → NUMERIC or FLOAT64,
    /// NUMERIC → FLOAT64, DATE → TIMESTAMP).
    Widen,
    /// Never change the table: values of unknown or mistyped columns go into the row's
    /// `_rescued` JSON column.
    Rescue,
}

impl SchemaPolicy {
    pub const ALL: [SchemaPolicy; 4] = [Self::Fail, Self::AddColumns, Self::Widen, Self::Rescue];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::AddColumns => "add-columns",
            Self::Widen => "widen",
            Self::Rescue => "rescue",
        }
    }

    /// What it does, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fail => "refuse the file; its columns become a proposed version to approve",
            Self::AddColumns => "add new columns to the table; missing ones load as NULL",
            Self::Widen => "add columns and widen types where no value is lost",
            Self::Rescue => "keep the table; unknown or mistyped values go to _rescued",
        }
    }
}

impl FromStr for SchemaPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == wanted)
            .ok_or_else(|| {
                format!("unknown schema policy '{s}'; expected fail, add-columns, widen or rescue")
            })
    }
}

impl fmt::Display for SchemaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run does with a file whose content changed after it was loaded (same path, other
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangedFiles {
    /// Replace the file's rows with its new content, in one transaction with its marker
    /// (needs lineage).
    #[default]
    Reload,
    /// Keep the first version; the change is reported and passed over.
    Ignore,
    /// Load the new version as new rows beside the old ones.
    Append,
    /// Record the change as the file's failure and alert.
    Fail,
}

impl ChangedFiles {
    pub const ALL: [ChangedFiles; 4] = [Self::Reload, Self::Ignore, Self::Append, Self::Fail];

    /// What jobs stored before the policy existed did: load the new version as new rows.
    pub fn legacy() -> Self {
        Self::Append
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reload => "reload",
            Self::Ignore => "ignore",
            Self::Append => "append",
            Self::Fail => "fail",
        }
    }

    /// What it does, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Reload => "replace the file's rows with its new content",
            Self::Ignore => "keep the first version",
            Self::Append => "load the new version as new rows",
            Self::Fail => "fail the file and alert",
        }
    }
}

impl FromStr for ChangedFiles {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!(
                    "unknown changed-files policy '{s}'; expected reload, ignore, append or fail"
                )
            })
    }
}

impl fmt::Display for ChangedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
