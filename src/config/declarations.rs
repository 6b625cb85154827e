//! The declaration of every connector property pgcdc reads: one
//! [`PropertyDef`] each, with its default as a named constant where the
//! stage that uses it has one. The parser's getters take defaults, bounds
//! and choices from here; the REST API and the README's table list them.
//! A property read without a declaration fails the unit tests
//! (`declarations_tests.rs`).

use crate::config::connector::{
    DEFAULT_ERRORS_MAX_RETRIES, DEFAULT_INCREMENTAL_CHUNK_SIZE, DEFAULT_PORT, DEFAULT_PUBLICATION_NAME,
    DEFAULT_RETRIABLE_RESTART_WAIT_MS, DEFAULT_RETRY_DELAY_INITIAL_MS, DEFAULT_RETRY_DELAY_MAX_MS,
    DEFAULT_SLOT_NAME, DEFAULT_SNAPSHOT_CHUNK_BLOCKS, DEFAULT_SNAPSHOT_MAX_THREADS, DEFAULT_STREAMING,
    DEFAULT_TOPIC_PARTITIONS, DEFAULT_TOPIC_REPLICATION_FACTOR, MAX_DELAY_MS, PGOUTPUT,
};
use crate::config::errors::{DEFAULT_DLQ_REPLICATION_FACTOR, DEFAULT_ERRORS_RETRY_TIMEOUT_MS};
use crate::config::slot::DEFAULT_LSN_FLUSH_TIMEOUT_MS;
use crate::config::definitions::{Check, DefaultValue, PropertyDef, PropertyType as T};
use crate::heartbeat::DEFAULT_HEARTBEAT_TOPIC_PREFIX;
use crate::config::values::{DEFAULT_MONEY_FRACTION_DIGITS, DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER};
use crate::transform::logical_router::DEFAULT_KEY_FIELD_NAME;
use crate::transform::outbox::{DEFAULT_ROUTE_TOPIC_REGEX, DEFAULT_ROUTE_TOPIC_REPLACEMENT};
use crate::transform::unwrap::DEFAULT_ADDED_PREFIX;
use DefaultValue::{Bool, Int, None, Str};

const fn def(name: &'static str, kind: T, default: DefaultValue, group: &'static str, check: Check, documentation: &'static str) -> PropertyDef {
    PropertyDef { name, kind, default, required: false, group, documentation, check }
}

const fn req(name: &'static str, kind: T, group: &'static str, check: Check, documentation: &'static str) -> PropertyDef {
    PropertyDef { name, kind, default: None, required: true, group, documentation, check }
}

/// Groups in the order the validate endpoint lists them.
pub const GROUPS: &[&str] = &["Common", "Transforms", "Topic Creation", "Error Handling", "Postgres", "Connector", "Events", "Converters"];

/// Confluent's subject name strategies (`*.subject.name.strategy`).
pub const SUBJECT_NAME_STRATEGY_CLASSES: &[&str] = &[
    TOPIC_NAME_STRATEGY,
    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
];
/// CloudEventsConverter's default `metadata.source`.
pub const CLOUDEVENTS_METADATA_SOURCE: &str = "value,id:generate,type:generate,traceparent:header,dataSchemaName:generate";
/// The default subject name strategy.
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";

/// Every connector property pgcdc reads by its full name, in the order the REST API lists them.
pub const PROPERTIES: &[PropertyDef] = &[
    req("name", T::String, "Common", Check::Custom, "Globally unique name to use for this connector."),
    req("connector.class", T::String, "Common", Check::Custom, "Name or alias of the class for this connector."),
    def("tasks.max", T::Int, Int(1), "Common", Check::NoEffect, "Maximum number of tasks; pgcdc always runs one."),
    def("key.converter", T::Class, None, "Common", Check::Custom, "Converter class for keys: org.apache.kafka.connect.json.JsonConverter (default) or io.confluent.connect.avro.AvroConverter."),
    def("value.converter", T::Class, None, "Common", Check::Custom, "Converter class for values: org.apache.kafka.connect.json.JsonConverter (default), io.confluent.connect.avro.AvroConverter or io.debezium.converters.CloudEventsConverter."),
    def("transforms", T::List, Str(""), "Transforms", Check::List, "Aliases for the transformations to be applied to records."),
    def("topic.creation.default.partitions", T::Int, Int(DEFAULT_TOPIC_PARTITIONS as i64), "Topic Creation", Check::Int { min: -1, max: i32::MAX as i64 }, "Partitions of topics the worker creates (-1: broker default)."),
    def("topic.creation.default.replication.factor", T::Short, Int(DEFAULT_TOPIC_REPLICATION_FACTOR as i64), "Topic Creation", Check::Int { min: -1, max: i16::MAX as i64 }, "Replication factor of created topics (-1: broker default)."),
    req("database.hostname", T::String, "Postgres", Check::Text, "Resolvable hostname or IP address of the database server; several, comma-separated (each host or host:port, libpq's multi-host list), to follow a failover: pgcdc connects to the first that is a read-write primary (target_session_attrs=read-write)."),
    def("database.port", T::Int, Int(DEFAULT_PORT as i64), "Postgres", Check::Int { min: 1, max: u16::MAX as i64 }, "Port of the database server."),
    req("database.user", T::String, "Postgres", Check::Text, "Name of the database user to be used when connecting to the database."),
    def("database.password", T::Password, None, "Postgres", Check::Custom, "Password of the database user to be used when connecting to the database."),
    req("database.dbname", T::String, "Postgres", Check::Text, "The name of the database from which the connector should capture changes."),
    def("database.sslmode", T::String, Str("prefer"), "Postgres", Check::Choice(&["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]), "disable, allow, prefer, require, verify-ca or verify-full."),
    def("database.sslrootcert", T::String, None, "Postgres", Check::Text, "PEM file of the CA certificate(s) that signed the server's certificate; without it verify-ca/verify-full use the system's CA store."),
    def("database.sslcert", T::String, None, "Postgres", Check::Text, "PEM file of the client certificate (mutual TLS); needs database.sslkey."),
    def("database.sslkey", T::String, None, "Postgres", Check::Text, "PEM file of the client certificate's private key (unencrypted)."),
    def("database.sslpassword", T::Password, None, "Postgres", Check::Custom, "Password of an encrypted database.sslkey; not supported: decrypt the key instead."),
    def("topic.prefix", T::String, None, "Postgres", Check::Custom, "Prefix of every topic name; falls back to database.server.name, then database.dbname."),
    def("plugin.name", T::String, Str(PGOUTPUT), "Postgres", Check::Custom, "Logical decoding plugin; only pgoutput is supported."),
    def("slot.name", T::String, Str(DEFAULT_SLOT_NAME), "Postgres", Check::Custom, "Name of the logical replication slot."),
    def("pgcdc.streaming", T::Boolean, Bool(DEFAULT_STREAMING), "Postgres", Check::Bool, "On PostgreSQL 14+, have the server stream large in-progress transactions (pgoutput streaming); pgcdc spills them to temporary files and emits them at commit, so memory stays bounded. The events are the same either way."),
    def("slot.failover", T::Boolean, Bool(false), "Postgres", Check::Bool, "PostgreSQL 17+: create the slot with FAILOVER (an existing slot is altered) so that standbys with sync_replication_slots=on keep a copy of it and the connector resumes on a promoted standby; refused on older servers."),
    def("slot.drop.on.stop", T::Boolean, Bool(false), "Postgres", Check::Bool, "Drop the replication slot when the connector is stopped or deleted (for tests and short-lived connectors)."),
    def("publication.name", T::String, Str(DEFAULT_PUBLICATION_NAME), "Postgres", Check::Custom, "Name of the publication pgoutput streams from."),
    def("publication.autocreate.mode", T::String, Str("all_tables"), "Postgres", Check::Choice(&["all_tables", "filtered", "disabled"]), "all_tables, filtered or disabled."),
    def("table.include.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching schema.table to capture."),
    def("table.exclude.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching schema.table not to capture."),
    def("column.include.list", T::List, None, "Connector", Check::Regexes, "Regular expressions over schema.table.column of the columns to capture (anchored, case-insensitive)."),
    def("column.exclude.list", T::List, None, "Connector", Check::Regexes, "Regular expressions over schema.table.column of the columns to leave out."),
    def("message.key.columns", T::String, None, "Connector", Check::Custom, "Record key columns per table: <schema>.<table>:<column>,<column>; entries separated by ';' (table part a regular expression). Also column.mask.with.N.chars, column.truncate.to.N.chars and column.mask.hash[.v2].ALGORITHM.with.salt.SALT take regular expressions over schema.table.column."),
    def("schema.include.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching schema names to capture."),
    def("schema.exclude.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching schema names not to capture."),
    def("message.prefix.include.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching the prefixes of logical decoding messages to emit."),
    def("message.prefix.exclude.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching the prefixes of logical decoding messages not to emit."),
    def("snapshot.mode", T::String, Str("initial"), "Connector", Check::Choice(&["initial", "initial_only", "no_data", "never", "always", "when_needed", "configuration_based", "custom"]), "initial, initial_only, no_data (never), always or when_needed."),
    def("snapshot.max.threads", T::Int, Int(DEFAULT_SNAPSHOT_MAX_THREADS as i64), "Connector", Check::Int { min: 1, max: 64 }, "Connections reading the initial snapshot in parallel; large tables are read in chunks."),
    def("pgcdc.snapshot.chunk.blocks", T::Long, Int(DEFAULT_SNAPSHOT_CHUNK_BLOCKS as i64), "Connector", Check::Int { min: 1, max: 1 << 30 }, "Smallest block range (8 KiB blocks) a large table is split into when snapshot.max.threads > 1."),
    def("signal.data.collection", T::String, None, "Connector", Check::Custom, "The signal table (<schema>.<table>, columns id, type, data) whose execute-snapshot and stop-snapshot rows run incremental snapshots."),
    def("incremental.snapshot.chunk.size", T::Int, Int(DEFAULT_INCREMENTAL_CHUNK_SIZE as i64), "Connector", Check::Int { min: 1, max: 1 << 20 }, "Rows per chunk of an incremental snapshot."),
    def("signal.enabled.channels", T::List, Str("source"), "Connector", Check::Custom, "Signal channels; only source (the signal table) is read: others are ignored with a warning."),
    def("snapshot.include.collection.list", T::List, None, "Connector", Check::Regexes, "Regular expressions matching schema.table of the captured tables to snapshot (default: all)."),
    def("tombstones.on.delete", T::Boolean, Bool(true), "Events", Check::Bool, "Whether a delete is followed by a tombstone."),
    def("provide.transaction.metadata", T::Boolean, Bool(false), "Events", Check::Bool, "Whether to emit transaction boundaries and metadata."),
    def("skipped.operations", T::List, Str("t"), "Events", Check::Custom, "Operations not to emit: c, u, d, t, or none."),
    def("decimal.handling.mode", T::String, Str("precise"), "Connector", Check::Choice(&["precise", "double", "string"]), "precise, double or string."),
    def("time.precision.mode", T::String, Str("adaptive"), "Connector", Check::Choice(&["adaptive", "adaptive_time_microseconds", "connect"]), "adaptive, adaptive_time_microseconds or connect."),
    def("binary.handling.mode", T::String, Str("bytes"), "Connector", Check::Choice(&["bytes", "base64", "base64-url-safe", "hex"]), "bytes, base64, base64-url-safe or hex."),
    def("field.name.adjustment.mode", T::String, Str("none"), "Connector", Check::Choice(&["none", "avro", "avro_unicode"]), "How column names become field names: none; avro (invalid Avro characters become _, a leading digit gets a _ before it); avro_unicode (they and _ become _uXXXX). none with the AvroConverter adjusts as avro, as Debezium does."),
    def("schema.name.adjustment.mode", T::String, Str("none"), "Connector", Check::Choice(&["none", "avro", "avro_unicode"]), "How the table's Key, Value and Envelope schema names are adjusted: none; avro (invalid Avro characters become _); avro_unicode (they and _ become _uXXXX)."),
    def("interval.handling.mode", T::String, Str("numeric"), "Connector", Check::Choice(&["numeric", "string"]), "numeric or string."),
    def("hstore.handling.mode", T::String, Str("json"), "Connector", Check::Choice(&["json", "map"]), "json or map."),
    def("money.fraction.digits", T::Short, Int(DEFAULT_MONEY_FRACTION_DIGITS as i64), "Connector", Check::Int { min: 0, max: 127 }, "Fraction digits of money values with decimal.handling.mode=precise."),
    def("include.unknown.datatypes", T::Boolean, Bool(false), "Connector", Check::Bool, "Emit columns of unknown types as raw bytes instead of dropping them."),
    def("unavailable.value.placeholder", T::String, Str(DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER), "Connector", Check::Custom, "Stands for unchanged TOASTed values."),
    def("database.server.name", T::String, None, "Postgres", Check::Custom, "Deprecated fallback for topic.prefix."),
    def("errors.max.retries", T::Int, Int(DEFAULT_ERRORS_MAX_RETRIES), "Connector", Check::Int { min: -1, max: u32::MAX as i64 }, "Retries of a transient failure before the connector fails: -1 no limit, 0 none."),
    def("errors.retry.delay.initial.ms", T::Long, Int(DEFAULT_RETRY_DELAY_INITIAL_MS as i64), "Connector", Check::Int { min: 0, max: MAX_DELAY_MS }, "First delay before retrying a transient failure (a failed operation with errors.retry.timeout, a task that cannot start); doubles on every retry."),
    def("errors.retry.delay.max.ms", T::Long, Int(DEFAULT_RETRY_DELAY_MAX_MS as i64), "Connector", Check::Int { min: 0, max: MAX_DELAY_MS }, "Longest delay between retries of a transient failure: of one operation (errors.retry.timeout) and of a task that cannot start (errors.max.retries)."),
    def("database.initial.statements", T::String, None, "Postgres", Check::Custom, "SQL statements run on every connection pgcdc opens to the database except the replication connection, separated by ';' (';;' for a literal ';')."),
    def("slot.stream.params", T::String, None, "Postgres", Check::Custom, "Extra pgoutput options of START_REPLICATION: name=value pairs separated by ';' (proto_version, publication_names, messages, streaming and binary are pgcdc's own)."),
    def("flush.lsn.source", T::Boolean, Bool(true), "Postgres", Check::Bool, "Confirm the positions made durable to the replication slot; false: never confirm it (the slot keeps its WAL until someone else advances it)."),
    def("status.update.interval.ms", T::Int, Int(super::slot::DEFAULT_STATUS_UPDATE_INTERVAL_MS as i64), "Postgres", Check::Int { min: 100, max: 3_600_000 }, "Longest time between two standby status updates to the server (one also follows every durable batch); the slot's lag metrics are read as often."),
    def("lsn.flush.timeout.ms", T::Long, Int(DEFAULT_LSN_FLUSH_TIMEOUT_MS as i64), "Postgres", Check::Int { min: 1, max: MAX_DELAY_MS }, "Longest wait for a durable position to be reported to the server."),
    def("lsn.flush.timeout.action", T::String, Str("fail"), "Postgres", Check::Choice(&["fail", "warn", "ignore"]), "When that wait is exceeded: fail the connector, warn and go on, or go on."),
    def("retriable.restart.connector.wait.ms", T::Long, Int(DEFAULT_RETRIABLE_RESTART_WAIT_MS as i64), "Connector", Check::Int { min: 0, max: MAX_DELAY_MS }, "Delay before restarting a connector that failed while streaming."),
    def("errors.tolerance", T::String, Str("none"), "Error Handling", Check::Choice(&["none", "all"]), "A record that cannot be converted, encoded or written (a data error): none fails the connector; all skips it, to the dead letter queue when one is set. Transient errors are retried, never skipped."),
    def("errors.retry.timeout", T::Long, Int(DEFAULT_ERRORS_RETRY_TIMEOUT_MS), "Error Handling", Check::Int { min: -1, max: MAX_DELAY_MS }, "How long a transient failure of one operation (converting an event, e.g. the schema registry unavailable; handing a record to the producer) is retried in place, with backoff, before the task fails and errors.max.retries restarts it: 0 no retry, -1 forever. Never sends a record to the dead letter queue."),
    def("errors.log.enable", T::Boolean, Bool(false), "Error Handling", Check::Bool, "Log each tolerated failure (the error, the stage)."),
    def("errors.log.include.messages", T::Boolean, Bool(false), "Error Handling", Check::Bool, "Also log the table, LSN and txId of the failed record (never its values)."),
    def("errors.deadletterqueue.topic.name", T::String, None, "Error Handling", Check::Text, "With errors.tolerance=all: the topic failed records go to, in the same Kafka transaction as the records around them."),
    def("errors.deadletterqueue.topic.replication.factor", T::Short, Int(DEFAULT_DLQ_REPLICATION_FACTOR as i64), "Error Handling", Check::Int { min: -1, max: i16::MAX as i64 }, "Replication factor of the dead letter queue topic, created (one partition) when the connector starts; -1 for the broker's default. A single broker needs 1."),
    def("errors.deadletterqueue.context.headers.enable", T::Boolean, Bool(false), "Error Handling", Check::Bool, "Add the __connect.errors.* headers (topic, partition, offset = LSN, connector, task, stage, class, exception) to dead letter queue records."),
    def("event.processing.failure.handling.mode", T::String, Str("fail"), "Error Handling", Check::Choice(&["fail", "warn", "skip", "ignore"]), "Debezium's: an event that cannot be converted fails the connector, is skipped with a warning, or is skipped (errors.tolerance=all takes precedence)."),
    def("heartbeat.interval.ms", T::Int, Int(0), "Advanced", Check::Int { min: 0, max: i32::MAX as i64 }, "Interval of heartbeat records (and offset commits) on idle connectors; 0 turns them off."),
    def("heartbeat.action.query", T::String, None, "Advanced", Check::Text, "Statement run on the database at each heartbeat interval (e.g. an update of a heartbeat table)."),
    def("topic.heartbeat.prefix", T::String, Str(DEFAULT_HEARTBEAT_TOPIC_PREFIX), "Advanced", Check::Text, "Prefix of the heartbeat topic: <prefix>.<topic.prefix>."),
    def("key.converter.schemas.enable", T::Boolean, Bool(true), "Converters", Check::Bool, "Embed the schema in each JSON key."),
    def("value.converter.serializer.type", T::String, Str("json"), "CloudEvents", Check::Custom, "CloudEventsConverter: encoding of the event; json (avro is refused)."),
    def("value.converter.data.serializer.type", T::String, Str("json"), "CloudEvents", Check::Custom, "CloudEventsConverter: encoding of the data attribute; json (avro is refused)."),
    def("value.converter.extension.attributes.enable", T::Boolean, Bool(true), "CloudEvents", Check::Bool, "CloudEventsConverter: the iodebezium* extension attributes (op, source block, transaction block)."),
    def("value.converter.metadata.source", T::String, Str(CLOUDEVENTS_METADATA_SOURCE), "CloudEvents", Check::Custom, "CloudEventsConverter: where id, type and the source block come from; only the value (header sources are refused)."),
    def("value.converter.opentelemetry.tracing.attributes.enable", T::Boolean, Bool(false), "CloudEvents", Check::Bool, "CloudEventsConverter: the traceparent attribute; pgcdc has no tracing (true is refused)."),
    def("value.converter.schema.name.adjustment.mode", T::String, Str("avro"), "CloudEvents", Check::NoEffect, "CloudEventsConverter: adjusts the event schema's name, which JSON events do not carry."),
    def("value.converter.schema.cloudevents.name", T::String, None, "CloudEvents", Check::NoEffect, "CloudEventsConverter: the event schema's name, which JSON events do not carry."),
    def("value.converter.json.schemas.enable", T::Boolean, Bool(true), "CloudEvents", Check::Bool, "CloudEventsConverter: the data attribute as {schema, payload}."),
    def("value.converter.json.decimal.format", T::String, Str("BASE64"), "CloudEvents", Check::Choice(&["BASE64", "NUMERIC"]), "CloudEventsConverter: decimals of the data attribute, BASE64 or NUMERIC."),
    def("value.converter.json.replace.null.with.default", T::Boolean, Bool(true), "CloudEvents", Check::Bool, "CloudEventsConverter: write a field's default instead of null in the data attribute."),
    def("value.converter.schemas.enable", T::Boolean, Bool(true), "Converters", Check::Bool, "Embed the schema in each JSON value."),
    def("key.converter.decimal.format", T::String, Str("BASE64"), "Converters", Check::Choice(&["BASE64", "NUMERIC"]), "BASE64 or NUMERIC."),
    def("value.converter.decimal.format", T::String, Str("BASE64"), "Converters", Check::Choice(&["BASE64", "NUMERIC"]), "BASE64 or NUMERIC."),
    def("key.converter.replace.null.with.default", T::Boolean, Bool(true), "Converters", Check::Bool, "Write a field's default instead of null."),
    def("value.converter.replace.null.with.default", T::Boolean, Bool(true), "Converters", Check::Bool, "Write a field's default instead of null."),
    def("key.converter.schema.registry.url", T::List, None, "Converters", Check::Custom, "AvroConverter: comma-separated schema registry URLs (required with the AvroConverter)."),
    def("value.converter.schema.registry.url", T::List, None, "Converters", Check::Custom, "AvroConverter: comma-separated schema registry URLs (required with the AvroConverter)."),
    def("key.converter.basic.auth.credentials.source", T::String, Str("URL"), "Converters", Check::Custom, "AvroConverter: URL (user info of the URL) or USER_INFO."),
    def("value.converter.basic.auth.credentials.source", T::String, Str("URL"), "Converters", Check::Custom, "AvroConverter: URL (user info of the URL) or USER_INFO."),
    def("key.converter.basic.auth.user.info", T::Password, None, "Converters", Check::Custom, "AvroConverter: user:password for the registry with USER_INFO."),
    def("key.converter.schema.registry.basic.auth.user.info", T::Password, None, "Converters", Check::Custom, "AvroConverter: older name of basic.auth.user.info, read when that is not set."),
    def("key.converter.bearer.auth.credentials.source", T::String, None, "Converters", Check::Custom, "AvroConverter: STATIC_TOKEN sends bearer.auth.token as Authorization: Bearer (other sources are refused; not together with basic auth)."),
    def("key.converter.bearer.auth.token", T::Password, None, "Converters", Check::Custom, "AvroConverter: the registry's bearer token, with bearer.auth.credentials.source=STATIC_TOKEN."),
    def("key.converter.schema.registry.ssl.truststore.location", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM file of the CA certificates that sign the https registry's certificate (only these are trusted; the system roots when unset)."),
    def("key.converter.schema.registry.ssl.truststore.type", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM (JKS and PKCS12 are refused: export to PEM)."),
    def("key.converter.schema.registry.ssl.truststore.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty (a PEM truststore has no password)."),
    def("key.converter.schema.registry.ssl.keystore.location", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM file holding the client's unencrypted private key and certificate chain, for registries that require client certificates."),
    def("key.converter.schema.registry.ssl.keystore.type", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM (JKS and PKCS12 are refused: export to PEM)."),
    def("key.converter.schema.registry.ssl.keystore.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty (a PEM keystore has no store password)."),
    def("key.converter.schema.registry.ssl.key.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty: encrypted private keys are refused (openssl pkey -in KEY -out KEY.plain)."),
    def("key.converter.schema.registry.ssl.endpoint.identification.algorithm", T::String, Str("https"), "Converters", Check::Custom, "AvroConverter: https (the registry's name is always checked against its certificate; empty is refused)."),
    def("value.converter.basic.auth.user.info", T::Password, None, "Converters", Check::Custom, "AvroConverter: user:password for the registry with USER_INFO."),
    def("value.converter.schema.registry.basic.auth.user.info", T::Password, None, "Converters", Check::Custom, "AvroConverter: older name of basic.auth.user.info, read when that is not set."),
    def("value.converter.bearer.auth.credentials.source", T::String, None, "Converters", Check::Custom, "AvroConverter: STATIC_TOKEN sends bearer.auth.token as Authorization: Bearer (other sources are refused; not together with basic auth)."),
    def("value.converter.bearer.auth.token", T::Password, None, "Converters", Check::Custom, "AvroConverter: the registry's bearer token, with bearer.auth.credentials.source=STATIC_TOKEN."),
    def("value.converter.schema.registry.ssl.truststore.location", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM file of the CA certificates that sign the https registry's certificate (only these are trusted; the system roots when unset)."),
    def("value.converter.schema.registry.ssl.truststore.type", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM (JKS and PKCS12 are refused: export to PEM)."),
    def("value.converter.schema.registry.ssl.truststore.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty (a PEM truststore has no password)."),
    def("value.converter.schema.registry.ssl.keystore.location", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM file holding the client's unencrypted private key and certificate chain, for registries that require client certificates."),
    def("value.converter.schema.registry.ssl.keystore.type", T::String, None, "Converters", Check::Custom, "AvroConverter: PEM (JKS and PKCS12 are refused: export to PEM)."),
    def("value.converter.schema.registry.ssl.keystore.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty (a PEM keystore has no store password)."),
    def("value.converter.schema.registry.ssl.key.password", T::Password, None, "Converters", Check::Custom, "AvroConverter: must be empty: encrypted private keys are refused (openssl pkey -in KEY -out KEY.plain)."),
    def("value.converter.schema.registry.ssl.endpoint.identification.algorithm", T::String, Str("https"), "Converters", Check::Custom, "AvroConverter: https (the registry's name is always checked against its certificate; empty is refused)."),
    def("key.converter.auto.register.schemas", T::Boolean, Bool(true), "Converters", Check::Bool, "AvroConverter: register new schemas (else look them up)."),
    def("value.converter.auto.register.schemas", T::Boolean, Bool(true), "Converters", Check::Bool, "AvroConverter: register new schemas (else look them up)."),
    def("key.converter.use.latest.version", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: use the subject's latest version (must equal the record's schema)."),
    def("value.converter.use.latest.version", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: use the subject's latest version (must equal the record's schema)."),
    def("key.converter.key.subject.name.strategy", T::Class, Str(TOPIC_NAME_STRATEGY), "Converters", Check::Choice(SUBJECT_NAME_STRATEGY_CLASSES), "AvroConverter: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."),
    def("value.converter.value.subject.name.strategy", T::Class, Str(TOPIC_NAME_STRATEGY), "Converters", Check::Choice(SUBJECT_NAME_STRATEGY_CLASSES), "AvroConverter: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."),
    def("key.converter.connect.meta.data", T::Boolean, Bool(true), "Converters", Check::Bool, "AvroConverter: connect.* properties in the Avro schemas."),
    def("value.converter.connect.meta.data", T::Boolean, Bool(true), "Converters", Check::Bool, "AvroConverter: connect.* properties in the Avro schemas."),
    def("key.converter.enhanced.avro.schema.support", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: Avro enums from io.confluent.connect.avro.Enum parameters (Debezium sets none)."),
    def("value.converter.enhanced.avro.schema.support", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: Avro enums from io.confluent.connect.avro.Enum parameters (Debezium sets none)."),
    def("key.converter.scrub.invalid.names", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: rewrite names Avro does not accept instead of failing."),
    def("key.converter.allow.optional.map.keys", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: AvroData's allow.optional.map.keys."),
    def("key.converter.schemas.cache.config", T::Int, Int(1000), "Converters", Check::Int { min: 1, max: i32::MAX as i64 }, "AvroConverter: size of the schema cache; checked, then unused (pgcdc's caches are bounded on their own)."),
    def("value.converter.scrub.invalid.names", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: rewrite names Avro does not accept instead of failing."),
    def("value.converter.allow.optional.map.keys", T::Boolean, Bool(false), "Converters", Check::Bool, "AvroConverter: AvroData's allow.optional.map.keys."),
    def("value.converter.schemas.cache.config", T::Int, Int(1000), "Converters", Check::Int { min: 1, max: i32::MAX as i64 }, "AvroConverter: size of the schema cache; checked, then unused (pgcdc's caches are bounded on their own)."),
];

/// Families of properties whose name has a part the user chooses (`<…>`);
/// a name belongs to the family whose fixed prefix (before `<` or `[`) it
/// starts with.
pub const PATTERNS: &[PropertyDef] = &[
    def("column.mask.with.<N>.chars", T::List, None, "Connector", Check::Regexes, "Regular expressions over schema.table.column: string values become N '*'."),
    def("column.truncate.to.<N>.chars", T::List, None, "Connector", Check::Regexes, "Regular expressions over schema.table.column: string values are cut to N characters."),
    def("column.mask.hash.[v2.]<ALGORITHM>.with.salt.<SALT>", T::List, None, "Connector", Check::Regexes, "Regular expressions over schema.table.column: string values become hex(ALGORITHM(SALT + value)), v1 (default) over the Java serialization, v2 over the UTF-8 bytes; ALGORITHM is MD5, SHA-1, SHA-256, SHA-384 or SHA-512."),
    def("producer.override.<property>", T::String, None, "Common", Check::Custom, "A producer setting of this connector (Kafka Connect's spelling or librdkafka's, translated as [kafka.options] are), applied over the worker's [kafka.options]: e.g. compression.type, linger.ms, batch.size, sasl.jaas.config, ssl.*. Refused: bootstrap.servers, transactional.id, enable.idempotence other than true, acks other than all; the worker's connector_client_config_override_policy (All, None, Principal) decides what may be overridden."),
    def("topic.creation.default.<config>", T::String, None, "Topic Creation", Check::Text, "Any other topic config of created topics (e.g. cleanup.policy), passed to the broker."),
];

/// Group of the properties every transform has.
pub const TRANSFORMS_GROUP: &str = "Transforms";
/// Group of ExtractNewRecordState's properties.
pub const UNWRAP_GROUP: &str = "Transforms: ExtractNewRecordState";
/// Group of ExtractChangedRecordState's properties.
pub const CHANGED_GROUP: &str = "Transforms: ExtractChangedRecordState";
/// Group of RegexRouter's properties.
pub const REGEX_ROUTER_GROUP: &str = "Transforms: RegexRouter";
/// Group of ByLogicalTableRouter's properties.
pub const LOGICAL_ROUTER_GROUP: &str = "Transforms: ByLogicalTableRouter";
/// Group of the outbox EventRouter's properties.
pub const EVENT_ROUTER_GROUP: &str = "Transforms: EventRouter";
/// Group of HeaderToValue's properties.
pub const HEADER_TO_VALUE_GROUP: &str = "Transforms: HeaderToValue";
/// Group of DecodeLogicalDecodingMessageContent's properties.
pub const DECODE_MESSAGE_GROUP: &str = "Transforms: DecodeLogicalDecodingMessageContent";
/// `route.by.field`'s default for the EventRouter (ExtractNewRecordState has none).
pub const DEFAULT_OUTBOX_ROUTE_BY_FIELD: &str = "aggregatetype";

const DELETE_TOMBSTONE_MODES: &[&str] = &["drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone"];

/// `transforms.<alias>.<property>`: the properties of one transform,
/// grouped by the transform they belong to.
pub const TRANSFORM_PROPERTIES: &[PropertyDef] = &[
    req("transforms.<alias>.type", T::Class, TRANSFORMS_GROUP, Check::Custom, "Class of the transform: io.debezium.transforms.ExtractNewRecordState, io.debezium.transforms.ExtractChangedRecordState, io.debezium.transforms.ByLogicalTableRouter, io.debezium.transforms.outbox.EventRouter, io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent, io.debezium.transforms.HeaderToValue or one of Kafka Connect's org.apache.kafka.connect.transforms.* listed under Transforms (or the short class name)."),
    def("transforms.<alias>.predicate", T::String, None, TRANSFORMS_GROUP, Check::Custom, "Name of a predicate listed in predicates: the transform applies only to the records it matches."),
    def("transforms.<alias>.negate", T::Boolean, Bool(false), TRANSFORMS_GROUP, Check::Bool, "Apply the transform to the records the predicate does not match."),
    def("transforms.<alias>.delete.tombstone.handling.mode", T::String, Str("tombstone"), UNWRAP_GROUP, Check::Choice(DELETE_TOMBSTONE_MODES), "What a delete becomes: only its tombstone, nothing, the rewritten row with __deleted, that and the tombstone, or the tombstone alone for deletes."),
    def("transforms.<alias>.drop.tombstones", T::Boolean, Bool(true), UNWRAP_GROUP, Check::Bool, "Deprecated: with delete.handling.mode, mapped to delete.tombstone.handling.mode (with a warning)."),
    def("transforms.<alias>.delete.handling.mode", T::String, Str("drop"), UNWRAP_GROUP, Check::Choice(&["drop", "rewrite", "none"]), "Deprecated: see drop.tombstones."),
    def("transforms.<alias>.add.fields", T::List, None, UNWRAP_GROUP, Check::Custom, "Envelope fields added to the value: <field>, <struct>.<field> or <field>:<new name>."),
    def("transforms.<alias>.add.headers", T::List, None, UNWRAP_GROUP, Check::Custom, "Envelope fields added as headers, as add.fields."),
    def("transforms.<alias>.add.fields.prefix", T::String, Str(DEFAULT_ADDED_PREFIX), UNWRAP_GROUP, Check::Custom, "Prefix of added fields (taken as written)."),
    def("transforms.<alias>.add.headers.prefix", T::String, Str(DEFAULT_ADDED_PREFIX), UNWRAP_GROUP, Check::Custom, "Prefix of added headers (taken as written)."),
    def("transforms.<alias>.drop.fields.header.name", T::String, None, UNWRAP_GROUP, Check::Text, "Header listing fields to drop (from ExtractChangedRecordState)."),
    def("transforms.<alias>.drop.fields.from.key", T::Boolean, Bool(false), UNWRAP_GROUP, Check::Bool, "Drop those fields from the key too."),
    def("transforms.<alias>.drop.fields.keep.schema.compatible", T::Boolean, Bool(true), UNWRAP_GROUP, Check::Bool, "Keep dropped optional fields in the schema, as null."),
    def("transforms.<alias>.route.by.field", T::String, None, UNWRAP_GROUP, Check::Text, "Route each record to the topic named by this field of the row (EventRouter: the column whose value routes the event, default aggregatetype)."),
    def("transforms.<alias>.replace.null.with.default", T::Boolean, Bool(true), UNWRAP_GROUP, Check::Bool, "Write a field's default instead of null."),
    def("transforms.<alias>.header.changed.name", T::String, None, CHANGED_GROUP, Check::Text, "Header listing the changed fields of an update."),
    def("transforms.<alias>.header.unchanged.name", T::String, None, CHANGED_GROUP, Check::Text, "Header listing the unchanged fields of an update."),
    req("transforms.<alias>.regex", T::String, REGEX_ROUTER_GROUP, Check::Custom, "Regular expression matching the whole topic name."),
    req("transforms.<alias>.replacement", T::String, REGEX_ROUTER_GROUP, Check::Custom, "New topic name: $n or ${name} for groups, \\$ for a literal $."),
    req("transforms.<alias>.topic.regex", T::String, LOGICAL_ROUTER_GROUP, Check::Custom, "Regular expression matching the whole topic name."),
    req("transforms.<alias>.topic.replacement", T::String, LOGICAL_ROUTER_GROUP, Check::Custom, "The logical table's topic, as RegexRouter's replacement."),
    def("transforms.<alias>.key.enforce.uniqueness", T::Boolean, Bool(true), LOGICAL_ROUTER_GROUP, Check::Bool, "Add a key field naming the physical table."),
    def("transforms.<alias>.key.field.name", T::String, Str(DEFAULT_KEY_FIELD_NAME), LOGICAL_ROUTER_GROUP, Check::Text, "Name of that key field."),
    def("transforms.<alias>.key.field.regex", T::String, None, LOGICAL_ROUTER_GROUP, Check::Custom, "Regular expression over the topic whose rewrite (key.field.replacement) is the key field's value."),
    def("transforms.<alias>.key.field.replacement", T::String, None, LOGICAL_ROUTER_GROUP, Check::Custom, "Replacement of key.field.regex; required with it."),
    def("transforms.<alias>.schema.name.adjustment.mode", T::String, Str("none"), LOGICAL_ROUTER_GROUP, Check::Choice(&["none", "avro", "avro_unicode"]), "How schema names are adjusted."),
    def("transforms.<alias>.table.field.event.id", T::String, Str("id"), EVENT_ROUTER_GROUP, Check::Text, "Outbox column holding the event id (the id header)."),
    def("transforms.<alias>.table.field.event.key", T::String, Str("aggregateid"), EVENT_ROUTER_GROUP, Check::Text, "Outbox column holding the record key."),
    def("transforms.<alias>.table.field.event.type", T::String, Str("type"), EVENT_ROUTER_GROUP, Check::NoEffect, "Outbox column holding the event type; read by Debezium only to validate it, without effect on the event."),
    def("transforms.<alias>.table.field.event.payload", T::String, Str("payload"), EVENT_ROUTER_GROUP, Check::Text, "Outbox column holding the payload (the record value)."),
    def("transforms.<alias>.table.field.event.timestamp", T::String, None, EVENT_ROUTER_GROUP, Check::Text, "Outbox column (Timestamp, MicroTimestamp or NanoTimestamp) giving the Kafka timestamp; default the event's ts_ms."),
    def("transforms.<alias>.table.field.event.schema.version", T::String, None, EVENT_ROUTER_GROUP, Check::Text, "Outbox int32 column giving the version of the value schema."),
    def("transforms.<alias>.table.fields.additional.placement", T::List, None, EVENT_ROUTER_GROUP, Check::Custom, "Extra columns: <column>:header|envelope[:<alias>], comma-separated (partition is not supported)."),
    def("transforms.<alias>.table.field.additional.missing", T::String, Str("error"), EVENT_ROUTER_GROUP, Check::Choice(&["error", "ignore"]), "What an additional column missing from the row does: fail the record or skip the column."),
    def("transforms.<alias>.route.topic.regex", T::String, Str(DEFAULT_ROUTE_TOPIC_REGEX), EVENT_ROUTER_GROUP, Check::Custom, "Regular expression over the route.by.field value."),
    def("transforms.<alias>.route.topic.replacement", T::String, Str(DEFAULT_ROUTE_TOPIC_REPLACEMENT), EVENT_ROUTER_GROUP, Check::Custom, "The event's topic, as RegexRouter's replacement."),
    def("transforms.<alias>.route.tombstone.on.empty.payload", T::Boolean, Bool(false), EVENT_ROUTER_GROUP, Check::Bool, "A null or blank payload gives a tombstone."),
    def("transforms.<alias>.table.op.invalid.behavior", T::String, Str("warn"), EVENT_ROUTER_GROUP, Check::Choice(&["warn", "error", "fatal"]), "An update of the outbox table: skipped with a warning, skipped with an error log, or a failed record."),
    def("transforms.<alias>.table.expand.json.payload", T::Boolean, Bool(false), EVENT_ROUTER_GROUP, Check::Bool, "Turn a JSON text payload into a struct with an inferred schema."),
    def("transforms.<alias>.table.json.payload.null.behavior", T::String, Str("ignore"), EVENT_ROUTER_GROUP, Check::Choice(&["ignore", "optional_bytes"]), "JSON nulls when expanding: left out, or optional bytes fields."),
    def("transforms.<alias>.tracing.span.context.field", T::String, Str("tracingspancontext"), EVENT_ROUTER_GROUP, Check::NoEffect, "OpenTelemetry tracing; pgcdc has none (as Debezium without OpenTelemetry on its class path)."),
    def("transforms.<alias>.tracing.operation.name", T::String, Str("debezium-read"), EVENT_ROUTER_GROUP, Check::NoEffect, "OpenTelemetry tracing; no effect."),
    def("transforms.<alias>.tracing.with.context.field.only", T::Boolean, Bool(false), EVENT_ROUTER_GROUP, Check::NoEffect, "OpenTelemetry tracing; no effect."),
    req("transforms.<alias>.headers", T::List, HEADER_TO_VALUE_GROUP, Check::Custom, "HeaderToValue: names of the headers whose values become value fields."),
    req("transforms.<alias>.fields", T::List, HEADER_TO_VALUE_GROUP, Check::Custom, "HeaderToValue: the field of each header, same order (nested a.b names are not supported)."),
    req("transforms.<alias>.operation", T::String, HEADER_TO_VALUE_GROUP, Check::Custom, "HeaderToValue: move (remove the headers) or copy."),
    def("transforms.<alias>.fields.null.include", T::Boolean, Bool(false), DECODE_MESSAGE_GROUP, Check::Bool, "JSON nulls of a logical decoding message's content become optional bytes fields (default: left out)."),
    def("transforms.<alias>.logical.table.cache.size", T::Int, Int(16), LOGICAL_ROUTER_GROUP, Check::Int { min: 1, max: i32::MAX as i64 }, "Checked, then unused (pgcdc's caches are bounded on their own)."),
];
