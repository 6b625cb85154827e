//! An in-memory sink with fault injection, for testing the delivery rules
//! without a broker: what a read_committed consumer would see is
//! `committed`; the open batch is invisible until `commit`.

use std::collections::VecDeque;

use super::Sink;
use crate::error::{Classify, ErrorClass};
use crate::offsets::SourceOffset;
use crate::record::EncodedRecord;

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The Nth `send` (1-based, counted over the sink's life) fails, transiently.
    FailSend(usize),
    /// The next `commit` fails, transiently (the batch is not durable).
    FailCommit,
    /// Another instance took over: every call from now on fails, fatally.
    Fence,
    /// The next `commit` never returns.
    HangCommit,
    /// The Nth `send` is refused as too large (a data error); the batch stays usable.
    RefuseSend(usize),
}

/// Errors of the memory sink.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MemoryError {
    #[error("injected send failure")]
    Send,
    #[error("injected commit failure")]
    Commit,
    #[error("fenced")]
    Fenced,
    #[error("send or commit outside a batch")]
    NoBatch,
    #[error("record too large for the broker")]
    TooLarge,
}

impl Classify for MemoryError {
    fn class(&self) -> ErrorClass {
        match self {
            MemoryError::Send | MemoryError::Commit => ErrorClass::Transient,
            MemoryError::Fenced | MemoryError::NoBatch => ErrorClass::Fatal,
            MemoryError::TooLarge => ErrorClass::Data,
        }
    }
}

/// One committed batch: its records and its offset record.
#[derive(Clone, Debug, PartialEq)]
pub struct Committed {
    pub records: Vec<EncodedRecord>,
    pub offset: Option<SourceOffset>,
}

/// The sink.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Batches made durable, in order.
    pub committed: Vec<Committed>,
    /// The open batch (`None`: none open).
    pub open: Option<Vec<EncodedRecord>>,
    /// Batches aborted.
    pub aborted: usize,
    /// Faults still to happen.
    pub faults: VecDeque<Fault>,
    /// `send` calls so far.
    pub sends: usize,
    /// Write no offsets (a sink configured without an offsets topic).
    pub no_offsets: bool,
    fenced: bool,
}

impl MemorySink {
    pub fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Self {
        MemorySink { faults: faults.into_iter().collect(), ..MemorySink::default() }
    }

    /// Every committed record, in order.
    pub fn records(&self) -> impl Iterator<Item = &EncodedRecord> {
        self.committed.iter().flat_map(|c| c.records.iter())
    }

    /// The last committed offset record.
    pub fn last_offset(&self) -> Option<&SourceOffset> {
        self.committed.iter().rev().find_map(|c| c.offset.as_ref())
    }

    fn take_fault(&mut self, pick: impl Fn(&Fault) -> bool) -> bool {
        if self.faults.front().is_some_and(|f| *f == Fault::Fence) {
            self.faults.pop_front();
            self.fenced = true;
        }
        match self.faults.iter().position(pick) {
            Some(i) => {
                self.faults.remove(i);
                true
            }
            None => false,
        }
    }
}

impl Sink for MemorySink {
    type Error = MemoryError;

    fn begin(&mut self) -> Result<(), MemoryError> {
        self.take_fault(|_| false);
        if self.fenced {
            return Err(MemoryError::Fenced);
        }
        self.open.get_or_insert_with(Vec::new);
        Ok(())
    }

    async fn send(&mut self, record: &EncodedRecord) -> Result<(), MemoryError> {
        self.sends += 1;
        let n = self.sends;
        if self.take_fault(|f| *f == Fault::FailSend(n)) {
            return Err(MemoryError::Send);
        }
        if self.take_fault(|f| *f == Fault::RefuseSend(n)) {
            return Err(MemoryError::TooLarge);
        }
        if self.fenced {
            return Err(MemoryError::Fenced);
        }
        self.open.as_mut().ok_or(MemoryError::NoBatch)?.push(record.clone());
        Ok(())
    }

    async fn commit(&mut self, offset: Option<SourceOffset>) -> Result<(), MemoryError> {
        if self.take_fault(|f| *f == Fault::HangCommit) {
            std::future::pending::<()>().await;
        }
        if self.take_fault(|f| *f == Fault::FailCommit) {
            return Err(MemoryError::Commit);
        }
        if self.fenced {
            return Err(MemoryError::Fenced);
        }
        let records = self.open.take().ok_or(MemoryError::NoBatch)?;
        let offset = if self.no_offsets { None } else { offset };
        self.committed.push(Committed { records, offset });
        Ok(())
    }

    async fn abort(&mut self) {
        if self.open.take().is_some() {
            self.aborted += 1;
        }
    }

    fn send_retriable(&self, err: &MemoryError) -> bool {
        // An injected send failure leaves the batch as it was.
        *err == MemoryError::Send && !self.fenced
    }

    fn stores_offsets(&self) -> bool {
        !self.no_offsets
    }
}
