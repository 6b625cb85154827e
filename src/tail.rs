//! `pgcdc tail`: print the records of topics as JSON lines, as a consumer
//! reads them (read_committed, from the beginning). A tool for the demo and
//! for looking at what pgcdc wrote; not part of the pipeline. Connect's
//! logical types (Decimal, dates, timestamps) are shown readably unless
//! `raw` ([`readable`]). With a schema registry, Confluent-framed Avro keys
//! and values are decoded with their writer schema ([`avro`]).

mod avro;
mod readable;

use std::io::Write;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::client::assigned_consumer;
use crate::kafka::ClientSettings;

/// What to read.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// The brokers and librdkafka options to reach them.
    pub client: ClientSettings,
    pub topics: Vec<String>,
    /// Stop after this many records.
    pub max_records: Option<usize>,
    /// Stop when no record arrived for this long.
    pub idle_timeout: Duration,
    /// Print key and value exactly as written (no readable logical types).
    pub raw: bool,
    /// The schema registry of Avro records (`--schema-registry-url`); without it
    /// Avro bytes are printed as text.
    pub registry: Option<crate::encode::schema_registry::RegistryConfig>,
}

/// Decodes Confluent-framed Avro with writer schemas from the registry, cached by id.
struct AvroDecoder<'a> {
    client: crate::encode::schema_registry::RegistryClient,
    readers: std::collections::HashMap<u32, Result<avro::Reader, String>>,
    runtime: &'a tokio::runtime::Runtime,
    raw: bool,
}

impl AvroDecoder<'_> {
    /// The decoded datum, or `None` when `bytes` are not Confluent-framed Avro.
    fn decode(&mut self, bytes: &[u8]) -> Option<serde_json::Value> {
        let (id, datum) = avro::split(bytes).ok()?;
        if !self.readers.contains_key(&id) {
            let reader = self
                .runtime
                .block_on(self.client.schema_by_id(id))
                .map_err(|e| format!("schema id {id}: {e}"))
                .and_then(|text| avro::Reader::new(&text, self.raw).map_err(|e| e.to_string()));
            self.readers.insert(id, reader);
        }
        Some(match self.readers.get(&id)? {
            Ok(reader) => reader.read(datum).unwrap_or_else(|e| serde_json::json!({ "avro_error": e.to_string(), "schema_id": id })),
            Err(e) => serde_json::json!({ "avro_error": e, "schema_id": id }),
        })
    }
}

/// Errors of `tail`.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("cannot read from Kafka")]
    Kafka(#[from] KafkaError),
    #[error("cannot write to standard output")]
    Io(#[from] std::io::Error),
    #[error("cannot connect to the Kafka brokers")]
    Brokers(#[source] crate::kafka::protocol::ProtocolError),
    #[error("cannot start an i/o runtime")]
    Runtime(#[source] std::io::Error),
}

/// Read the topics from the beginning, one after the other, and print each
/// record as one JSON object: `{"topic","partition","offset","key","value",
/// "headers"}`, with key and value parsed as JSON where they are JSON.
///
/// Topics are read one at a time: on the tansu broker a consumer assigned
/// to several topics at once was seen to miss the first topic's records.
///
/// First one checked connection (pgcdc's own, with the same TLS and SASL):
/// a refused password or certificate fails naming the setting rather than
/// as librdkafka's metadata timeout. Not for use inside a tokio runtime.
pub fn tail(opts: &TailOptions, out: &mut dyn Write) -> Result<usize, TailError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(TailError::Runtime)?;
    runtime.block_on(crate::kafka::protocol::check_reachable(&opts.client)).map_err(TailError::Brokers)?;
    let mut seen = 0usize;
    for topic in &opts.topics {
        let remaining = opts.max_records.map(|m| m.saturating_sub(seen));
        if remaining == Some(0) {
            break;
        }
        let mut avro = opts.registry.clone().map(|config| AvroDecoder {
            client: crate::encode::schema_registry::RegistryClient::new(config, "--schema-registry-url"),
            readers: std::collections::HashMap::new(),
            runtime: &runtime,
            raw: opts.raw,
        });
        seen += tail_topic(opts, topic, remaining, avro.as_mut(), out)?;
    }
    Ok(seen)
}

fn tail_topic(
    opts: &TailOptions,
    topic: &str,
    max_records: Option<usize>,
    mut avro: Option<&mut AvroDecoder<'_>>,
    out: &mut dyn Write,
) -> Result<usize, TailError> {
    let consumer: BaseConsumer<crate::kafka::client::KafkaContext> = opts
        .client
        .create(assigned_consumer(&mut opts.client.client_config(), "pgcdc-tail").set("isolation.level", "read_committed"))?;
    let mut tpl = TopicPartitionList::new();
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let mut seen = 0usize;
    let mut last = std::time::Instant::now();
    while max_records.is_none_or(|m| seen < m) && last.elapsed() < opts.idle_timeout {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else { continue };
        let msg = msg?;
        last = std::time::Instant::now();
        seen += 1;
        let headers: serde_json::Map<String, serde_json::Value> = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map_or(serde_json::Value::Null, as_json)))
                    .collect()
            })
            .unwrap_or_default();
        let line = serde_json::json!({
            "topic": msg.topic(),
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": msg.key().map_or(serde_json::Value::Null, |k| shown(k, opts.raw, avro.as_deref_mut())),
            "value": msg.payload().map_or(serde_json::Value::Null, |v| shown(v, opts.raw, avro.as_deref_mut())),
            "headers": headers,
        });
        writeln!(out, "{line}")?;
    }
    Ok(seen)
}

/// A key or value as printed: Avro decoded through the registry when one is given,
/// JSON (with readable logical types unless `raw`), else a string.
fn shown(bytes: &[u8], raw: bool, avro: Option<&mut AvroDecoder<'_>>) -> serde_json::Value {
    if let Some(v) = avro.and_then(|a| a.decode(bytes)) {
        return v;
    }
    let v = as_json(bytes);
    if raw {
        v
    } else {
        readable::readable(v)
    }
}

/// Bytes as JSON when they are JSON, else as a string.
fn as_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
