//! Deduplication by key: a row whose key columns equal those of another row is loaded once,
//! within a load and against the rows the table already holds. Keeping the first leaves
//! what is loaded as it is and skips the new row; keeping the last replaces the loaded row
//! with the new one. Each sink loads a part into a staging table first, then moves it with
//! the SQL made here (DuckDB and PostgreSQL) or its own (BigQuery), in the load's
//! transaction.

use serde::{Deserialize, Serialize};
use sluice_core::schema::Column;

/// Which of the rows with one key stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The row loaded first (in the table already, else the first in the file).
    #[default]
    First,
    /// The row loaded last (the last in the newest file), replacing the table's.
    Last,
}

impl std::str::FromStr for Keep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "first" => Ok(Self::First),
            "last" => Ok(Self::Last),
            other => Err(format!(
                "unknown dedup keep '{other}'; expected first or last"
            )),
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::First => "first",
            Self::Last => "last",
        })
    }
}

/// Rows are unique by `key` (column names) in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dedup {
    pub key: Vec<String>,
    #[serde(default)]
    pub keep: Keep,
}

impl Dedup {
    /// `a.k1 IS NOT DISTINCT FROM b.k1 AND …`, identifiers quoted as `quote` does.
    pub fn same_key(&self, a: &str, b: &str, quote: impl Fn(&str) -> String) -> String {
        self.key
            .iter()
            .map(|k| {
                let k = quote(k);
                format!("{a}.{k} IS NOT DISTINCT FROM {b}.{k}")
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// The statements that move a staged part (`stage`, its rows in load order by `order`)
/// into `table` as `dedup` says; the last is the INSERT, whose count is the part's rows.
/// Tables are given as the destination writes them, identifiers quoted by `quote`.
pub(crate) fn move_sql(
    dedup: &Dedup,
    table: &str,
    stage: &str,
    columns: &[Column],
    order: Option<&str>,
    quote: fn(&str) -> String,
) -> Vec<String> {
    let cols = columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let kept = kept_sql(dedup, table, stage, &cols, order, quote);
    match dedup.keep {
        Keep::First => vec![format!("INSERT INTO {table} ({cols}) {kept}")],
        Keep::Last => vec![
            format!(
                "DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {stage} d WHERE {})",
                dedup.same_key("t", "d", quote)
            ),
            format!("INSERT INTO {table} ({cols}) {kept}"),
        ],
    }
}

/// The SELECT of the staged rows `move_sql` inserts: one per key (the first or last by
/// `order`), and for keep-first none whose key the table holds.
pub(crate) fn kept_sql(
    dedup: &Dedup,
    table: &str,
    stage: &str,
    cols: &str,
    order: Option<&str>,
    quote: fn(&str) -> String,
) -> String {
    let key: Vec<String> = dedup.key.iter().map(|k| quote(k)).collect();
    let order = match (order, dedup.keep) {
        (Some(o), Keep::First) => format!(" ORDER BY {o}"),
        (Some(o), Keep::Last) => format!(" ORDER BY {o} DESC"),
        (None, _) => String::new(),
    };
    let ranked = format!(
        "SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {}{order}) AS __sluice_n FROM {stage}",
        key.join(", ")
    );
    match dedup.keep {
        Keep::First => format!(
            "SELECT {cols} FROM ({ranked}) d WHERE __sluice_n = 1 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE {})",
            dedup.same_key("t", "d", quote)
        ),
        Keep::Last => format!("SELECT {cols} FROM ({ranked}) d WHERE __sluice_n = 1"),
    }
}

/// Checks that the key's columns are the table's.
///
/// # Errors
/// [`crate::Error::Invalid`] naming the first that is not.
pub fn check_key(dedup: &Dedup, columns: &[Column]) -> crate::Result<()> {
    if dedup.key.is_empty() {
        return Err(crate::Error::Invalid {
            field: "dedup_key".into(),
            message: "a dedup key names at least one column".into(),
        });
    }
    for k in &dedup.key {
        if !columns.iter().any(|c| &c.name == k) {
            return Err(crate::Error::Invalid {
                field: "dedup_key".into(),
                message: format!(
                    "dedup key column {k} is not one of the job's columns ({})",
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    Ok(())
}
