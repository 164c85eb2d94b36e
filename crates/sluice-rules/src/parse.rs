//! Rules, filters and transforms as people write them on a command line, and each check as
//! the SQL it runs.

use sluice_core::names::quote_ident;

use crate::{Check, Rule, Transform};

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A bound of a range: a number as it is, anything else (a date) as a literal.
fn bound(text: &str) -> String {
    if text.parse::<f64>().is_ok() {
        text.to_string()
    } else {
        literal(text)
    }
}

impl Check {
    /// The SQL boolean that is true for a row that passes (a unique check is counted by
    /// sluice: its SQL is that of not-null, which it does not require).
    pub fn sql(&self) -> String {
        match self {
            Self::Sql { sql } => sql.clone(),
            Self::NotNull { column } => format!("{} IS NOT NULL", quote_ident(column)),
            Self::Unique { column } => format!("unique({})", quote_ident(column)),
            Self::Accepted { column, values } => format!(
                "{} IN ({})",
                quote_ident(column),
                values
                    .iter()
                    .map(|v| literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Regex { column, pattern } => format!(
                "regexp_full_match(CAST({} AS VARCHAR), {})",
                quote_ident(column),
                literal(pattern)
            ),
            Self::Range { column, min, max } => {
                let c = quote_ident(column);
                match (min, max) {
                    (Some(lo), Some(hi)) => format!("{c} BETWEEN {} AND {}", bound(lo), bound(hi)),
                    (Some(lo), None) => format!("{c} >= {}", bound(lo)),
                    (None, Some(hi)) => format!("{c} <= {}", bound(hi)),
                    (None, None) => "TRUE".into(),
                }
            }
        }
    }

    /// The check as people write it: its SQL, or its shorthand (`accepted(currency: EUR, USD)`).
    pub fn written(&self) -> String {
        match self {
            Self::Sql { sql } => sql.clone(),
            Self::NotNull { column } => format!("not_null({column})"),
            Self::Unique { column } => format!("unique({column})"),
            Self::Accepted { column, values } => {
                format!("accepted({column}: {})", values.join(", "))
            }
            Self::Regex { column, pattern } => format!("regex({column}: {pattern})"),
            Self::Range { column, min, max } => format!(
                "range({column}: {}, {})",
                min.as_deref().unwrap_or(""),
                max.as_deref().unwrap_or("")
            ),
        }
    }

    /// The column a shorthand check is about.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::Sql { .. } => None,
            Self::NotNull { column }
            | Self::Unique { column }
            | Self::Accepted { column, .. }
            | Self::Regex { column, .. }
            | Self::Range { column, .. } => Some(column),
        }
    }
}

impl std::str::FromStr for Rule {
    type Err = String;

    /// `NAME: SQL boolean`, or a shorthand: `not_null(id)`, `unique(id)`,
    /// `accepted(currency: EUR, USD)`, `regex(code: ^[A-Z]{3}$)`, `range(amount: 0, 1000)`
    /// (a bound may be left empty), each named after its kind and column unless given a
    /// name (`positive: range(amount: 0,)`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, body) = match text.split_once(':') {
            Some((name, body))
                if !name.contains('(') && !name.trim().is_empty() && is_name(name.trim()) =>
            {
                (Some(name.trim().to_string()), body.trim())
            }
            _ => (None, text),
        };
        if let Some(check) = shorthand(body)? {
            let name = name.unwrap_or_else(|| {
                let kind = body.split('(').next().unwrap_or("rule").trim();
                format!("{kind}_{}", check.column().unwrap_or(""))
            });
            return Ok(Rule { name, check });
        }
        match name {
            Some(name) if !body.is_empty() => Ok(Rule {
                name,
                check: Check::Sql {
                    sql: body.to_string(),
                },
            }),
            _ => Err(format!(
                "cannot read rule '{text}': write NAME: SQL boolean (positive: amount > 0), or not_null(col), unique(col), accepted(col: a, b), regex(col: pattern), range(col: min, max)"
            )),
        }
    }
}

fn is_name(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A shorthand check, if `body` is one (`kind(column[: arguments])`).
fn shorthand(body: &str) -> Result<Option<Check>, String> {
    let Some((kind, rest)) = body.split_once('(') else {
        return Ok(None);
    };
    let kind = kind.trim();
    if !matches!(kind, "not_null" | "unique" | "accepted" | "regex" | "range") {
        return Ok(None);
    }
    let inner = rest
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(|| format!("rule {kind}(…) is missing its closing parenthesis"))?;
    let (column, args) = match inner.split_once(':') {
        Some((c, a)) => (c.trim().to_string(), Some(a.trim())),
        None => (inner.trim().to_string(), None),
    };
    if column.is_empty() {
        return Err(format!("rule {kind}(…) needs a column: {kind}(column…)"));
    }
    let need = |what: &str| format!("rule {kind}({column}: …) needs {what}");
    Ok(Some(match (kind, args) {
        ("not_null", _) => Check::NotNull { column },
        ("unique", _) => Check::Unique { column },
        ("accepted", Some(a)) if !a.is_empty() => Check::Accepted {
            column,
            values: a.split(',').map(|v| v.trim().to_string()).collect(),
        },
        ("regex", Some(a)) if !a.is_empty() => Check::Regex {
            column,
            pattern: a.to_string(),
        },
        ("range", Some(a)) => {
            let (lo, hi) = a.split_once(',').ok_or_else(|| need("min, max"))?;
            let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
            Check::Range {
                column,
                min: some(lo),
                max: some(hi),
            }
        }
        ("accepted", _) => return Err(need("its values: accepted(col: a, b)")),
        ("regex", _) => return Err(need("a pattern: regex(col: ^[A-Z]+$)")),
        _ => return Err(need("min, max: range(col: 0, 100)")),
    }))
}

impl std::str::FromStr for Transform {
    type Err = String;

    /// `column = SQL expression`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((column, sql)) if !column.trim().is_empty() && !sql.trim().is_empty() => {
                Ok(Transform {
                    column: column.trim().to_string(),
                    sql: sql.trim().to_string(),
                })
            }
            _ => Err(format!(
                "cannot read transform '{text}': write column = SQL expression (note = trim(note))"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_in_sql_or_as_shorthands() {
        let r: Rule = "positive: amount > 0".parse().unwrap();
        assert_eq!(
            (r.name.as_str(), r.check.sql()),
            ("positive", "amount > 0".into())
        );
        let r: Rule = "not_null(id)".parse().unwrap();
        assert_eq!(
            (r.name.as_str(), r.check.sql()),
            ("not_null_id", "\"id\" IS NOT NULL".into())
        );
        let r: Rule = "accepted(currency: EUR, US'D)".parse().unwrap();
        assert_eq!(r.check.sql(), "\"currency\" IN ('EUR', 'US''D')");
        let r: Rule = "codes: regex(code: ^[A-Z]{3}$)".parse().unwrap();
        assert_eq!(r.name, "codes");
        assert_eq!(
            r.check.sql(),
            "regexp_full_match(CAST(\"code\" AS VARCHAR), '^[A-Z]{3}$')"
        );
        let r: Rule = "range(amount: 0, )".parse().unwrap();
        assert_eq!(r.check.sql(), "\"amount\" >= 0");
        let r: Rule = "range(day: 2024-01-01, 2024-12-31)".parse().unwrap();
        assert_eq!(
            r.check.sql(),
            "\"day\" BETWEEN '2024-01-01' AND '2024-12-31'"
        );
        assert!(
            "amount > 0"
                .parse::<Rule>()
                .unwrap_err()
                .contains("NAME: SQL boolean")
        );
        assert!(
            "accepted(currency)"
                .parse::<Rule>()
                .unwrap_err()
                .contains("needs its values")
        );
        // Written back as typed, and read again the same.
        let r: Rule = "range(amount: 0, )".parse().unwrap();
        assert_eq!(r.to_string(), "range_amount: range(amount: 0, )");
        assert_eq!(r.to_string().parse::<Rule>().unwrap(), r);
        let t: Transform = "note = trim(note)".parse().unwrap();
        assert_eq!((t.column.as_str(), t.sql.as_str()), ("note", "trim(note)"));
        assert!("trim(note)".parse::<Transform>().is_err());
    }
}
