//! Validated names: what reaches SQL or a catalog key is checked once, here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A destination table, optionally schema-qualified (`analytics.transactions`).
///
/// Each part starts with a letter or `_`, holds letters, digits and `_`, and is at most 63
/// characters, so it is a valid identifier on every destination; sinks still quote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName {
    schema: Option<String>,
    name: String,
}

/// What [`TableName::parse`] accepts, as a regular expression (for forms).
pub const TABLE_NAME_PATTERN: &str =
    "^[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?$";

fn valid_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && part.len() <= 63
}

impl TableName {
    /// # Errors
    /// A message saying what is wrong and what a valid name looks like.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (schema, name) = match s.split_once('.') {
            Some((schema, name)) => (Some(schema), name),
            None => (None, s),
        };
        let bad = || {
            format!(
                "invalid table name '{s}': use letters, digits and '_', starting with a letter or '_' \
                 (optionally schema.table), at most 63 characters each"
            )
        };
        if !valid_identifier(name) || schema.is_some_and(|sc| !valid_identifier(sc)) {
            return Err(bad());
        }
        Ok(Self {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        })
    }

    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name quoted for SQL: `"schema"."table"`.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

/// Quotes an identifier for SQL, doubling embedded quotes.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl std::str::FromStr for TableName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TableName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<TableName> for String {
    fn from(t: TableName) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_qualified_names() {
        assert_eq!(
            TableName::parse("transactions").unwrap().quoted(),
            "\"transactions\""
        );
        let t = TableName::parse("raw.events_2024").unwrap();
        assert_eq!(t.schema(), Some("raw"));
        assert_eq!(t.quoted(), "\"raw\".\"events_2024\"");
    }

    #[test]
    fn rejects_what_could_break_sql() {
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "x;drop table y",
            "a.b.c",
            "\"q\"",
            &"x".repeat(64),
        ] {
            let err = TableName::parse(bad).unwrap_err();
            assert!(err.starts_with("invalid table name"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_pattern_forms_use_agrees_with_parse() {
        let re = regex::Regex::new(TABLE_NAME_PATTERN).unwrap();
        for name in [
            "t",
            "_x",
            "raw.events_2024",
            "1abc",
            "a-b",
            "a.b.c",
            "",
            &"x".repeat(63),
            &"x".repeat(64),
            "Ab.c",
        ] {
            assert_eq!(re.is_match(name), TableName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
