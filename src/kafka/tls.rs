//! TLS of pgcdc's own protocol connection (rustls, ring provider): the
//! broker's certificate checked against `ssl.ca.location` or the system
//! roots, its name checked unless `ssl.endpoint.identification.algorithm`
//! is empty/none, a client certificate when one is given.
//!
//! ```text
//!   TlsSettings ── client_config() ──▶ rustls::ClientConfig ── connect(tcp, host) ──▶ TlsStream
//! ```

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::security::{Pem, TlsSettings};

/// Why TLS cannot be set up or the handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {setting}")]
    Read {
        setting: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting} holds no usable PEM {what}")]
    Pem { setting: &'static str, what: &'static str },
    #[error("the CA certificates (ssl.ca.location or the system roots) cannot be used")]
    Roots(#[source] rustls::Error),
    #[error("the client certificate (ssl.certificate.location, ssl.key.location) cannot be used")]
    ClientCert(#[source] rustls::Error),
    #[error("{host} is not a valid TLS server name")]
    ServerName { host: String },
    #[error("the Kafka broker at {addr} refused the TLS connection (alert {alert}): when it requires client certificates, set ssl.certificate.location and ssl.key.location (PEM, signed by a CA the broker trusts); else check ssl.ca.location")]
    Refused { addr: String, alert: String },
    #[error("TLS handshake with the Kafka broker at {addr} failed (check ssl.ca.location and ssl.endpoint.identification.algorithm, and that the port speaks TLS)")]
    Handshake {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

fn read(pem: &Pem, setting: &'static str) -> Result<Vec<u8>, TlsError> {
    match pem {
        Pem::File(path) => std::fs::read(path).map_err(|source| TlsError::Read { setting, source }),
        Pem::Inline(text) => Ok(text.expose().as_bytes().to_vec()),
    }
}

fn certificates(pem: &Pem, setting: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(pem, setting)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(TlsError::Pem { setting, what: "certificate" });
    }
    Ok(certs)
}

/// The rustls configuration of `settings`.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match &settings.ca {
        Some(ca) => {
            for cert in certificates(ca, "ssl.ca.location")? {
                roots.add(cert).map_err(TlsError::Roots)?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Roots)?;
    let builder = if settings.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider).build().map_err(|e| {
            TlsError::Roots(rustls::Error::General(e.to_string()))
        })?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyName(inner)))
    };
    let config = match (&settings.certificate, &settings.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "ssl.certificate.location")?;
            let key_bytes = read(key, "ssl.key.location")?;
            let key = PrivateKeyDer::from_pem_slice(&key_bytes)
                .map_err(|_| TlsError::Pem { setting: "ssl.key.location", what: "unencrypted private key" })?;
            builder.with_client_auth_cert(chain, key).map_err(TlsError::ClientCert)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Handshake over `tcp` with the broker `addr` (`host:port`).
pub async fn connect(config: Arc<rustls::ClientConfig>, tcp: TcpStream, addr: &str) -> Result<TlsStream<TcpStream>, TlsError> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName { host: host.to_owned() })?;
    TlsConnector::from(config).connect(name, tcp).await.map_err(|source| match alert(&source) {
        Some(alert) => TlsError::Refused { addr: addr.to_owned(), alert },
        None => TlsError::Handshake { addr: addr.to_owned(), source },
    })
}

/// The TLS alert the broker sent, when `e` is one: with TLS 1.3 a broker
/// that refuses the client's certificate (or its absence) says so only after
/// the handshake, at the first read.
fn alert(e: &std::io::Error) -> Option<String> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(a) => Some(format!("{a:?}")),
        _ => None,
    }
}

/// The first exchange's error: a TLS alert becomes [`TlsError::Refused`].
pub(crate) fn refused(e: super::protocol::ProtocolError, addr: &str) -> super::protocol::ProtocolError {
    match &e {
        super::protocol::ProtocolError::Io(io) => match alert(io) {
            Some(alert) => TlsError::Refused { addr: addr.to_owned(), alert }.into(),
            None => e,
        },
        _ => e,
    }
}

/// `ssl.endpoint.identification.algorithm = none`: the chain is verified,
/// the name is not (librdkafka's meaning of the setting).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
