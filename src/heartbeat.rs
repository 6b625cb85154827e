//! Heartbeats as Debezium emits them (`heartbeat.interval.ms`,
//! `heartbeat.action.query`, `topic.heartbeat.prefix`).
//!
//! ```text
//!   every interval ─ source: run heartbeat.action.query on the catalog connection
//!                  └ source: not inside a transaction → Idle { lsn: last position received }
//!   sink.idle / sink.end_transaction, interval elapsed since the last beat:
//!        heartbeat record ──▶ __debezium-heartbeat.<prefix>   ┐ one Kafka transaction,
//!        offset record (idle position / last commit) ─▶ offsets ┘ committed together
//! ```
//!
//! The record is Debezium's: key struct `io.debezium.connector.common.ServerNameKey`
//! (version 1) `{serverName: <topic.prefix>}`, value struct
//! `io.debezium.connector.common.Heartbeat` (version 1) `{ts_ms: <now>}`, on
//! partition 0 of the heartbeat topic. Because the offset record goes with
//! it, a connector whose tables never change still moves its stored offset
//! (and, through the durable position, its slot) forward.
//!
//! Both are written with the connector's converters: with the AvroConverter
//! their schemas are registered when the connector starts (subjects
//! `<heartbeat topic>-key` / `-value` by default), so a beat never waits on
//! the registry.

use std::sync::Arc;
use std::time::Duration;

use crate::encode::avro::{binary, AvroConverter, AvroDataOptions, WireHeader};
use crate::encode::json::{JsonConverter, JsonOptions};
use crate::encode::{Converter, ConverterConfig, EncodeError};
use crate::record::{EncodedRecord, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};

/// Default of `topic.heartbeat.prefix`.
pub const DEFAULT_HEARTBEAT_TOPIC_PREFIX: &str = "__debezium-heartbeat";
/// Schema name of the heartbeat key.
pub const KEY_SCHEMA_NAME: &str = "io.debezium.connector.common.ServerNameKey";
/// Schema name of the heartbeat value.
pub const VALUE_SCHEMA_NAME: &str = "io.debezium.connector.common.Heartbeat";

/// The heartbeat properties of a connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// `heartbeat.interval.ms`; zero (the default) turns heartbeats off.
    pub interval: Duration,
    /// `heartbeat.action.query`: run on the catalog connection at each interval.
    pub action_query: Option<String>,
    /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
    pub topic_prefix: String,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval: Duration::ZERO,
            action_query: None,
            topic_prefix: DEFAULT_HEARTBEAT_TOPIC_PREFIX.to_owned(),
        }
    }
}

impl HeartbeatConfig {
    /// Whether heartbeats are on.
    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }

    /// `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub fn topic(&self, server: &str) -> String {
        format!("{}.{server}", self.topic_prefix)
    }
}

/// Builds the heartbeat records of one connector.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    interval: Duration,
    topic: String,
    key: Vec<u8>,
    value_schema: Arc<Schema>,
    value_encoding: ValueEncoding,
}

/// How the value of each beat is written.
#[derive(Clone, Debug)]
enum ValueEncoding {
    Json(JsonOptions),
    /// Avro with the id its schema was registered under.
    Avro { id: u32, data: AvroDataOptions },
    /// Debezium's CloudEventsConverter writes a heartbeat (not a change
    /// event) as Kafka's null.
    Null,
}

impl Heartbeat {
    /// Heartbeats of server `server` (`topic.prefix`), encoded with the
    /// connector's key and value converters (registering their Avro schemas
    /// with the AvroConverter); `None` when off.
    pub async fn new(
        config: &HeartbeatConfig,
        server: &str,
        key_converter: &ConverterConfig,
        value_converter: &ConverterConfig,
    ) -> Result<Option<Self>, EncodeError> {
        if !config.enabled() {
            return Ok(None);
        }
        let key_schema = Arc::new(
            Schema::new(SchemaType::Struct)
                .named(KEY_SCHEMA_NAME)
                .with_version(1)
                .with_field("serverName", Arc::new(Schema::new(SchemaType::String))),
        );
        let key = SchemaAndValue::new(key_schema, Value::Struct(vec![Value::String(server.to_owned())]));
        let topic = config.topic(server);
        let key = Converter::new(key_converter, true).to_bytes(&topic, Some(&key)).await?.unwrap_or_default();
        let value_schema = Arc::new(
            Schema::new(SchemaType::Struct)
                .named(VALUE_SCHEMA_NAME)
                .with_version(1)
                .with_field("ts_ms", Arc::new(Schema::new(SchemaType::Int64))),
        );
        let value_encoding = match value_converter {
            ConverterConfig::Json(o) => ValueEncoding::Json(o.clone()),
            ConverterConfig::Avro(o) => {
                let id = AvroConverter::new(o.clone(), false).resolve(&value_schema, &topic).await?;
                ValueEncoding::Avro { id, data: o.data.clone() }
            }
            ConverterConfig::CloudEvents(_) => ValueEncoding::Null,
        };
        Ok(Some(Heartbeat { interval: config.interval, topic, key, value_schema, value_encoding }))
    }

    /// `heartbeat.interval.ms`.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The record of a beat at `ts_ms` (ms since the epoch).
    pub fn record(&self, ts_ms: i64) -> Result<EncodedRecord, EncodeError> {
        let value = SchemaAndValue::new(self.value_schema.clone(), Value::Struct(vec![Value::Int64(ts_ms)]));
        let payload = match &self.value_encoding {
            ValueEncoding::Json(o) => JsonConverter::new(o.clone()).to_bytes(Some(&value))?,
            ValueEncoding::Avro { id, data } => {
                let mut buf = Vec::with_capacity(WireHeader::LEN + 10);
                WireHeader::new(*id).write(&mut buf);
                binary::write_value(&value.schema, &value.value, data, &mut buf)?;
                Some(buf)
            }
            ValueEncoding::Null => None,
        };
        Ok(EncodedRecord {
            topic: self.topic.clone(),
            key: Some(self.key.clone()),
            payload,
            headers: Vec::new(),
            timestamp_ms: Some(ts_ms),
        })
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ms: u64) -> HeartbeatConfig {
        HeartbeatConfig { interval: Duration::from_millis(ms), ..HeartbeatConfig::default() }
    }

    fn parse(extra: &[(&str, &str)]) -> Result<HeartbeatConfig, crate::config::ConfigErrors> {
        let mut props: std::collections::BTreeMap<String, String> = [
            ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
            ("plugin.name", "pgoutput"),
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "shop"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        props.retain(|_, v| !v.is_empty());
        crate::config::connector::ConnectorConfig::from_properties("c", &props).map(|(c, _)| c.heartbeat)
    }

    #[test]
    fn properties_parse() {
        assert_eq!(parse(&[]).unwrap(), HeartbeatConfig::default());
        let c = parse(&[
            ("heartbeat.interval.ms", "2500"),
            ("heartbeat.action.query", "UPDATE hb SET ts = now()"),
            ("topic.heartbeat.prefix", "beats"),
        ])
        .unwrap();
        assert_eq!(c.interval, Duration::from_millis(2500));
        assert_eq!(c.action_query.as_deref(), Some("UPDATE hb SET ts = now()"));
        assert_eq!(c.topic("shop"), "beats.shop");
        assert!(parse(&[("heartbeat.interval.ms", "-1")]).is_err());
    }

    #[tokio::test]
    async fn off_by_default() {
        assert!(!HeartbeatConfig::default().enabled());
        let o = ConverterConfig::default();
        assert!(Heartbeat::new(&HeartbeatConfig::default(), "shop", &o, &o).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn record_is_debeziums_with_schemas() {
        let o = ConverterConfig::default();
        let hb = Heartbeat::new(&config(1000), "shop", &o, &o).await.unwrap().unwrap();
        let r = hb.record(1_700_000_000_123).unwrap();
        assert_eq!(r.topic, "__debezium-heartbeat.shop");
        let key: serde_json::Value = serde_json::from_slice(r.key.as_deref().unwrap()).unwrap();
        assert_eq!(
            key,
            serde_json::json!({
                "schema": {"type": "struct", "fields": [{"type": "string", "optional": false, "field": "serverName"}],
                           "optional": false, "name": KEY_SCHEMA_NAME, "version": 1},
                "payload": {"serverName": "shop"}
            })
        );
        let value: serde_json::Value = serde_json::from_slice(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "schema": {"type": "struct", "fields": [{"type": "int64", "optional": false, "field": "ts_ms"}],
                           "optional": false, "name": VALUE_SCHEMA_NAME, "version": 1},
                "payload": {"ts_ms": 1_700_000_000_123i64}
            })
        );
    }

    #[tokio::test]
    async fn record_without_schemas_and_custom_prefix() {
        let o = ConverterConfig::Json(JsonOptions { schemas_enable: false, ..JsonOptions::default() });
        let c = HeartbeatConfig { topic_prefix: "hb".into(), ..config(10) };
        let r = Heartbeat::new(&c, "shop", &o, &o).await.unwrap().unwrap().record(5).unwrap();
        assert_eq!(r.topic, "hb.shop");
        assert_eq!(r.key.as_deref(), Some(br#"{"serverName":"shop"}"#.as_slice()));
        assert_eq!(r.payload.as_deref(), Some(br#"{"ts_ms":5}"#.as_slice()));
    }
}
