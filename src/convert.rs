//! One connector's record path: envelope → transforms → encoder, as Kafka
//! Connect runs a source record through a connector's SMT chain and
//! converters. With `provide.transaction.metadata` it also tracks the open
//! transaction: a BEGIN record before its first event, a `transaction` block
//! on each event, an END record at its Commit. Built once per connector run (the envelope's run id lives as
//! long as it).

use crate::config::connector::{ConnectorConfig, MessageFilter};
use crate::delivery::Convert;
use crate::encode::{Converters, EncodeError};
use crate::envelope::{Envelope, EventTime, TransactionMonitor, TxEvent};
use crate::event::{SnapshotMarker, SourceEvent};
use crate::record::{EncodedRecord, Record};
use crate::transform::changed::ExtractChanged;
use crate::transform::decode_message::DecodeMessage;
use crate::transform::header_to_value::HeaderToValue;
use crate::transform::logical_router::LogicalRouter;
use crate::transform::outbox::EventRouter;
use crate::transform::predicate::Condition;
use crate::transform::router::RegexRouter;
use crate::transform::smt::Smt;
use crate::transform::unwrap::Unwrap;
use crate::transform::{TransformConfig, TransformError};

/// One configured transform.
enum Transform {
    Unwrap(Unwrap),
    Changed(ExtractChanged),
    RegexRouter(RegexRouter),
    LogicalRouter(LogicalRouter),
    EventRouter(EventRouter),
    DecodeMessage(DecodeMessage),
    HeaderToValue(HeaderToValue),
    Connect(Smt),
    Conditional(Box<Transform>, Condition),
}

impl Transform {
    fn new(config: &TransformConfig) -> Self {
        match config {
            TransformConfig::ExtractNewRecordState(opts) => Transform::Unwrap(Unwrap::new(opts.clone())),
            TransformConfig::ExtractChangedRecordState(opts) => Transform::Changed(ExtractChanged::new(opts)),
            TransformConfig::RegexRouter(rewrite) => Transform::RegexRouter(RegexRouter::new(rewrite.clone())),
            TransformConfig::ByLogicalTableRouter(opts) => Transform::LogicalRouter(LogicalRouter::new(opts.clone())),
            TransformConfig::EventRouter(opts) => Transform::EventRouter(EventRouter::new(opts.clone())),
            TransformConfig::DecodeMessage(opts) => Transform::DecodeMessage(DecodeMessage::new(opts.clone())),
            TransformConfig::HeaderToValue(opts) => Transform::HeaderToValue(HeaderToValue::new(opts.clone())),
            TransformConfig::Connect(config) => Transform::Connect(Smt::new(config)),
            TransformConfig::Conditional(inner, condition) => {
                Transform::Conditional(Box::new(Transform::new(inner)), condition.clone())
            }
        }
    }

    fn apply(&mut self, record: Record, out: &mut Vec<Record>) -> Result<(), TransformError> {
        match self {
            Transform::Unwrap(t) => t.apply(record, out),
            Transform::Changed(t) => t.apply(record, out),
            Transform::RegexRouter(t) => t.apply(record, out),
            Transform::LogicalRouter(t) => t.apply(record, out),
            Transform::EventRouter(t) => return t.apply(record, out),
            Transform::DecodeMessage(t) => out.push(t.apply(record)?),
            Transform::HeaderToValue(t) => out.push(t.apply(record)?),
            Transform::Connect(t) => out.extend(t.apply(record)?),
            Transform::Conditional(t, condition) => {
                if condition.applies(&record) {
                    return t.apply(record, out);
                }
                out.push(record);
            }
        }
        Ok(())
    }
}

/// Envelope, transforms and encoder of one connector.
pub struct Converter {
    envelope: Envelope,
    transforms: Vec<Transform>,
    encoder: Converters,
    /// `provide.transaction.metadata`: BEGIN/END records and `transaction` blocks.
    transactions: Option<TransactionMonitor>,
    /// `message.prefix.include.list` / `exclude.list`.
    messages: MessageFilter,
    records: Vec<Record>,
    scratch: Vec<Record>,
    /// Between a Begin and its Commit: only changes there belong to a
    /// transaction (snapshot rows, and the changes a resumed snapshot
    /// replays for rows gone since an interrupted pass, do not).
    in_transaction: bool,
}

impl Converter {
    pub fn new(config: &ConnectorConfig) -> Self {
        let transforms = config.transforms.iter().map(Transform::new).collect();
        let transactions = config
            .envelope
            .provide_transaction_metadata
            .then(|| TransactionMonitor::new(&config.envelope.topic_prefix));
        Converter {
            envelope: Envelope::new(config.envelope.clone()),
            transactions,
            messages: config.message_filter(),
            transforms,
            encoder: Converters::new(&config.key_converter, &config.value_converter),
            records: Vec::new(),
            scratch: Vec::new(),
            in_transaction: false,
        }
    }
}

impl Convert for Converter {
    type Error = EncodeError;

    async fn convert(&mut self, event: &SourceEvent, out: &mut Vec<EncodedRecord>) -> Result<(), EncodeError> {
        self.records_of(event)?;
        for record in self.records.drain(..) {
            out.push(self.encoder.encode_owned(record).await?);
        }
        Ok(())
    }
}

impl Converter {
    /// The records of one event after the transforms, into `self.records`
    /// (synchronous: only encoding may await).
    fn records_of(&mut self, event: &SourceEvent) -> Result<(), TransformError> {
        let now = EventTime::now();
        match event {
            SourceEvent::Begin(_) => self.in_transaction = true,
            SourceEvent::Commit(_) => self.in_transaction = false,
            _ => {}
        }
        match event {
            SourceEvent::Change(change) => {
                self.envelope.records(change, now, None, &mut self.records);
                // Snapshot records belong to no transaction (Debezium: `transaction` null).
                let streamed = change.source.snapshot == SnapshotMarker::False && self.in_transaction;
                if let (true, Some(m), Some(xid), Some(lsn)) =
                    (streamed, &mut self.transactions, change.source.tx_id, change.source.lsn)
                {
                    let collection = change.table.id.to_string();
                    let event = TxEvent { xid, lsn, commit_ts_us: change.source.commit_ts_us, collection: Some(&collection) };
                    m.annotate(event, &mut self.records, 0);
                }
            }
            SourceEvent::Message(message) if !self.messages.matches(&message.prefix) => return Ok(()),
            SourceEvent::Message(message) => {
                let record = self.envelope.message_record(message, now, None);
                self.records.push(record);
                let source = &message.source;
                if let (true, Some(m), Some(xid), Some(lsn)) =
                    (message.transactional, &mut self.transactions, source.tx_id, source.lsn)
                {
                    let event = TxEvent { xid, lsn, commit_ts_us: source.commit_ts_us, collection: None };
                    m.annotate(event, &mut self.records, 0);
                }
            }
            SourceEvent::Begin(begin) => match &mut self.transactions {
                Some(m) => m.begin(begin),
                None => return Ok(()),
            },
            SourceEvent::Commit(commit) => match &mut self.transactions {
                Some(m) => m.commit(commit, &mut self.records),
                None => return Ok(()),
            },
            SourceEvent::Idle { .. } | SourceEvent::SnapshotMark(_) | SourceEvent::IncrementalProgress(_) => return Ok(()),
        }
        for transform in &mut self.transforms {
            let mut failed = None;
            for record in self.records.drain(..) {
                if let Err(e) = transform.apply(record, &mut self.scratch) {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                self.records.clear();
                self.scratch.clear();
                return Err(e);
            }
            std::mem::swap(&mut self.records, &mut self.scratch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::envelope::debezium::tests::{stock_table, streaming_source};
    use crate::event::{ChangeEvent, LogicalMessage, Op, TxBegin, TxCommit};
    use crate::lsn::Lsn;
    use crate::schema::Value;

    fn converter(extra: &[(&str, &str)]) -> Converter {
        let mut props: BTreeMap<String, String> = [
            ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
            ("database.hostname", "db"),
            ("database.user", "u"),
            ("database.dbname", "shop"),
            ("plugin.name", "pgoutput"),
            ("topic.prefix", "p"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Converter::new(&ConnectorConfig::from_properties("c", &props).unwrap().0)
    }

    fn insert(id: i32, lsn: u64) -> SourceEvent {
        SourceEvent::Change(ChangeEvent {
            op: Op::Create,
            table: stock_table(),
            before: None,
            after: Some(vec![Value::Int32(id), Value::Int32(1), Value::Null, Value::Null]),
            source: crate::event::SourceInfo { lsn: Some(Lsn(lsn)), ..streaming_source() },
        })
    }

    fn message(prefix: &str, transactional: bool) -> SourceEvent {
        let source = streaming_source();
        SourceEvent::Message(LogicalMessage {
            transactional,
            prefix: prefix.into(),
            content: b"x".to_vec(),
            source: crate::event::SourceInfo { tx_id: transactional.then_some(771), ..source },
        })
    }

    fn run(c: &mut Converter, events: &[SourceEvent]) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for e in events {
            rt.block_on(c.convert(e, &mut out)).unwrap();
        }
        out.iter()
            .map(|r| {
                let v = r.payload.as_deref().map(|b| serde_json::from_slice(b).unwrap()).unwrap_or_default();
                (r.topic.clone(), v)
            })
            .collect()
    }

    fn tx(commit_end: u64) -> (SourceEvent, SourceEvent) {
        (
            SourceEvent::Begin(TxBegin { xid: 771, final_lsn: Lsn(commit_end - 8), commit_ts_us: 0 }),
            SourceEvent::Commit(TxCommit { xid: 771, commit_lsn: Lsn(commit_end - 8), end_lsn: Lsn(commit_end), commit_ts_us: 0 }),
        )
    }

    #[test]
    fn transaction_metadata_brackets_the_events_of_a_transaction() {
        let mut c = converter(&[("provide.transaction.metadata", "true")]);
        let (begin, commit) = tx(500);
        let got = run(&mut c, &[begin, insert(1, 100), message("audit", true), insert(2, 120), commit]);
        let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["p.transaction", "p.public.stock", "p.message", "p.public.stock", "p.transaction"]);
        assert_eq!(got[0].1["payload"]["status"], "BEGIN");
        assert_eq!(got[0].1["payload"]["id"], "771:100");
        let block = |i: usize| got[i].1["payload"]["transaction"].clone();
        assert_eq!(block(1), serde_json::json!({"id": "771:100", "total_order": 1, "data_collection_order": 1}));
        assert_eq!(block(2)["total_order"], 2);
        assert_eq!(block(2)["data_collection_order"], 1);
        assert_eq!(block(3), serde_json::json!({"id": "771:120", "total_order": 3, "data_collection_order": 2}));
        assert_eq!(got[4].1["payload"]["status"], "END");
        assert_eq!(got[4].1["payload"]["id"], "771:500");
        assert_eq!(got[4].1["payload"]["event_count"], 3);
    }

    #[test]
    fn without_transaction_metadata_begin_and_commit_write_nothing() {
        let mut c = converter(&[]);
        let (begin, commit) = tx(500);
        let got = run(&mut c, &[begin, insert(1, 100), commit]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1["payload"]["transaction"], serde_json::Value::Null);
    }

    #[test]
    fn message_prefix_lists_drop_messages_before_they_count() {
        let mut c = converter(&[("message.prefix.exclude.list", "noise.*"), ("provide.transaction.metadata", "true")]);
        let (begin, commit) = tx(500);
        let got = run(&mut c, &[begin, message("noise1", true), message("audit", true), message("noisy", false), commit]);
        let prefixes: Vec<&str> =
            got.iter().filter(|(t, _)| t == "p.message").map(|(_, v)| v["payload"]["message"]["prefix"].as_str().unwrap()).collect();
        assert_eq!(prefixes, ["audit", "noisy"]);
        let end = &got.iter().find(|(_, v)| v["payload"]["status"] == "END").unwrap().1;
        assert_eq!(end["payload"]["event_count"], 1, "the excluded message is not an event");
    }
}
