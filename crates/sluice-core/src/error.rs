use serde::{Deserialize, Serialize};

use crate::schema::SchemaDiff;

/// Everything that can go wrong in storage, formats and schemas.
///
/// Messages name the file, line and column where there is one, and say what to do. What to
/// do is data where a setting fixes it ([`Hint`]): the CLI words it as a flag, the UI as the
/// field to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid connection URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("{path}: {}: {source}", crate::storage::classify(source).advice())]
    Storage {
        path: String,
        #[source]
        source: object_store::Error,
    },

    #[error("invalid file pattern '{pattern}': {reason}")]
    InvalidPattern { pattern: String, reason: String },

    /// A setting that cannot be used; `option` names it as requests do (`delimiter`,
    /// `file_format`).
    #[error("invalid option {option}: {reason}")]
    InvalidOption { option: String, reason: String },

    /// A value or record that cannot be read. `line` is 1-based and counts the header.
    #[error("{}", parse_message(path, *line, column.as_deref(), message, hint.as_deref()))]
    Parse {
        path: String,
        line: Option<u64>,
        column: Option<String>,
        message: String,
        hint: Option<Box<Hint>>,
    },

    /// The file holds no rows at all (nothing, or only blank lines): nothing to detect a
    /// schema from, and nothing to load.
    #[error("{path}: {what}; there is nothing to detect a schema from")]
    NoRows { path: String, what: String },

    /// The file is no longer the version that was listed: it was rewritten (or is still
    /// being written) while it was read. Nothing of it is loaded; the next listing sees its
    /// new version.
    #[error(
        "{path}: the file changed while it was read (it was rewritten, or is still being written); nothing of it was loaded, and the next run takes its new version"
    )]
    Changed { path: String },

    #[error("{path}: the file's columns differ from the job's schema:\n{diff}")]
    SchemaMismatch { path: String, diff: SchemaDiff },
}

/// What a user can do about an error. `text` says it in words any interface can show;
/// `field` names the setting that fixes it as requests name it (`encoding`, `delimiter`,
/// `file_pattern`, `max_file_size`) and `value` the value to give it, where one does. The
/// CLI adds the flag (`--encoding latin-1`), the UI puts the hint beside the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Hint {
    /// Advice that no one setting carries out.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            field: None,
            value: None,
        }
    }

    /// Advice to change `field` (to `value`, if given).
    pub fn set(text: impl Into<String>, field: &str, value: Option<&str>) -> Self {
        Self {
            text: text.into(),
            field: Some(field.to_string()),
            value: value.map(str::to_string),
        }
    }
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// How much of an offending value an error quotes.
pub const EXCERPT_BYTES: usize = 200;

/// A value as an error quotes it: at most [`EXCERPT_BYTES`] (cut at a character boundary),
/// with how long the whole value is when it is cut.
pub fn excerpt(value: &str) -> String {
    if value.len() <= EXCERPT_BYTES {
        return value.to_string();
    }
    let mut end = EXCERPT_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &value[..end], value.len())
}

fn parse_message(
    path: &str,
    line: Option<u64>,
    column: Option<&str>,
    message: &str,
    hint: Option<&Hint>,
) -> String {
    let mut s = path.to_string();
    if let Some(line) = line {
        s.push_str(&format!(" line {line}"));
    }
    if let Some(column) = column {
        s.push_str(&format!(", column '{column}'"));
    }
    s.push_str(": ");
    s.push_str(message);
    if let Some(hint) = hint {
        s.push_str(" — ");
        s.push_str(&hint.text);
    }
    s
}

impl Error {
    pub fn parse(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// What kind of storage failure this is, if it is one.
    pub fn storage_failure(&self) -> Option<crate::storage::FailureKind> {
        match self {
            Self::Storage { source, .. } => Some(crate::storage::classify(source)),
            _ => None,
        }
    }

    /// A store's error about a file. A failed precondition on a pinned read means the
    /// file is no longer the version listed: [`Error::Changed`].
    pub fn storage(path: impl Into<String>, source: object_store::Error) -> Self {
        match source {
            object_store::Error::Precondition { .. } => Self::Changed { path: path.into() },
            source => Self::Storage {
                path: path.into(),
                source,
            },
        }
    }

    /// The file changed between its listing and its read.
    pub fn is_changed(&self) -> bool {
        matches!(self, Self::Changed { .. })
    }

    /// The advice that comes with the error, if any.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Self::Parse { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// The request field at fault, where one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidOption { option, .. } => Some(option),
            Self::InvalidPattern { .. } => Some("file_pattern"),
            _ => None,
        }
    }

    /// Whether retrying the same operation could succeed (network, throttling), as opposed
    /// to errors in the data or the configuration.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Storage { source, .. } if !matches!(
            source,
            object_store::Error::NotFound { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
                | object_store::Error::InvalidPath { .. }
        ))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_cut_at_a_character() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert!(e.len() < EXCERPT_BYTES + 40, "{e}");
        assert!(e.ends_with("… (600 bytes in all)"), "{e}");
        assert!(e.starts_with(&"é".repeat(100)), "{e}");
    }
}
