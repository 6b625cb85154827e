//! Data errors through the error policy: Kafka Connect's `errors.tolerance`
//! and dead letter queue, Debezium's `event.processing.failure.handling.mode`.
//!
//! ```text
//!   convert(event) ──Err(data)──▶ policy ──fail──────────▶ connector fails (nothing after it is committed)
//!   batcher.send   ──Err(data)──▶   │   ──all + DLQ────────▶ DLQ record, same batch (same Kafka transaction)
//!                                    │   ──all / warn / skip▶ skipped (counted, logged)
//!   transient errors ──retried in place (errors.retry.timeout, `retry`)──▶ returned: never skipped, never DLQ'd
//!   fatal errors ───────────────────────────────────────────▶ returned as they are
//! ```
//!
//! The DLQ record goes through the batcher like any record, so it is durable
//! with the records around it and the offset that passes it, or not at all:
//! after a crash the event is replayed and lands in the DLQ once.
//! A record that could not be built carries the row as JSON with its table,
//! LSN and txId, so it can be replayed; a record the broker refused (too
//! large) carries its original key and, as value, the table, LSN and txId
//! without the row's values (which made it too large).

use serde_json::{json, Map, Value as Json};

use crate::config::connector::RetryPolicy;
use crate::config::errors::{ErrorPolicy, FailureMode, Tolerance};
use crate::error::chain;
use crate::event::{ChangeEvent, SourceEvent};
use crate::metrics::ConnectorMetrics;
use crate::record::EncodedRecord;
use crate::schema::Value;

use super::retry::Retry;

/// Connect's stage names (`__connect.errors.stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Envelope, transforms, converters.
    Convert,
    /// The write the broker refused.
    Produce,
}

impl Stage {
    fn connect_name(self) -> &'static str {
        match self {
            Stage::Convert => "VALUE_CONVERTER",
            Stage::Produce => "KAFKA_PRODUCE",
        }
    }
}

/// What to do with one failed event.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Fail,
    Skip,
    DeadLetter(String),
}

/// The error policy of one connector.
#[derive(Clone, Debug, Default)]
pub struct ErrorHandler {
    pub policy: ErrorPolicy,
    pub connector: String,
    /// `errors.retry.timeout` with the `errors.retry.delay.*` backoff.
    pub retry: Retry,
}

/// A record the broker refused: its topic and key (its value, the likely
/// cause, is not kept).
pub struct Refused {
    pub topic: String,
    pub key: Option<Vec<u8>>,
}

impl ErrorHandler {
    pub fn new(policy: ErrorPolicy, delays: &RetryPolicy, connector: impl Into<String>) -> Self {
        let retry = Retry::new(policy.retry_timeout, delays);
        ErrorHandler { policy, connector: connector.into(), retry }
    }

    /// Whether a data error is tolerated at all.
    pub fn tolerates(&self) -> bool {
        self.verdict() != Verdict::Fail
    }

    /// Counts a record that failed with a data error, tolerated or not.
    pub fn failed(&self, metrics: &ConnectorMetrics) {
        ConnectorMetrics::add(&metrics.records_failed, 1);
        metrics.error_now();
    }

    pub fn verdict(&self) -> Verdict {
        match (self.policy.tolerance, self.policy.dead_letter_topic(), self.policy.failure_mode) {
            (Tolerance::All, Some(topic), _) => Verdict::DeadLetter(topic.to_owned()),
            (Tolerance::All, None, _) => Verdict::Skip,
            (Tolerance::None, _, FailureMode::Fail) => Verdict::Fail,
            (Tolerance::None, _, FailureMode::Warn | FailureMode::Skip) => Verdict::Skip,
        }
    }

    /// Counts and logs a tolerated failure of `event`; returns the DLQ
    /// record to send, if any. Call only when [`tolerates`](Self::tolerates).
    pub fn tolerate(
        &self,
        event: &SourceEvent,
        err: &(dyn std::error::Error + 'static),
        stage: Stage,
        refused: Option<Refused>,
        metrics: &ConnectorMetrics,
    ) -> Option<EncodedRecord> {
        self.failed(metrics);
        let (table, lsn, tx_id) = origin(event);
        let message = chain(err);
        let verdict = self.verdict();
        let log = self.policy.log_enable || self.policy.failure_mode == FailureMode::Warn;
        if log && self.policy.log_include_messages {
            tracing::warn!(stage = stage.connect_name(), error = %message, table = %table, lsn, tx_id = ?tx_id, verdict = ?verdict, "record failed; tolerated");
        } else if log {
            tracing::warn!(stage = stage.connect_name(), error = %message, verdict = ?verdict, "record failed; tolerated");
        } else {
            tracing::debug!(stage = stage.connect_name(), error = %message, table = %table, lsn, "record failed; skipped");
        }
        let Verdict::DeadLetter(topic) = verdict else {
            ConnectorMetrics::add(&metrics.records_skipped, 1);
            return None;
        };
        ConnectorMetrics::add(&metrics.records_dlq, 1);
        let original_topic = refused.as_ref().map(|r| r.topic.clone()).unwrap_or_default();
        let (key, payload) = match refused {
            // The row's place without its values (which made the record too large).
            Some(r) => (r.key, Some(json!({ "table": table, "lsn": lsn, "txId": tx_id }).to_string().into_bytes())),
            None => (None, Some(row_json(event).to_string().into_bytes())),
        };
        let mut headers = Vec::new();
        if self.policy.dlq_context_headers {
            let h = |k: &str, v: String| (format!("__connect.errors.{k}"), Some(v.into_bytes()));
            headers.push(h("topic", original_topic));
            headers.push(h("partition", "-1".to_owned()));
            headers.push(h("offset", lsn.to_string()));
            headers.push(h("connector.name", self.connector.clone()));
            headers.push(h("task.id", "0".to_owned()));
            headers.push(h("stage", stage.connect_name().to_owned()));
            headers.push(h("class.name", stage_class(stage).to_owned()));
            headers.push(h("exception.class.name", error_class_name(err)));
            headers.push(h("exception.message", err.to_string()));
            headers.push(h("exception.stacktrace", stacktrace(err)));
        }
        Some(EncodedRecord { topic, key, payload, headers, timestamp_ms: None })
    }
}

fn stage_class(stage: Stage) -> &'static str {
    match stage {
        Stage::Convert => "io.debezium.connector.postgresql.PostgresConnector",
        Stage::Produce => "org.apache.kafka.clients.producer.KafkaProducer",
    }
}

/// The innermost error's message names the cause best; the class is the
/// outermost type as Rust names it.
fn error_class_name(err: &(dyn std::error::Error + 'static)) -> String {
    format!("{err:?}").split(['(', ' ', '{']).next().unwrap_or_default().to_owned()
}

/// Connect writes the Java stack trace; pgcdc writes the cause chain, one per line.
fn stacktrace(err: &(dyn std::error::Error + 'static)) -> String {
    let mut lines = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        lines.push(format!("Caused by: {e}"));
        cur = e.source();
    }
    lines.join("\n")
}

/// Where an event is, for a FAILED trace: its table, LSN and txId.
pub fn describe(event: &SourceEvent) -> String {
    let (table, lsn, tx_id) = origin(event);
    let mut out = if table.is_empty() { "the transaction".to_owned() } else { format!("table {table}") };
    out.push_str(&format!(" at LSN {}", crate::lsn::Lsn(lsn)));
    if let Some(tx) = tx_id {
        out.push_str(&format!(" (txId {tx})"));
    }
    out
}

/// The table, LSN and txId of an event (for logs and headers).
fn origin(event: &SourceEvent) -> (String, u64, Option<i64>) {
    match event {
        SourceEvent::Change(c) => (c.table.id.to_string(), c.source.lsn.map_or(0, |l| l.as_u64()), c.source.tx_id),
        SourceEvent::Message(m) => (format!("message:{}", m.prefix), m.source.lsn.map_or(0, |l| l.as_u64()), m.source.tx_id),
        SourceEvent::Begin(b) => (String::new(), b.final_lsn.as_u64(), Some(i64::from(b.xid))),
        SourceEvent::Commit(c) => (String::new(), c.end_lsn.as_u64(), Some(i64::from(c.xid))),
        _ => (String::new(), 0, None),
    }
}

/// The event as JSON, for a DLQ record whose key and value could not be built.
pub fn row_json(event: &SourceEvent) -> Json {
    let (table, lsn, tx_id) = origin(event);
    let mut out = json!({ "table": table, "lsn": lsn, "txId": tx_id });
    match event {
        SourceEvent::Change(c) => {
            out["op"] = Json::from(c.op.code());
            out["before"] = c.before.as_ref().map_or(Json::Null, |r| row(c, r));
            out["after"] = c.after.as_ref().map_or(Json::Null, |r| row(c, r));
        }
        SourceEvent::Message(m) => {
            out["op"] = Json::from("m");
            out["prefix"] = Json::from(m.prefix.clone());
            out["content"] = Json::from(hex(&m.content));
        }
        _ => {}
    }
    out
}

fn row(c: &ChangeEvent, values: &[Value]) -> Json {
    let mut map = Map::new();
    for (column, value) in c.table.columns.iter().zip(values) {
        map.insert(column.name.clone(), value_json(value));
    }
    Json::Object(map)
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::from(*b),
        Value::Int8(n) => Json::from(*n),
        Value::Int16(n) => Json::from(*n),
        Value::Int32(n) => Json::from(*n),
        Value::Int64(n) => Json::from(*n),
        Value::Float32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        Value::Float64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::from(s.clone()),
        Value::Bytes(b) => Json::from(hex(b)),
        Value::Array(items) | Value::Struct(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => Json::Array(entries.iter().map(|(k, v)| json!([value_json(k), value_json(v)])).collect()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
