//! A connector's configuration: Debezium's PostgreSQL connector properties,
//! accepted by their own names, parsed into typed options for each stage.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::filters::{anchored, compile};
pub use super::filters::{MessageFilter, TableFilter};

use crate::config::definitions;
use crate::config::properties::{split_list, ConfigErrors, Props};
use crate::config::overrides::ClientOverrides;
use crate::config::providers::ProviderPolicy;
use crate::config::transforms::parse_transforms;
use crate::config::Secret;
use crate::encode::ConverterConfig;
use crate::envelope::{EnvelopeOptions, FieldNameAdjustment};
use crate::event::{Op, TableId};
use crate::config::values::ValueOptions;
use crate::transform::TransformConfig;

/// `database.sslmode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How to reach PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConnection {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// `database.sslrootcert`: PEM file of the CA certificate(s) that must
    /// have signed the server's certificate. With it, `require` verifies
    /// the chain as `verify-ca` does (libpq's rule).
    pub sslrootcert: Option<PathBuf>,
    /// `database.sslcert`: PEM client certificate chain for mutual TLS.
    pub sslcert: Option<PathBuf>,
    /// `database.sslkey`: PEM private key (unencrypted) of `sslcert`.
    pub sslkey: Option<PathBuf>,
    /// `database.initial.statements`: run, in order, on every connection
    /// pgcdc opens to the database except the replication connection.
    pub initial_statements: Vec<String>,
}

impl PgConnection {
    /// `database.hostname` as (host, port) pairs: one, or several separated
    /// by commas (libpq's multi-host list), each `host`, `host:port` or
    /// `[v6]:port`; the port defaults to `database.port`.
    pub fn endpoints(&self) -> Result<Vec<(String, u16)>, String> {
        parse_endpoints(&self.host, self.port)
    }
}

fn parse_endpoints(hosts: &str, default_port: u16) -> Result<Vec<(String, u16)>, String> {
    let bad = |why: &str| format!("Invalid value {hosts} for configuration database.hostname: {why}");
    let mut out = Vec::new();
    for entry in hosts.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(bad("an empty host in the comma-separated list"));
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("an IPv6 address opened with [ is not closed"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(bad("text after an IPv6 address in brackets")),
            }
        } else {
            match entry.split_once(':') {
                // Several colons: a bare IPv6 address.
                Some((host, port)) if !port.contains(':') => (host, Some(port)),
                _ => (entry, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad(&format!("{p:?} is not a port")))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err(bad("an empty host in the comma-separated list"));
        }
        out.push((host.to_owned(), port));
    }
    Ok(out)
}

/// `publication.autocreate.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PublicationAutocreateMode {
    #[default]
    AllTables,
    Filtered,
    Disabled,
}

/// `snapshot.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnapshotMode {
    #[default]
    Initial,
    InitialOnly,
    NoData,
    Always,
    WhenNeeded,
    ConfigurationBased,
    Custom,
}

/// `topic.creation.default.*`: how the worker creates missing topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicCreation {
    pub partitions: i32,
    pub replication_factor: i16,
    /// Other `topic.creation.default.<config>` entries, passed to the broker.
    pub configs: Vec<(String, String)>,
}

impl Default for TopicCreation {
    fn default() -> Self {
        TopicCreation {
            partitions: DEFAULT_TOPIC_PARTITIONS,
            replication_factor: DEFAULT_TOPIC_REPLICATION_FACTOR,
            configs: Vec::new(),
        }
    }
}

/// Everything one connector needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorConfig {
    pub name: String,
    pub connection: PgConnection,
    /// `slot.name` (default `debezium`).
    pub slot_name: String,
    /// `publication.name` (default `dbz_publication`).
    pub publication_name: String,
    pub publication_autocreate_mode: PublicationAutocreateMode,
    /// `table.include.list`: anchored regular expressions over `schema.table`.
    pub table_include_list: Vec<String>,
    pub table_exclude_list: Vec<String>,
    pub schema_include_list: Vec<String>,
    pub schema_exclude_list: Vec<String>,
    /// `message.prefix.include.list`: anchored regular expressions over the
    /// prefixes of logical decoding messages to emit.
    pub message_prefix_include_list: Vec<String>,
    pub message_prefix_exclude_list: Vec<String>,
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.max.threads` (default 1): connections reading the snapshot
    /// in parallel (large tables are read in chunks by block range).
    pub snapshot_max_threads: usize,
    /// `snapshot.include.collection.list`: anchored regular expressions over
    /// `schema.table` of the captured tables to snapshot (default: all).
    pub snapshot_include_list: Vec<String>,
    /// `pgcdc.snapshot.chunk.blocks` (default 1024, 8 MiB): the smallest
    /// block range a table is split into for parallel reading.
    pub snapshot_chunk_blocks: u64,
    /// `signal.data.collection`: the signal table (`schema.table`) whose
    /// `execute-snapshot` / `stop-snapshot` rows drive incremental snapshots.
    pub signal_table: Option<TableId>,
    /// `incremental.snapshot.chunk.size` (default 1024): rows per chunk.
    pub incremental_chunk_size: usize,
    pub envelope: EnvelopeOptions,
    pub values: ValueOptions,
    pub transforms: Vec<TransformConfig>,
    pub key_converter: ConverterConfig,
    pub value_converter: ConverterConfig,
    pub topic_creation: TopicCreation,
    /// `slot.drop.on.stop` (default false): drop the replication slot when the
    /// connector is stopped or deleted through the REST API.
    pub slot_drop_on_stop: bool,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// `heartbeat.interval.ms`, `heartbeat.action.query`, `topic.heartbeat.prefix`.
    pub heartbeat: crate::heartbeat::HeartbeatConfig,
    /// `pgcdc.streaming` (default true): on PostgreSQL 14+, ask the server to
    /// stream large in-progress transactions (pgoutput `streaming 'on'`); they
    /// are spilled to temporary files and emitted at commit, unchanged.
    pub streaming: bool,
    /// `column.include.list`, `column.exclude.list`, `column.mask.*`,
    /// `column.truncate.to.*`, `message.key.columns`.
    pub columns: super::columns::ColumnOptions,
    /// `slot.stream.params`, `flush.lsn.source`, `lsn.flush.timeout.*`.
    pub slot: super::slot::SlotSettings,
    /// `errors.tolerance`, `errors.log.*`, `errors.deadletterqueue.*`,
    /// `event.processing.failure.handling.mode`.
    pub errors: super::errors::ErrorPolicy,
    /// `producer.override.<property>`: the connector's producer settings,
    /// names without the prefix, applied over the worker's `[kafka.options]`
    /// (see [`super::overrides`]).
    pub producer_overrides: super::overrides::ProducerOverrides,
}

/// Default of `snapshot.max.threads` (Debezium's).
pub const DEFAULT_SNAPSHOT_MAX_THREADS: usize = 1;

/// Default of `pgcdc.snapshot.chunk.blocks`: 8 MiB of 8 KiB blocks.
pub const DEFAULT_SNAPSHOT_CHUNK_BLOCKS: u64 = 1024;

/// Default of `incremental.snapshot.chunk.size` (Debezium's).
pub const DEFAULT_INCREMENTAL_CHUNK_SIZE: usize = 1024;

/// Default of `pgcdc.streaming`: stream large transactions where the server can.
pub const DEFAULT_STREAMING: bool = true;

/// Default of `errors.max.retries`: -1, no limit (Debezium's default).
pub const DEFAULT_ERRORS_MAX_RETRIES: i64 = -1;
/// Default of `errors.retry.delay.initial.ms`.
pub const DEFAULT_RETRY_DELAY_INITIAL_MS: u64 = 300;
/// Default of `errors.retry.delay.max.ms`.
pub const DEFAULT_RETRY_DELAY_MAX_MS: u64 = 10_000;
/// Default of `retriable.restart.connector.wait.ms`.
pub const DEFAULT_RETRIABLE_RESTART_WAIT_MS: u64 = 10_000;
/// Largest delay accepted for the retry properties (one day).
pub const MAX_DELAY_MS: i64 = 86_400_000;

/// Debezium's retry properties for transient failures (database or broker unreachable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `errors.max.retries`: `None` = no limit (-1), `Some(0)` = fail at once.
    pub max_retries: Option<u32>,
    /// `errors.retry.delay.initial.ms`: first delay when the connector cannot
    /// connect; doubles on every retry up to `delay_max`.
    pub delay_initial: std::time::Duration,
    /// `errors.retry.delay.max.ms`.
    pub delay_max: std::time::Duration,
    /// `retriable.restart.connector.wait.ms`: delay before restarting a
    /// connector that was streaming when it failed.
    pub restart_wait: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: None,
            delay_initial: std::time::Duration::from_millis(DEFAULT_RETRY_DELAY_INITIAL_MS),
            delay_max: std::time::Duration::from_millis(DEFAULT_RETRY_DELAY_MAX_MS),
            restart_wait: std::time::Duration::from_millis(DEFAULT_RETRIABLE_RESTART_WAIT_MS),
        }
    }
}

/// The Debezium class name of the PostgreSQL connector.
pub const POSTGRES_CONNECTOR_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";
/// Names accepted for `connector.class` besides the full class name (Connect's aliases and pgcdc's own).
pub const POSTGRES_CONNECTOR_ALIASES: &[&str] = &["PostgresConnector", "Postgres", "pgcdc", "pgcdc.PostgresConnector"];
pub use super::converter::JSON_CONVERTER_CLASS;
/// Default of `topic.creation.default.partitions`.
pub const DEFAULT_TOPIC_PARTITIONS: i32 = 1;
/// Default of `topic.creation.default.replication.factor`.
pub const DEFAULT_TOPIC_REPLICATION_FACTOR: i16 = 1;
/// Default of `database.port`.
pub const DEFAULT_PORT: u16 = 5432;
/// Default of `slot.name`.
pub const DEFAULT_SLOT_NAME: &str = "debezium";
/// Default of `publication.name`.
pub const DEFAULT_PUBLICATION_NAME: &str = "dbz_publication";
/// The only logical decoding plugin supported.
pub const PGOUTPUT: &str = "pgoutput";
/// Schemas never captured (Debezium's system schemas).
pub const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema"];

const SSL_MODES: &[(&str, SslMode)] = &[
    ("disable", SslMode::Disable),
    ("allow", SslMode::Prefer),
    ("prefer", SslMode::Prefer),
    ("require", SslMode::Require),
    ("verify-ca", SslMode::VerifyCa),
    ("verify-full", SslMode::VerifyFull),
];

const SNAPSHOT_MODES: &[(&str, SnapshotMode)] = &[
    ("initial", SnapshotMode::Initial),
    ("initial_only", SnapshotMode::InitialOnly),
    ("no_data", SnapshotMode::NoData),
    ("never", SnapshotMode::NoData),
    ("always", SnapshotMode::Always),
    ("when_needed", SnapshotMode::WhenNeeded),
    ("configuration_based", SnapshotMode::ConfigurationBased),
    ("custom", SnapshotMode::Custom),
];

impl ConnectorConfig {
    /// Parses Debezium PostgreSQL connector properties (names verbatim).
    ///
    /// Returns the config and the warnings (unknown properties, deprecated
    /// ones, substitutions), or every error found, each naming its property.
    pub fn from_properties(
        name: &str,
        props: &BTreeMap<String, String>,
    ) -> Result<(ConnectorConfig, Vec<String>), ConfigErrors> {
        Self::with_providers(name, props, &ProviderPolicy::default())
    }

    /// [`Self::with_providers`] with the default client override rules
    /// (policy `All`, no worker `[kafka.options]`).
    pub fn with_providers(
        name: &str,
        props: &BTreeMap<String, String>,
        providers: &ProviderPolicy,
    ) -> Result<(ConnectorConfig, Vec<String>), ConfigErrors> {
        Self::parse(name, props, providers, &ClientOverrides::default())
    }

    /// [`Self::from_properties`] with config provider references
    /// (`${env:…}`, `${file:…}`) expanded under the worker's `providers`
    /// policy (a reference the policy does not allow is an error of its
    /// property), and `*.override.*` checked against the worker's `overrides`
    /// rules.
    pub fn parse(
        name: &str,
        props: &BTreeMap<String, String>,
        providers: &ProviderPolicy,
        overrides: &ClientOverrides,
    ) -> Result<(ConnectorConfig, Vec<String>), ConfigErrors> {
        let mut p = Props::with_providers(props, providers);
        let config = parse_into(&mut p, name, overrides);
        let (errors, warnings) = p.finish();
        if errors.is_empty() {
            Ok((config, warnings))
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The tables this connector captures.
    pub fn table_filter(&self) -> TableFilter {
        TableFilter {
            table_include: compile(&self.table_include_list),
            table_exclude: compile(&self.table_exclude_list),
            schema_include: compile(&self.schema_include_list),
            schema_exclude: compile(&self.schema_exclude_list),
        }
    }

    /// The captured tables the initial snapshot reads
    /// (`snapshot.include.collection.list`, default all).
    pub fn snapshot_filter(&self) -> Vec<regex::Regex> {
        compile(&self.snapshot_include_list)
    }

    /// The logical decoding messages this connector emits.
    pub fn message_filter(&self) -> MessageFilter {
        MessageFilter {
            include: compile(&self.message_prefix_include_list),
            exclude: compile(&self.message_prefix_exclude_list),
        }
    }

    /// `topic.prefix` after its fallbacks.
    pub fn topic_prefix(&self) -> &str {
        &self.envelope.topic_prefix
    }
}

/// Reads every property of a connector through `p` (errors and warnings
/// stay on `p`): the parser proper, behind [`ConnectorConfig::parse`].
pub(crate) fn parse_into(p: &mut Props, name: &str, overrides: &ClientOverrides) -> ConnectorConfig {
    p.mark_used("name");
    if let Some(given) = p.get("name") {
        if given != name {
            p.error("name", format!("Connector name configuration ({given}) doesn't match connector name ({name})"));
        }
    }
    match p.get("connector.class") {
        None => p.error("connector.class", "Missing required configuration \"connector.class\" which has no default value."),
        Some(class) if class == POSTGRES_CONNECTOR_CLASS || POSTGRES_CONNECTOR_ALIASES.contains(&class.as_str()) => {}
        Some(class) => p.error(
            "connector.class",
            format!("Invalid value {class} for configuration connector.class: pgcdc only runs {POSTGRES_CONNECTOR_CLASS}"),
        ),
    }
    match p.get("plugin.name") {
        None => p.warn(format!("plugin.name is not set: Debezium's default is decoderbufs; pgcdc uses {PGOUTPUT}")),
        Some(plugin) if plugin.eq_ignore_ascii_case(PGOUTPUT) => {}
        Some(plugin) if plugin.eq_ignore_ascii_case("decoderbufs") => p.error(
            "plugin.name",
            "Invalid value decoderbufs for configuration plugin.name: pgcdc only supports pgoutput \
             (built into PostgreSQL 10+); set plugin.name=pgoutput",
        ),
        Some(plugin) => {
            p.error("plugin.name", format!("Invalid value {plugin} for configuration plugin.name: must be pgoutput"))
        }
    }
    let connection = parse_connection(p);
    let topic_prefix = topic_prefix(p, &connection.dbname);
    let table_include_list = regex_list(p, "table.include.list");
    let table_exclude_list = regex_list(p, "table.exclude.list");
    let schema_include_list = regex_list(p, "schema.include.list");
    let schema_exclude_list = regex_list(p, "schema.exclude.list");
    let message_prefix_include_list = regex_list(p, "message.prefix.include.list");
    let message_prefix_exclude_list = regex_list(p, "message.prefix.exclude.list");
    for (inc, exc) in [
        ("table.include.list", "table.exclude.list"),
        ("schema.include.list", "schema.exclude.list"),
        ("message.prefix.include.list", "message.prefix.exclude.list"),
    ] {
        if p.contains(inc) && p.contains(exc) {
            p.error(exc, format!("\"{inc}\" is already specified; {exc} cannot be used together with it"));
        }
    }
    if p.get("snapshot.mode").is_some_and(|m| m.eq_ignore_ascii_case("never")) {
        p.warn("snapshot.mode=never is deprecated: treated as no_data");
    }
    let snapshot_mode = p.choice("snapshot.mode", SNAPSHOT_MODES);
    if matches!(snapshot_mode, SnapshotMode::ConfigurationBased | SnapshotMode::Custom) {
        let v = p.get("snapshot.mode").unwrap_or_default();
        p.error(
            "snapshot.mode",
            format!(
                "Invalid value {v} for configuration snapshot.mode: pgcdc runs no Java snapshotter classes; \
                 use initial, initial_only, no_data, always or when_needed"
            ),
        );
    }
    let snapshot_max_threads = p.int("snapshot.max.threads");
    let snapshot_include_list = regex_list(p, "snapshot.include.collection.list");
    let snapshot_chunk_blocks = p.int("pgcdc.snapshot.chunk.blocks");
    let signal_table = p.get("signal.data.collection").filter(|v| !v.trim().is_empty()).and_then(|v| {
        match v.trim().split_once('.') {
            Some((schema, table)) if !schema.is_empty() && !table.is_empty() => Some(TableId::new(schema, table)),
            _ => {
                p.error(
                    "signal.data.collection",
                    format!("Invalid value {v} for configuration signal.data.collection: expected <schema>.<table> of the signal table"),
                );
                None
            }
        }
    });
    if let Some(channels) = p.get("signal.enabled.channels") {
        let others: Vec<String> =
            split_list(&channels).into_iter().filter(|c| !c.eq_ignore_ascii_case("source")).collect();
        if !others.is_empty() {
            p.warn(format!("signal.enabled.channels: only the source channel (the signal table) is read; {} ignored", others.join(", ")));
        }
    }
    let incremental_chunk_size = p.int("incremental.snapshot.chunk.size");
    let mut envelope = EnvelopeOptions::new(topic_prefix, connection.dbname.clone());
    envelope.tombstones_on_delete = p.flag("tombstones.on.delete");
    envelope.provide_transaction_metadata =
        p.flag("provide.transaction.metadata");
    envelope.skipped_operations = skipped_operations(p);
    envelope.field_names = field_name_adjustment(p);
    envelope.schema_names = p.choice(
        "schema.name.adjustment.mode",
        &[("none", FieldNameAdjustment::None), ("avro", FieldNameAdjustment::Avro), ("avro_unicode", FieldNameAdjustment::AvroUnicode)],
    );
    let config = ConnectorConfig {
        name: name.to_owned(),
        slot_name: p.text("slot.name"),
        publication_name: p.text("publication.name"),
        publication_autocreate_mode: p.choice(
            "publication.autocreate.mode",
            &[
                ("all_tables", PublicationAutocreateMode::AllTables),
                ("filtered", PublicationAutocreateMode::Filtered),
                ("disabled", PublicationAutocreateMode::Disabled),
            ],
        ),
        connection,
        table_include_list,
        table_exclude_list,
        schema_include_list,
        schema_exclude_list,
        message_prefix_include_list,
        message_prefix_exclude_list,
        snapshot_mode,
        snapshot_max_threads,
        snapshot_include_list,
        snapshot_chunk_blocks,
        signal_table,
        incremental_chunk_size,
        envelope,
        values: parse_values(p),
        transforms: parse_transforms(p),
        key_converter: super::converter::parse_converter(p, "key.converter"),
        value_converter: super::converter::parse_converter(p, "value.converter"),
        topic_creation: parse_topic_creation(p),
        slot_drop_on_stop: p.flag("slot.drop.on.stop"),
        retry: parse_retry(p),
        heartbeat: parse_heartbeat(p),
        streaming: p.flag("pgcdc.streaming"),
        columns: super::columns::parse_columns(p, regex_list),
        slot: super::slot::parse_slot(p),
        errors: super::errors::parse_errors(p),
        producer_overrides: super::overrides::parse(p, overrides),
    };
    check_names(p, &config);
    for key in p.unused() {
        if let Some(d) = definitions::find(&key).filter(|d| d.check == definitions::Check::NoEffect) {
            let value = p.undeclared(&key).unwrap_or_default().trim().to_owned();
            if d.default.render().is_some_and(|v| v != value) {
                p.warn(format!("{key}: accepted, no effect in pgcdc ({})", d.documentation));
            }
            continue;
        }
        if definitions::foreign(&key).is_none() {
            p.warn(format!("unknown property {key} is ignored"));
            continue;
        }
        let value = p.undeclared(&key).unwrap_or_default().to_owned();
        match definitions::foreign_verdict(&key, &value) {
            Ok(Some(note)) => p.warn(note),
            Ok(None) => {}
            Err(refusal) => p.error(&key, refusal),
        }
    }
    config
}

/// The longest connector name: a Kafka topic name's limit, which keeps the
/// transactional id, metric labels and PostgreSQL's `application_name` sane.
pub const MAX_CONNECTOR_NAME_BYTES: usize = 249;
/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
pub const MAX_PG_NAME_BYTES: usize = 63;

/// `slot.name` follows PostgreSQL's rule for replication slots (lower-case
/// letters, digits, underscores, at most 63 bytes), checked here so a bad
/// name is refused at registration instead of failing the task (Debezium
/// checks it too). `publication.name` is always sent quoted, so only its
/// length matters: PostgreSQL would silently truncate a longer one.
fn check_names(p: &mut Props, config: &ConnectorConfig) {
    let slot = &config.slot_name;
    let valid_slot = !slot.is_empty()
        && slot.len() <= MAX_PG_NAME_BYTES
        && slot.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_slot {
        p.error(
            "slot.name",
            format!(
                "Invalid value {slot} for configuration slot.name: Valid replication slot name must contain only \
                 digits, lowercase characters and underscores with length <= {MAX_PG_NAME_BYTES}"
            ),
        );
    }
    let publication = &config.publication_name;
    if publication.is_empty() || publication.len() > MAX_PG_NAME_BYTES {
        p.error(
            "publication.name",
            format!(
                "Invalid value {publication} for configuration publication.name: must be 1 to {MAX_PG_NAME_BYTES} \
                 bytes long (PostgreSQL's identifier limit)"
            ),
        );
    }
    if config.name.len() > MAX_CONNECTOR_NAME_BYTES {
        p.error(
            "name",
            format!(
                "Connector name is {} bytes long; the limit is {MAX_CONNECTOR_NAME_BYTES} bytes (Kafka's topic name \
                 limit, which the transactional id and topics derived from it must respect)",
                config.name.len()
            ),
        );
    }
}

fn parse_heartbeat(p: &mut Props) -> crate::heartbeat::HeartbeatConfig {
    let interval_ms: u64 = p.int("heartbeat.interval.ms");
    crate::heartbeat::HeartbeatConfig {
        interval: std::time::Duration::from_millis(interval_ms),
        action_query: p.get("heartbeat.action.query"),
        topic_prefix: p.text("topic.heartbeat.prefix"),
    }
}

fn parse_connection(p: &mut Props) -> PgConnection {
    let sslmode = p.choice("database.sslmode", SSL_MODES);
    if p.get("database.sslmode").is_some_and(|m| m.eq_ignore_ascii_case("allow")) {
        p.warn("database.sslmode=allow is treated as prefer");
    }
    let sslcert = path(p, "database.sslcert");
    let sslkey = path(p, "database.sslkey");
    match (&sslcert, &sslkey) {
        (Some(_), None) => p.error("database.sslkey", "database.sslcert is set: set database.sslkey to its private key file too"),
        (None, Some(_)) => p.error("database.sslcert", "database.sslkey is set: set database.sslcert to its certificate file too"),
        _ => {}
    }
    if p.get_raw("database.sslpassword").is_some_and(|v| !v.is_empty()) {
        p.warn("database.sslpassword is ignored: encrypted client keys are not supported; give database.sslkey an unencrypted key (openssl pkey -in KEY -out KEY.plain)");
    }
    let host = p.required("database.hostname");
    let port = p.int("database.port");
    if !host.is_empty() {
        if let Err(message) = parse_endpoints(&host, port) {
            p.error("database.hostname", message);
        }
    }
    PgConnection {
        host,
        port,
        user: p.required("database.user"),
        password: p.get_raw("database.password").map(Secret::new),
        dbname: p.required("database.dbname"),
        sslmode,
        sslrootcert: path(p, "database.sslrootcert"),
        sslcert,
        sslkey,
        initial_statements: super::slot::parse_initial_statements(p),
    }
}

/// A file path property; empty counts as unset (Debezium's default is empty).
fn path(p: &mut Props, key: &str) -> Option<PathBuf> {
    p.get(key).map(PathBuf::from)
}

/// `topic.prefix`, else `database.server.name`, else `database.dbname`.
fn topic_prefix(p: &mut Props, dbname: &str) -> String {
    let (key, prefix) = if let Some(v) = p.get("topic.prefix") {
        ("topic.prefix", v)
    } else if let Some(v) = p.get("database.server.name") {
        p.warn("database.server.name is deprecated: used as topic.prefix; set topic.prefix instead");
        ("database.server.name", v)
    } else {
        ("database.dbname", dbname.to_owned())
    };
    if !prefix.is_empty() && !prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        p.error(
            key,
            format!("Invalid value {prefix} for configuration {key}: a topic prefix may contain only ASCII alphanumerics, '.', '_' and '-'"),
        );
    }
    prefix
}

fn regex_list(p: &mut Props, key: &str) -> Vec<String> {
    let list = p.regexes(key);
    for pattern in &list {
        if let Err(e) = regex::Regex::new(&anchored(pattern)) {
            p.error(key, format!("Invalid value {pattern} for configuration {key}: not a valid regular expression: {e}"));
        }
    }
    list
}

/// `skipped.operations`, else its declared default.
fn skipped_operations(p: &mut Props) -> Vec<Op> {
    let value = p.text("skipped.operations");
    let mut ops = Vec::new();
    for entry in split_list(&value) {
        match entry.as_str() {
            "none" => {}
            "c" => ops.push(Op::Create),
            "u" => ops.push(Op::Update),
            "d" => ops.push(Op::Delete),
            "t" => ops.push(Op::Truncate),
            other => p.error(
                "skipped.operations",
                format!("Invalid value {other} for configuration skipped.operations: must be a comma-separated list of c, u, d, t, or none"),
            ),
        }
    }
    ops
}

fn parse_values(p: &mut Props) -> ValueOptions {
    use crate::config::values::*;
    ValueOptions {
        decimal_handling_mode: p.choice(
            "decimal.handling.mode",
            &[("precise", DecimalHandlingMode::Precise), ("double", DecimalHandlingMode::Double), ("string", DecimalHandlingMode::String)],
        ),
        time_precision_mode: p.choice(
            "time.precision.mode",
            &[
                ("adaptive", TimePrecisionMode::Adaptive),
                ("adaptive_time_microseconds", TimePrecisionMode::AdaptiveTimeMicroseconds),
                ("connect", TimePrecisionMode::Connect),
            ],
        ),
        binary_handling_mode: p.choice(
            "binary.handling.mode",
            &[
                ("bytes", BinaryHandlingMode::Bytes),
                ("base64", BinaryHandlingMode::Base64),
                ("base64-url-safe", BinaryHandlingMode::Base64UrlSafe),
                ("hex", BinaryHandlingMode::Hex),
            ],
        ),
        interval_handling_mode: p.choice(
            "interval.handling.mode",
            &[("numeric", IntervalHandlingMode::Numeric), ("string", IntervalHandlingMode::String)],
        ),
        hstore_handling_mode: p.choice(
            "hstore.handling.mode",
            &[("json", HstoreHandlingMode::Json), ("map", HstoreHandlingMode::Map)],
        ),
        money_fraction_digits: p.int("money.fraction.digits"),
        include_unknown_datatypes: p.flag("include.unknown.datatypes"),
        unavailable_value_placeholder: match p.get_raw("unavailable.value.placeholder").filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => p.default_text("unavailable.value.placeholder"),
        },
    }
}

fn parse_retry(p: &mut Props) -> RetryPolicy {
    let ms = |p: &mut Props, key: &str| std::time::Duration::from_millis(p.int::<u64>(key));
    let max_retries: i64 = p.int("errors.max.retries");
    let policy = RetryPolicy {
        max_retries: u32::try_from(max_retries).ok(),
        delay_initial: ms(p, "errors.retry.delay.initial.ms"),
        delay_max: ms(p, "errors.retry.delay.max.ms"),
        restart_wait: ms(p, "retriable.restart.connector.wait.ms"),
    };
    if policy.delay_max < policy.delay_initial {
        p.error("errors.retry.delay.max.ms", "must be at least errors.retry.delay.initial.ms");
    }
    policy
}

fn parse_topic_creation(p: &mut Props) -> TopicCreation {
    const PREFIX: &str = "topic.creation.default.";
    let partitions: i32 = p.int("topic.creation.default.partitions");
    let replication_factor: i16 = p.int("topic.creation.default.replication.factor");
    for (key, value) in [("topic.creation.default.partitions", partitions), ("topic.creation.default.replication.factor", i32::from(replication_factor))] {
        if value == 0 {
            p.error(key, format!("Invalid value 0 for configuration {key}: must be a positive number, or -1 for the broker's default"));
        }
    }
    let mut configs = Vec::new();
    for key in p.keys_with_prefix(PREFIX) {
        if key == "topic.creation.default.partitions" || key == "topic.creation.default.replication.factor" {
            continue;
        }
        if let Some(value) = p.get(&key) {
            configs.push((key[PREFIX.len()..].to_owned(), value));
        }
    }
    TopicCreation { partitions, replication_factor, configs }
}

/// `field.name.adjustment.mode`; `none` with an AvroConverter key or value
/// converter adjusts as `avro` (Debezium's `CommonConnectorConfig.fieldNameAdjuster`).
fn field_name_adjustment(p: &mut Props) -> FieldNameAdjustment {
    let mode = p.choice(
        "field.name.adjustment.mode",
        &[("none", FieldNameAdjustment::None), ("avro", FieldNameAdjustment::Avro), ("avro_unicode", FieldNameAdjustment::AvroUnicode)],
    );
    // Debezium compares the class names as written (an alias such as
    // `AvroConverter` does not count).
    let mut avro = |key: &str| {
        p.get(key).is_some_and(|c| matches!(c.as_str(), "io.confluent.connect.avro.AvroConverter" | "io.apicurio.registry.utils.converter.AvroConverter"))
    };
    if mode == FieldNameAdjustment::None && (avro("key.converter") || avro("value.converter")) {
        return FieldNameAdjustment::Avro;
    }
    mode
}

#[cfg(test)]
#[path = "connector_tests.rs"]
mod tests;
