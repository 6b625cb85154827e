//! TLS for both connections to PostgreSQL (replication and catalog), with
//! libpq's `sslmode` semantics, on rustls with the `ring` provider.
//!
//! ```text
//!  client                                  server
//!    │ TCP connect ──────────────────────────▶ │
//!    │ SSLRequest (Int32 8, Int32 80877103) ─▶ │   (not sent with sslmode=disable)
//!    │ ◀── one byte: 'S' (TLS) or 'N' (no TLS) │
//!    │ TLS handshake (on 'S') ◀──────────────▶ │
//!    │ StartupMessage ... (over TLS or plain) ─▶│
//! ```
//!
//! | sslmode     | on 'N'        | chain verified                     | host name checked |
//! |-------------|---------------|------------------------------------|-------------------|
//! | disable     | (no request)  | -                                  | -                 |
//! | prefer      | continue plain| only if `sslrootcert` is given     | no                |
//! | require     | error         | only if `sslrootcert` is given     | no                |
//! | verify-ca   | error         | yes                                | no                |
//! | verify-full | error         | yes                                | yes (SAN, IP SANs)|
//!
//! Differences from libpq, on purpose: `prefer` falls back to plain text only
//! when the server answers 'N', never after a failed handshake (a certificate
//! that does not verify is an error, not a reason to drop encryption); without
//! `sslrootcert`, `verify-ca`/`verify-full` trust the system's CA store
//! (libpq reads `~/.postgresql/root.crt`); encrypted client keys
//! (`sslpassword`) are not supported.
//!
//! Exactly one byte is read after the SSLRequest, so nothing the server sends
//! before the handshake can be mistaken for encrypted data (CVE-2021-23222).
//!
//! Both connections negotiate here: the catalog connection hands the
//! negotiated stream to `tokio_postgres::Config::connect_raw` with TLS
//! disabled on the tokio-postgres side, so one code path (and one error
//! classification) serves both.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::connector::{PgConnection, SslMode};
use crate::error::{Classify, ErrorClass};

use super::replication::{BoxTransport, Transport};

/// The SSLRequest code: 1234 in the high 16 bits, 5679 in the low 16 bits.
const SSL_REQUEST_CODE: u32 = 80_877_103;

/// What the TLS layer is asked to do: `database.sslmode` and its files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `database.sslmode`.
    pub mode: SslMode,
    /// `database.sslrootcert`: PEM CA certificate(s).
    pub root_cert: Option<PathBuf>,
    /// `database.sslcert`: PEM client certificate chain.
    pub client_cert: Option<PathBuf>,
    /// `database.sslkey`: PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// Only a mode, no files.
    pub fn new(mode: SslMode) -> Self {
        TlsOptions { mode, ..TlsOptions::default() }
    }

    /// The TLS settings of a connector's connection properties.
    pub fn from_connection(conn: &PgConnection) -> Self {
        TlsOptions {
            mode: conn.sslmode,
            root_cert: conn.sslrootcert.clone(),
            client_cert: conn.sslcert.clone(),
            client_key: conn.sslkey.clone(),
        }
    }
}

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Nothing (`require`/`prefer` without `sslrootcert`): encryption only.
    None,
    /// The chain up to a trusted CA, not the host name (`verify-ca`, or
    /// `require`/`prefer` with `sslrootcert`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// A ready TLS setup, cheap to clone; shared by both connections.
#[derive(Clone)]
pub struct PgTls {
    mode: SslMode,
    verification: Verification,
    /// `None` for `disable`.
    config: Option<Arc<ClientConfig>>,
}

impl fmt::Debug for PgTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTls").field("mode", &self.mode).field("verification", &self.verification).finish()
    }
}

impl Default for PgTls {
    fn default() -> Self {
        PgTls::disabled()
    }
}

impl PgTls {
    /// Plain connections, no SSLRequest (`sslmode=disable`).
    pub fn disabled() -> Self {
        PgTls { mode: SslMode::Disable, verification: Verification::None, config: None }
    }

    /// Loads the certificates and builds the rustls configuration. Errors
    /// name the property whose file is missing or unusable.
    pub fn new(options: &TlsOptions) -> Result<Self, TlsError> {
        if options.mode == SslMode::Disable {
            return Ok(PgTls::disabled());
        }
        let verification = match (options.mode, &options.root_cert) {
            (SslMode::VerifyFull, _) => Verification::Full,
            (SslMode::VerifyCa, _) | (_, Some(_)) => Verification::Chain,
            _ => Verification::None,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let verifier: Arc<dyn ServerCertVerifier> = match verification {
            Verification::None => Arc::new(CaVerifier { roots: None, algorithms }),
            Verification::Chain => {
                let roots = Arc::new(load_roots(options.root_cert.as_deref(), options.mode)?);
                Arc::new(CaVerifier { roots: Some(roots), algorithms })
            }
            Verification::Full => {
                let roots = Arc::new(load_roots(options.root_cert.as_deref(), options.mode)?);
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsError::Setup(rustls::Error::General(e.to_string())))?
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&options.client_cert, &options.client_key) {
            (Some(cert), Some(key)) => {
                let chain = load_certs("database.sslcert", cert)?;
                let key = load_key("database.sslkey", key)?;
                builder.with_client_auth_cert(chain, key).map_err(TlsError::ClientIdentity)?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(TlsError::Unpaired { missing: "database.sslkey" }),
            (None, Some(_)) => return Err(TlsError::Unpaired { missing: "database.sslcert" }),
        };
        Ok(PgTls { mode: options.mode, verification, config: Some(Arc::new(config)) })
    }

    /// The configured `sslmode`.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// How much of the server certificate is checked.
    pub fn verification(&self) -> Verification {
        self.verification
    }

    /// Sends the SSLRequest on a fresh connection and, if the server agrees,
    /// runs the TLS handshake. Returns the stream to send the startup
    /// message on: TLS, or the plain stream (`disable`; `prefer` on 'N').
    pub async fn negotiate<S: Transport + 'static>(&self, mut io: S, host: &str) -> Result<BoxTransport, TlsError> {
        let Some(config) = &self.config else {
            return Ok(Box::new(io));
        };
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|source| TlsError::ServerName { host: host.to_owned(), source })?;
        let mut request = [0u8; 8];
        request[..4].copy_from_slice(&8u32.to_be_bytes());
        request[4..].copy_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
        io.write_all(&request).await.map_err(TlsError::Io)?;
        io.flush().await.map_err(TlsError::Io)?;
        match io.read_u8().await.map_err(TlsError::Io)? {
            b'S' => {}
            b'N' if self.mode == SslMode::Prefer => {
                tracing::info!(host, "server does not accept tls, continuing unencrypted (database.sslmode=prefer)");
                return Ok(Box::new(io));
            }
            b'N' => return Err(TlsError::Refused { host: host.to_owned(), mode: mode_name(self.mode) }),
            other => return Err(TlsError::UnexpectedResponse(other)),
        }
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let stream = connector.connect(server_name, io).await.map_err(|e| self.handshake_error(e))?;
        tracing::debug!(host, verification = ?self.verification, "tls established");
        Ok(Box::new(stream))
    }

    fn handshake_error(&self, err: io::Error) -> TlsError {
        let Some(tls) = rustls_error(&err).cloned() else {
            return TlsError::Io(err);
        };
        match certificate_hint(&tls, self.verification) {
            Some(hint) => TlsError::Certificate { mode: mode_name(self.mode), hint, source: tls },
            None => TlsError::Handshake(tls),
        }
    }
}

/// Opens a TCP connection to `host:port` and negotiates TLS on it, all
/// within `timeout`.
pub async fn connect(host: &str, port: u16, tls: &PgTls, timeout: Duration) -> Result<BoxTransport, TlsError> {
    let work = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|source| TlsError::Connect { host: host.to_owned(), port, source })?;
        tcp.set_nodelay(true).map_err(TlsError::Io)?;
        tls.negotiate(tcp, host).await
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| TlsError::Timeout { host: host.to_owned(), port })?
}

/// The rustls error inside an I/O error from a TLS stream, if there is one
/// (tokio-rustls wraps them as `InvalidData`).
pub fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Whether a rustls error means a certificate was refused: by us (chain,
/// name, validity) or by the server (our client certificate).
pub fn is_certificate_failure(err: &rustls::Error) -> bool {
    certificate_hint(err, Verification::Full).is_some()
}

/// What to do about a refused certificate; `None` when it is not one.
fn certificate_hint(err: &rustls::Error, verification: Verification) -> Option<&'static str> {
    use AlertDescription as A;
    Some(match err {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            "the server certificate does not name database.hostname: connect with a host name or IP address \
             listed in the certificate's subjectAltName, or set database.sslmode=verify-ca to skip the host name check"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => "the server certificate is expired or not yet valid: renew it on the server (or check the clock)",
        rustls::Error::InvalidCertificate(_) if verification == Verification::Full => {
            "the server certificate is not signed by a trusted CA: set database.sslrootcert to the CA certificate \
             that signed it, or set database.sslmode=require to encrypt without verifying"
        }
        rustls::Error::InvalidCertificate(_) => {
            "the server certificate is not signed by the CA in database.sslrootcert (or the system CAs): \
             set database.sslrootcert to the CA that signed it, or use database.sslmode=require without \
             database.sslrootcert to encrypt without verifying"
        }
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::CertificateRequired
            | A::AccessDenied,
        ) => "the server rejected the client certificate: check database.sslcert and database.sslkey",
        _ => return None,
    })
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// The CA certificates of `sslrootcert`, else the system's.
fn load_roots(root_cert: Option<&Path>, mode: SslMode) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = load_certs("database.sslrootcert", path)?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsError::BadPem {
                    property: "database.sslrootcert",
                    path: path.to_owned(),
                    reason: "none of its certificates can be used as a CA".into(),
                });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for err in &found.errors {
                tracing::debug!(error = %err, "skipping unreadable system ca certificates");
            }
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(TlsError::NoRoots { mode: mode_name(mode) });
            }
        }
    }
    Ok(roots)
}

fn read(property: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile { property, path: path.to_owned(), source })
}

/// Every PEM certificate in the file (at least one).
fn load_certs(property: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(property, path)?;
    let bad = |reason: String| TlsError::BadPem { property, path: path.to_owned(), reason };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into()));
    }
    Ok(certs)
}

/// The first private key in the file (PKCS#8, PKCS#1 or SEC1).
fn load_key(property: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(property, path)?;
    if pem.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(TlsError::EncryptedKey { property, path: path.to_owned() });
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::BadPem {
        property,
        path: path.to_owned(),
        reason: format!("no unencrypted PEM private key found: {e}"),
    })
}

/// The server certificate check of `require`/`prefer` and `verify-ca`.
///
/// - `roots: None` (`require`/`prefer` without a root certificate):
///   encryption without authentication, libpq's behaviour.
/// - `roots: Some` (`verify-ca`, or a root certificate given): the chain must
///   end at a trusted CA; the host name is not checked.
///
/// Handshake signatures are always checked, so the peer must hold the key of
/// the certificate it presents.
#[derive(Debug)]
struct CaVerifier {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, self.algorithms.all)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Errors of setting up TLS or negotiating it with the server.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {property} file {path}")]
    ReadFile {
        property: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{property} file {path} is unusable: {reason}")]
    BadPem { property: &'static str, path: PathBuf, reason: String },
    #[error("{property} file {path} holds an encrypted private key, which is not supported: decrypt it (openssl pkey -in KEY -out KEY.plain) and point {property} at the result")]
    EncryptedKey { property: &'static str, path: PathBuf },
    #[error("database.sslcert and database.sslkey must be set together: set {missing}")]
    Unpaired { missing: &'static str },
    #[error("database.sslcert and database.sslkey do not form a usable client identity (does the key belong to the certificate?)")]
    ClientIdentity(#[source] rustls::Error),
    #[error("database.sslmode={mode} verifies the server but the system has no CA certificates: set database.sslrootcert to the CA that signed the server's certificate")]
    NoRoots { mode: &'static str },
    #[error("cannot set up tls")]
    Setup(#[source] rustls::Error),
    #[error("database.hostname {host:?} cannot be used as a tls server name")]
    ServerName {
        host: String,
        #[source]
        source: rustls::pki_types::InvalidDnsNameError,
    },
    #[error("cannot connect to postgres at {host}:{port}")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: io::Error,
    },
    #[error("connecting to postgres at {host}:{port} timed out")]
    Timeout { host: String, port: u16 },
    #[error("the server at {host} does not accept tls connections but database.sslmode={mode} requires tls: enable ssl on the server (ssl=on) or set database.sslmode=prefer")]
    Refused { host: String, mode: &'static str },
    #[error("the server answered the tls request with byte {0:#04x} instead of 'S' or 'N': is this a postgres server?")]
    UnexpectedResponse(u8),
    #[error("tls certificate verification failed (database.sslmode={mode}): {hint}")]
    Certificate {
        mode: &'static str,
        hint: &'static str,
        #[source]
        source: rustls::Error,
    },
    #[error("tls handshake with the server failed")]
    Handshake(#[source] rustls::Error),
    #[error("i/o error while negotiating tls")]
    Io(#[source] io::Error),
}

impl Classify for TlsError {
    /// Transient only for what another attempt may fix: a lost or refused
    /// connection, a timeout. Certificates, files and settings are fatal.
    fn class(&self) -> ErrorClass {
        match self {
            TlsError::Connect { .. } | TlsError::Timeout { .. } | TlsError::Io(_) => ErrorClass::Transient,
            _ => ErrorClass::Fatal,
        }
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
