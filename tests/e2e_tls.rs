//! TLS to PostgreSQL, for the replication and the catalog connection, against a dedicated
//! cluster with `ssl = on` and certificates made by `openssl` at test time:
//!
//! ```text
//!   ca.crt ──signs──▶ server.crt (SAN IP:127.0.0.1 only)     other_ca.crt (signs nothing we meet)
//!          └─signs──▶ client.crt (CN=pgcdc_cert)
//! ```
//!
//! `pg_hba.conf` rejects [`TLS_ONLY`] on unencrypted connections, so a successful login as
//! that role proves the connection is encrypted; [`CERT_USER`] logs in by client
//! certificate (`cert`). The fallback of `prefer` and the failure of `require` run against
//! the shared cluster, which has no TLS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pgcdc::config::connector::{ConnectorConfig, SslMode};
use pgcdc::error::{chain, Classify, ErrorClass};
use pgcdc::source::postgres::capture::{PostgresSource, SourceError};
use pgcdc::source::postgres::replication::{ReplicationClient, ReplicationConfig, ReplicationError};
use pgcdc::source::postgres::tls::{PgTls, TlsError, TlsOptions};
use tokio::sync::OnceCell;

use crate::support::postgres::{PgSetup, SUPERUSER};
use crate::support::{unique_name, PgServer, TestDatabase};

/// Superuser that `pg_hba.conf` rejects without TLS.
const TLS_ONLY: &str = "pgcdc_tls_only";
/// Role that authenticates with a client certificate (its CN).
const CERT_USER: &str = "pgcdc_cert";

/// The TLS cluster and the client side's files.
struct TlsCluster {
    server: PgServer,
    /// Holds ca.crt, other_ca.crt, client.crt, client.key.
    certs: tempfile::TempDir,
}

impl TlsCluster {
    fn file(&self, name: &str) -> PathBuf {
        self.certs.path().join(name)
    }
}

/// One TLS cluster for this module's tests (about 2 s to start), shared like the plain one.
async fn cluster() -> &'static TlsCluster {
    static CLUSTER: OnceCell<TlsCluster> = OnceCell::const_new();
    CLUSTER
        .get_or_init(|| async {
            let certs = tempfile::tempdir().unwrap();
            make_certificates(certs.path());
            let read = |name: &str| std::fs::read(certs.path().join(name)).unwrap();
            let setup = PgSetup {
                conf: "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'".into(),
                hba: format!(
                    "hostnossl all         {TLS_ONLY}  127.0.0.1/32 reject\n\
                     hostnossl replication {TLS_ONLY}  127.0.0.1/32 reject\n\
                     hostssl   all         {CERT_USER} 127.0.0.1/32 cert\n\
                     hostssl   replication {CERT_USER} 127.0.0.1/32 cert"
                ),
                files: vec![
                    ("server.crt".into(), read("server.crt")),
                    ("server.key".into(), read("server.key")),
                    ("ca.crt".into(), read("ca.crt")),
                ],
            };
            let server = PgServer::dedicated_with(&setup);
            admin(&server)
                .execute(&format!(
                    "CREATE ROLE {TLS_ONLY} LOGIN REPLICATION SUPERUSER; CREATE ROLE {CERT_USER} LOGIN REPLICATION;"
                ))
                .await;
            TlsCluster { server, certs }
        })
        .await
}

fn admin(server: &PgServer) -> TestDatabase {
    TestDatabase { name: "postgres".into(), host: server.host.clone(), port: server.port }
}

/// A CA, a second unrelated CA, a server certificate for IP 127.0.0.1 and a client
/// certificate for [`CERT_USER`], all P-256, written to `dir`.
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "other_ca"] {
        openssl(dir, &[&["req", "-x509", "-new"], &ec[..], &[
            "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.crt"), "-days", "2",
            "-subj", &format!("/CN=pgcdc test {ca}"),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ]]
        .concat());
    }
    let leaves = [
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", &format!("/CN={CERT_USER}"), "extendedKeyUsage=clientAuth\n"),
    ];
    for (name, subject, ext) in leaves {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n{ext}"),
        )
        .unwrap();
        openssl(dir, &[&["req", "-new"], &ec[..], &[
            "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"), "-subj", subject,
        ]]
        .concat());
        openssl(dir, &[
            "x509", "-req", "-in", &format!("{name}.csr"), "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", &format!("{name}.crt"), "-extfile", &format!("{name}.ext"),
        ]);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn tls_options(mode: SslMode, root_cert: Option<PathBuf>) -> TlsOptions {
    TlsOptions { root_cert, ..TlsOptions::new(mode) }
}

fn repl_config(server: &PgServer, host: &str, user: &str, tls: &TlsOptions) -> ReplicationConfig {
    let mut c = ReplicationConfig::new(host, server.port, user, "postgres");
    c.tls = PgTls::new(tls).unwrap();
    c.connect_timeout = Duration::from_secs(20);
    c
}

/// Whether the server sees this replication connection as encrypted.
async fn ssl_in_use(repl: &mut ReplicationClient) -> bool {
    let rows = repl.simple_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").await.unwrap();
    match rows.as_slice() {
        [row] => row[0].as_deref() == Some("t"),
        other => panic!("pg_stat_ssl: {other:?}"),
    }
}

/// Connects, checks that the connection is encrypted as expected, and closes it.
async fn connects(config: &ReplicationConfig, expect_ssl: bool) {
    let mut repl = ReplicationClient::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect {:?} as {}: {}", config.tls, config.user, chain(&e)));
    assert_eq!(ssl_in_use(&mut repl).await, expect_ssl, "{:?}", config.tls);
    repl.identify_system().await.unwrap();
    repl.close().await.unwrap();
}

/// The error of a replication connect that must fail.
async fn connect_error(config: &ReplicationConfig) -> ReplicationError {
    match ReplicationClient::connect(config).await {
        Ok(_) => panic!("connect {:?} to {} succeeded", config.tls, config.host),
        Err(e) => e,
    }
}

/// Connector properties for `db` as `user` with `extra` (sslmode, files, ...).
fn connector(db: &TestDatabase, host: &str, user: &str, slot: &str, extra: &[(&str, &str)]) -> ConnectorConfig {
    let mut props: BTreeMap<String, String> = [
        ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
        ("database.hostname", host),
        ("database.user", user),
        ("database.dbname", db.name.as_str()),
        ("plugin.name", "pgoutput"),
        ("slot.name", slot),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    props.insert("database.port".into(), db.port.to_string());
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ConnectorConfig::from_properties("tls_test", &props).unwrap().0
}

async fn source_error(config: &ConnectorConfig) -> SourceError {
    match PostgresSource::connect(config).await {
        Ok(_) => panic!("source connected with {:?}", config.connection),
        Err(e) => e,
    }
}

/// Drops `slot` once its walsender has let go of it.
async fn drop_slot_when_released(db: &TestDatabase, slot: &str) {
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dropped = client
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                &[&slot],
            )
            .await
            .unwrap();
        if dropped == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "slot {slot} still active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn require_without_root_cert_encrypts_both_connections() {
    // GIVEN a TLS cluster whose pg_hba.conf rejects TLS_ONLY without TLS
    let c = cluster().await;
    let host = c.server.host.clone();
    let plain = repl_config(&c.server, &host, TLS_ONLY, &tls_options(SslMode::Disable, None));
    let err = connect_error(&plain).await;
    assert_eq!(err.sqlstate(), Some("28000"), "unencrypted login must be rejected: {}", chain(&err));
    let db = c.server.create_database("tls_require").await;
    let slot = unique_name("tls_require");

    // WHEN the source connects with sslmode=require and no root certificate
    let config = connector(&db, &host, TLS_ONLY, &slot, &[("database.sslmode", "require")]);
    let source = PostgresSource::connect(&config).await.unwrap_or_else(|e| panic!("{}", chain(&e)));

    // THEN the catalog connection and the walsender are both encrypted
    let rows = db
        .client()
        .await
        .query(
            "SELECT a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.usename = $1 AND a.datname = $2 ORDER BY 1",
            &[&TLS_ONLY, &db.name],
        )
        .await
        .unwrap();
    let seen: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(seen, [("client backend".to_owned(), true), ("walsender".to_owned(), true)]);
    drop(source);
    drop_slot_when_released(&db, &slot).await;

    // and the low-level replication client alone, too
    connects(&repl_config(&c.server, &host, TLS_ONLY, &tls_options(SslMode::Require, None)), true).await;
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    // GIVEN a server certificate signed by ca.crt, naming only IP 127.0.0.1
    let c = cluster().await;
    let ca = Some(c.file("ca.crt"));
    let other_ca = Some(c.file("other_ca.crt"));

    // WHEN/THEN verify-ca with the right CA connects, even through a name the certificate lacks
    connects(&repl_config(&c.server, "127.0.0.1", TLS_ONLY, &tls_options(SslMode::VerifyCa, ca.clone())), true).await;
    connects(&repl_config(&c.server, "localhost", TLS_ONLY, &tls_options(SslMode::VerifyCa, ca)), true).await;

    // and a CA that did not sign it is refused, fatally, naming database.sslrootcert — also with
    // require, which verifies the chain when a root certificate is given (libpq's rule)
    for mode in [SslMode::VerifyCa, SslMode::Require] {
        let err = connect_error(&repl_config(&c.server, "127.0.0.1", TLS_ONLY, &tls_options(mode, other_ca.clone()))).await;
        assert!(matches!(err, ReplicationError::Tls(TlsError::Certificate { .. })), "{mode:?}: {err:?}");
        assert_eq!(err.class(), ErrorClass::Fatal);
        assert!(chain(&err).contains("database.sslrootcert"), "{}", chain(&err));
    }
}

#[tokio::test]
async fn verify_full_checks_the_host_name() {
    // GIVEN a server certificate for IP 127.0.0.1 only
    let c = cluster().await;
    let ca = c.file("ca.crt");
    let ca_path = ca.to_str().unwrap().to_owned();
    let ca_path = ca_path.as_str();

    // WHEN verify-full connects to 127.0.0.1 THEN it succeeds
    connects(&repl_config(&c.server, "127.0.0.1", TLS_ONLY, &tls_options(SslMode::VerifyFull, Some(ca.clone()))), true)
        .await;

    // WHEN it connects as "localhost" THEN the replication connection fails fatally, saying why
    let err = connect_error(&repl_config(&c.server, "localhost", TLS_ONLY, &tls_options(SslMode::VerifyFull, Some(ca.clone()))))
        .await;
    assert!(matches!(err, ReplicationError::Tls(TlsError::Certificate { .. })), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    let text = chain(&err);
    assert!(text.contains("database.hostname") && text.contains("verify-ca"), "{text}");

    // and so does the source (its catalog connection comes first)
    let db = c.server.create_database("tls_full").await;
    let slot = unique_name("tls_full");
    let config = connector(
        &db,
        "localhost",
        TLS_ONLY,
        &slot,
        &[("database.sslmode", "verify-full"), ("database.sslrootcert", ca_path)],
    );
    let err = source_error(&config).await;
    assert!(matches!(err, SourceError::Tls(TlsError::Certificate { .. })), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(chain(&err).contains("database.hostname"), "{}", chain(&err));

    // and with 127.0.0.1 the source connects
    let config = connector(
        &db,
        "127.0.0.1",
        TLS_ONLY,
        &slot,
        &[("database.sslmode", "verify-full"), ("database.sslrootcert", ca_path)],
    );
    let source = PostgresSource::connect(&config).await.unwrap_or_else(|e| panic!("{}", chain(&e)));
    drop(source);
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn client_certificate_logs_in_with_cert_authentication() {
    // GIVEN a role that pg_hba.conf authenticates by client certificate
    let c = cluster().await;
    let mut with_cert = tls_options(SslMode::VerifyFull, Some(c.file("ca.crt")));
    with_cert.client_cert = Some(c.file("client.crt"));
    with_cert.client_key = Some(c.file("client.key"));

    // WHEN it connects with database.sslcert/sslkey THEN it logs in over TLS
    connects(&repl_config(&c.server, "127.0.0.1", CERT_USER, &with_cert), true).await;

    // WHEN it connects without THEN the server refuses it (fatal: retrying cannot help)
    let without = tls_options(SslMode::VerifyFull, Some(c.file("ca.crt")));
    let err = connect_error(&repl_config(&c.server, "127.0.0.1", CERT_USER, &without)).await;
    assert_eq!(err.sqlstate(), Some("28000"), "{}", chain(&err));
    assert_eq!(err.class(), ErrorClass::Fatal);
}

#[tokio::test]
async fn prefer_falls_back_and_require_fails_on_a_server_without_tls() {
    // GIVEN the shared cluster, which has ssl = off
    let server = PgServer::shared();

    // WHEN the replication client prefers TLS THEN it continues unencrypted
    connects(&repl_config(server, &server.host, SUPERUSER, &tls_options(SslMode::Prefer, None)), false).await;

    // WHEN it requires TLS THEN it fails fatally, saying what to change
    let err = connect_error(&repl_config(server, &server.host, SUPERUSER, &tls_options(SslMode::Require, None))).await;
    assert!(matches!(err, ReplicationError::Tls(TlsError::Refused { .. })), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(chain(&err).contains("database.sslmode"), "{}", chain(&err));

    // and the source: require fails before anything is created, prefer connects
    let db = server.create_database("tls_prefer").await;
    let slot = unique_name("tls_prefer");
    let err = source_error(&connector(&db, &server.host, SUPERUSER, &slot, &[("database.sslmode", "require")])).await;
    assert!(matches!(err, SourceError::Tls(TlsError::Refused { .. })), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    let config = connector(&db, &server.host, SUPERUSER, &slot, &[("database.sslmode", "prefer")]);
    let source = PostgresSource::connect(&config).await.unwrap_or_else(|e| panic!("{}", chain(&e)));
    drop(source);
    drop_slot_when_released(&db, &slot).await;
}
