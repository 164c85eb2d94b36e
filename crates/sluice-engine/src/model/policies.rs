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

/// How many rows of a file may be quarantined (sent to `<table>_rejected`) before the whole
/// file fails: a count, or a share of the file's records. Zero, the default, quarantines
/// nothing: the first bad row fails its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "RowsOrShare")]
pub enum MaxRejected {
    /// No row is quarantined: the first bad one fails its file.
    #[default]
    None,
    Rows(u64),
    /// Hundredths of a percent of the file's records (`2.5%` is 250).
    Share(u32),
}

/// What [`MaxRejected`] is written as: a number of rows, or text (`"25"`, `"2.5%"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RowsOrShare {
    Rows(u64),
    Text(String),
}

impl TryFrom<RowsOrShare> for MaxRejected {
    type Error = String;
    fn try_from(v: RowsOrShare) -> Result<Self, String> {
        match v {
            RowsOrShare::Rows(0) => Ok(Self::None),
            RowsOrShare::Rows(n) => Ok(Self::Rows(n)),
            RowsOrShare::Text(t) => t.parse(),
        }
    }
}

impl From<MaxRejected> for String {
    fn from(m: MaxRejected) -> String {
        m.to_string()
    }
}

impl MaxRejected {
    /// Whether bad rows are quarantined at all.
    pub fn quarantines(self) -> bool {
        self != Self::None
    }

    /// What it does, for people, with the quarantine table of `table` named.
    pub fn label(self, table: &sluice_core::names::TableName) -> String {
        let to = sluice_sinks::quarantine::table_of(table);
        match self {
            Self::None => "the first one fails its file (nothing quarantined)".into(),
            Self::Rows(n) => format!("up to {n} per file go to {to}; more fail the file"),
            Self::Share(_) => {
                format!("up to {self} of a file's rows go to {to}; more fail the file")
            }
        }
    }

    /// Whether `rejected` rows of a file of `records` records are more than it allows.
    pub fn exceeded(self, rejected: u64, records: u64) -> bool {
        match self {
            Self::None => rejected > 0,
            Self::Rows(n) => rejected > n,
            // rejected / records > share / 10000, without rounding.
            Self::Share(share) => {
                u128::from(rejected) * 10_000 > u128::from(records) * u128::from(share)
            }
        }
    }

    /// Whether `rejected` rows are too many however many records the file turns out to hold:
    /// a count can be judged before the file ends, a share only at its end.
    pub fn exceeded_already(self, rejected: u64) -> bool {
        match self {
            Self::None => rejected > 0,
            Self::Rows(n) => rejected > n,
            Self::Share(_) => false,
        }
    }
}

impl FromStr for MaxRejected {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "invalid max rejected '{s}': give a number of rows (100) or a share of the file's records (2.5%)"
            )
        };
        if let Some(share) = t.strip_suffix('%') {
            let p: f64 = share.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "invalid max rejected '{s}': a share is between 0% and 100%"
                ));
            }
            let hundredths = (p * 100.0).round() as u32;
            return Ok(if hundredths == 0 {
                Self::None
            } else {
                Self::Share(hundredths)
            });
        }
        match t.parse::<u64>().map_err(|_| bad())? {
            0 => Ok(Self::None),
            n => Ok(Self::Rows(n)),
        }
    }
}

impl fmt::Display for MaxRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("0"),
            Self::Rows(n) => write!(f, "{n}"),
            Self::Share(h) if h % 100 == 0 => write!(f, "{}%", h / 100),
            Self::Share(h) => write!(f, "{}%", f64::from(*h) / 100.0),
        }
    }
}

#[cfg(test)]
mod max_rejected_tests {
    use super::MaxRejected;

    #[test]
    fn counts_and_shares_parse_print_and_judge() {
        let m: MaxRejected = "2.5%".parse().unwrap();
        assert_eq!(
            (m, m.to_string().as_str()),
            (MaxRejected::Share(250), "2.5%")
        );
        assert!(!m.exceeded(25, 1000) && m.exceeded(26, 1000));
        assert!(!m.exceeded_already(1_000_000));
        let n: MaxRejected = "3".parse().unwrap();
        assert!(!n.exceeded(3, 10) && n.exceeded(4, 10_000) && n.exceeded_already(4));
        assert_eq!("0".parse::<MaxRejected>().unwrap(), MaxRejected::None);
        assert!(MaxRejected::None.exceeded(1, 1_000_000));
        assert!("lots".parse::<MaxRejected>().unwrap_err().contains("2.5%"));
        assert!("120%".parse::<MaxRejected>().is_err());
        let back: MaxRejected = serde_json::from_str("\"10%\"").unwrap();
        assert_eq!(back, MaxRejected::Share(1000));
        let back: MaxRejected = serde_json::from_str("7").unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), "\"7\"");
    }
}
