//! Kafka with SASL and mutual TLS, for every connection pgcdc opens (librdkafka's producers,
//! admin and consumers, and its own protocol connection: the reachability check and the
//! offsets reader). pgcdc is given only the secured port.
//!
//! Where the SASL exchange is answered (see README "Kafka security", what was tested):
//! - success paths: `support::sasl_gate` (rsasl's server, the SASL library tansu uses) in
//!   front of tansu, because the tansu build the tests use keeps no SCRAM users;
//! - rejection paths: the same gate (Apache Kafka's answer: error 58) AND tansu's own
//!   `--authentication` (its answer: error code none, `e=unknown-user` in the SCRAM message,
//!   and a client that goes on anyway is admitted: pgcdc and librdkafka must both stop).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use crate::support::load::{create_tables, report, settle_with, Load, Rng};
use crate::support::sasl_gate::metadata_after_ignoring_a_refused_scram;
use crate::support::worker::{distributed_env, DistributedTimeouts};
use crate::support::tls_broker::{ids, wait_ids, AuthTansu, Security, TlsBroker, READER_USER, SASL_USER};
use crate::support::{connector_config, unique_name, PgServer, TestDatabase, Worker};
use pgcdc::kafka::ClientSettings;

const TIMEOUT: Duration = Duration::from_secs(60);

fn jaas(user: (&str, &str)) -> String {
    format!("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\";", user.0, user.1)
}

/// The tests' reader's settings: the same security as pgcdc's, as the user `reader`.
fn reader_settings(broker: &TlsBroker, options: &[(&str, &str)]) -> ClientSettings {
    let mut opts: Vec<(String, String)> = options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if opts.iter().any(|(k, _)| k == "sasl.jaas.config") {
        opts.retain(|(k, _)| k != "sasl.jaas.config");
        opts.push(("sasl.jaas.config".to_owned(), jaas(READER_USER)));
    }
    ClientSettings::new(broker.tls_bootstrap.clone(), opts)
}

pub(crate) async fn table(name: &str) -> TestDatabase {
    let db = PgServer::shared().create_database(name).await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY, pad text)").await;
    db
}

pub(crate) async fn insert(db: &TestDatabase, ids: std::ops::Range<i64>) {
    for id in ids {
        db.execute(&format!("INSERT INTO t VALUES ({id}, repeat('s', 100))")).await;
    }
}

/// GIVEN tansu behind stunnel (TLS) and the SASL gate (SCRAM-SHA-512 only), pgcdc given the
/// TLS port and Connect's `sasl.jaas.config`,
/// WHEN it streams, is killed with SIGKILL and restarted while rows keep coming,
/// THEN every row is in Kafka exactly once, every connection pgcdc opened authenticated as its
/// user (librdkafka's and its own), and none tried a request without authenticating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_over_sasl_ssl_scram_sha512_survives_kill_9() {
    let broker = TlsBroker::start_with(Security { tls: true, client_cert: false, sasl: &["SCRAM-SHA-512"] });
    let ca = broker.ca.to_str().expect("utf-8").to_owned();
    let jaas = jaas(SASL_USER);
    let options = [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", jaas.as_str()),
    ];
    let config = broker.worker_config("w.toml", &options);
    let reader = reader_settings(&broker, &options);
    let db = table("kafka_sasl_ssl").await;
    let prefix = unique_name("ksasl");
    let topic = format!("{prefix}.public.t");
    let mut worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register("ksasl", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("ksasl", "RUNNING", TIMEOUT).await;
    insert(&db, 0..30).await;
    let seen = wait_ids(&reader, &topic, 30).await;
    assert_eq!(seen.len(), 30, "{seen:?}\n{}", worker.log());
    worker.kill9();
    insert(&db, 30..60).await;
    worker.restart().await;
    let seen = wait_ids(&reader, &topic, 60).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(seen, ids(&reader, &topic).await, "records kept coming after the last id");
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..60).collect::<Vec<_>>(), "{}", worker.log());
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");

    let gate = broker.gate.as_ref().expect("gate");
    let log = gate.log();
    let pgcdc: Vec<&str> = log.authenticated.iter().filter(|(_, u, _)| u == SASL_USER.0).map(|(c, _, _)| c.as_str()).collect();
    assert!(log.authenticated.iter().all(|(_, _, m)| m == "SCRAM-SHA-512"), "{log:?}");
    for client in ["rdkafka", "pgcdc-check", "pgcdc-log-reader"] {
        assert!(pgcdc.contains(&client), "no authenticated connection of {client}: {log:?}");
    }
    assert!(log.refused.is_empty() && log.failed.is_empty(), "a connection skipped or failed SASL: {log:?}");
    // The broker refuses a client that does not authenticate (straight to the gate, under TLS).
    let before = gate.log().refused.len();
    assert!(!metadata_after_ignoring_a_refused_scram(&gate.addr, "SCRAM-SHA-512"));
    let mut raw = std::net::TcpStream::connect(&gate.addr).expect("gate");
    use std::io::{Read, Write};
    raw.write_all(&[0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 255, 255, 255, 255]).expect("metadata request");
    assert_eq!(raw.read(&mut [0u8; 16]).unwrap_or(0), 0, "an unauthenticated Metadata request must be dropped");
    assert_eq!(gate.log().refused.len(), before + 1, "{:?}", gate.log());
    let text = worker.log();
    assert!(!text.contains(&broker.plaintext) && !text.contains(&gate.addr), "pgcdc must never learn the ports behind TLS: {text}");
    assert!(!text.contains(SASL_USER.1), "the password is in the log: {text}");
    assert!(text.contains("kafka cluster id"), "the cluster id lookup (its own librdkafka client) did not get through: {text}");
}

/// GIVEN the SASL gate without TLS (SCRAM-SHA-256 and PLAIN), WHEN pgcdc streams with
/// SASL_PLAINTEXT and SCRAM-SHA-256, THEN the rows arrive (read by pgcdc's own protocol
/// connection with PLAIN) and its connections authenticated with SCRAM-SHA-256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_scram_sha256_streams() {
    let broker = TlsBroker::start_with(Security { tls: false, client_cert: false, sasl: &["SCRAM-SHA-256", "PLAIN"] });
    let jaas = jaas(SASL_USER);
    let options = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", jaas.as_str())];
    let config = broker.worker_config("w.toml", &options);
    let plain = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{}\" password=\"{}\";",
        READER_USER.0, READER_USER.1
    );
    let reader = ClientSettings::new(
        broker.tls_bootstrap.clone(),
        [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", plain.as_str())]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let db = table("kafka_sasl_plain").await;
    let prefix = unique_name("ksaslp");
    let worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register("ksaslp", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("ksaslp", "RUNNING", TIMEOUT).await;
    insert(&db, 0..10).await;
    let seen = wait_ids(&reader, &format!("{prefix}.public.t"), 10).await;
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>(), "{}", worker.log());
    let log = broker.gate.as_ref().expect("gate").log();
    assert!(log.authenticated.iter().any(|(c, u, m)| c == "rdkafka" && u == SASL_USER.0 && m == "SCRAM-SHA-256"), "{log:?}");
    assert!(log.authenticated.iter().filter(|(_, u, _)| u == SASL_USER.0).all(|(_, _, m)| m == "SCRAM-SHA-256"), "{log:?}");
    assert!(log.authenticated.iter().any(|(_, u, m)| u == READER_USER.0 && m == "PLAIN"), "{log:?}");
    assert!(log.refused.is_empty() && log.failed.is_empty(), "{log:?}");

    // `pgcdc tail --config` takes the same settings; a wrong password fails naming the setting.
    let topic = format!("{prefix}.public.t");
    let (ok, text) = pgcdc_tail(&config, &topic).await;
    assert!(ok && text.lines().filter(|l| l.contains("\"after\"")).count() == 10, "{text}");
    let wrong = self::jaas((SASL_USER.0, "not-the-password"));
    let bad = broker.worker_config("bad.toml", &[options[0], options[1], ("sasl.jaas.config", wrong.as_str())]);
    let (ok, text) = pgcdc_tail(&bad, &topic).await;
    assert!(!ok && text.contains("sasl.jaas.config") && !text.contains("not-the-password"), "{text}");
}

/// `pgcdc tail --config <config> --max 10 <topic>`: success and stdout + stderr.
pub(crate) async fn pgcdc_tail(config: &std::path::Path, topic: &str) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgcdc"));
    cmd.args(["tail", "--max", "10", "--idle-secs", "10", "--config"]).arg(config).arg(topic);
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT, cmd.output()).await.expect("pgcdc tail ended").expect("pgcdc tail runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Registers a connector on a worker with `config` and returns the FAILED task's trace, and
/// the worker.
pub(crate) async fn failed(bootstrap: &str, config: &std::path::Path, db: &TestDatabase, case: &str) -> (String, Worker) {
    let worker = Worker::start_at(bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register(case, connector_config(db, &unique_name(case), &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    let status = worker.wait_task_state(case, "FAILED", TIMEOUT).await;
    (status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned(), worker)
}

pub(crate) async fn failed_trace(bootstrap: &str, config: &std::path::Path, db: &TestDatabase, case: &str) -> String {
    failed(bootstrap, config, db, case).await.0
}

/// GIVEN a wrong password (refused by the gate like Apache Kafka: error 58; by tansu's own
/// `--authentication`: `e=unknown-user`, which tansu does not enforce itself), no SASL
/// settings for a broker that requires SASL, or a mechanism the listener does not enable,
/// THEN the connector goes FAILED with a trace that names the setting to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_missing_sasl_fails_the_connector_naming_the_setting() {
    let gated = TlsBroker::start_with(Security { tls: false, client_cert: false, sasl: &["SCRAM-SHA-256"] });
    let tansu = AuthTansu::start();
    let db = table("kafka_sasl_bad").await;
    let wrong = jaas((SASL_USER.0, "not-the-password"));
    let sasl = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", wrong.as_str())];

    let (trace, worker) = failed(&gated.tls_bootstrap, &gated.worker_config("gate.toml", &sasl), &db, "gatepw").await;
    assert!(trace.contains("sasl.jaas.config") && trace.contains("invalid credentials"), "{trace}");
    // The worker's own background librdkafka client (the cluster id for GET /) gives up too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !worker.log().contains("kafka cluster id lookup stopped") {
        assert!(Instant::now() < deadline, "the cluster id lookup kept retrying a refused password:\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(worker);
    // The connector's check ran once and the task did not retry (the worker's background
    // cluster id lookup, a librdkafka client of its own, shows up as `rdkafka`).
    let failed = gated.gate.as_ref().expect("gate").log().failed;
    assert_eq!(failed.iter().filter(|c| *c == "pgcdc-check").count(), 1, "pgcdc retried a refused password: {failed:?}");

    let trace = failed_trace(&tansu.addr, &tansu.worker_config(gated.dir.path(), "tansu.toml", &sasl), &db, "tansupw").await;
    assert!(trace.contains("sasl.jaas.config") && trace.contains("e=unknown-user"), "{trace}");

    let trace = failed_trace(&tansu.addr, &tansu.worker_config(gated.dir.path(), "none.toml", &[]), &db, "nosasl").await;
    assert!(trace.contains("security.protocol=SASL_SSL") && trace.contains("sasl.mechanism"), "{trace}");

    let right = jaas(SASL_USER);
    let other = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.jaas.config", right.as_str())];
    let trace = failed_trace(&gated.tls_bootstrap, &gated.worker_config("mech.toml", &other), &db, "mech").await;
    assert!(trace.contains("check sasl.mechanism") && trace.contains("offers SCRAM-SHA-256"), "{trace}");
}

/// librdkafka's errors, as its error callback reports them.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<String>>>);

impl ClientContext for Errors {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.lock().expect("errors").push(format!("{error}: {reason}"));
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.lock().expect("errors").push(format!("log {fac}: {log_message}"));
    }
}
impl ConsumerContext for Errors {}

/// GIVEN tansu's `--authentication`, which admits a client that ignores its SCRAM `e=` answer
/// (checked here with a raw client),
/// WHEN librdkafka (as pgcdc configures it) authenticates with a user tansu does not know,
/// THEN it reports the SCRAM failure and never gets metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_stops_at_a_refused_scram_exchange() {
    let tansu = AuthTansu::start();
    assert!(
        metadata_after_ignoring_a_refused_scram(&tansu.addr, "SCRAM-SHA-256"),
        "tansu no longer admits a client that ignores e=: this test (and README's note) can use its rejection instead"
    );
    let wrong = jaas(("nobody", "x"));
    let settings = ClientSettings::new(
        tansu.addr.clone(),
        [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", wrong.as_str())]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let cc: ClientConfig = settings.client_config();
    let errors = Errors::default();
    let consumer: BaseConsumer<Errors> = cc.create_with_context(errors.clone()).expect("consumer");
    let metadata = tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(8)).map(|m| m.brokers().len());
        let _ = consumer.poll(Duration::from_millis(100));
        metadata
    })
    .await
    .expect("join");
    assert!(metadata.is_err(), "librdkafka got metadata after a refused SCRAM exchange: {metadata:?}");
    let errors = errors.0.lock().expect("errors").clone();
    assert!(errors.iter().any(|e| e.contains("SCRAM authentication failed") && e.contains("unknown-user")), "{errors:?}");
}

/// GIVEN stunnel demanding a client certificate signed by the test CA,
/// WHEN pgcdc gives one (PEM: ssl.certificate.location, ssl.key.location), THEN rows stream;
/// WHEN it gives none, THEN the connector goes FAILED naming the client certificate settings;
/// WHEN it speaks plaintext to the TLS port, THEN the trace names security.protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_pem_client_certificate() {
    let broker = TlsBroker::start_with(Security { tls: true, client_cert: true, sasl: &[] });
    let (ca, cert, key) = (broker.ca.display().to_string(), broker.client_cert.display().to_string(), broker.client_key.display().to_string());
    let options = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("ssl.certificate.location", cert.as_str()),
        ("ssl.key.location", key.as_str()),
    ];
    let db = table("kafka_mtls").await;
    let prefix = unique_name("kmtls");
    let config = broker.worker_config("w.toml", &options);
    let worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register("kmtls", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("kmtls", "RUNNING", TIMEOUT).await;
    insert(&db, 0..10).await;
    let seen = wait_ids(&reader_settings(&broker, &options), &format!("{prefix}.public.t"), 10).await;
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>(), "{}", worker.log());

    let config = broker.worker_config("nocert.toml", &options[..2]);
    let trace = failed_trace(&broker.tls_bootstrap, &config, &db, "nocert").await;
    assert!(trace.contains("ssl.certificate.location") && trace.contains("ssl.key.location"), "{trace}");

    // No TLS at all against the TLS port: stunnel drops the plaintext request. Retried (a proxy
    // in front of a broker that is down does the same), so the connector allows no retry here.
    let config = broker.worker_config("plain.toml", &[]);
    let worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let props = connector_config(&db, &unique_name("plain"), &unique_name("slot"), &[("errors.max.retries", "0")]);
    let (code, body) = worker.register("plain", props).await;
    assert_eq!(code, 201, "{body}");
    let status = worker.wait_task_state("plain", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("security.protocol=SSL"), "{trace}");
}

/// GIVEN two distributed workers whose only broker address is the SASL_SSL port (config and
/// status topics, group membership, offsets: all through it), and a connector streaming a
/// mixed load, WHEN the worker running it is killed with SIGKILL,
/// THEN the connector moves to the survivor and Kafka holds every committed change exactly
/// once; the group membership connections authenticated too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_failover_over_sasl_ssl_stays_exactly_once() {
    let broker = TlsBroker::start_with(Security { tls: true, client_cert: false, sasl: &["SCRAM-SHA-512"] });
    let ca = broker.ca.to_str().expect("utf-8").to_owned();
    let jaas = jaas(SASL_USER);
    let options = [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", jaas.as_str()),
    ];
    let config = broker.worker_config("w.toml", &options);
    let cluster = unique_name("dist_sasl");
    let mut env = distributed_env(&cluster, &DistributedTimeouts::default());
    env.push(("PGCDC_CONFIG".to_owned(), config.to_str().expect("utf-8").to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut workers = [Worker::start_at(&broker.tls_bootstrap, &env).await, Worker::start_at(&broker.tls_bootstrap, &env).await];
    let db = PgServer::shared().create_database("dist_sasl").await;
    create_tables(&db).await;
    let prefix = unique_name("distsasl");
    let (code, body) = workers[0].register("distsasl", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    let owner_id = running_owner(&workers[1], "distsasl").await;
    let owner = workers.iter().position(|w| w.worker_id() == owner_id).expect("owner is one of the workers");
    let survivor = 1 - owner;

    let mut rng = Rng::seeded();
    let load = Load::start(&db, rng.next());
    tokio::time::sleep(Duration::from_millis(1500 + rng.below(1500))).await;
    workers[owner].kill9();
    let deadline = Instant::now() + Duration::from_secs(90);
    while running_owner(&workers[survivor], "distsasl").await != workers[survivor].worker_id() {
        assert!(Instant::now() < deadline, "not RUNNING on the survivor\n{}", workers[survivor].log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (stats, expected) = load.stop().await;
    let verdict = settle_with(&reader_settings(&broker, &options), &format!("{prefix}.public.t"), &expected, TIMEOUT).await;
    println!("{}", report("distributed_sasl_ssl", &stats, &expected, &verdict));
    assert!(stats.transactions > 20, "the load committed too little to mean anything: {stats:?}");
    assert!(verdict.is_exact(), "{verdict:?}\n--- survivor log ---\n{}", workers[survivor].log());

    let log = broker.gate.as_ref().expect("gate").log();
    let pgcdc: Vec<&str> = log.authenticated.iter().filter(|(_, u, _)| u == SASL_USER.0).map(|(c, _, _)| c.as_str()).collect();
    for client in ["rdkafka", "pgcdc-check", "pgcdc-worker"] {
        assert!(pgcdc.contains(&client), "no authenticated connection of {client}: {log:?}");
    }
    assert!(log.refused.is_empty() && log.failed.is_empty(), "a connection skipped or failed SASL: {log:?}");
    for w in &workers {
        assert!(!w.log().contains(&broker.plaintext), "a worker learnt the plaintext port");
    }
}

/// The worker the connector's task runs on, once it is RUNNING (as `worker` reports it).
async fn running_owner(worker: &Worker, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = worker.status(name).await;
        if s["connector"]["state"] == "RUNNING" && s["tasks"][0]["state"] == "RUNNING" {
            return s["tasks"][0]["worker_id"].as_str().unwrap_or_default().to_owned();
        }
        assert!(Instant::now() < deadline, "{name} not RUNNING: {s}\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GIVEN a distributed worker (its config and status topics and group membership need the
/// broker before anything else) with a wrong password,
/// THEN it refuses to start, naming the setting, instead of retrying silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_worker_with_a_wrong_password_refuses_to_start() {
    let broker = TlsBroker::start_with(Security { tls: false, client_cert: false, sasl: &["SCRAM-SHA-256"] });
    let wrong = jaas((SASL_USER.0, "not-the-password"));
    let config = broker.worker_config(
        "w.toml",
        &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", wrong.as_str())],
    );
    let cluster = unique_name("dist_badpw");
    let state = broker.dir.path().join("state");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgcdc"));
    cmd.arg("run")
        .env("PGCDC_CONFIG", &config)
        .env("PGCDC_REST__LISTEN", "127.0.0.1:0")
        .env("PGCDC_KAFKA__BOOTSTRAP_SERVERS", &broker.tls_bootstrap)
        .env("PGCDC_WORKER__STATE_DIR", &state)
        .envs(distributed_env(&cluster, &DistributedTimeouts::default()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT, cmd.output()).await.expect("the worker kept running with a refused password").expect("pgcdc runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("sasl.jaas.config") && text.contains("invalid credentials"), "{text}");
    assert!(!text.contains("not-the-password"), "the password is in the log: {text}");
}
