//! Incremental (ad-hoc) snapshots, as Debezium runs them: signalled through
//! a table, read in primary-key chunks while streaming goes on, each chunk
//! deduplicated against the stream with watermarks (Debezium's DDD-3).
//!
//! ```text
//!   INSERT INTO <signal.data.collection> VALUES ('x','execute-snapshot','{"data-collections":["public.t"]}')
//!        ──stream──▶ execute: queue public.t, read the first chunk:
//!                      INSERT …('<w>-open','snapshot-window-open')      ┐ own transactions, in
//!                      COPY (… WHERE key > last AND key <= max          │ the WAL in this order
//!                            ORDER BY key LIMIT chunk) → window rows    │
//!                      INSERT …('<w>-close','snapshot-window-close')    ┘
//!   stream: … open ── change of key k: drop k from the window ── … close: emit the window's
//!             rows (op r, source.snapshot=incremental), read the next chunk
//! ```
//!
//! Invariant: the chunk's SELECT ran between the two watermarks, so a change
//! streamed between them may be older or newer than the row read; the
//! streamed change is the later truth either way once the row is dropped,
//! and a row not changed in the window is emitted before any later change
//! of its key. Changes before the open watermark were streamed before the
//! row is emitted; the row then carries the state they led to.
//!
//! Resumable: at each closed window the source emits the progress (tables
//! queued, the table being read, the key its next chunk starts after); the
//! sink keeps it in every offset from then on, and a restart resumes there
//! (the chunk of a window still open is read again).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::event::{ChangeEvent, Op, Row, SnapshotMarker, TableId, TableSchema};
use crate::progress::IncrementalProgress;
use crate::schema::Value;

/// `type` of the signal that starts an incremental snapshot.
pub const EXECUTE_SNAPSHOT: &str = "execute-snapshot";
/// `type` of the signal that stops it.
pub const STOP_SNAPSHOT: &str = "stop-snapshot";
/// `type` of the low watermark.
pub const WINDOW_OPEN: &str = "snapshot-window-open";
/// `type` of the high watermark.
pub const WINDOW_CLOSE: &str = "snapshot-window-close";

/// A row of the signal table, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Snapshot the tables matching these (anchored, case-insensitive)
    /// regular expressions over `schema.table`.
    Execute(Vec<String>),
    /// Stop the snapshot of these tables (all, when empty).
    Stop(Vec<String>),
    WindowOpen(String),
    WindowClose(String),
    /// Anything else (another signal type, or one pgcdc does not run).
    Other(String),
}

/// A signal row's problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalError {
    #[error("signal row has no id/type/data columns (signal.data.collection needs (id, type, data))")]
    Shape,
    #[error("{kind} signal data is not JSON with \"data-collections\": {reason}")]
    Data { kind: String, reason: String },
    #[error("{kind} signal asks for a {snapshot} snapshot: pgcdc runs incremental ones")]
    Type { kind: String, snapshot: String },
}

/// Reads a signal table row: Debezium's layout is `(id, type, data)`, the
/// first three columns.
pub fn parse_signal(row: &[Value]) -> Result<Signal, SignalError> {
    let text = |i: usize| match row.get(i) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let (Some(id), Some(kind)) = (text(0), text(1)) else { return Err(SignalError::Shape) };
    let data = text(2).unwrap_or("");
    let collections = |kind: &str, required: bool| -> Result<Vec<String>, SignalError> {
        let bad = |reason: &str| SignalError::Data { kind: kind.to_owned(), reason: reason.to_owned() };
        if data.trim().is_empty() && !required {
            return Ok(Vec::new());
        }
        let v: serde_json::Value = serde_json::from_str(data).map_err(|e| bad(&e.to_string()))?;
        if let Some(t) = v.get("type").and_then(|t| t.as_str()) {
            if !t.eq_ignore_ascii_case("incremental") {
                return Err(SignalError::Type { kind: kind.to_owned(), snapshot: t.to_owned() });
            }
        }
        match v.get("data-collections") {
            Some(serde_json::Value::Array(a)) => {
                a.iter().map(|c| c.as_str().map(str::to_owned).ok_or_else(|| bad("a collection is not a string"))).collect()
            }
            None if !required => Ok(Vec::new()),
            _ => Err(bad("\"data-collections\" must be an array of schema.table patterns")),
        }
    };
    Ok(match kind {
        EXECUTE_SNAPSHOT => Signal::Execute(collections(kind, true)?),
        STOP_SNAPSHOT => Signal::Stop(collections(kind, false)?),
        WINDOW_OPEN => Signal::WindowOpen(window_id(id).to_owned()),
        WINDOW_CLOSE => Signal::WindowClose(window_id(id).to_owned()),
        other => Signal::Other(other.to_owned()),
    })
}

/// `<window>-open` / `<window>-close` → `<window>`.
fn window_id(id: &str) -> &str {
    id.strip_suffix("-open").or_else(|| id.strip_suffix("-close")).unwrap_or(id)
}

/// Identity of a row by its key values (equal keys, equal identity).
pub fn key_of(table: &TableSchema, row: &Row) -> String {
    let mut s = String::new();
    for (i, _) in table.key_columns() {
        s.push_str(&format!("{:?}\u{1f}", row.get(i)));
    }
    s
}

/// One chunk between its watermarks.
#[derive(Debug)]
pub struct Window {
    pub id: String,
    pub table: Arc<TableSchema>,
    /// Rows read, in key order, each with its key identity.
    pub rows: Vec<(String, Row)>,
    /// The low watermark came through the stream.
    pub open: bool,
    /// The table has no rows after this chunk.
    pub last: bool,
    /// Key columns' text of the chunk's last row read.
    pub last_key: Option<Vec<String>>,
}

/// The state of the incremental snapshot.
#[derive(Debug, Default)]
pub struct Incremental {
    /// Tables waiting, in order.
    pub queue: VecDeque<TableId>,
    /// The table being read: the key text of the last row read and of the
    /// largest key when it started (`None` until its first chunk).
    pub cursor: Option<Cursor>,
    pub window: Option<Window>,
}

/// Where the table being read stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub table: TableId,
    /// Key columns' text of the last row read (`None` before the first chunk).
    pub last: Option<Vec<String>>,
    /// Key columns' text of the largest key when the table's reading began.
    pub max: Vec<String>,
}

fn pair(t: &TableId) -> [String; 2] {
    [t.schema.clone(), t.table.clone()]
}

impl Incremental {
    /// The state to keep in the offsets once the rows of every closed
    /// window are in Kafka; `None` when nothing runs. A window still open
    /// is not part of it: after a restart its chunk is read again.
    pub fn progress(&self) -> Option<IncrementalProgress> {
        if self.queue.is_empty() && self.cursor.is_none() {
            return None;
        }
        Some(IncrementalProgress {
            queue: self.queue.iter().map(pair).collect(),
            table: self.cursor.as_ref().map(|c| pair(&c.table)),
            last: self.cursor.as_ref().and_then(|c| c.last.clone()),
            max: self.cursor.as_ref().map(|c| c.max.clone()),
        })
    }

    /// The state a stored [`progress`](Self::progress) describes.
    pub fn restore(p: &IncrementalProgress) -> Option<Incremental> {
        let p = p.clone();
        let table = |[s, t]: [String; 2]| TableId::new(s, t);
        let cursor = match (p.table, p.max) {
            (Some(t), Some(max)) => Some(Cursor { table: table(t), last: p.last, max }),
            _ => None,
        };
        Some(Incremental { queue: p.queue.into_iter().map(table).collect(), cursor, window: None })
    }

    /// Whether a chunk is being read or waited for.
    pub fn busy(&self) -> bool {
        self.window.is_some()
    }

    /// Queue tables (those already queued or being read are not added again).
    pub fn enqueue(&mut self, tables: impl IntoIterator<Item = TableId>) {
        let current = self.cursor.as_ref().map(|c| c.table.clone());
        let mut known: HashSet<TableId> = self.queue.iter().cloned().chain(current).collect();
        for t in tables {
            if known.insert(t.clone()) {
                self.queue.push_back(t);
            }
        }
    }

    /// Stop the snapshot of the tables `matches` accepts.
    pub fn stop(&mut self, matches: impl Fn(&TableId) -> bool) {
        self.queue.retain(|t| !matches(t));
        if self.cursor.as_ref().is_some_and(|c| matches(&c.table)) {
            self.cursor = None;
            self.window = None;
        }
    }

    /// The low watermark `id` came through the stream.
    pub fn open(&mut self, id: &str) {
        if let Some(w) = self.window.as_mut().filter(|w| w.id == id) {
            w.open = true;
        }
    }

    /// A streamed change: inside an open window, its key's row is dropped
    /// (the change is newer than, or as new as, what was read).
    pub fn observe(&mut self, change: &ChangeEvent) {
        let Some(w) = self.window.as_mut().filter(|w| w.open && w.table.id == change.table.id) else { return };
        if change.op == Op::Truncate {
            w.rows.clear();
            return;
        }
        for row in [change.before.as_ref(), change.after.as_ref()].into_iter().flatten() {
            let key = key_of(&change.table, row);
            w.rows.retain(|(k, _)| *k != key);
        }
    }

    /// The high watermark `id` came through the stream: the window's rows
    /// left to emit. The table is finished when it was its last chunk;
    /// otherwise the next chunk starts after the window's last key.
    pub fn close(&mut self, id: &str) -> Option<Window> {
        if self.window.as_ref().is_none_or(|w| w.id != id) {
            return None;
        }
        let window = self.window.take()?;
        if window.last {
            self.cursor = None;
        } else if let Some(c) = self.cursor.as_mut() {
            c.last = window.last_key.clone().or(c.last.take());
        }
        Some(window)
    }
}

/// The source marker of incremental snapshot records.
pub const MARKER: SnapshotMarker = SnapshotMarker::Incremental;

/// `'text'` as an SQL literal (standard_conforming_strings: only quotes double).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The chunk query: rows after `last` up to `max`, in key order.
pub fn chunk_select(select: &str, keys: &[String], last: Option<&[String]>, max: &[String], limit: usize) -> String {
    let cols = keys.join(", ");
    let row = |vals: &[String]| vals.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ");
    let mut sql = format!("{select} WHERE ({cols}) <= ({})", row(max));
    if let Some(last) = last {
        sql.push_str(&format!(" AND ({cols}) > ({})", row(last)));
    }
    sql.push_str(&format!(" ORDER BY {cols} LIMIT {limit}"));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SourceInfo;

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    fn signals_as_debezium_writes_them() {
        let exec = [s("ad-hoc-1"), s("execute-snapshot"), s(r#"{"data-collections": ["public.a", "inv\\..*"], "type": "incremental"}"#)];
        assert_eq!(parse_signal(&exec), Ok(Signal::Execute(vec!["public.a".into(), "inv\\..*".into()])));
        let no_type = [s("x"), s("execute-snapshot"), s(r#"{"data-collections": ["public.a"]}"#)];
        assert_eq!(parse_signal(&no_type), Ok(Signal::Execute(vec!["public.a".into()])));
        let blocking = [s("x"), s("execute-snapshot"), s(r#"{"data-collections": ["public.a"], "type": "blocking"}"#)];
        assert!(matches!(parse_signal(&blocking), Err(SignalError::Type { .. })));
        let bad = [s("x"), s("execute-snapshot"), s("{}")];
        assert!(matches!(parse_signal(&bad), Err(SignalError::Data { .. })));
        assert_eq!(parse_signal(&[s("x"), s("stop-snapshot"), Value::Null]), Ok(Signal::Stop(vec![])));
        assert_eq!(parse_signal(&[s("w1-open"), s("snapshot-window-open"), s("{}")]), Ok(Signal::WindowOpen("w1".into())));
        assert_eq!(parse_signal(&[s("w1-close"), s("snapshot-window-close"), Value::Null]), Ok(Signal::WindowClose("w1".into())));
        assert_eq!(parse_signal(&[s("x"), s("log"), Value::Null]), Ok(Signal::Other("log".into())));
        assert_eq!(parse_signal(&[Value::Int32(1)]), Err(SignalError::Shape));
    }

    fn table() -> Arc<TableSchema> {
        crate::testing::int_table(true)
    }

    fn change(op: Op, before: Option<(i32, i32)>, after: Option<(i32, i32)>) -> ChangeEvent {
        let row = |(k, v): (i32, i32)| vec![Value::Int32(k), Value::Int32(v)];
        ChangeEvent {
            op,
            table: table(),
            before: before.map(row),
            after: after.map(row),
            source: SourceInfo {
                commit_ts_us: 0,
                snapshot: SnapshotMarker::False,
                tx_id: None,
                lsn: None,
                last_commit_lsn: None,
                xmin: None,
                origin: None,
            },
        }
    }

    fn window(ids: &[i32]) -> Window {
        let t = table();
        let rows = ids
            .iter()
            .map(|k| {
                let row = vec![Value::Int32(*k), Value::Int32(0)];
                (key_of(&t, &row), row)
            })
            .collect();
        Window { id: "w".into(), table: t, rows, open: false, last: false, last_key: Some(vec![ids.last().map_or(0, |k| *k).to_string()]) }
    }

    #[test]
    fn changes_inside_the_window_drop_their_keys() {
        let mut inc = Incremental { window: Some(window(&[1, 2, 3, 4])), ..Default::default() };
        inc.observe(&change(Op::Update, None, Some((1, 9))));
        assert_eq!(inc.window.as_ref().unwrap().rows.len(), 4, "before the low watermark nothing is dropped");
        inc.open("other");
        assert!(!inc.window.as_ref().unwrap().open);
        inc.open("w");
        inc.observe(&change(Op::Update, None, Some((1, 9))));
        inc.observe(&change(Op::Delete, Some((3, 0)), None));
        inc.observe(&change(Op::Create, None, Some((7, 0))));
        assert!(inc.close("other").is_none());
        let w = inc.close("w").expect("window");
        let left: Vec<&Value> = w.rows.iter().map(|(_, r)| &r[0]).collect();
        assert_eq!(left, [&Value::Int32(2), &Value::Int32(4)]);
        assert!(inc.window.is_none());
    }

    #[test]
    fn progress_moves_at_each_closed_window_and_survives_a_restart() {
        let mut inc = Incremental::default();
        assert_eq!(inc.progress(), None);
        inc.enqueue([TableId::new("public", "t"), TableId::new("s", "u")]);
        let queued = inc.progress().expect("queued tables");
        assert_eq!(Incremental::restore(&queued).unwrap().queue.len(), 2);
        inc.queue.pop_front();
        inc.cursor = Some(Cursor { table: TableId::new("public", "t"), last: None, max: vec!["9".into()] });
        inc.window = Some(window(&[1, 2]));
        let before = Incremental::restore(&inc.progress().unwrap()).unwrap();
        assert_eq!(before.cursor.as_ref().unwrap().last, None, "an open window is read again after a restart");
        inc.open("w");
        inc.close("w").expect("window");
        let after = Incremental::restore(&inc.progress().unwrap()).unwrap();
        assert_eq!(after.cursor.unwrap().last, Some(vec!["2".to_owned()]));
        assert_eq!(after.queue, [TableId::new("s", "u")]);
        let stored = crate::offsets::SourceOffset::from_json(br#"{"lsn":1,"pgcdc_incremental":{"nonsense":1}}"#).unwrap();
        assert_eq!(stored.incremental, None, "unreadable progress starts nothing");
    }

    #[test]
    fn queue_and_stop() {
        let mut inc = Incremental::default();
        inc.enqueue([TableId::new("public", "a"), TableId::new("public", "b"), TableId::new("public", "a")]);
        assert_eq!(inc.queue.len(), 2);
        inc.cursor = Some(Cursor { table: TableId::new("public", "c"), last: None, max: vec!["9".into()] });
        inc.enqueue([TableId::new("public", "c")]);
        assert_eq!(inc.queue.len(), 2, "the table being read is not queued again");
        inc.stop(|t| t.table == "a" || t.table == "c");
        assert_eq!(inc.queue, [TableId::new("public", "b")]);
        assert!(inc.cursor.is_none());
    }

    #[test]
    fn chunk_queries() {
        let sel = "SELECT \"id\", \"v\" FROM ONLY \"public\".\"t\"";
        let keys = ["\"id\"".to_owned()];
        assert_eq!(
            chunk_select(sel, &keys, None, &["100".into()], 10),
            "SELECT \"id\", \"v\" FROM ONLY \"public\".\"t\" WHERE (\"id\") <= ('100') ORDER BY \"id\" LIMIT 10"
        );
        let two = ["\"a\"".to_owned(), "\"b\"".to_owned()];
        assert_eq!(
            chunk_select(sel, &two, Some(&["1".into(), "it's".into()]), &["9".into(), "z".into()], 5),
            format!("{sel} WHERE (\"a\", \"b\") <= ('9', 'z') AND (\"a\", \"b\") > ('1', 'it''s') ORDER BY \"a\", \"b\" LIMIT 5")
        );
    }
}
