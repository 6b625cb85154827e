//! pgoutput messages → [`SourceEvent`]s: the source's state machine, no I/O.
//!
//! ```text
//!   Relation* ─ Begin ─ (Relation | Type | Insert | Update | Delete | Truncate | Message)* ─ Commit
//! ```
//!
//! Invariants of pgoutput (non-streamed mode, or a streamed transaction as
//! the source replays it at its commit) relied on here:
//! - every change of a transaction arrives between its Begin and Commit, and a
//!   transaction is sent only once it has committed, in commit order;
//! - a Relation message precedes the first change of a relation in a session
//!   and follows any change of its shape, so the cache is always current;
//! - the XLogData `wal_start` of a change is that change's LSN, and of a
//!   Commit message the commit's end LSN (what Debezium calls lastCommitLsn).
//!
//! Resume: a transaction whose commit LSN (Begin's `final_lsn`) is below the
//! stored offset's end LSN committed at or before the stored one, so its end
//! LSN is at or below it too: it is already in Kafka. Its Begin, changes and
//! Commit are dropped (Debezium skips by `lsn_commit` the same way); its
//! Relation messages are still applied, so the cache stays current.
//!
//! Catalog facts pgoutput does not carry (nullability, primary key, type
//! names) are looked up when a Relation message arrives; the caller supplies
//! them through [`RelationLookup`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::event::{
    TxOrigin,
    ChangeEvent, LogicalMessage, Op, SnapshotMarker, SourceEvent, SourceInfo, TableId, TableSchema, TxBegin, TxCommit,
};
use crate::lsn::Lsn;

use super::pgoutput::{OldTuple, PgOutputMessage, RelationBody, TupleData, TupleValue};

/// What the decoder needs from the relation cache (implemented over the
/// catalog by the source task, and by fakes in tests).
pub trait RelationLookup {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Record a Relation message; returns the table's new shape.
    fn relation(
        &mut self,
        body: &RelationBody,
    ) -> impl std::future::Future<Output = Result<Arc<TableSchema>, Self::Error>> + Send;

    /// The current shape of a relation seen before.
    fn table(&self, relation_id: u32) -> Option<Arc<TableSchema>>;

    /// A tuple → a row of the table's Connect values.
    fn row(&self, table: &TableSchema, tuple: &TupleData) -> Result<crate::event::Row, Self::Error>;
}

/// Errors of the decoder.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError<E: std::error::Error + 'static> {
    #[error("relation {0} used before its Relation message")]
    UnknownRelation(u32),
    #[error("{0} outside of a transaction")]
    OutsideTransaction(&'static str),
    #[error(transparent)]
    Lookup(E),
}

/// The source's decoding state.
pub struct ChangeDecoder {
    /// Captured tables; changes to others are skipped.
    include: Box<dyn Fn(&TableId) -> bool + Send + Sync>,
    /// Relations known to be excluded, to skip without asking the filter.
    excluded: HashSet<u32>,
    tx: Option<TxBegin>,
    last_commit_lsn: Option<Lsn>,
    /// Transactions committed before this LSN are already delivered.
    skip_before: Option<Lsn>,
    /// The current transaction is being skipped.
    skipping: bool,
    /// The current transaction's replication origin (an Origin message
    /// follows its Begin).
    origin: Option<Arc<TxOrigin>>,
    /// Tables read by a snapshot later than the resume point: their changes
    /// in transactions that committed before the floor are in it already.
    floors: HashMap<TableId, Lsn>,
    /// Commit time of the last transaction begun: a non-transactional
    /// message's `source.ts_ms`, as Debezium reports it.
    last_commit_ts_us: i64,
}

impl ChangeDecoder {
    pub fn new(include: Box<dyn Fn(&TableId) -> bool + Send + Sync>, last_commit_lsn: Option<Lsn>) -> Self {
        ChangeDecoder {
            include,
            excluded: HashSet::new(),
            tx: None,
            last_commit_lsn,
            skip_before: None,
            skipping: false,
            floors: HashMap::new(),
            origin: None,
            last_commit_ts_us: 0,
        }
    }

    /// Resume after a stored offset: drop every transaction that ended at or
    /// before `stored_end_lsn`.
    pub fn resume_after(mut self, stored_end_lsn: Lsn) -> Self {
        self.skip_before = Some(stored_end_lsn);
        self
    }

    /// Per-table floors: drop the changes of a table in every transaction
    /// that committed before its floor (the table was snapshotted there).
    pub fn with_floors(mut self, floors: HashMap<TableId, Lsn>) -> Self {
        self.floors = floors;
        self
    }

    /// Whether the current transaction is dropped as already delivered.
    #[cfg(test)]
    pub fn skipping(&self) -> bool {
        self.skipping
    }

    /// Inside a transaction (between Begin and Commit).
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Handle one message that arrived in XLogData starting at `wal_start`.
    pub async fn on_message<L: RelationLookup>(
        &mut self,
        wal_start: Lsn,
        message: PgOutputMessage,
        lookup: &mut L,
        out: &mut Vec<SourceEvent>,
    ) -> Result<(), DecoderError<L::Error>> {
        if self.skipping {
            // Only the relation cache cares about a skipped transaction.
            let mut dropped = Vec::new();
            return match message {
                PgOutputMessage::Commit { .. } => {
                    self.tx.take().ok_or(DecoderError::OutsideTransaction("Commit"))?;
                    self.skipping = false;
                    Ok(())
                }
                m @ PgOutputMessage::Relation(_) => self.decode(wal_start, m, lookup, &mut dropped).await,
                _ => Ok(()),
            };
        }
        self.decode(wal_start, message, lookup, out).await
    }

    async fn decode<L: RelationLookup>(
        &mut self,
        wal_start: Lsn,
        message: PgOutputMessage,
        lookup: &mut L,
        out: &mut Vec<SourceEvent>,
    ) -> Result<(), DecoderError<L::Error>> {
        match message {
            PgOutputMessage::Begin { final_lsn, commit_ts_us, xid } => {
                self.origin = None;
                let begin = TxBegin { xid, final_lsn, commit_ts_us };
                self.tx = Some(begin.clone());
                if self.skip_before.is_some_and(|stored| final_lsn < stored) {
                    tracing::debug!(xid, lsn = %final_lsn, "skipping a transaction already delivered");
                    self.skipping = true;
                    return Ok(());
                }
                self.last_commit_ts_us = commit_ts_us;
                out.push(SourceEvent::Begin(begin));
            }
            PgOutputMessage::Commit { commit_lsn, end_lsn, commit_ts_us, .. } => {
                let begin = self.tx.take().ok_or(DecoderError::OutsideTransaction("Commit"))?;
                self.last_commit_lsn = Some(wal_start);
                out.push(SourceEvent::Commit(TxCommit { xid: begin.xid, commit_lsn, end_lsn, commit_ts_us }));
            }
            PgOutputMessage::Relation(body) => {
                let id = TableId::new(body.namespace.clone(), body.name.clone());
                if (self.include)(&id) {
                    self.excluded.remove(&body.relation_id);
                    lookup.relation(&body).await.map_err(DecoderError::Lookup)?;
                } else {
                    self.excluded.insert(body.relation_id);
                }
            }
            PgOutputMessage::Insert { relation_id, new, .. } => {
                if let Some(table) = self.captured(relation_id, lookup)? {
                    let after = lookup.row(&table, &new).map_err(DecoderError::Lookup)?;
                    let source = self.source_info(wal_start, "Insert")?;
                    out.push(SourceEvent::Change(ChangeEvent {
                        op: Op::Create,
                        table,
                        before: None,
                        after: Some(after),
                        source,
                    }));
                }
            }
            PgOutputMessage::Update { relation_id, old, new, .. } => {
                if let Some(table) = self.captured(relation_id, lookup)? {
                    let before = match &old {
                        Some(OldTuple::Key(t)) | Some(OldTuple::Full(t)) => {
                            Some(lookup.row(&table, t).map_err(DecoderError::Lookup)?)
                        }
                        None => None,
                    };
                    let new = with_old_toasted_values(new, old.as_ref());
                    let after = lookup.row(&table, &new).map_err(DecoderError::Lookup)?;
                    let source = self.source_info(wal_start, "Update")?;
                    out.push(SourceEvent::Change(ChangeEvent {
                        op: Op::Update,
                        table,
                        before,
                        after: Some(after),
                        source,
                    }));
                }
            }
            PgOutputMessage::Delete { relation_id, old, .. } => {
                if let Some(table) = self.captured(relation_id, lookup)? {
                    let (OldTuple::Key(t) | OldTuple::Full(t)) = &old;
                    let before = lookup.row(&table, t).map_err(DecoderError::Lookup)?;
                    let source = self.source_info(wal_start, "Delete")?;
                    out.push(SourceEvent::Change(ChangeEvent {
                        op: Op::Delete,
                        table,
                        before: Some(before),
                        after: None,
                        source,
                    }));
                }
            }
            PgOutputMessage::Truncate { relation_ids, .. } => {
                for relation_id in relation_ids {
                    if let Some(table) = self.captured(relation_id, lookup)? {
                        let source = self.source_info(wal_start, "Truncate")?;
                        out.push(SourceEvent::Change(ChangeEvent {
                            op: Op::Truncate,
                            table,
                            before: None,
                            after: None,
                            source,
                        }));
                    }
                }
            }
            PgOutputMessage::Message { transactional, lsn, prefix, content, .. } => {
                if !transactional && self.skip_before.is_some_and(|stored| lsn < stored) {
                    return Ok(());
                }
                let source = match &self.tx {
                    Some(_) if transactional => self.source_info(lsn, "Message")?,
                    _ => {
                        // Debezium treats a non-transactional message as a
                        // transaction of its own: no txId, the commit time of
                        // the last transaction seen, and its LSN is both the
                        // position and the new last commit
                        // (`sequence` = `["<lsn>","<lsn>"]`, and the next
                        // transaction's sequence starts with it).
                        if self.tx.is_none() {
                            self.last_commit_lsn = Some(lsn);
                        }
                        SourceInfo {
                            commit_ts_us: self.last_commit_ts_us,
                            snapshot: SnapshotMarker::False,
                            tx_id: None,
                            lsn: Some(lsn),
                            last_commit_lsn: Some(lsn),
                            xmin: None,
                            origin: None,
                        }
                    }
                };
                out.push(SourceEvent::Message(LogicalMessage {
                    transactional,
                    prefix,
                    content: content.to_vec(),
                    source,
                }));
            }
            PgOutputMessage::Origin { commit_lsn, name } => {
                self.origin = Some(Arc::new(TxOrigin { name, commit_lsn }));
            }
            PgOutputMessage::Type { .. } => {}
            PgOutputMessage::StreamStart { .. }
            | PgOutputMessage::StreamStop
            | PgOutputMessage::StreamCommit { .. }
            | PgOutputMessage::StreamAbort { .. } => {
                // Streamed transactions never reach the decoder: the source
                // spools their blocks (`spill`) and replays each one at its
                // Stream Commit as Begin · changes · Commit.
                tracing::warn!("ignoring a streamed-transaction message outside the spool");
            }
        }
        Ok(())
    }

    /// The table of a change, or `None` when it is not captured.
    fn captured<L: RelationLookup>(
        &self,
        relation_id: u32,
        lookup: &L,
    ) -> Result<Option<Arc<TableSchema>>, DecoderError<L::Error>> {
        if self.excluded.contains(&relation_id) {
            return Ok(None);
        }
        let table = lookup.table(relation_id).ok_or(DecoderError::UnknownRelation(relation_id))?;
        if !self.floors.is_empty() {
            let committed = self.tx.as_ref().map(|t| t.final_lsn);
            if let (Some(floor), Some(commit)) = (self.floors.get(&table.id), committed) {
                if commit < *floor {
                    return Ok(None);
                }
            }
        }
        Ok(Some(table))
    }

    fn source_info<E: std::error::Error + 'static>(
        &self,
        lsn: Lsn,
        what: &'static str,
    ) -> Result<SourceInfo, DecoderError<E>> {
        let tx = self.tx.as_ref().ok_or(DecoderError::OutsideTransaction(what))?;
        Ok(SourceInfo {
            commit_ts_us: tx.commit_ts_us,
            snapshot: SnapshotMarker::False,
            tx_id: Some(i64::from(tx.xid)),
            lsn: Some(lsn),
            last_commit_lsn: self.last_commit_lsn,
            xmin: None,
            origin: self.origin.clone(),
        })
    }
}

/// The new tuple of an update, with each unchanged TOASTed value taken from
/// the old row when the server sent it whole (REPLICA IDENTITY FULL): Debezium
/// then reports the real value, not `unavailable.value.placeholder`.
fn with_old_toasted_values(mut new: TupleData, old: Option<&OldTuple>) -> TupleData {
    if let Some(OldTuple::Full(old)) = old {
        for (n, o) in new.iter_mut().zip(old) {
            if matches!(n, TupleValue::UnchangedToast) && !matches!(o, TupleValue::UnchangedToast) {
                *n = o.clone();
            }
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bytes::Bytes;

    use super::*;
    use crate::event::{ColumnSchema, ReplicaIdentity, Row};
    use crate::schema::{Schema, SchemaType, Value};
    use crate::source::postgres::pgoutput::{RelationColumn, TupleValue};

    #[derive(Default)]
    struct FakeLookup {
        tables: HashMap<u32, Arc<TableSchema>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("fake")]
    struct FakeError;

    impl RelationLookup for FakeLookup {
        type Error = FakeError;

        async fn relation(&mut self, body: &RelationBody) -> Result<Arc<TableSchema>, FakeError> {
            let columns = body
                .columns
                .iter()
                .map(|c| ColumnSchema {
                    name: c.name.clone(),
                    type_oid: c.type_oid,
                    type_modifier: c.type_modifier,
                    type_name: "text".into(),
                    nullable: !c.is_key,
                    is_key: c.is_key,
                    key_position: c.is_key.then_some(0),
                    schema: Arc::new(Schema::new(SchemaType::String).with_optional(!c.is_key)),
                    key_mapping: None,
                    required_fallback: None,
                })
                .collect();
            let t = Arc::new(TableSchema {
                relation_id: body.relation_id,
                id: TableId::new(body.namespace.clone(), body.name.clone()),
                columns,
                replica_identity: ReplicaIdentity::Default,
                version: 1,
            });
            self.tables.insert(body.relation_id, t.clone());
            Ok(t)
        }

        fn table(&self, relation_id: u32) -> Option<Arc<TableSchema>> {
            self.tables.get(&relation_id).cloned()
        }

        fn row(&self, _table: &TableSchema, tuple: &TupleData) -> Result<Row, FakeError> {
            Ok(tuple
                .iter()
                .map(|v| match v {
                    TupleValue::Text(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
                    _ => Value::Null,
                })
                .collect())
        }
    }

    fn relation(id: u32, name: &str) -> PgOutputMessage {
        PgOutputMessage::Relation(RelationBody {
            xid: None,
            relation_id: id,
            namespace: "public".into(),
            name: name.into(),
            replica_identity: b'd',
            columns: vec![
                RelationColumn { is_key: true, name: "id".into(), type_oid: 23, type_modifier: -1 },
                RelationColumn { is_key: false, name: "v".into(), type_oid: 25, type_modifier: -1 },
            ],
        })
    }

    fn text(s: &str) -> TupleValue {
        TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn decoder() -> ChangeDecoder {
        ChangeDecoder::new(Box::new(|t: &TableId| t.table != "ignored"), None)
    }

    #[tokio::test]
    async fn transaction_becomes_begin_changes_commit_with_sequence() {
        let mut d = decoder();
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        let msgs = vec![
            (Lsn(100), PgOutputMessage::Begin { final_lsn: Lsn(300), commit_ts_us: 42, xid: 7 }),
            (Lsn(100), relation(1, "t")),
            (Lsn(110), PgOutputMessage::Insert { xid: None, relation_id: 1, new: vec![text("1"), text("a")] }),
            (
                Lsn(120),
                PgOutputMessage::Delete {
                    xid: None,
                    relation_id: 1,
                    old: OldTuple::Key(vec![text("1"), TupleValue::Null]),
                },
            ),
            (Lsn(310), PgOutputMessage::Commit { flags: 0, commit_lsn: Lsn(300), end_lsn: Lsn(310), commit_ts_us: 42 }),
            (Lsn(400), PgOutputMessage::Begin { final_lsn: Lsn(500), commit_ts_us: 43, xid: 8 }),
            (Lsn(410), PgOutputMessage::Insert { xid: None, relation_id: 1, new: vec![text("2"), text("b")] }),
        ];
        for (lsn, m) in msgs {
            d.on_message(lsn, m, &mut l, &mut out).await.unwrap();
        }
        assert!(matches!(out[0], SourceEvent::Begin(TxBegin { xid: 7, .. })));
        let SourceEvent::Change(c) = &out[1] else { panic!("{:?}", out[1]) };
        assert_eq!(c.op, Op::Create);
        assert_eq!(c.source.lsn, Some(Lsn(110)));
        assert_eq!(c.source.tx_id, Some(7));
        assert_eq!(c.source.last_commit_lsn, None);
        let SourceEvent::Change(c) = &out[2] else { panic!() };
        assert_eq!(c.op, Op::Delete);
        assert_eq!(c.before.as_ref().unwrap()[0], Value::String("1".into()));
        assert!(matches!(out[3], SourceEvent::Commit(TxCommit { end_lsn: Lsn(310), .. })));
        let SourceEvent::Change(c) = &out[5] else { panic!() };
        assert_eq!(c.source.last_commit_lsn, Some(Lsn(310)), "sequence carries the previous commit");
        assert!(d.in_transaction());
    }

    #[tokio::test]
    async fn changes_of_excluded_tables_are_skipped() {
        let mut d = decoder();
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        d.on_message(Lsn(1), PgOutputMessage::Begin { final_lsn: Lsn(9), commit_ts_us: 0, xid: 1 }, &mut l, &mut out)
            .await
            .unwrap();
        d.on_message(Lsn(1), relation(2, "ignored"), &mut l, &mut out).await.unwrap();
        d.on_message(
            Lsn(2),
            PgOutputMessage::Insert { xid: None, relation_id: 2, new: vec![text("1")] },
            &mut l,
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(out.len(), 1, "only the Begin: {out:?}");
        assert!(l.tables.is_empty(), "no catalog lookup for an excluded table");
    }

    #[tokio::test]
    async fn change_of_unknown_relation_is_an_error() {
        let mut d = decoder();
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        d.on_message(Lsn(1), PgOutputMessage::Begin { final_lsn: Lsn(9), commit_ts_us: 0, xid: 1 }, &mut l, &mut out)
            .await
            .unwrap();
        let err = d
            .on_message(Lsn(2), PgOutputMessage::Insert { xid: None, relation_id: 5, new: vec![] }, &mut l, &mut out)
            .await
            .unwrap_err();
        assert!(matches!(err, DecoderError::UnknownRelation(5)));
    }

    fn begin(final_lsn: u64, xid: u32) -> PgOutputMessage {
        PgOutputMessage::Begin { final_lsn: Lsn(final_lsn), commit_ts_us: 0, xid }
    }

    fn commit(commit_lsn: u64, end_lsn: u64) -> PgOutputMessage {
        PgOutputMessage::Commit { flags: 0, commit_lsn: Lsn(commit_lsn), end_lsn: Lsn(end_lsn), commit_ts_us: 0 }
    }

    #[tokio::test]
    async fn resume_drops_transactions_ending_at_or_before_the_stored_offset() {
        // Stored offset: the transaction committed at 200, ending at 210.
        let mut d = ChangeDecoder::new(Box::new(|_: &TableId| true), Some(Lsn(210))).resume_after(Lsn(210));
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        let msgs = vec![
            (Lsn(100), begin(200, 1)),
            (Lsn(100), relation(1, "t")),
            (Lsn(110), PgOutputMessage::Insert { xid: None, relation_id: 1, new: vec![text("1"), text("a")] }),
            (Lsn(210), commit(200, 210)),
            (Lsn(220), begin(300, 2)),
            (Lsn(230), PgOutputMessage::Insert { xid: None, relation_id: 1, new: vec![text("2"), text("b")] }),
            (Lsn(310), commit(300, 310)),
        ];
        for (lsn, m) in msgs {
            d.on_message(lsn, m, &mut l, &mut out).await.unwrap();
        }
        assert!(l.tables.contains_key(&1), "the skipped transaction's Relation still fills the cache");
        assert_eq!(out.len(), 3, "only the second transaction: {out:?}");
        assert!(matches!(out[0], SourceEvent::Begin(TxBegin { xid: 2, .. })));
        let SourceEvent::Change(c) = &out[1] else { panic!("{:?}", out[1]) };
        assert_eq!(c.source.last_commit_lsn, Some(Lsn(210)), "sequence starts from the stored lsn_commit");
        assert!(matches!(out[2], SourceEvent::Commit(TxCommit { end_lsn: Lsn(310), .. })));
        assert!(!d.skipping() && !d.in_transaction());
    }

    #[tokio::test]
    async fn floors_drop_a_snapshotted_tables_changes_committed_before_its_snapshot() {
        // Table b was snapshotted at 250 (a resumed snapshot), table a earlier:
        // a's change at commit 200 counts, b's does not; both count after 250.
        let floors = HashMap::from([(TableId::new("public", "b"), Lsn(250))]);
        let mut d = ChangeDecoder::new(Box::new(|_: &TableId| true), None).with_floors(floors);
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        let insert = |rel: u32, id: &str| PgOutputMessage::Insert { xid: None, relation_id: rel, new: vec![text(id), text("x")] };
        let msgs = vec![
            (Lsn(100), relation(1, "a")),
            (Lsn(100), relation(2, "b")),
            (Lsn(100), begin(200, 1)),
            (Lsn(110), insert(1, "1")),
            (Lsn(120), insert(2, "2")),
            (Lsn(210), commit(200, 210)),
            (Lsn(260), begin(300, 2)),
            (Lsn(270), insert(2, "3")),
            (Lsn(310), commit(300, 310)),
        ];
        for (lsn, m) in msgs {
            d.on_message(lsn, m, &mut l, &mut out).await.unwrap();
        }
        let changes: Vec<(String, String)> = out
            .iter()
            .filter_map(|e| match e {
                SourceEvent::Change(c) => match &c.after.as_ref()?[0] {
                    Value::String(id) => Some((c.table.id.table.clone(), id.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(changes, [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "3".to_owned())]);
    }

    #[tokio::test]
    async fn commit_without_begin_is_an_error() {
        let mut d = decoder();
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        let err = d
            .on_message(
                Lsn(1),
                PgOutputMessage::Commit { flags: 0, commit_lsn: Lsn(1), end_lsn: Lsn(2), commit_ts_us: 0 },
                &mut l,
                &mut out,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DecoderError::OutsideTransaction("Commit")));
    }

    #[test]
    fn unchanged_toast_comes_from_a_full_old_row_only() {
        let new = vec![text("1"), TupleValue::UnchangedToast, text("2")];
        let full = OldTuple::Full(vec![text("1"), text("big"), text("1")]);
        assert_eq!(with_old_toasted_values(new.clone(), Some(&full)), vec![text("1"), text("big"), text("2")]);
        let key = OldTuple::Key(vec![text("1"), TupleValue::Null, TupleValue::Null]);
        assert_eq!(with_old_toasted_values(new.clone(), Some(&key)), new);
        assert_eq!(with_old_toasted_values(new.clone(), None), new);
    }

    #[tokio::test]
    async fn non_transactional_message_is_its_own_commit() {
        let mut d = decoder();
        let mut l = FakeLookup::default();
        let mut out = Vec::new();
        let msgs = vec![
            (Lsn(100), PgOutputMessage::Begin { final_lsn: Lsn(300), commit_ts_us: 42, xid: 7 }),
            (
                Lsn(310),
                PgOutputMessage::Commit { flags: 0, commit_lsn: Lsn(300), end_lsn: Lsn(310), commit_ts_us: 42 },
            ),
            (
                Lsn(400),
                PgOutputMessage::Message {
                    xid: None,
                    transactional: false,
                    lsn: Lsn(400),
                    prefix: "p".into(),
                    content: Bytes::from_static(b"x"),
                },
            ),
            (Lsn(500), PgOutputMessage::Begin { final_lsn: Lsn(600), commit_ts_us: 43, xid: 8 }),
            (Lsn(500), relation(1, "t")),
            (Lsn(510), PgOutputMessage::Insert { xid: None, relation_id: 1, new: vec![text("2"), text("b")] }),
        ];
        for (lsn, m) in msgs {
            d.on_message(lsn, m, &mut l, &mut out).await.unwrap();
        }
        let SourceEvent::Message(m) = &out[2] else { panic!("{:?}", out[2]) };
        assert_eq!(m.source.tx_id, None);
        assert_eq!(m.source.lsn, Some(Lsn(400)));
        assert_eq!(m.source.last_commit_lsn, Some(Lsn(400)), "sequence [\"400\",\"400\"] like Debezium");
        assert_eq!(m.source.commit_ts_us, 42, "the last transaction's commit time");
        let SourceEvent::Change(c) = &out[4] else { panic!("{:?}", out[4]) };
        assert_eq!(c.source.last_commit_lsn, Some(Lsn(400)), "the next transaction follows the message");
    }
}
