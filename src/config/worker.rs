//! The worker's own configuration file.
//!
//! Loaded, lowest precedence first, from the defaults below, a TOML file and
//! the environment: `PGCDC_<SECTION>__<FIELD>` (`__` separates nesting), e.g.
//! `PGCDC_KAFKA__BOOTSTRAP_SERVERS=broker:9092`. Only variables whose section
//! is one of `rest`, `kafka`, `worker`, `log`, `config_providers` are read, so other `PGCDC_*`
//! variables (the CLI's own) do not collide. Unknown keys are errors.
//!
//! Every string value, from the file or the environment, may hold config
//! provider references, resolved before anything reads the configuration:
//! `${env:NAME}` and `${file:path:key}` (a Java properties file), without
//! the allowlists `[config_providers]` imposes on connector configs — the
//! operator owns this file (see [`crate::config::providers::expand_operator`]
//! and SECURITY.md). A reference that cannot be resolved stops the worker,
//! naming the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::config::providers::ProviderPolicy;
use crate::config::Secret;
use crate::error::{Classify, ErrorClass};

/// Default of `rest.listen`.
pub const DEFAULT_REST_LISTEN: &str = "127.0.0.1:8083";
/// Default of `kafka.bootstrap_servers`.
pub const DEFAULT_BOOTSTRAP_SERVERS: &str = "127.0.0.1:9092";
/// Default of `worker.group_id`.
pub const DEFAULT_GROUP_ID: &str = "pgcdc";
/// Default of `worker.state_dir`.
pub const DEFAULT_STATE_DIR: &str = ".pgcdc/state";
/// Default of `worker.offset_storage_topic`.
pub const DEFAULT_OFFSET_STORAGE_TOPIC: &str = crate::offsets::DEFAULT_OFFSET_STORAGE_TOPIC;
/// Default of `worker.offset_storage_partitions`.
pub const DEFAULT_OFFSET_STORAGE_PARTITIONS: i32 = crate::offsets::DEFAULT_OFFSET_STORAGE_PARTITIONS;
/// Default of `worker.config_storage_topic` (distributed mode).
pub const DEFAULT_CONFIG_STORAGE_TOPIC: &str = "pgcdc-configs";
/// Default of `worker.status_storage_topic` (distributed mode).
pub const DEFAULT_STATUS_STORAGE_TOPIC: &str = "pgcdc-status";
/// Default of `worker.session_timeout_ms` (Connect's `session.timeout.ms`).
pub const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;
/// Default of `worker.heartbeat_interval_ms` (Connect's `heartbeat.interval.ms`).
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 3_000;
/// Default of `worker.rebalance_timeout_ms` (Connect's `rebalance.timeout.ms`).
pub const DEFAULT_REBALANCE_TIMEOUT_MS: u64 = 60_000;
/// Default of `rest.header_read_timeout_ms`.
pub const DEFAULT_REST_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default of `rest.idle_timeout_ms`.
pub const DEFAULT_REST_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Default of `rest.max_connections`.
pub const DEFAULT_REST_MAX_CONNECTIONS: usize = 256;
/// Default of `worker.shutdown_timeout_ms`: below Kubernetes' default 30 s grace period.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 25_000;
/// Default of `log.level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Prefix of the environment variables read.
pub const ENV_PREFIX: &str = "PGCDC_";
/// Sections of the file (and of environment variables).
const SECTIONS: &[&str] = &["rest", "kafka", "worker", "log", "config_providers"];
/// librdkafka options the worker sets itself.
const MANAGED_KAFKA_OPTIONS: &[&str] = &["bootstrap.servers", "transactional.id", "enable.idempotence"];

/// Why the worker configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment could not be read or has an unknown or mistyped key.
    #[error("cannot load the worker configuration")]
    Load(#[source] Box<figment::Error>),
    /// A value breaks a constraint.
    #[error("invalid worker configuration: {field}: {constraint}")]
    Invalid { field: String, constraint: String },
}

impl Classify for ConfigError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Fatal
    }
}

/// The whole worker configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// The Kafka Connect-compatible REST API.
    pub rest: RestConfig,
    /// The Kafka cluster records and offsets are written to.
    pub kafka: KafkaConfig,
    /// The worker's identity and local state.
    pub worker: WorkerSection,
    /// Logging.
    pub log: LogConfig,
    /// Which config providers (`${env:…}`, `${file:…}`) connector configs may
    /// use, and what they may read; none by default.
    pub config_providers: ProviderPolicy,
}

/// `[rest]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Address the REST API listens on (default `127.0.0.1:8083`, local only).
    pub listen: SocketAddr,
    /// Authentication required on every endpoint but `GET /` (default: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<RestAuth>,
    /// The URL other workers of a distributed cluster reach this one's REST
    /// API at, e.g. `http://pgcdc-1.pgcdc:8083` (Connect's
    /// `rest.advertised.*`); default `http://<listen>`. Its `host:port` is
    /// the `worker_id` statuses show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertised_url: Option<String>,
    /// A connection that has not sent a whole request head within this long
    /// is closed; also bounds how long a keep-alive connection waits for its
    /// next request (default 10000).
    pub header_read_timeout_ms: u64,
    /// A connection with no byte read or written for this long is closed: a
    /// stalled request body, a client that stops reading (default 60000).
    pub idle_timeout_ms: u64,
    /// At most this many connections are served at once; more wait in the
    /// listen backlog until one closes (default 256).
    pub max_connections: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            listen: default_listen(),
            auth: None,
            advertised_url: None,
            header_read_timeout_ms: DEFAULT_REST_HEADER_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_REST_IDLE_TIMEOUT_MS,
            max_connections: DEFAULT_REST_MAX_CONNECTIONS,
        }
    }
}

/// `[rest.auth]`: `type = "basic"` with `user` and `password`, or
/// `type = "bearer"` with `token` (e.g. `PGCDC_REST__AUTH__TOKEN=...`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RestAuth {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
    },
}

/// Written without its secret (only the defaults, which have no auth, are ever serialized).
impl Serialize for RestAuth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self {
            RestAuth::Basic { user, .. } => {
                m.serialize_entry("type", "basic")?;
                m.serialize_entry("user", user)?;
            }
            RestAuth::Bearer { .. } => m.serialize_entry("type", "bearer")?,
        }
        m.end()
    }
}

fn default_listen() -> SocketAddr {
    // The constant is a valid address; the fallback only satisfies the no-panic rule.
    DEFAULT_REST_LISTEN.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8083)))
}

/// `[kafka]`
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list (default `127.0.0.1:9092`).
    pub bootstrap_servers: String,
    /// Raw librdkafka options (`[kafka.options]`, e.g. `"security.protocol" = "ssl"`),
    /// applied to every client the worker creates.
    pub options: BTreeMap<String, String>,
    /// Exactly-once delivery (default true): each batch of whole PostgreSQL
    /// transactions, plus the connector's offset record, is one Kafka
    /// transaction with `transactional.id = <group_id>-<connector>`; a second
    /// instance of the connector fences the first.
    ///
    /// `false` is at-least-once, for brokers without transactions: the
    /// idempotent producer (no duplicates from producer retries), the offset
    /// record written after the batch's records without a transaction. After
    /// a crash, the batches not yet acknowledged (at most the last one, plus
    /// its offset record) are sent again, so a consumer may see a change
    /// twice — always in order per key — and must tolerate it (upserts by key,
    /// or dedupe on `source.lsn`). Read_committed consumers see nothing
    /// different in this mode.
    pub exactly_once: bool,
}

/// The options with secrets (`sasl.jaas.config`, `*.password`, …) as `[hidden]`.
impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options: BTreeMap<&str, String> =
            self.options.iter().map(|(k, v)| (k.as_str(), crate::config::secrets::mask_value(k, v))).collect();
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("options", &options)
            .field("exactly_once", &self.exactly_once)
            .finish()
    }
}

impl KafkaConfig {
    /// What every Kafka client of the worker starts from (see [`crate::kafka`]).
    pub fn client_settings(&self) -> crate::kafka::ClientSettings {
        crate::kafka::ClientSettings::new(
            self.bootstrap_servers.clone(),
            self.options.iter().map(|(k, v)| (k.clone(), v.clone())),
        )
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: DEFAULT_BOOTSTRAP_SERVERS.to_owned(),
            options: BTreeMap::new(),
            exactly_once: true,
        }
    }
}

/// `worker.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerMode {
    /// One worker runs every connector; configs in `state_dir` (default).
    #[default]
    Standalone,
    /// Workers of the same `group_id` share the connectors through Kafka
    /// (group membership, config and status topics), as Connect's distributed mode.
    Distributed,
}

/// `[worker]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// `standalone` (default) or `distributed`.
    pub mode: WorkerMode,
    /// On SIGTERM/SIGINT the worker stops its connectors concurrently and
    /// exits within this long, reporting what it could not finish (default
    /// 25000, below Kubernetes' 30 s grace period).
    pub shutdown_timeout_ms: u64,
    /// Names this worker (Connect's `group.id`): prefixes transactional ids
    /// (default `pgcdc`). Standalone: two workers must not share it.
    /// Distributed: every worker of the cluster has the same one; it is the
    /// Kafka group the workers join.
    pub group_id: String,
    /// Where registered connectors and their target state are kept (default `.pgcdc/state`).
    pub state_dir: PathBuf,
    /// If set, every `*.json` file (`{"name", "config"}`) in it is registered at start.
    pub connectors_dir: Option<PathBuf>,
    /// The compacted topic that holds connector offsets (Kafka Connect's
    /// `offset.storage.topic`; default `pgcdc-offsets`). Created with
    /// `cleanup.policy=compact` when missing.
    pub offset_storage_topic: String,
    /// Partitions of the offsets topic when the worker creates it (default 1).
    pub offset_storage_partitions: i32,
    /// Distributed: the compacted topic of connector configs and target
    /// states (Connect's `config.storage.topic`; default `pgcdc-configs`).
    pub config_storage_topic: String,
    /// Distributed: the compacted topic of connector and task statuses
    /// (Connect's `status.storage.topic`; default `pgcdc-status`).
    pub status_storage_topic: String,
    /// Distributed: a worker that sends no heartbeat for this long leaves
    /// the group and its connectors move (default 10000).
    pub session_timeout_ms: u64,
    /// Distributed: how often a worker heartbeats (default 3000; below a
    /// third of the session timeout).
    pub heartbeat_interval_ms: u64,
    /// Distributed: how long a rebalance waits for every worker to stop its
    /// connectors and rejoin (default 60000).
    pub rebalance_timeout_ms: u64,
    /// Where streamed in-progress transactions are spilled (each source gets
    /// a fresh 0700 subdirectory; default `$TMPDIR`). It must be owned by the
    /// worker's user or root, and writable by others only with the sticky bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spill_dir: Option<PathBuf>,
    /// What connector configs may override of the worker's Kafka client
    /// settings with `producer.override.*` (Kafka Connect's
    /// `connector.client.config.override.policy`): `All` (default, as
    /// Connect since 3.0), `None`, or `Principal` (`sasl.jaas.config`,
    /// `sasl.mechanism`, `security.protocol` only).
    pub connector_client_config_override_policy: crate::config::overrides::OverridePolicy,
}

impl Default for WorkerSection {
    fn default() -> Self {
        WorkerSection {
            mode: WorkerMode::Standalone,
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
            config_storage_topic: DEFAULT_CONFIG_STORAGE_TOPIC.to_owned(),
            status_storage_topic: DEFAULT_STATUS_STORAGE_TOPIC.to_owned(),
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            rebalance_timeout_ms: DEFAULT_REBALANCE_TIMEOUT_MS,
            group_id: DEFAULT_GROUP_ID.to_owned(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            connectors_dir: None,
            offset_storage_topic: DEFAULT_OFFSET_STORAGE_TOPIC.to_owned(),
            offset_storage_partitions: DEFAULT_OFFSET_STORAGE_PARTITIONS,
            spill_dir: None,
            connector_client_config_override_policy: Default::default(),
        }
    }
}

/// `log.format`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    pub format: LogFormat,
    /// A tracing filter: `info` (default), `debug`, `pgcdc=debug,rdkafka=warn`, …
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::default(), level: DEFAULT_LOG_LEVEL.to_owned() }
    }
}

impl WorkerConfig {
    /// Loads defaults, then `path` (if any), then the environment, and validates.
    pub fn load(path: Option<&Path>) -> Result<WorkerConfig, ConfigError> {
        load(path)
    }

    /// The id reported as `worker_id` by the REST API (the REST address, as
    /// Connect does; in distributed mode the `host:port` of `rest.advertised_url`).
    pub fn worker_id(&self) -> String {
        match (&self.worker.mode, &self.rest.advertised_url) {
            (WorkerMode::Distributed, Some(url)) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                rest.trim_end_matches('/').to_owned()
            }
            _ => self.rest.listen.to_string(),
        }
    }

    /// The URL other workers reach this one's REST API at.
    pub fn advertised_url(&self) -> String {
        match &self.rest.advertised_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.rest.listen),
        }
    }

    /// Checks every constraint serde cannot express; names the field that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, constraint: &str| {
            Err(ConfigError::Invalid { field: field.to_owned(), constraint: constraint.to_owned() })
        };
        let servers: Vec<&str> = self.kafka.bootstrap_servers.split(',').map(str::trim).collect();
        if servers.iter().any(|s| s.is_empty() || !s.contains(':')) {
            return invalid("kafka.bootstrap_servers", "must be a comma-separated list of host:port");
        }
        if let Some(key) = self.kafka.options.keys().find(|k| MANAGED_KAFKA_OPTIONS.contains(&k.as_str())) {
            return invalid(
                &format!("kafka.options.\"{key}\""),
                "is set by the worker itself and cannot be overridden",
            );
        }
        self.validate_kafka_options()?;
        if let Err((field, constraint)) = self.config_providers.validate() {
            return invalid(&field, &constraint);
        }
        let group = &self.worker.group_id;
        if group.is_empty() || !group.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return invalid(
                "worker.group_id",
                "must be non-empty and contain only ASCII alphanumerics, '.', '_' and '-'",
            );
        }
        if self.worker.state_dir.as_os_str().is_empty() {
            return invalid("worker.state_dir", "must not be empty");
        }
        for (field, topic) in [
            ("worker.offset_storage_topic", &self.worker.offset_storage_topic),
            ("worker.config_storage_topic", &self.worker.config_storage_topic),
            ("worker.status_storage_topic", &self.worker.status_storage_topic),
        ] {
            if topic.is_empty()
                || topic.len() > 249
                || !topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return invalid(field, "must be a Kafka topic name: 1 to 249 ASCII alphanumerics, '.', '_' and '-'");
            }
        }
        if self.worker.mode == WorkerMode::Distributed {
            self.validate_distributed()?;
        }
        if self.worker.offset_storage_partitions < 1 {
            return invalid("worker.offset_storage_partitions", "must be at least 1");
        }
        if self.worker.connectors_dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
            return invalid("worker.connectors_dir", "must not be empty when set");
        }
        if self.rest.header_read_timeout_ms == 0 || self.rest.idle_timeout_ms == 0 {
            return invalid("rest.header_read_timeout_ms", "rest.header_read_timeout_ms and rest.idle_timeout_ms must be above 0");
        }
        if self.rest.max_connections == 0 {
            return invalid("rest.max_connections", "must be at least 1");
        }
        if self.worker.shutdown_timeout_ms < 1_000 {
            return invalid("worker.shutdown_timeout_ms", "must be at least 1000");
        }
        if let Some(dir) = &self.worker.spill_dir {
            // Refused rather than warned about: see crate::private_fs.
            if let Err(unsafe_dir) = crate::private_fs::check_parent(dir) {
                return invalid("worker.spill_dir", &unsafe_dir.to_string());
            }
        }
        match &self.rest.auth {
            Some(RestAuth::Basic { user, password }) if user.is_empty() || user.contains(':') || password.expose().is_empty() => {
                return invalid("rest.auth", "basic auth needs a non-empty user without ':' and a non-empty password");
            }
            Some(RestAuth::Bearer { token }) if token.expose().trim().is_empty() => {
                return invalid("rest.auth.token", "must not be empty");
            }
            _ => {}
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", "must be a tracing filter such as info, debug or pgcdc=debug,rdkafka=warn");
        }
        Ok(())
    }

    /// Has librdkafka check every `[kafka.options]` entry (a name it does not
    /// know, a value it rejects) now rather than when each connector starts.
    /// Only the configuration is built: no client, no connection.
    ///
    /// First the Connect spellings are translated (see
    /// [`crate::kafka::security`]); a setting pgcdc cannot honour is refused
    /// here, so the worker does not start.
    fn validate_kafka_options(&self) -> Result<(), ConfigError> {
        let options: Vec<(String, String)> = self.kafka.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let resolved = crate::kafka::security::resolve(&options).map_err(|e| ConfigError::Invalid {
            field: format!("kafka.options.\"{}\"", e.property),
            constraint: e.reason,
        })?;
        crate::kafka::client::check_librdkafka(&resolved.librdkafka, crate::config::secrets::is_secret).map_err(|e| ConfigError::Invalid {
            field: format!("kafka.options.\"{}\"", e.property),
            constraint: e.reason,
        })
    }

    /// Warnings about a configuration that works but is risky, logged at start.
    pub fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.rest.auth.is_none() && !self.rest.listen.ip().is_loopback() {
            warnings.push(format!(
                "the REST API listens on {} without authentication: anyone who reaches it can register connectors; \
                 set [rest.auth] or listen on a loopback address",
                self.rest.listen
            ));
        }
        warnings
    }

    fn validate_distributed(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, constraint: &str| {
            Err(ConfigError::Invalid { field: field.to_owned(), constraint: constraint.to_owned() })
        };
        let w = &self.worker;
        let topics = [&w.offset_storage_topic, &w.config_storage_topic, &w.status_storage_topic];
        if topics[0] == topics[1] || topics[0] == topics[2] || topics[1] == topics[2] {
            return invalid(
                "worker.config_storage_topic",
                "the offset, config and status storage topics must be three different topics",
            );
        }
        if w.connectors_dir.is_some() {
            return invalid(
                "worker.connectors_dir",
                "is standalone only; in distributed mode register connectors over the REST API of any worker",
            );
        }
        if w.session_timeout_ms < 1_000 {
            return invalid("worker.session_timeout_ms", "must be at least 1000");
        }
        if w.heartbeat_interval_ms == 0 || w.heartbeat_interval_ms.saturating_mul(3) > w.session_timeout_ms {
            return invalid(
                "worker.heartbeat_interval_ms",
                "must be above 0 and at most a third of worker.session_timeout_ms",
            );
        }
        if w.rebalance_timeout_ms < w.session_timeout_ms {
            return invalid("worker.rebalance_timeout_ms", "must be at least worker.session_timeout_ms");
        }
        if w.session_timeout_ms > i32::MAX as u64 || w.rebalance_timeout_ms > i32::MAX as u64 {
            return invalid("worker.rebalance_timeout_ms", "must fit in a 32-bit millisecond count");
        }
        if let Some(url) = &self.rest.advertised_url {
            let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if !rest.is_some_and(|r| {
                let host_port = r.trim_end_matches('/');
                !host_port.is_empty() && !host_port.contains('/') && host_port.contains(':')
            }) {
                return invalid("rest.advertised_url", "must be http://host:port or https://host:port (no path)");
            }
        } else if self.rest.listen.ip().is_unspecified() {
            return invalid(
                "rest.advertised_url",
                "must be set when rest.listen is a wildcard address: other workers need an address they can reach",
            );
        }
        Ok(())
    }
}

/// Loads defaults, then `path` (if any), then the environment, and validates.
pub fn load(path: Option<&Path>) -> Result<WorkerConfig, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(WorkerConfig::default()));
    if let Some(path) = path {
        // `Toml::file` silently skips a missing file; an explicit path must exist.
        if !path.is_file() {
            return Err(ConfigError::Invalid {
                field: "config file".to_owned(),
                constraint: format!("{} does not exist or is not a file", path.display()),
            });
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment.merge(env_provider());
    let figment = resolve_references(figment)?;
    let config: WorkerConfig = figment.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
    config.validate()?;
    Ok(config)
}

/// `figment` with every config provider reference in its string values
/// resolved (unchanged when it has none, so that load errors keep naming
/// the file); a reference that cannot be resolved is an error of its field.
fn resolve_references(figment: Figment) -> Result<Figment, ConfigError> {
    use figment::value::Value;

    fn resolve(value: Value, field: &str, changed: &mut bool) -> Result<Value, ConfigError> {
        Ok(match value {
            Value::String(tag, s) => match crate::config::providers::expand_operator(&s) {
                Ok(None) => Value::String(tag, s),
                Ok(Some(expanded)) => {
                    *changed = true;
                    Value::String(tag, expanded.value)
                }
                Err(constraint) => return Err(ConfigError::Invalid { field: field.to_owned(), constraint }),
            },
            Value::Dict(tag, dict) => {
                let mut out = figment::value::Dict::new();
                for (key, v) in dict {
                    let name = if key.contains('.') { format!("\"{key}\"") } else { key.clone() };
                    let path = if field.is_empty() { name } else { format!("{field}.{name}") };
                    out.insert(key, resolve(v, &path, changed)?);
                }
                Value::Dict(tag, out)
            }
            Value::Array(tag, items) => Value::Array(
                tag,
                items.into_iter().enumerate().map(|(i, v)| resolve(v, &format!("{field}[{i}]"), changed)).collect::<Result<_, _>>()?,
            ),
            other => other,
        })
    }

    let tree: Value = figment.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
    let mut changed = false;
    let tree = resolve(tree, "", &mut changed)?;
    Ok(if changed { Figment::from(Serialized::defaults(tree)) } else { figment })
}

fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        SECTIONS.iter().any(|s| key.starts_with(&format!("{s}.")) || key.starts_with(&format!("{s}__")))
    })
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
#[path = "worker_tests.rs"]
mod tests;
