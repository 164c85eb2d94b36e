//! The versions a job's schema went through: accepted ones, and proposed ones waiting for a
//! person.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::schema::{Column, SchemaDiff, TableChange};

/// Where a schema version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// The job's schema now (the newest accepted) or before.
    Accepted,
    /// A refused file's columns, waiting for a person to approve them.
    Proposed,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Proposed => "proposed",
        }
    }
}

impl FromStr for VersionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "accepted" => Ok(Self::Accepted),
            "proposed" => Ok(Self::Proposed),
            other => Err(format!("unknown schema version status '{other}'")),
        }
    }
}

/// One version of a job's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// 1 for the schema the job was created with, then one more for each version.
    pub version: u32,
    pub status: VersionStatus,
    pub schema: Vec<Column>,
    /// The fingerprint of its columns (`name:TYPE|…`).
    pub fingerprint: String,
    /// How the file that caused it differed from the schema of its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<SchemaDiff>,
    /// What it changes in the table, from the version accepted before it.
    #[serde(default)]
    pub change: TableChange,
    /// The file that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// That file's fingerprint: files of its exact columns pass the gate once it is
    /// accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_fingerprint: Option<String>,
    /// How it came to be: `created`, `add-columns`, `widen` (a policy took a file's change),
    /// `proposed`, `approved`, `edited`.
    pub how: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
}

/// A schema version for the catalog to store.
#[derive(Debug, Clone)]
pub struct NewSchemaVersion {
    pub schema: Vec<Column>,
    pub diff: Option<SchemaDiff>,
    pub change: TableChange,
    pub file_path: Option<String>,
    pub file_fingerprint: Option<String>,
    pub how: String,
}

impl NewSchemaVersion {
    /// The fingerprint of its columns.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.schema)
    }
}

/// The fingerprint of a list of columns, as detection computes a file's.
pub fn fingerprint_of(columns: &[Column]) -> String {
    sluice_core::schema::fingerprint(columns.iter().map(|c| (c.name.as_str(), c.column_type())))
}
