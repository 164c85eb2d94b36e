//! Settings described as data: the fields of a connection provider, a file format's options
//! or a destination, as forms and help text show them.
//!
//! Each provider, format and destination declares its [`Field`]s next to the settings they
//! fill; the API serves them and the web UI draws its forms from them, so a new provider,
//! format or destination is offered without the UI learning its name. A field's `name` is
//! the key of the setting in the JSON the API takes; `a.b` names the key `b` inside `a`.

use serde::Serialize;

/// One setting a user fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    /// A short explanation shown beside the label.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub hint: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub placeholder: &'static str,
    /// A credential: sealed at rest, shown as `••••`, written but never read back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Shown only while another field has a value: `(field, value)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<(&'static str, &'static str)>,
    /// A regular expression (JavaScript and Rust alike) a value must match, checked as the
    /// user types; the server checks again.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub pattern: &'static str,
}

/// What kind of input a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    /// Text that is not echoed.
    Password,
    /// Several lines (a JSON key).
    Textarea,
    Checkbox,
    /// Yes, no, or left to detection (`null`).
    Tristate,
    Number,
    /// One of a fixed set: `(value, label)`; an empty value means "detect it".
    Choice {
        choices: &'static [(&'static str, &'static str)],
    },
}

impl Field {
    /// A plain text field; refine it with the builder methods.
    pub const fn text(name: &'static str, label: &'static str) -> Self {
        Self {
            name,
            label,
            kind: FieldKind::Text,
            hint: "",
            placeholder: "",
            secret: false,
            required: false,
            when: None,
            pattern: "",
        }
    }

    pub const fn pattern(mut self, pattern: &'static str) -> Self {
        self.pattern = pattern;
        self
    }

    pub const fn kind(mut self, kind: FieldKind) -> Self {
        self.kind = kind;
        self
    }

    pub const fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }

    pub const fn placeholder(mut self, placeholder: &'static str) -> Self {
        self.placeholder = placeholder;
        self
    }

    /// A credential, in a field of `kind` (password or textarea).
    pub const fn secret(mut self, kind: FieldKind) -> Self {
        self.kind = kind;
        self.secret = true;
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn checkbox(self) -> Self {
        self.kind(FieldKind::Checkbox)
    }

    pub const fn when(mut self, field: &'static str, value: &'static str) -> Self {
        self.when = Some((field, value));
        self
    }
}

/// A field that failed validation, for per-field errors in forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_serialize_as_forms_read_them() {
        let f = Field::text("sas_token", "SAS token")
            .secret(FieldKind::Password)
            .hint("instead of the account key");
        assert_eq!(
            serde_json::to_value(f).unwrap(),
            serde_json::json!({"name": "sas_token", "label": "SAS token", "kind": {"type": "password"},
                "hint": "instead of the account key", "secret": true})
        );
        let c = Field::text("delimiter", "Delimiter").kind(FieldKind::Choice {
            choices: &[("", "Detect"), (",", "Comma")],
        });
        assert_eq!(
            serde_json::to_value(c).unwrap()["kind"],
            serde_json::json!({"type": "choice", "choices": [["", "Detect"], [",", "Comma"]]})
        );
    }
}
