//! How the CLI words what to do: a setting named in an error becomes its flag
//! (`--encoding latin-1`), and errors about names point at the command that lists them.

use sluice_core::error::Hint;
use sluice_engine::{Error, Kind};

/// Request fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("encoding", "--encoding"),
    ("delimiter", "--delimiter"),
    ("quote", "--quote"),
    ("has_header", "--header or --no-header"),
    ("file_format", "--format"),
    ("file_pattern", "--pattern"),
    ("file_path_prefix", "--prefix"),
    ("max_file_size", "--max-file-size"),
    ("table_name", "--table"),
    ("schema", "--schema-file"),
    ("destination", "--destination"),
    ("schedule", "--schedule"),
    ("timezone", "--timezone"),
    ("schema_policy", "sluice jobs update JOB --schema-policy"),
    (
        "max_rejected",
        "sluice jobs update JOB --max-rejected N or N%",
    ),
];

/// The flag that sets a request field, if the CLI has one.
pub fn flag(field: &str) -> Option<&'static str> {
    FLAGS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, flag)| *flag)
}

/// A value as typed in a shell: `tab` for a tab, quoted when it holds anything but
/// letters, digits, `-`, `_` and `.`.
fn shell_value(value: &str) -> String {
    if value == "\t" {
        return "tab".into();
    }
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// ` (--encoding latin-1)`: the flag that carries a hint out, or nothing.
pub fn as_flag(hint: &Hint) -> String {
    let Some(flag) = hint.field.as_deref().and_then(flag) else {
        return String::new();
    };
    match &hint.value {
        Some(v) => format!(" ({flag} {})", shell_value(v)),
        None => format!(" ({flag})"),
    }
}

/// What the CLI adds to an engine error's message.
pub fn for_error(e: &Error) -> String {
    let mut extra = e.hint().map(as_flag).unwrap_or_default();
    match e {
        Error::NotFound { kind, .. } => extra.push_str(match kind {
            Kind::Connection => "; see `sluice connections list`",
            Kind::Job => "; see `sluice jobs list`",
            Kind::Run => "; see `sluice runs JOB`",
            Kind::File => "; see `sluice plan JOB`",
            Kind::SchemaVersion => "; see `sluice jobs schema JOB`",
        }),
        Error::Conflict(m) if m.contains("no job has") => {
            extra.push_str(" (--adopt, --replace-table or --table NAME)");
        }
        Error::Exists {
            kind: Kind::Job,
            name,
        } => extra.push_str(&format!(", or delete it with `sluice jobs delete {name}`")),
        Error::Busy { .. } => extra.push_str(" with `sluice run --wait`"),
        _ => {}
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_become_flags_with_shell_values() {
        let h = Hint::set("set the encoding to latin-1", "encoding", Some("latin-1"));
        assert_eq!(as_flag(&h), " (--encoding latin-1)");
        let h = Hint::set("set the delimiter to '|'", "delimiter", Some("|"));
        assert_eq!(as_flag(&h), " (--delimiter '|')");
        let h = Hint::set("try the pattern '*.csv'", "file_pattern", Some("*.csv"));
        assert_eq!(as_flag(&h), " (--pattern '*.csv')");
        let h = Hint::set("x", "delimiter", Some("\t"));
        assert_eq!(as_flag(&h), " (--delimiter tab)");
        assert_eq!(as_flag(&Hint::text("check the file")), "");
        assert_eq!(
            for_error(&Error::not_found(Kind::Job, "nope")),
            "; see `sluice jobs list`"
        );
    }
}
