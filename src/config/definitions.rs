//! The connector properties pgcdc knows: their type, default, group and
//! documentation (for `PUT /connector-plugins/{plugin}/config/validate`), and
//! the properties Kafka Connect or Debezium accept that pgcdc ignores on
//! purpose (so that they do not warn).

/// Type of a property, as Kafka's `ConfigDef.Type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Int,
    Long,
    Short,
    Boolean,
    List,
    Password,
    Class,
}

impl PropertyType {
    /// Kafka's name of the type (`STRING`, `INT`, …).
    pub fn name(self) -> &'static str {
        match self {
            PropertyType::String => "STRING",
            PropertyType::Int => "INT",
            PropertyType::Long => "LONG",
            PropertyType::Short => "SHORT",
            PropertyType::Boolean => "BOOLEAN",
            PropertyType::List => "LIST",
            PropertyType::Password => "PASSWORD",
            PropertyType::Class => "CLASS",
        }
    }
}

/// One known connector property.
#[derive(Clone, Copy, Debug)]
pub struct PropertyDef {
    pub name: &'static str,
    pub kind: PropertyType,
    pub default: Option<&'static str>,
    pub required: bool,
    pub group: &'static str,
    pub documentation: &'static str,
}

const fn def(
    name: &'static str,
    kind: PropertyType,
    default: Option<&'static str>,
    group: &'static str,
    documentation: &'static str,
) -> PropertyDef {
    PropertyDef { name, kind, default, required: false, group, documentation }
}

const fn req(name: &'static str, kind: PropertyType, group: &'static str, documentation: &'static str) -> PropertyDef {
    PropertyDef { name, kind, default: None, required: true, group, documentation }
}

use PropertyType as T;

/// Groups in the order the validate endpoint lists them.
pub const GROUPS: &[&str] = &["Common", "Transforms", "Topic Creation", "Postgres", "Connector", "Events", "Converters"];

/// Every connector property pgcdc reads (transform properties are per alias and listed apart).
pub const PROPERTIES: &[PropertyDef] = &[
    req("name", T::String, "Common", "Globally unique name to use for this connector."),
    req("connector.class", T::String, "Common", "Name or alias of the class for this connector."),
    def("tasks.max", T::Int, Some("1"), "Common", "Maximum number of tasks; pgcdc always runs one."),
    def("key.converter", T::Class, None, "Common", "Converter class for keys: org.apache.kafka.connect.json.JsonConverter (default) or io.confluent.connect.avro.AvroConverter."),
    def("value.converter", T::Class, None, "Common", "Converter class for values: org.apache.kafka.connect.json.JsonConverter (default) or io.confluent.connect.avro.AvroConverter."),
    def("transforms", T::List, Some(""), "Transforms", "Aliases for the transformations to be applied to records."),
    def("topic.creation.default.partitions", T::Int, Some("1"), "Topic Creation", "Partitions of topics the worker creates (-1: broker default)."),
    def("topic.creation.default.replication.factor", T::Short, Some("1"), "Topic Creation", "Replication factor of created topics (-1: broker default)."),
    req("database.hostname", T::String, "Postgres", "Resolvable hostname or IP address of the database server."),
    def("database.port", T::Int, Some("5432"), "Postgres", "Port of the database server."),
    req("database.user", T::String, "Postgres", "Name of the database user to be used when connecting to the database."),
    def("database.password", T::Password, None, "Postgres", "Password of the database user to be used when connecting to the database."),
    req("database.dbname", T::String, "Postgres", "The name of the database from which the connector should capture changes."),
    def("database.sslmode", T::String, Some("prefer"), "Postgres", "disable, allow, prefer, require, verify-ca or verify-full."),
    def("database.sslrootcert", T::String, None, "Postgres", "PEM file of the CA certificate(s) that signed the server's certificate; without it verify-ca/verify-full use the system's CA store."),
    def("database.sslcert", T::String, None, "Postgres", "PEM file of the client certificate (mutual TLS); needs database.sslkey."),
    def("database.sslkey", T::String, None, "Postgres", "PEM file of the client certificate's private key (unencrypted)."),
    def("database.sslpassword", T::Password, None, "Postgres", "Password of an encrypted database.sslkey; not supported: decrypt the key instead."),
    def("topic.prefix", T::String, None, "Postgres", "Prefix of every topic name; falls back to database.server.name, then database.dbname."),
    def("plugin.name", T::String, Some("pgoutput"), "Postgres", "Logical decoding plugin; only pgoutput is supported."),
    def("slot.name", T::String, Some("debezium"), "Postgres", "Name of the logical replication slot."),
    def("pgcdc.streaming", T::Boolean, Some("true"), "Postgres", "On PostgreSQL 14+, have the server stream large in-progress transactions (pgoutput streaming); pgcdc spills them to temporary files and emits them at commit, so memory stays bounded. The events are the same either way."),
    def("slot.drop.on.stop", T::Boolean, Some("false"), "Postgres", "Drop the replication slot when the connector is stopped or deleted (for tests and short-lived connectors)."),
    def("publication.name", T::String, Some("dbz_publication"), "Postgres", "Name of the publication pgoutput streams from."),
    def("publication.autocreate.mode", T::String, Some("all_tables"), "Postgres", "all_tables, filtered or disabled."),
    def("table.include.list", T::List, None, "Connector", "Regular expressions matching schema.table to capture."),
    def("table.exclude.list", T::List, None, "Connector", "Regular expressions matching schema.table not to capture."),
    def("column.include.list", T::List, None, "Connector", "Regular expressions over schema.table.column of the columns to capture (anchored, case-insensitive)."),
    def("column.exclude.list", T::List, None, "Connector", "Regular expressions over schema.table.column of the columns to leave out."),
    def("message.key.columns", T::String, None, "Connector", "Record key columns per table: <schema>.<table>:<column>,<column>; entries separated by ';' (table part a regular expression). Also column.mask.with.N.chars, column.truncate.to.N.chars and column.mask.hash[.v2].ALGORITHM.with.salt.SALT take regular expressions over schema.table.column."),
    def("schema.include.list", T::List, None, "Connector", "Regular expressions matching schema names to capture."),
    def("schema.exclude.list", T::List, None, "Connector", "Regular expressions matching schema names not to capture."),
    def("message.prefix.include.list", T::List, None, "Connector", "Regular expressions matching the prefixes of logical decoding messages to emit."),
    def("message.prefix.exclude.list", T::List, None, "Connector", "Regular expressions matching the prefixes of logical decoding messages not to emit."),
    def("snapshot.mode", T::String, Some("initial"), "Connector", "initial, initial_only, no_data (never), always or when_needed."),
    def("snapshot.max.threads", T::Int, Some("1"), "Connector", "Connections reading the initial snapshot in parallel; large tables are read in chunks."),
    def("pgcdc.snapshot.chunk.blocks", T::Long, Some("1024"), "Connector", "Smallest block range (8 KiB blocks) a large table is split into when snapshot.max.threads > 1."),
    def("signal.data.collection", T::String, None, "Connector", "The signal table (<schema>.<table>, columns id, type, data) whose execute-snapshot and stop-snapshot rows run incremental snapshots."),
    def("incremental.snapshot.chunk.size", T::Int, Some("1024"), "Connector", "Rows per chunk of an incremental snapshot."),
    def("snapshot.include.collection.list", T::List, None, "Connector", "Regular expressions matching schema.table of the captured tables to snapshot (default: all)."),
    def("tombstones.on.delete", T::Boolean, Some("true"), "Events", "Whether a delete is followed by a tombstone."),
    def("provide.transaction.metadata", T::Boolean, Some("false"), "Events", "Whether to emit transaction boundaries and metadata."),
    def("skipped.operations", T::List, Some("t"), "Events", "Operations not to emit: c, u, d, t, or none."),
    def("decimal.handling.mode", T::String, Some("precise"), "Connector", "precise, double or string."),
    def("time.precision.mode", T::String, Some("adaptive"), "Connector", "adaptive, adaptive_time_microseconds or connect."),
    def("binary.handling.mode", T::String, Some("bytes"), "Connector", "bytes, base64, base64-url-safe or hex."),
    def("interval.handling.mode", T::String, Some("numeric"), "Connector", "numeric or string."),
    def("hstore.handling.mode", T::String, Some("json"), "Connector", "json or map."),
    def("money.fraction.digits", T::Short, Some("2"), "Connector", "Fraction digits of money values with decimal.handling.mode=precise."),
    def("include.unknown.datatypes", T::Boolean, Some("false"), "Connector", "Emit columns of unknown types as raw bytes instead of dropping them."),
    def("unavailable.value.placeholder", T::String, Some("__debezium_unavailable_value"), "Connector", "Stands for unchanged TOASTed values."),
    def("database.server.name", T::String, None, "Postgres", "Deprecated fallback for topic.prefix."),
    def("errors.max.retries", T::Int, Some("-1"), "Connector", "Retries of a transient failure before the connector fails: -1 no limit, 0 none."),
    def("errors.retry.delay.initial.ms", T::Long, Some("300"), "Connector", "First delay when the connector cannot connect; doubles on every retry."),
    def("errors.retry.delay.max.ms", T::Long, Some("10000"), "Connector", "Longest delay between connection retries."),
    def("retriable.restart.connector.wait.ms", T::Long, Some("10000"), "Connector", "Delay before restarting a connector that failed while streaming."),
    def("heartbeat.interval.ms", T::Int, Some("0"), "Advanced", "Interval of heartbeat records (and offset commits) on idle connectors; 0 turns them off."),
    def("heartbeat.action.query", T::String, None, "Advanced", "Statement run on the database at each heartbeat interval (e.g. an update of a heartbeat table)."),
    def("topic.heartbeat.prefix", T::String, Some("__debezium-heartbeat"), "Advanced", "Prefix of the heartbeat topic: <prefix>.<topic.prefix>."),
    def("key.converter.schemas.enable", T::Boolean, Some("true"), "Converters", "Embed the schema in each JSON key."),
    def("value.converter.schemas.enable", T::Boolean, Some("true"), "Converters", "Embed the schema in each JSON value."),
    def("key.converter.decimal.format", T::String, Some("BASE64"), "Converters", "BASE64 or NUMERIC."),
    def("value.converter.decimal.format", T::String, Some("BASE64"), "Converters", "BASE64 or NUMERIC."),
    def("key.converter.replace.null.with.default", T::Boolean, Some("true"), "Converters", "Write a field's default instead of null."),
    def("value.converter.replace.null.with.default", T::Boolean, Some("true"), "Converters", "Write a field's default instead of null."),
    def("key.converter.schema.registry.url", T::List, None, "Converters", "AvroConverter: comma-separated schema registry URLs (required with the AvroConverter)."),
    def("value.converter.schema.registry.url", T::List, None, "Converters", "AvroConverter: comma-separated schema registry URLs (required with the AvroConverter)."),
    def("key.converter.basic.auth.credentials.source", T::String, Some("URL"), "Converters", "AvroConverter: URL (user info of the URL) or USER_INFO."),
    def("value.converter.basic.auth.credentials.source", T::String, Some("URL"), "Converters", "AvroConverter: URL (user info of the URL) or USER_INFO."),
    def("key.converter.basic.auth.user.info", T::Password, None, "Converters", "AvroConverter: user:password for the registry with USER_INFO."),
    def("value.converter.basic.auth.user.info", T::Password, None, "Converters", "AvroConverter: user:password for the registry with USER_INFO."),
    def("key.converter.auto.register.schemas", T::Boolean, Some("true"), "Converters", "AvroConverter: register new schemas (else look them up)."),
    def("value.converter.auto.register.schemas", T::Boolean, Some("true"), "Converters", "AvroConverter: register new schemas (else look them up)."),
    def("key.converter.use.latest.version", T::Boolean, Some("false"), "Converters", "AvroConverter: use the subject's latest version (must equal the record's schema)."),
    def("value.converter.use.latest.version", T::Boolean, Some("false"), "Converters", "AvroConverter: use the subject's latest version (must equal the record's schema)."),
    def("key.converter.key.subject.name.strategy", T::Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), "Converters", "AvroConverter: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."),
    def("value.converter.value.subject.name.strategy", T::Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), "Converters", "AvroConverter: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."),
    def("key.converter.connect.meta.data", T::Boolean, Some("true"), "Converters", "AvroConverter: connect.* properties in the Avro schemas."),
    def("value.converter.connect.meta.data", T::Boolean, Some("true"), "Converters", "AvroConverter: connect.* properties in the Avro schemas."),
    def("key.converter.enhanced.avro.schema.support", T::Boolean, Some("false"), "Converters", "AvroConverter: Avro enums from io.confluent.connect.avro.Enum parameters (Debezium sets none)."),
    def("value.converter.enhanced.avro.schema.support", T::Boolean, Some("false"), "Converters", "AvroConverter: Avro enums from io.confluent.connect.avro.Enum parameters (Debezium sets none)."),
    def("key.converter.scrub.invalid.names", T::Boolean, Some("false"), "Converters", "AvroConverter: rewrite names Avro does not accept instead of failing."),
    def("value.converter.scrub.invalid.names", T::Boolean, Some("false"), "Converters", "AvroConverter: rewrite names Avro does not accept instead of failing."),
];

/// The definition of `name`, if pgcdc reads it.
pub fn find(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|d| d.name == name)
}

/// Properties Kafka Connect or Debezium accept that pgcdc deliberately ignores.
const IGNORED: &[&str] = &[
    "tasks.max",
    "header.converter",
    "config.action.reload",
    "topic.creation.groups",
    "topic.creation.enable",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
    "predicates",
    "poll.interval.ms",
    "max.batch.size",
    "max.queue.size",
    "max.queue.size.in.bytes",
    "status.update.interval.ms",
    "slot.max.retries",
    "slot.retry.delay.ms",
    "slot.stream.params",
    "database.tcpKeepAlive",
    "database.initial.statements",
    "sanitize.field.names",
    "event.processing.failure.handling.mode",
    "custom.metric.tags",
    "xmin.fetch.interval.ms",
    "flush.lsn.source",
    "include.schema.comments",
    "lsn.flush.timeout.ms",
    "lsn.flush.timeout.action",
];

/// Prefixes of ignored properties.
const IGNORED_PREFIXES: &[&str] = &[
    "errors.",
    "heartbeat.",
    "predicates.",
    "snapshot.",
    "signal.",
    "notification.",
    "incremental.snapshot.",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "header.converter.",
    "key.converter.",
    "value.converter.",
    "schema.history.",
    "database.history",
    "offset.",
    "topic.creation.",
    "internal.",
];

/// Whether `name` is a property pgcdc ignores without a warning.
pub fn is_ignored(name: &str) -> bool {
    IGNORED.contains(&name) || IGNORED_PREFIXES.iter().any(|p| name.starts_with(p))
}

pub use crate::config::secrets::is_secret;
