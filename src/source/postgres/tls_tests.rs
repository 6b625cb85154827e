//! Unit tests of [`PgTls`]: settings, file errors, the SSLRequest exchange
//! over an in-memory stream, and error classification.

use super::*;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

fn options(mode: SslMode) -> TlsOptions {
    TlsOptions::new(mode)
}

#[test]
fn verification_follows_libpq() {
    let dir = tempfile::tempdir().unwrap();
    let bogus_ca = dir.path().join("ca.crt");
    std::fs::write(&bogus_ca, "no pem here").unwrap();
    assert_eq!(PgTls::new(&options(SslMode::Disable)).unwrap().verification(), Verification::None);
    assert_eq!(PgTls::new(&options(SslMode::Prefer)).unwrap().verification(), Verification::None);
    assert_eq!(PgTls::new(&options(SslMode::Require)).unwrap().verification(), Verification::None);
    // With a root certificate, require verifies the chain: the file is read (and here refused).
    let mut with_root = options(SslMode::Require);
    with_root.root_cert = Some(bogus_ca.clone());
    let err = PgTls::new(&with_root).unwrap_err();
    assert!(matches!(err, TlsError::BadPem { property: "database.sslrootcert", .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
}

#[test]
fn file_errors_name_the_property() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crt");
    let mut o = options(SslMode::VerifyCa);
    o.root_cert = Some(missing.clone());
    let err = PgTls::new(&o).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("database.sslrootcert") && text.contains("missing.crt"), "{text}");

    let key = dir.path().join("client.key");
    std::fs::write(&key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n").unwrap();
    let cert = dir.path().join("client.crt");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let mut o = options(SslMode::Require);
    o.client_cert = Some(cert);
    o.client_key = Some(key);
    let err = PgTls::new(&o).unwrap_err();
    assert!(matches!(err, TlsError::EncryptedKey { property: "database.sslkey", .. }), "{err:?}");

    let mut o = options(SslMode::Require);
    o.client_cert = Some(missing);
    assert!(matches!(PgTls::new(&o).unwrap_err(), TlsError::Unpaired { missing: "database.sslkey" }));
}

/// A fake server: reads the SSLRequest, checks it, answers `answer`.
async fn answer_ssl_request(mut server: tokio::io::DuplexStream, answer: u8) -> tokio::io::DuplexStream {
    let mut request = [0u8; 8];
    server.read_exact(&mut request).await.unwrap();
    assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f], "SSLRequest = Int32 8, Int32 80877103");
    server.write_all(&[answer]).await.unwrap();
    server
}

#[tokio::test]
async fn prefer_continues_plain_when_the_server_says_n() {
    let (client, server) = duplex(64);
    let server = tokio::spawn(answer_ssl_request(server, b'N'));
    let tls = PgTls::new(&options(SslMode::Prefer)).unwrap();
    let mut io = tls.negotiate(client, "127.0.0.1").await.unwrap();
    let mut server = server.await.unwrap();
    // The same stream carries the startup message, unencrypted.
    io.write_all(b"startup").await.unwrap();
    let mut buf = [0u8; 7];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"startup");
}

#[tokio::test]
async fn require_fails_fatally_when_the_server_says_n() {
    for mode in [SslMode::Require, SslMode::VerifyFull] {
        let (client, server) = duplex(64);
        let server = tokio::spawn(answer_ssl_request(server, b'N'));
        let tls = PgTls { mode, verification: Verification::None, ..PgTls::new(&options(SslMode::Require)).unwrap() };
        let err = tls.negotiate(client, "db.example").await.err().unwrap();
        server.await.unwrap();
        assert!(matches!(err, TlsError::Refused { .. }), "{err:?}");
        assert!(err.to_string().contains("database.sslmode="), "{err}");
        assert_eq!(err.class(), ErrorClass::Fatal);
    }
}

#[tokio::test]
async fn an_unexpected_answer_is_fatal_and_a_cut_is_transient() {
    let (client, server) = duplex(64);
    let server = tokio::spawn(answer_ssl_request(server, b'E'));
    let tls = PgTls::new(&options(SslMode::Require)).unwrap();
    let err = tls.negotiate(client, "127.0.0.1").await.err().unwrap();
    server.await.unwrap();
    assert!(matches!(err, TlsError::UnexpectedResponse(b'E')), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);

    let (client, server) = duplex(64);
    drop(server);
    let err = tls.negotiate(client, "127.0.0.1").await.err().unwrap();
    assert!(matches!(err, TlsError::Io(_)), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn disable_sends_nothing() {
    let (client, mut server) = duplex(64);
    let mut io = PgTls::disabled().negotiate(client, "127.0.0.1").await.unwrap();
    io.write_all(b"x").await.unwrap();
    let mut first = [0u8; 1];
    server.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"x", "no SSLRequest before the startup message");
}

#[test]
fn certificate_errors_get_hints() {
    let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
    assert!(certificate_hint(&name, Verification::Full).unwrap().contains("verify-ca"));
    let issuer = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    assert!(certificate_hint(&issuer, Verification::Chain).unwrap().contains("database.sslrootcert"));
    let alert = rustls::Error::AlertReceived(AlertDescription::UnknownCA);
    assert!(certificate_hint(&alert, Verification::None).unwrap().contains("database.sslcert"));
    assert!(certificate_hint(&rustls::Error::DecryptError, Verification::Full).is_none());
    let wrapped = io::Error::new(io::ErrorKind::InvalidData, issuer.clone());
    assert_eq!(rustls_error(&wrapped), Some(&issuer));
    let tls = PgTls::new(&options(SslMode::Require)).unwrap();
    let err = tls.handshake_error(wrapped);
    assert!(matches!(err, TlsError::Certificate { mode: "require", .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
}
