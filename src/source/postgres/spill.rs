//! Streamed in-progress transactions (pgoutput protocol ≥ 2, `streaming on`):
//! their messages are spilled to one temporary file per transaction and
//! replayed through the normal Begin … Commit path at Stream Commit.
//!
//! ```text
//!   Stream Start(xid=7, first)  ─┐
//!     R / I / U / D / T / M      │ appended to  <dir>/7.spill  as
//!   Stream Stop                 ─┘   [wal_start u64][msg xid u32][kind u8][len u32][raw pgoutput bytes]
//!   Begin … Commit (xid=8)        ── a small transaction: not streamed, decoded at once
//!   Stream Start(xid=7) … Stop    ── more of xid 7 (blocks of several xids interleave)
//!   Stream Abort(7, subxid=9)     ── drop the DML of subtransaction 9 only
//!   Stream Commit(7)              ── replay 7.spill as Begin(7) · changes · Commit, delete it
//!   Stream Abort(7, 7)            ── (instead) delete 7.spill
//! ```
//!
//! Invariants relied on (PostgreSQL's `pgoutput` and reorder buffer):
//! - stream blocks never nest and never occur inside a Begin … Commit;
//! - inside a block each DML/Relation/Type/Message carries the xid of the
//!   (sub)transaction that made the change; the block's Stream Start names
//!   the top-level xid, which Stream Commit/Abort use;
//! - a subtransaction abort names the top-level xid and the subxid; only that
//!   subtransaction's DML and messages go. Relation and Type messages are kept:
//!   the server counts a relation's schema as sent for the whole top-level
//!   transaction, so dropping one could leave the cache stale;
//! - Stream Commits arrive in commit order, and each change's XLogData
//!   `wal_start` is the change's own LSN, as in non-streamed mode: the replay
//!   yields the same events, with the same `lsn`, `txId` and `sequence`;
//! - after a reconnect the server streams an unfinished transaction again from
//!   its first segment, so a `first_segment` start truncates any old file and a
//!   new source starts with an empty directory.
//!
//! Memory stays bounded whatever the transaction's size: only the file
//! handles and per-subtransaction counters are held; replay reads one record
//! at a time.
//!
//! The files hold row data and sit in a shared directory (`$TMPDIR` unless
//! `worker.spill_dir` says otherwise), so they are created as
//! [`crate::private_fs`] says: the parent is checked (others may not replace
//! what is in it), the spool's directory is a fresh `mkdir` of a random name
//! with mode 0700, and each file is `O_CREAT|O_EXCL|O_NOFOLLOW` with mode 0600
//! — a name or symlink planted by another user makes the spool fail instead
//! of writing through it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use bytes::Bytes;

use crate::lsn::Lsn;
use crate::private_fs::{self, UnsafeDir};

use super::pgoutput::PgOutputMessage;

/// Errors of the spill files.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("cannot write or read the spill file of streamed transaction {xid} under {path}: check free space and permissions of the temporary directory")]
    Io {
        xid: u32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create a spill directory in {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("refusing to spill streamed transactions into an unsafe directory: set worker.spill_dir to a directory only the worker's user can write")]
    UnsafeDir(#[source] UnsafeDir),
    #[error("{0} outside of a stream block")]
    OutsideStream(&'static str),
    #[error("stream start for xid {0} inside another stream block")]
    NestedStream(u32),
    #[error("spill file of streamed transaction {0} is corrupt")]
    Corrupt(u32),
}

/// Record kinds in a spill file.
const KIND_CHANGE: u8 = 0;
const KIND_SCHEMA: u8 = 1;
/// Bytes of a record header: wal_start, xid, kind, length.
const HEADER_LEN: usize = 8 + 4 + 1 + 4;

/// Spill directories are `<DIR_PREFIX><slot>-<pid>-<random>`.
const DIR_PREFIX: &str = "pgcdc-spill-";

/// One streamed transaction's file.
struct SpoolFile {
    path: PathBuf,
    writer: BufWriter<File>,
    /// Changes (DML, messages) per (sub)transaction xid still alive.
    changes: HashMap<u32, u64>,
    /// Subtransactions aborted: their changes are skipped on replay.
    aborted: HashSet<u32>,
}

/// The spill files of the streamed transactions in progress.
pub struct StreamSpool {
    dir: PathBuf,
    txns: HashMap<u32, SpoolFile>,
    /// The top-level xid of the open stream block.
    current: Option<u32>,
}

impl StreamSpool {
    /// A spool in a fresh private directory under `parent` (named after
    /// `slot`, with a random suffix); `parent` must pass
    /// [`private_fs::check_parent`]. Spill directories of this user left
    /// there by processes that no longer run (killed before they could clean
    /// up) are removed.
    pub fn new(parent: &Path, slot: &str) -> Result<Self, SpillError> {
        private_fs::check_parent(parent).map_err(SpillError::UnsafeDir)?;
        let safe: String = slot.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        remove_stale(parent);
        let prefix = format!("{DIR_PREFIX}{safe}-{}-", std::process::id());
        let dir = private_fs::private_dir(parent, &prefix)
            .map_err(|source| SpillError::Dir { path: parent.to_owned(), source })?
            .keep();
        Ok(StreamSpool { dir, txns: HashMap::new(), current: None })
    }

    /// The directory holding the files.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Between a Stream Start and its Stream Stop.
    pub fn in_stream(&self) -> bool {
        self.current.is_some()
    }

    /// Streamed transactions with a file (started, neither committed nor aborted).
    #[cfg(test)]
    pub fn open_transactions(&self) -> usize {
        self.txns.len()
    }

    /// Stream Start: later messages belong to `xid` until Stream Stop.
    pub fn start(&mut self, xid: u32, first_segment: bool) -> Result<(), SpillError> {
        if self.current.is_some() {
            return Err(SpillError::NestedStream(xid));
        }
        if first_segment || !self.txns.contains_key(&xid) {
            // A first segment starts over (the server re-streams after a reconnect).
            if let Some(old) = self.txns.remove(&xid) {
                drop(old.writer);
                remove_file(&old.path);
            }
            let path = self.dir.join(format!("{xid}.spill"));
            let file =
                private_fs::create_private(&path).map_err(|source| SpillError::Io { xid, path: path.clone(), source })?;
            self.txns.insert(
                xid,
                SpoolFile { path, writer: BufWriter::new(file), changes: HashMap::new(), aborted: HashSet::new() },
            );
        }
        self.current = Some(xid);
        Ok(())
    }

    /// Stream Stop.
    pub fn stop(&mut self) -> Result<(), SpillError> {
        self.current.take().map(|_| ()).ok_or(SpillError::OutsideStream("Stream Stop"))
    }

    /// A message inside a stream block: `raw` is its pgoutput payload,
    /// `message` its decoding.
    pub fn append(&mut self, wal_start: Lsn, raw: &[u8], message: &PgOutputMessage) -> Result<(), SpillError> {
        let top = self.current.ok_or(SpillError::OutsideStream("streamed change"))?;
        let Some(file) = self.txns.get_mut(&top) else { return Err(SpillError::OutsideStream("streamed change")) };
        let (xid, kind) = match message {
            PgOutputMessage::Relation(body) => (body.xid.unwrap_or(top), KIND_SCHEMA),
            PgOutputMessage::Type { xid, .. } => (xid.unwrap_or(top), KIND_SCHEMA),
            PgOutputMessage::Insert { xid, .. }
            | PgOutputMessage::Update { xid, .. }
            | PgOutputMessage::Delete { xid, .. }
            | PgOutputMessage::Truncate { xid, .. }
            | PgOutputMessage::Message { xid, .. } => (xid.unwrap_or(top), KIND_CHANGE),
            // Anything else in a block (Origin) has no effect on the output.
            _ => return Ok(()),
        };
        let len = u32::try_from(raw.len()).map_err(|_| SpillError::Corrupt(top))?;
        let mut header = [0u8; HEADER_LEN];
        header[0..8].copy_from_slice(&wal_start.0.to_be_bytes());
        header[8..12].copy_from_slice(&xid.to_be_bytes());
        header[12] = kind;
        header[13..17].copy_from_slice(&len.to_be_bytes());
        let io_err = |source| SpillError::Io { xid: top, path: file.path.clone(), source };
        file.writer.write_all(&header).map_err(io_err)?;
        file.writer.write_all(raw).map_err(|source| SpillError::Io { xid: top, path: file.path.clone(), source })?;
        if kind == KIND_CHANGE {
            *file.changes.entry(xid).or_default() += 1;
        }
        Ok(())
    }

    /// Stream Abort: the whole transaction (`subxid == xid`) or one subtransaction.
    pub fn abort(&mut self, xid: u32, subxid: u32) {
        if xid == subxid {
            if let Some(file) = self.txns.remove(&xid) {
                remove_file(&file.path);
            }
        } else if let Some(file) = self.txns.get_mut(&xid) {
            file.changes.remove(&subxid);
            file.aborted.insert(subxid);
        }
    }

    /// Stream Commit: the transaction's messages in order, to replay. The
    /// file is deleted when the replay is dropped.
    pub fn commit(&mut self, xid: u32) -> Result<Replay, SpillError> {
        let Some(mut file) = self.txns.remove(&xid) else {
            return Ok(Replay { xid, reader: None, path: None, aborted: HashSet::new(), has_changes: false });
        };
        let path = file.path.clone();
        let io_err = |source| SpillError::Io { xid, path: path.clone(), source };
        file.writer.flush().map_err(io_err)?;
        let reader = private_fs::open_nofollow(&path).map_err(|source| SpillError::Io { xid, path: path.clone(), source })?;
        Ok(Replay {
            xid,
            reader: Some(BufReader::new(reader)),
            path: Some(path),
            aborted: file.aborted,
            has_changes: file.changes.values().any(|n| *n > 0),
        })
    }
}

impl Drop for StreamSpool {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_dir_all(&self.dir) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %err, "cannot remove the spill directory");
            }
        }
    }
}

/// The messages of one committed streamed transaction, read back one at a time.
pub struct Replay {
    xid: u32,
    reader: Option<BufReader<File>>,
    path: Option<PathBuf>,
    aborted: HashSet<u32>,
    has_changes: bool,
}

impl Replay {
    /// Whether any change (DML or message) survived the subtransaction aborts;
    /// without one the transaction is empty and only its Relation messages matter.
    pub fn has_changes(&self) -> bool {
        self.has_changes
    }

    /// The next message to replay: its `wal_start` and raw pgoutput bytes
    /// (stream format: decode with `in_stream = true`). `schema_only` skips
    /// the changes (for an empty transaction).
    pub fn next(&mut self, schema_only: bool) -> Result<Option<(Lsn, Bytes)>, SpillError> {
        let xid = self.xid;
        let Some(reader) = self.reader.as_mut() else { return Ok(None) };
        loop {
            let mut header = [0u8; HEADER_LEN];
            match read_full(reader, &mut header) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(source) => return Err(self.io(source)),
            }
            let (wal_start, sub, kind, len) = parse_header(&header);
            let mut raw = vec![0u8; len];
            match read_full(reader, &mut raw) {
                Ok(true) => {}
                Ok(false) => return Err(SpillError::Corrupt(xid)),
                Err(source) => return Err(self.io(source)),
            }
            if kind == KIND_CHANGE && (schema_only || self.aborted.contains(&sub)) {
                continue;
            }
            if kind != KIND_CHANGE && kind != KIND_SCHEMA {
                return Err(SpillError::Corrupt(xid));
            }
            return Ok(Some((Lsn(wal_start), Bytes::from(raw))));
        }
    }

    fn io(&self, source: io::Error) -> SpillError {
        SpillError::Io { xid: self.xid, path: self.path.clone().unwrap_or_default(), source }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            remove_file(path);
        }
    }
}

fn parse_header(h: &[u8; HEADER_LEN]) -> (u64, u32, u8, usize) {
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&h[0..8]);
    let mut xid = [0u8; 4];
    xid.copy_from_slice(&h[8..12]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&h[13..17]);
    (u64::from_be_bytes(lsn), u32::from_be_bytes(xid), h[12], u32::from_be_bytes(len) as usize)
}

/// Fills `buf`; false at a clean end of file before the first byte.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated spill record")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn remove_file(path: &Path) {
    if let Err(err) = fs::remove_file(path) {
        if err.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %err, "cannot remove a spill file");
        }
    }
}

/// Removes `pgcdc-spill-<slot>-<pid>-<suffix>` directories of this user
/// (not symlinks) whose process no longer runs (Linux: `/proc/<pid>`;
/// elsewhere nothing is removed).
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(DIR_PREFIX) else { continue };
        let Some(pid) = rest.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !owned_directory(&entry.path()) {
            continue;
        }
        let proc_root = Path::new("/proc");
        if pid != std::process::id() && proc_root.join("self").exists() && !proc_root.join(pid.to_string()).exists() {
            tracing::info!(dir = %entry.path().display(), "removing a stale spill directory");
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A real directory (not a symlink) owned by this process's user.
fn owned_directory(path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.is_dir() && meta.uid() == private_fs::effective_uid()
    }
    #[cfg(not(unix))]
    {
        meta.is_dir()
    }
}

#[cfg(test)]
#[path = "spill_tests.rs"]
mod security_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::postgres::pgoutput::{self, TupleValue};

    fn insert(xid: u32, v: &str) -> (Vec<u8>, PgOutputMessage) {
        let m = PgOutputMessage::Insert {
            xid: Some(xid),
            relation_id: 1,
            new: vec![TupleValue::Text(Bytes::copy_from_slice(v.as_bytes()))],
        };
        (pgoutput::encode(&m, true), m)
    }

    fn relation(xid: u32) -> (Vec<u8>, PgOutputMessage) {
        let m = PgOutputMessage::Relation(pgoutput::RelationBody {
            xid: Some(xid),
            relation_id: 1,
            namespace: "public".into(),
            name: "t".into(),
            replica_identity: b'd',
            columns: vec![],
        });
        (pgoutput::encode(&m, true), m)
    }

    fn drain(mut r: Replay, schema_only: bool) -> Vec<(Lsn, PgOutputMessage)> {
        let mut out = Vec::new();
        while let Some((lsn, raw)) = r.next(schema_only).unwrap() {
            out.push((lsn, pgoutput::decode_bytes(&raw, true).unwrap()));
        }
        out
    }

    fn spool(dir: &tempfile::TempDir) -> StreamSpool {
        StreamSpool::new(dir.path(), "slot").unwrap()
    }

    #[test]
    fn interleaved_transactions_replay_in_their_own_order_and_files_go() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spool(&tmp);
        let add = |s: &mut StreamSpool, lsn: u64, (raw, m): (Vec<u8>, PgOutputMessage)| {
            s.append(Lsn(lsn), &raw, &m).unwrap()
        };
        s.start(7, true).unwrap();
        assert!(s.in_stream());
        add(&mut s, 10, relation(7));
        add(&mut s, 11, insert(7, "a"));
        s.stop().unwrap();
        s.start(8, true).unwrap();
        add(&mut s, 12, insert(8, "x"));
        s.stop().unwrap();
        s.start(7, false).unwrap();
        add(&mut s, 13, insert(7, "b"));
        s.stop().unwrap();
        assert_eq!(s.open_transactions(), 2);
        let replay = s.commit(7).unwrap();
        assert!(replay.has_changes());
        let got = drain(replay, false);
        assert_eq!(got.iter().map(|(l, _)| l.0).collect::<Vec<_>>(), vec![10, 11, 13]);
        assert_eq!(got[2].1, insert(7, "b").1);
        s.abort(8, 8);
        assert_eq!(s.open_transactions(), 0);
        assert_eq!(fs::read_dir(s.dir()).unwrap().count(), 0, "committed and aborted files are deleted");
        let dir = s.dir().to_owned();
        drop(s);
        assert!(!dir.exists(), "the directory goes with the spool");
    }

    #[test]
    fn subtransaction_abort_drops_only_its_changes_but_keeps_relations() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spool(&tmp);
        s.start(7, true).unwrap();
        for (lsn, (raw, m)) in [(1, insert(7, "a")), (2, relation(9)), (3, insert(9, "sub")), (4, insert(7, "c"))] {
            s.append(Lsn(lsn), &raw, &m).unwrap();
        }
        s.stop().unwrap();
        s.abort(7, 9);
        let got = drain(s.commit(7).unwrap(), false);
        assert_eq!(got.iter().map(|(l, _)| l.0).collect::<Vec<_>>(), vec![1, 2, 4]);
    }

    #[test]
    fn transaction_left_with_relations_only_has_no_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spool(&tmp);
        s.start(7, true).unwrap();
        for (lsn, (raw, m)) in [(2, relation(9)), (3, insert(9, "sub"))] {
            s.append(Lsn(lsn), &raw, &m).unwrap();
        }
        s.stop().unwrap();
        s.abort(7, 9);
        let r = s.commit(7).unwrap();
        assert!(!r.has_changes());
        assert_eq!(drain(r, true).len(), 1, "only the Relation");
    }

    #[test]
    fn first_segment_starts_over_and_protocol_errors_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spool(&tmp);
        s.start(7, true).unwrap();
        let (raw, m) = insert(7, "old");
        s.append(Lsn(1), &raw, &m).unwrap();
        assert!(matches!(s.start(8, true), Err(SpillError::NestedStream(8))));
        s.stop().unwrap();
        assert!(matches!(s.stop(), Err(SpillError::OutsideStream(_))));
        assert!(matches!(s.append(Lsn(1), &raw, &m), Err(SpillError::OutsideStream(_))));
        s.start(7, true).unwrap();
        let (raw, m) = insert(7, "new");
        s.append(Lsn(2), &raw, &m).unwrap();
        s.stop().unwrap();
        let got = drain(s.commit(7).unwrap(), false);
        assert_eq!(got, vec![(Lsn(2), m)]);
        assert!(drain(s.commit(99).unwrap(), false).is_empty(), "unknown xid: nothing to replay");
    }

    #[test]
    fn stale_directories_of_dead_processes_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        // pid 0 never runs a user process.
        let stale = tmp.path().join("pgcdc-spill-slot-0-3");
        fs::create_dir_all(&stale).unwrap();
        let other = tmp.path().join("pgcdc-spill-other-slot-0-3");
        fs::create_dir_all(&other).unwrap();
        let live = tmp.path().join(format!("pgcdc-spill-other-{}-7", std::process::id()));
        fs::create_dir_all(&live).unwrap();
        let unrelated = tmp.path().join("pgcdc-spill-notes");
        fs::create_dir_all(&unrelated).unwrap();
        let _s = spool(&tmp);
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists() && !other.exists(), "dead processes' directories go, whatever the slot");
        }
        assert!(live.exists(), "a running process's directory stays");
        assert!(unrelated.exists(), "a name without a pid is not ours");
    }
}
