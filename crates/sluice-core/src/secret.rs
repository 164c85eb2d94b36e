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
}
