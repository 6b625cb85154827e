//! One connector's record path: envelope → transforms → encoder, as Kafka
//! Connect runs a source record through a connector's SMT chain and
//! converters. With `provide.transaction.metadata` it also tracks the open
//! transaction: a BEGIN record before its first event, a `transaction` block
//! on each event, an END record at its Commit. Built once per connector run (the envelope's run id lives as
//! long as it).

use crate::config::connector::ConnectorConfig;
use crate::delivery::Convert;
use crate::encode::{EncodeError, RecordEncoder};
use crate::envelope::{Envelope, EventTime, TransactionMonitor, TxEvent};
use crate::event::SourceEvent;
use crate::record::{EncodedRecord, Record};
use crate::transform::unwrap::Unwrap;
use crate::transform::TransformConfig;

/// One configured transform.
enum Transform {
    Unwrap(Unwrap),
}

impl Transform {
    fn apply(&mut self, record: Record, out: &mut Vec<Record>) {
        match self {
            Transform::Unwrap(t) => t.apply(record, out),
        }
    }
}

/// Envelope, transforms and encoder of one connector.
pub struct Converter {
    envelope: Envelope,
    transforms: Vec<Transform>,
    encoder: RecordEncoder,
    /// `provide.transaction.metadata`: BEGIN/END records and `transaction` blocks.
    transactions: Option<TransactionMonitor>,
    records: Vec<Record>,
    scratch: Vec<Record>,
}

impl Converter {
    pub fn new(config: &ConnectorConfig) -> Self {
        let transforms = config
            .transforms
            .iter()
            .map(|t| match t {
                TransformConfig::ExtractNewRecordState(opts) => Transform::Unwrap(Unwrap::new(opts.clone())),
            })
            .collect();
        let transactions = config
            .envelope
            .provide_transaction_metadata
            .then(|| TransactionMonitor::new(&config.envelope.topic_prefix));
        Converter {
            envelope: Envelope::new(config.envelope.clone()),
            transactions,
            transforms,
            encoder: RecordEncoder::new(config.key_converter.clone(), config.value_converter.clone()),
            records: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

impl Convert for Converter {
    type Error = EncodeError;

    fn convert(&mut self, event: &SourceEvent, out: &mut Vec<EncodedRecord>) -> Result<(), EncodeError> {
        let now = EventTime::now();
        match event {
            SourceEvent::Change(change) => {
                self.envelope.records(change, now, None, &mut self.records);
                if let (Some(m), Some(xid), Some(lsn)) = (&mut self.transactions, change.source.tx_id, change.source.lsn) {
                    let collection = change.table.id.to_string();
                    let event = TxEvent { xid, lsn, commit_ts_us: change.source.commit_ts_us, collection: Some(&collection) };
                    m.annotate(event, &mut self.records, 0);
                }
            }
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
            SourceEvent::Idle { .. } => return Ok(()),
        }
        for transform in &mut self.transforms {
            for record in self.records.drain(..) {
                transform.apply(record, &mut self.scratch);
            }
            std::mem::swap(&mut self.records, &mut self.scratch);
        }
        for record in self.records.drain(..) {
            out.push(self.encoder.encode(&record)?);
        }
        Ok(())
    }
}
