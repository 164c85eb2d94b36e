//! TLS to PostgreSQL on rustls, with libpq's `sslmode` meanings:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | if the server offers TLS | no |
//! | `require` | yes | no (as libpq; with `sslrootcert`, as `verify-ca`) |
//! | `verify-ca` | yes | signed by a trusted CA |
//! | `verify-full` | yes | signed by a trusted CA and issued for the host |
//!
//! The trusted CAs are those of `sslrootcert=FILE` (PEM), or the system's when it is not
//! given (`sslrootcert=system`). tokio-postgres reads only `disable`, `prefer` and `require`;
//! the rest is taken out of the URL here before it reads it.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Encrypted, but anyone may answer (`prefer`, `require`).
    Nothing,
    /// The chain, up to a trusted CA (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The TLS parameters of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub verify: Verify,
    /// `sslrootcert`: a PEM file of trusted CAs; `None` for the system's.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode=verify-ca|verify-full` and `sslrootcert` out of a `postgres://` URL (as
/// `sslmode=require` plus settings) so that tokio-postgres can read the rest. Key-value
/// connection strings and URLs the `url` crate cannot read are left as they are.
///
/// # Errors
/// An unknown `sslmode`.
pub(crate) fn split(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        verify: Verify::Nothing,
        root_cert: None,
    };
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Ok((url.to_string(), settings));
    };
    if parsed.query().is_none() {
        return Ok((url.to_string(), settings));
    }
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("sslmode", "verify-ca") => {
                settings.verify = Verify::Chain;
                kept.push(("sslmode".into(), "require".into()));
            }
            ("sslmode", "verify-full") => {
                settings.verify = Verify::Full;
                kept.push(("sslmode".into(), "require".into()));
            }
            ("sslmode", "disable" | "prefer" | "require") => kept.push((k.into(), v.into())),
            ("sslmode", other) => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
            ("sslrootcert", "system") => settings.root_cert = None,
            ("sslrootcert", path) => settings.root_cert = Some(PathBuf::from(path)),
            _ => kept.push((k.into(), v.into())),
        }
    }
    // libpq: `require` with a root certificate checks the chain, as `verify-ca` does.
    if settings.verify == Verify::Nothing
        && settings.root_cert.is_some()
        && kept.iter().any(|(k, v)| k == "sslmode" && v == "require")
    {
        settings.verify = Verify::Chain;
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.to_string(), settings))
}

/// The connector for these settings; used by every connection, whatever its `sslmode`
/// (tokio-postgres does not use it for `disable`).
///
/// # Errors
/// When the root certificates cannot be read.
pub(crate) fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let chain = match settings.verify {
        Verify::Nothing => None,
        Verify::Chain | Verify::Full => {
            let roots = Arc::new(roots(settings.root_cert.as_ref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if settings.verify == Verify::Full {
                return Ok(MakeRustlsConnect::new(
                    builder.with_webpki_verifier(webpki).with_no_client_auth(),
                ));
            }
            Some(webpki)
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Lenient { provider, chain }))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(file: Option<&PathBuf>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no usable certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no system CA certificates found; give the server's CA with sslrootcert=FILE"
                        .into(),
                );
            }
        }
    }
    Ok(roots)
}

/// Less than `verify-full`. Without `chain` (`prefer`, `require`: libpq's meaning) any
/// certificate is taken; with it (`verify-ca`) the chain must lead to a trusted CA, but the
/// name it was issued for is not compared with the host (webpki checks the name only after
/// the chain). The handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_and_root_certs_are_taken_out_of_the_url() {
        let (url, s) =
            split("postgres://u:p@db:5432/wh?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x")
                .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db:5432/wh?sslmode=require&application_name=x"
        );
        assert_eq!(s.verify, Verify::Full);
        assert_eq!(s.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (url, s) = split("postgres://db/wh?sslmode=verify-ca").unwrap();
        assert_eq!(url, "postgres://db/wh?sslmode=require");
        assert_eq!((s.verify, s.root_cert), (Verify::Chain, None));

        // libpq: require with a root certificate checks the chain.
        let (_, s) = split("postgres://db/wh?sslmode=require&sslrootcert=ca.pem").unwrap();
        assert_eq!(s.verify, Verify::Chain);
        let (url, s) = split("postgres://db/wh?sslmode=prefer").unwrap();
        assert_eq!(
            (url.as_str(), s.verify),
            ("postgres://db/wh?sslmode=prefer", Verify::Nothing)
        );
        let (url, _) = split("postgres://db/wh?sslrootcert=system").unwrap();
        assert_eq!(url, "postgres://db/wh");
        assert_eq!(
            split("host=db sslmode=require").unwrap().0,
            "host=db sslmode=require"
        );

        let err = split("postgres://db/wh?sslmode=verify").unwrap_err();
        assert!(err.contains("sslmode=verify is not one of"), "{err}");
    }

    #[test]
    fn an_unreadable_root_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = connector(&TlsSettings {
            verify: Verify::Full,
            root_cert: Some(missing.clone()),
        })
        .err()
        .unwrap();
        assert!(
            err.contains(&format!("cannot read sslrootcert {}", missing.display())),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = connector(&TlsSettings {
            verify: Verify::Chain,
            root_cert: Some(empty.clone()),
        })
        .err()
        .unwrap();
        assert!(err.contains("holds no usable certificate"), "{err}");
    }
}
