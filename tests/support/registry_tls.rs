//! The tests' schema registry behind TLS (rustls, in-process) with a bearer token and,
//! optionally, client certificates; the same store also answers plain HTTP without
//! credentials, for the tests' own readers (Confluent's Python client).
//!
//! ```text
//!   pgcdc ──https + Authorization: Bearer──▶ 127.0.0.1:S (server.crt: SAN IP:127.0.0.1, signed by ca.crt)
//!                                              │ 401 {"error_code": 401} on a wrong or missing token
//!   test readers ──http──▶ 127.0.0.1:P ────────┴──▶ one Store (support::registry)
//!   other_ca.crt signs nothing the registry presents; client.pem = key + certificate signed by ca.crt
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::registry::Registry;

pub struct TlsRegistry {
    /// The plain-HTTP view (no credentials), for the tests' readers.
    pub registry: Registry,
    /// `https://127.0.0.1:<port>`: TLS, bearer token, client certificate if asked for.
    pub https_url: String,
    /// The CA that signed the registry's (and the client's) certificate.
    pub ca: PathBuf,
    /// A CA that signed nothing the registry presents.
    pub other_ca: PathBuf,
    /// PEM private key and certificate chain of a client, signed by `ca`.
    pub client_pem: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// ca, other_ca, server (SAN IP:127.0.0.1) and client certificates in `dir`.
fn make_certificates(dir: &Path) {
    for ca in ["ca", "other_ca"] {
        openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &format!("/CN=pgcdc test registry {ca}"),
            "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.crt")]);
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("server.ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("client.ext");
    for (name, cn) in [("server", "registry"), ("client", "pgcdc")] {
        openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-subj", &format!("/CN={cn}"), "-keyout", &format!("{name}.key"),
            "-out", &format!("{name}.csr")]);
        openssl(dir, &["x509", "-req", "-in", &format!("{name}.csr"), "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", &format!("{name}.ext"), "-out", &format!("{name}.crt")]);
    }
    let key = std::fs::read_to_string(dir.join("client.key")).expect("client.key");
    let cert = std::fs::read_to_string(dir.join("client.crt")).expect("client.crt");
    std::fs::write(dir.join("client.pem"), format!("{key}{cert}")).expect("client.pem");
}

fn server_config(dir: &Path, client_certificates: bool) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("server.crt")).expect("server.crt").map(|c| c.expect("certificate")).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().expect("versions");
    let builder = if client_certificates {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(dir.join("ca.crt")).expect("ca.crt") {
            roots.add(c.expect("certificate")).expect("root");
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().expect("verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder.with_single_cert(chain, key).expect("server certificate")
}

/// TCP + TLS handshake; a failed handshake (a client that does not trust us, or that has
/// no certificate when one is required) is dropped and the next connection accepted.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// 401 as Confluent's registry answers it unless `Authorization: Bearer <token>`.
async fn bearer(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request.headers().get("authorization").and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error_code": 401, "message": "Unauthorized"}))).into_response()
    }
}

impl TlsRegistry {
    /// A registry on https (bearer `token` required; client certificates signed by `ca`
    /// required when `client_certificates`) and on plain http.
    pub async fn start(token: &str, client_certificates: bool) -> TlsRegistry {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_owned();
        tokio::task::spawn_blocking({
            let d = d.clone();
            move || make_certificates(&d)
        })
        .await
        .expect("certificates");
        let registry = Registry::start().await;
        let app = registry.app().layer(middleware::from_fn_with_state(Arc::new(token.to_owned()), bearer));
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind registry");
        let https_url = format!("https://{}", tcp.local_addr().expect("address"));
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&d, client_certificates)));
        tokio::spawn(async move {
            let _ = axum::serve(TlsListener { tcp, acceptor }, app).await;
        });
        TlsRegistry {
            registry,
            https_url,
            ca: d.join("ca.crt"),
            other_ca: d.join("other_ca.crt"),
            client_pem: d.join("client.pem"),
            _dir: dir,
        }
    }
}
