//! Telling storage failures apart: what went wrong, in words a user acts on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The bucket, container or folder does not exist.
    NotFound,
    /// Bad credentials, or credentials without list/read permission.
    AccessDenied,
    /// No connection to the endpoint (DNS, refused, TLS).
    Unreachable,
    TimedOut,
    Other,
}

impl FailureKind {
    /// What to check, for messages.
    pub fn advice(self) -> &'static str {
        match self {
            Self::NotFound => {
                "the bucket, container or folder was not found: check its name (and the region or account)"
            }
            Self::AccessDenied => {
                "access denied: check the credentials and that they may list and read the bucket"
            }
            Self::Unreachable => {
                "the endpoint is unreachable: check the endpoint URL, DNS and the network"
            }
            Self::TimedOut => "the request timed out: check the endpoint and the network",
            Self::Other => "the storage service returned an error",
        }
    }
}

const NOT_FOUND: &[&str] = &[
    "NoSuchBucket",
    "ContainerNotFound",
    "bucket does not exist",
    "404 Not Found",
    "status 404",
];
const DENIED: &[&str] = &[
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo",
    "ExpiredToken",
    "status 401",
    "status 403",
    "401 Unauthorized",
    "403 Forbidden",
    "invalid_grant",
];
const UNREACHABLE: &[&str] = &[
    "Connection refused",
    "connection refused",
    "dns error",
    "error trying to connect",
    "tcp connect error",
    "client error (Connect)",
];
const TIMED_OUT: &[&str] = &[
    "timed out",
    "operation timed out",
    "deadline has elapsed",
    "Timeout",
];

/// Classifies an object_store error by its variant and, for the generic variant, by the
/// provider's own error code in the message chain.
pub fn classify(e: &object_store::Error) -> FailureKind {
    match e {
        object_store::Error::NotFound { .. } => return FailureKind::NotFound,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            return FailureKind::AccessDenied;
        }
        _ => {}
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(" | ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(DENIED) {
        FailureKind::AccessDenied
    } else if has(NOT_FOUND) {
        FailureKind::NotFound
    } else if has(TIMED_OUT) {
        FailureKind::TimedOut
    } else if has(UNREACHABLE) {
        FailureKind::Unreachable
    } else {
        FailureKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(msg: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: msg.to_string().into(),
        }
    }

    #[test]
    fn provider_codes_map_to_kinds() {
        assert_eq!(
            classify(&generic(
                "Client error with status 404 Not Found: <Code>NoSuchBucket</Code>"
            )),
            FailureKind::NotFound
        );
        assert_eq!(
            classify(&generic(
                "Client error with status 403 Forbidden: <Code>InvalidAccessKeyId</Code>"
            )),
            FailureKind::AccessDenied
        );
        assert_eq!(
            classify(&generic(
                "error sending request: client error (Connect): tcp connect error: Connection refused"
            )),
            FailureKind::Unreachable
        );
        assert_eq!(
            classify(&generic("request timed out")),
            FailureKind::TimedOut
        );
        assert_eq!(classify(&generic("something else")), FailureKind::Other);
        let nf = object_store::Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        };
        assert_eq!(classify(&nf), FailureKind::NotFound);
    }
}
