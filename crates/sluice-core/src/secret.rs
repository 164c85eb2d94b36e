//! Credentials at rest: AES-256-GCM with a key from `SLUICE_SECRET_KEY` or a key file.
//!
//! A sealed value is `v1:` + base64(nonce ‖ ciphertext ‖ tag). The associated data binds a
//! value to what it belongs to (a connection's name and field), so a sealed value copied to
//! another record does not open there.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The environment variable that holds the key (base64 of 32 bytes).
pub const KEY_ENV: &str = "SLUICE_SECRET_KEY";
/// The key file's name in the data directory, created on first use with mode 0600.
pub const KEY_FILE: &str = "secret.key";

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("invalid secret key from {source_name}: {reason}")]
    InvalidKey { source_name: String, reason: String },
    #[error("cannot read or create the key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("the stored value is not a sealed secret")]
    Malformed,
    #[error("the secret key does not open this value: it was sealed with another key")]
    WrongKey,
}

/// Where the key came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env => write!(f, "${KEY_ENV}"),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A 256-bit key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    key: Key<Aes256Gcm>,
    pub source: KeySource,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate(source: KeySource) -> Self {
        Self {
            key: Key::<Aes256Gcm>::generate(),
            source,
        }
    }

    /// Parses the text form: base64 of exactly 32 bytes.
    pub fn from_text(text: &str, source: KeySource) -> Result<Self, SecretError> {
        let invalid = |reason: &str| SecretError::InvalidKey {
            source_name: source.to_string(),
            reason: reason.into(),
        };
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| invalid("not base64; generate one with `openssl rand -base64 32`"))?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice())
            .map_err(|_| invalid("it must be 32 bytes (44 base64 characters)"))?;
        Ok(Self { key, source })
    }

    /// The text form, for a key file or `SLUICE_SECRET_KEY`.
    pub fn to_text(&self) -> String {
        B64.encode(self.key.as_slice())
    }

    /// The key from `SLUICE_SECRET_KEY` if set, else from `data_dir/secret.key`, created with
    /// mode 0600 if it does not exist.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return Self::from_text(&text, KeySource::Env);
        }
        let path = data_dir.join(KEY_FILE);
        let source = KeySource::File(path.clone());
        let file_error = |e: std::io::Error| SecretError::KeyFile {
            path: path.clone(),
            reason: e.to_string(),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_text(&text, source),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate(source);
                key.write_file(&path).map_err(file_error)?;
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// Writes the key to a new file readable by its owner only.
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(path)?;
        writeln!(f, "{}", self.to_text())?;
        f.sync_all()
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let cipher = Aes256Gcm::new(&self.key);
        let nonce = Nonce::generate();
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// Opens a value sealed with [`Self::seal`] under the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SecretError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let bytes = B64.decode(body).map_err(|_| SecretError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SecretError::Malformed)?;
        let plain = Aes256Gcm::new(&self.key)
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }

    /// Whether a stored value is sealed (as opposed to legacy plain text).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

/// A new random token of 256 bits, URL-safe (for API tokens): from the same source as keys.
pub fn random_token() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    URL_SAFE_NO_PAD.encode(Key::<Aes256Gcm>::generate().as_slice())
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a redacted secret shows.
pub const REDACTED: &str = "••••";

/// Settings that hold credentials (a connection, a destination): each credential field is
/// visited by [`Secrets::map_secrets`], and sealing, opening, redacting and keeping a secret
/// through an edit are written once, here, over it.
pub trait Secrets: Sized {
    /// A copy with `f` applied to every credential that is set, with the field's name.
    ///
    /// # Errors
    /// The first error of `f`.
    fn map_secrets<E>(
        &self,
        f: impl FnMut(&'static str, &str) -> Result<String, E>,
    ) -> Result<Self, E>;

    /// How a credential is shown: [`REDACTED`] unless a field shows part of itself (a URL
    /// shows everything but its password).
    fn redact_field(_field: &str, _value: &str) -> String {
        REDACTED.into()
    }

    /// The value to keep when an edit sends back `shown` for a credential whose stored value
    /// is `previous`: an edit form shows the redacted value and sends it back unchanged when
    /// the user keeps the secret.
    fn keep_field(field: &str, shown: &str, previous: &str) -> String {
        if shown == REDACTED || shown == Self::redact_field(field, previous) {
            previous.to_string()
        } else {
            shown.to_string()
        }
    }

    /// The names of the credential fields that are set.
    fn secret_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let _ = self.map_secrets::<std::convert::Infallible>(|f, v| {
            out.push(f);
            Ok(v.to_string())
        });
        out
    }

    /// A copy safe to show. A value still sealed is shown as [`REDACTED`] whole.
    fn redacted(&self) -> Self {
        infallible(self.map_secrets(|f, v| {
            Ok(if SecretKey::is_sealed(v) {
                REDACTED.into()
            } else {
                Self::redact_field(f, v)
            })
        }))
    }

    /// A copy with every credential sealed under `key`, bound to `context(field)`. Values
    /// already sealed stay as they are.
    fn sealed(&self, key: &SecretKey, context: impl Fn(&str) -> String) -> Self {
        infallible(self.map_secrets(|f, v| {
            Ok(if SecretKey::is_sealed(v) {
                v.to_string()
            } else {
                key.seal(v, &context(f))
            })
        }))
    }

    /// A copy with every sealed credential opened; the error names the field that did not
    /// open. Values that are not sealed (written before sealing existed) stay as they are.
    ///
    /// # Errors
    /// The field and why it did not open (another key, another record).
    fn opened(
        &self,
        key: &SecretKey,
        context: impl Fn(&str) -> String,
    ) -> Result<Self, (String, SecretError)> {
        self.map_secrets(|f, v| {
            if SecretKey::is_sealed(v) {
                key.open(v, &context(f)).map_err(|e| (f.to_string(), e))
            } else {
                Ok(v.to_string())
            }
        })
    }

    /// Fills credentials sent back redacted from `previous` (see [`Secrets::keep_field`]).
    fn keep_secrets_from(&self, previous: &Self) -> Self {
        let mut old = std::collections::BTreeMap::new();
        let _ = previous.map_secrets::<std::convert::Infallible>(|f, v| {
            old.insert(f, v.to_string());
            Ok(v.to_string())
        });
        infallible(self.map_secrets(|f, v| {
            Ok(match old.get(f) {
                Some(previous) => Self::keep_field(f, v, previous),
                None if v == REDACTED => String::new(),
                None => v.to_string(),
            })
        }))
    }

    /// Whether any credential is still redacted or sealed: such a copy cannot connect.
    fn holds_redacted(&self) -> Option<&'static str> {
        let mut found = None;
        let _ = self.map_secrets::<std::convert::Infallible>(|f, v| {
            if found.is_none() && (SecretKey::is_sealed(v) || v.contains(REDACTED)) {
                found = Some(f);
            }
            Ok(v.to_string())
        });
        found
    }
}

fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(t) => t,
        Err(never) => match never {},
    }
}

/// A URL with its password (in the user info, or a `password=` parameter) replaced by
/// [`REDACTED`]: `postgres://loader:••••@db:5432/wh?sslmode=require`.
pub fn redact_password(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, REDACTED);
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={REDACTED}"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// A URL with everything after its host replaced by [`REDACTED`]: webhooks carry their
/// token in the path (`https://hooks.slack.com/••••`).
pub fn redact_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/{REDACTED}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
        ),
        Err(_) => REDACTED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_context() {
        let key = SecretKey::generate(KeySource::Env);
        let sealed = key.seal("wJalrXUtnFEMI/K7MDENG", "conn-a/secret_access_key");
        assert!(sealed.starts_with("v1:") && !sealed.contains("wJalr"));
        assert_ne!(
            sealed,
            key.seal("wJalrXUtnFEMI/K7MDENG", "conn-a/secret_access_key"),
            "nonces differ"
        );
        assert_eq!(
            key.open(&sealed, "conn-a/secret_access_key").unwrap(),
            "wJalrXUtnFEMI/K7MDENG"
        );
        assert!(matches!(
            key.open(&sealed, "conn-b/secret_access_key"),
            Err(SecretError::WrongKey)
        ));
        let other = SecretKey::generate(KeySource::Env);
        assert!(matches!(
            other.open(&sealed, "conn-a/secret_access_key"),
            Err(SecretError::WrongKey)
        ));
        assert!(matches!(
            key.open("plain", "x"),
            Err(SecretError::Malformed)
        ));
        assert!(matches!(
            key.open("v1:AAAA", "x"),
            Err(SecretError::Malformed)
        ));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY of the assertion: the test does not set the variable; CI does not either.
        if std::env::var(KEY_ENV).is_ok() {
            return;
        }
        let a = SecretKey::load_or_create(dir.path()).unwrap();
        let b = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.to_text(), b.to_text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains(&a.to_text()));
    }

    #[test]
    fn a_malformed_key_is_a_clear_error() {
        let err = SecretKey::from_text("short", KeySource::Env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid secret key from $SLUICE_SECRET_KEY"),
            "{err}"
        );
        let err = SecretKey::from_text(&B64.encode([1u8; 16]), KeySource::Env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("32 bytes"), "{err}");
        let k = SecretKey::generate(KeySource::Env);
        assert_eq!(
            SecretKey::from_text(&k.to_text(), KeySource::Env)
                .unwrap()
                .to_text(),
            k.to_text()
        );
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, &a[..42]));
    }

    #[test]
    fn passwords_are_redacted_wherever_the_url_holds_them() {
        assert_eq!(
            redact_password("postgres://loader:s3cr%40t@db.example.com:5432/wh?sslmode=require"),
            "postgres://loader:••••@db.example.com:5432/wh?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://db/wh?user=loader&password=x&sslmode=verify-full"),
            "postgres://db/wh?user=loader&password=••••&sslmode=verify-full"
        );
        assert_eq!(
            redact_password("postgres://loader@db/wh"),
            "postgres://loader@db/wh"
        );
        assert_eq!(
            redact_path("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/••••"
        );
        assert_eq!(redact_path("not a url"), "••••");
    }

    /// A record with one plain credential and one shown in part, as connections and
    /// destinations have.
    #[derive(Debug, Clone, PartialEq)]
    struct Creds {
        token: Option<String>,
        url: String,
    }

    impl Secrets for Creds {
        fn map_secrets<E>(
            &self,
            mut f: impl FnMut(&'static str, &str) -> Result<String, E>,
        ) -> Result<Self, E> {
            Ok(Self {
                token: self.token.as_deref().map(|t| f("token", t)).transpose()?,
                url: f("url", &self.url)?,
            })
        }
        fn redact_field(field: &str, value: &str) -> String {
            if field == "url" {
                redact_password(value)
            } else {
                REDACTED.into()
            }
        }
    }

    #[test]
    fn secrets_seal_open_redact_and_survive_an_edit() {
        let c = Creds {
            token: Some("t0k3n".into()),
            url: "postgres://u:pw@h/db".into(),
        };
        let key = SecretKey::generate(KeySource::Env);
        let ctx = |f: &str| format!("rec/{f}");
        let sealed = c.sealed(&key, ctx);
        assert!(SecretKey::is_sealed(sealed.token.as_deref().unwrap()));
        assert!(SecretKey::is_sealed(&sealed.url));
        assert_eq!(sealed.sealed(&key, ctx), sealed, "sealing twice is a no-op");
        assert_eq!(sealed.opened(&key, ctx).unwrap(), c);
        let (field, _) = sealed.opened(&key, |f| format!("other/{f}")).unwrap_err();
        assert_eq!(field, "token");
        assert_eq!(
            sealed.redacted().url,
            REDACTED,
            "a sealed value shows nothing"
        );
        let shown = c.redacted();
        assert_eq!(shown.url, "postgres://u:••••@h/db");
        assert_eq!(shown.token.as_deref(), Some(REDACTED));
        assert_eq!(shown.holds_redacted(), Some("token"));
        assert_eq!(c.holds_redacted(), None);
        assert_eq!(shown.keep_secrets_from(&c), c);
        let edited = Creds {
            token: Some(REDACTED.into()),
            url: "postgres://u:new@h/db".into(),
        };
        assert_eq!(
            edited.keep_secrets_from(&c),
            Creds {
                token: Some("t0k3n".into()),
                url: "postgres://u:new@h/db".into()
            }
        );
        assert_eq!(c.secret_fields(), vec!["token", "url"]);
    }
}
