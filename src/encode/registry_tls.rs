//! TLS to the schema registry (rustls, ring provider), from Confluent's
//! `<converter>.schema.registry.ssl.*` settings: the registry's certificate
//! checked against the PEM truststore (only its CAs, as a Java truststore
//! replaces the default one) or, without one, the system roots; its name
//! always checked; a client certificate from a PEM keystore (private key and
//! certificate chain in one file, as Kafka's `ssl.keystore.type=PEM`).
//!
//! ```text
//!   RegistryTls { truststore, keystore } ── client_config() ──▶ rustls::ClientConfig ──▶ reqwest (use_preconfigured_tls)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

/// `<converter>.schema.registry.ssl.*`, validated: PEM files only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryTls {
    /// `schema.registry.ssl.truststore.location`: PEM CA certificates; the
    /// system roots when `None`.
    pub truststore: Option<PathBuf>,
    /// `schema.registry.ssl.keystore.location`: PEM private key (unencrypted)
    /// and the certificate chain that goes with it, for client authentication.
    pub keystore: Option<PathBuf>,
}

impl RegistryTls {
    /// Whether anything differs from reqwest's defaults (system roots, no client certificate).
    pub fn is_custom(&self) -> bool {
        self.truststore.is_some() || self.keystore.is_some()
    }
}

/// Why the TLS settings cannot be used; names the setting (without the converter prefix).
#[derive(Debug, thiserror::Error)]
#[error("schema.registry.{setting}: {detail}")]
pub struct TlsSetupError {
    /// e.g. `ssl.truststore.location`.
    pub setting: &'static str,
    pub detail: String,
}

fn read(path: &Path, setting: &'static str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| TlsSetupError { setting, detail: format!("cannot read {}: {e}", path.display()) })
}

fn certificates(bytes: &[u8], path: &Path, setting: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(TlsSetupError { setting, detail: format!("{} holds no PEM certificate", path.display()) });
    }
    Ok(certs)
}

/// The rustls configuration of `tls`.
pub fn client_config(tls: &RegistryTls) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match &tls.truststore {
        Some(path) => {
            const SETTING: &str = "ssl.truststore.location";
            for cert in certificates(&read(path, SETTING)?, path, SETTING)? {
                roots.add(cert).map_err(|e| TlsSetupError { setting: SETTING, detail: e.to_string() })?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError { setting: "ssl.truststore.location", detail: e.to_string() })?
        .with_root_certificates(roots);
    match &tls.keystore {
        None => Ok(builder.with_no_client_auth()),
        Some(path) => {
            const SETTING: &str = "ssl.keystore.location";
            let bytes = read(path, SETTING)?;
            let chain = certificates(&bytes, path, SETTING)?;
            let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsSetupError {
                setting: SETTING,
                detail: format!(
                    "{} holds no unencrypted PEM private key (an encrypted one is not supported: openssl pkey -in KEY -out KEY.plain)",
                    path.display()
                ),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError { setting: SETTING, detail: format!("the key and certificate cannot be used: {e}") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = RegistryTls { truststore: Some(dir.path().join("nope.pem")), keystore: None };
        let err = client_config(&missing).unwrap_err();
        assert_eq!(err.setting, "ssl.truststore.location");
        assert!(err.to_string().contains("schema.registry.ssl.truststore.location"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").unwrap();
        let err = client_config(&RegistryTls { truststore: None, keystore: Some(empty) }).unwrap_err();
        assert_eq!(err.setting, "ssl.keystore.location");
        assert!(client_config(&RegistryTls::default()).is_ok(), "system roots, no client certificate");
    }
}
