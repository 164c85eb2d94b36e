//! Row rules: what a job does to each row between its reader and its table, written in SQL
//! and evaluated by an in-memory DuckDB over each Arrow batch (no expression language of
//! sluice's own).
//!
//! In order: **transforms** set a column from an expression of the row (`note = trim(note)`),
//! **filters** drop the rows for which a condition is not true (counted, not errors), and
//! **rules** check what is left: a row for which a rule is false is a violation, named by
//! its record number and rule. A rule whose check is NULL passes, as SQL's CHECK does.
//!
//! DuckDB was chosen over DataFusion because sluice already builds it (it is the default
//! destination), its SQL is the one most users write against files, and DataFusion's releases
//! are on another arrow line than sluice's.

mod evaluate;
mod parse;

use serde::{Deserialize, Serialize};

pub use self::evaluate::{Applied, Evaluator, Violation, expression_type, result_type};

/// A job's row rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRules {
    /// Checks each row must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Conditions a row must meet to be loaded; other rows are dropped and counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Columns set from an expression of the row, before filters and rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
}

impl RowRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.filters.is_empty() && self.transforms.is_empty()
    }
}

/// A named check on each row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub check: Check,
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Check {
    /// A SQL boolean expression of the row's columns.
    Sql { sql: String },
    /// The column is not NULL.
    NotNull { column: String },
    /// No two rows of a file have the same value in the column (NULLs aside).
    Unique { column: String },
    /// The column's value is one of these (NULL passes).
    Accepted { column: String, values: Vec<String> },
    /// The column's text matches the regular expression as a whole (NULL passes).
    Regex { column: String, pattern: String },
    /// The column's value is within `[min, max]`; either bound may be left out.
    Range {
        column: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<String>,
    },
}

/// A column set from an expression: `column = expression`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transform {
    pub column: String,
    pub sql: String,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.check.written())
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}", self.column, self.sql)
    }
}
