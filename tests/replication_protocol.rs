//! The replication connection against a real PostgreSQL: authentication, replication
//! commands, decoding of the stream, feedback and streaming of large transactions.
//!
//! Runs on the shared cluster (`support::PgServer::shared`): each test has its own database,
//! slot and publication, so they run in parallel. The two server settings these tests depend
//! on are set per database (`ALTER DATABASE ... SET`, read by the walsender at connection
//! start), so other tests on the shared cluster keep the defaults:
//! - `wal_sender_timeout = 4s`: the server asks for a reply after 2 s without one;
//! - `logical_decoding_work_mem = 64kB`: a few hundred kB of changes are streamed in blocks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pgcdc::config::Secret;
use pgcdc::error::{Classify, ErrorClass};
use pgcdc::lsn::Lsn;
use pgcdc::source::postgres::capture;
use pgcdc::source::postgres::pgoutput::{self, OldTuple, PgOutputMessage, TupleValue};
use pgcdc::source::postgres::replication::{
    ReplicationClient, ReplicationConfig, ReplicationError, ReplicationMessage, ReplicationStream, SlotSnapshot,
    StartOptions, Streaming,
};

use crate::support::postgres::{PLAIN_PASSWORD, PLAIN_USER, SUPERUSER};
use crate::support::{unique_name, PgServer, TestDatabase, MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER};

/// The server asks for a reply after half of this without one.
const WAL_SENDER_TIMEOUT_S: u64 = 4;
const WAIT: Duration = Duration::from_secs(30);

type BoxStream = ReplicationStream<pgcdc::source::postgres::replication::BoxTransport>;

/// A fresh database on the shared cluster with this module's walsender settings.
async fn fresh_db(prefix: &str) -> TestDatabase {
    let db = PgServer::shared().create_database(prefix).await;
    db.execute(&format!(
        "ALTER DATABASE \"{name}\" SET wal_sender_timeout = '{WAL_SENDER_TIMEOUT_S}s'; \
         ALTER DATABASE \"{name}\" SET logical_decoding_work_mem = '64kB';",
        name = db.name
    ))
    .await;
    db
}

fn config(db: &TestDatabase, user: &str, password: Option<&str>) -> ReplicationConfig {
    let mut c = ReplicationConfig::new(&db.host, db.port, user, &db.name);
    c.password = password.map(Secret::new);
    c.application_name = format!("test_{}", db.name);
    c
}

async fn connect(db: &TestDatabase) -> ReplicationClient {
    ReplicationClient::connect(&config(db, SUPERUSER, None)).await.unwrap()
}

/// Drops `slot` once its walsender has let go of it (slots are cluster-wide: free them for
/// the other tests on the shared cluster).
async fn drop_slot_when_released(db: &tokio_postgres::Client, slot: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dropped = db
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = $1 AND NOT active",
                &[&slot],
            )
            .await
            .unwrap();
        if dropped == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "slot {slot} still active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The next pgoutput message, skipping keepalives; tracks stream blocks.
async fn next_pgoutput(stream: &mut BoxStream, in_stream: &mut bool) -> PgOutputMessage {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, stream.next()).await.expect("no pgoutput message in time").unwrap();
        match msg.expect("stream ended") {
            ReplicationMessage::Keepalive { .. } => continue,
            ReplicationMessage::XLogData { data, .. } => {
                let decoded = pgoutput::decode_bytes(&data, *in_stream).unwrap();
                match decoded {
                    PgOutputMessage::StreamStart { .. } => *in_stream = true,
                    PgOutputMessage::StreamStop => *in_stream = false,
                    _ => {}
                }
                return decoded;
            }
        }
    }
}

/// Messages up to and including the next Commit (or Stream Commit) of a transaction with
/// changes. Empty transactions are skipped: PostgreSQL 14 sends one for every transaction it
/// decodes, e.g. the setup's DDL (15+ leaves them out).
async fn next_transaction(stream: &mut BoxStream) -> Vec<PgOutputMessage> {
    let mut in_stream = false;
    let mut out = Vec::new();
    loop {
        let m = next_pgoutput(stream, &mut in_stream).await;
        let end = matches!(m, PgOutputMessage::Commit { .. } | PgOutputMessage::StreamCommit { .. });
        out.push(m);
        if end {
            if matches!(out[..], [PgOutputMessage::Begin { .. }, PgOutputMessage::Commit { .. }]) {
                out.clear();
                continue;
            }
            return out;
        }
    }
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

async fn confirmed_flush(db: &tokio_postgres::Client, slot: &str) -> Option<Lsn> {
    let row = db
        .query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .unwrap();
    row.get::<_, Option<String>>(0).map(|s| s.parse().unwrap())
}


/// One test's replication setup: its database (table `t`, publication `pub_all`), a
/// superuser client on it, the slot's name and the started stream.
struct StreamSetup {
    db: TestDatabase,
    client: tokio_postgres::Client,
    slot: String,
    stream: BoxStream,
}

/// Creates a database with table `t`, publication `pub_all` and a slot named
/// `<slot_prefix>_<n>`; starts streaming from it.
async fn setup_stream(db_prefix: &str, slot_prefix: &str, options: StartOptions, status: Duration) -> StreamSetup {
    let db = fresh_db(db_prefix).await;
    let client = db.client().await;
    let slot = unique_name(slot_prefix);
    let mut repl = ReplicationClient::connect(&ReplicationConfig { status_interval: status, ..config(&db, SUPERUSER, None) })
        .await
        .unwrap();
    repl.create_logical_slot(&slot, false, SlotSnapshot::NoExport).await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, note text, n numeric); CREATE PUBLICATION pub_all FOR TABLE t;",
        )
        .await
        .unwrap();
    let stream = repl.start_replication(&slot, Lsn::ZERO, &options).await.unwrap();
    StreamSetup { db, client, slot, stream }
}

#[tokio::test]
async fn trust_auth_connects_and_identify_system_reports_the_database() {
    // GIVEN a database and a trusted superuser
    let db = fresh_db("repl_identify").await;
    // WHEN a replication connection is opened and IDENTIFY_SYSTEM is sent
    let mut repl = connect(&db).await;
    assert!(repl.server_version() >= 140_000, "server_version {}", repl.server_version());
    let id = repl.identify_system().await.unwrap();
    // THEN it names our database, timeline 1, a WAL position and a numeric system id
    assert_eq!(id.dbname.as_deref(), Some(db.name.as_str()));
    assert_eq!(id.timeline, 1);
    assert!(id.xlogpos > Lsn::ZERO);
    assert!(id.systemid.parse::<u64>().is_ok(), "systemid {:?}", id.systemid);
    repl.close().await.unwrap();
}

#[tokio::test]
async fn md5_scram_and_cleartext_password_auth_open_replication_connections() {
    // GIVEN a database and the md5, SCRAM and cleartext-password roles (LOGIN REPLICATION,
    // not superusers) allowed to connect to it
    let db = fresh_db("repl_auth").await;
    db.execute(&format!(
        "REVOKE CONNECT ON DATABASE \"{name}\" FROM PUBLIC; \
         GRANT CONNECT ON DATABASE \"{name}\" TO {MD5_USER}, {SCRAM_USER}, {PLAIN_USER};",
        name = db.name
    ))
    .await;
    for (user, pw) in [(MD5_USER, MD5_PASSWORD), (SCRAM_USER, SCRAM_PASSWORD), (PLAIN_USER, PLAIN_PASSWORD)] {
        // WHEN each connects for replication with its password
        let mut repl =
            ReplicationClient::connect(&config(&db, user, Some(pw))).await.unwrap_or_else(|e| panic!("{user}: {e}"));
        // THEN the connection works and is bound to the database
        assert_eq!(repl.identify_system().await.unwrap().dbname.as_deref(), Some(db.name.as_str()), "{user}");
        repl.close().await.unwrap();
    }
}

#[tokio::test]
async fn wrong_or_missing_password_is_a_fatal_auth_error() {
    // GIVEN the md5 and SCRAM roles
    let db = fresh_db("repl_badauth").await;
    for user in [SCRAM_USER, MD5_USER] {
        // WHEN one connects with a wrong password
        let err = ReplicationClient::connect(&config(&db, user, Some("wrong"))).await.err().unwrap();
        // THEN the server's 28P01 comes back as a fatal error with a hint about the password
        let ReplicationError::Server(server) = &err else { panic!("{user}: {err:?}") };
        assert_eq!(server.code, "28P01", "{user}: {server}");
        assert_eq!(err.class(), ErrorClass::Fatal);
        assert!(err.hint().unwrap().contains("password"));
    }
    // WHEN the server asks for a password and none is configured THEN it is an auth error
    let err = ReplicationClient::connect(&config(&db, SCRAM_USER, None)).await.err().unwrap();
    assert!(matches!(err, ReplicationError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_slot_and_slot_in_use_are_classified() {
    // GIVEN a publication and no slot
    let db = fresh_db("repl_slot_errors").await;
    let client = db.client().await;
    client.batch_execute("CREATE PUBLICATION p FOR ALL TABLES").await.unwrap();
    let options = StartOptions::new(vec!["p".into()]);
    // WHEN streaming from a slot that does not exist THEN 42704, fatal
    let missing = unique_name("no_such_slot");
    let err = connect(&db).await.start_replication(&missing, Lsn::ZERO, &options).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("42704"), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);

    // GIVEN a slot streamed by one connection
    let busy = unique_name("busy_slot");
    let mut repl = connect(&db).await;
    repl.create_logical_slot(&busy, false, SlotSnapshot::NoExport).await.unwrap();
    let first = repl.start_replication(&busy, Lsn::ZERO, &options).await.unwrap();
    // WHEN a second connection starts streaming from it THEN 55006 with an "in use" hint
    let err = connect(&db).await.start_replication(&busy, Lsn::ZERO, &options).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("55006"), "{err:?}");
    assert!(err.hint().unwrap().contains("in use"));
    first.shutdown().await.unwrap();
    drop_slot_when_released(&client, &busy).await;
}

#[tokio::test]
async fn created_slot_exports_an_importable_snapshot_and_drop_removes_it() {
    // GIVEN a database and the current WAL position
    let db = fresh_db("repl_create_slot").await;
    let client = db.client().await;
    let mut repl = connect(&db).await;
    let before = repl.identify_system().await.unwrap().xlogpos;
    // WHEN a slot is created with an exported snapshot
    let name = unique_name("export_slot");
    let slot = repl.create_logical_slot(&name, false, SlotSnapshot::Export).await.unwrap();
    // THEN it is consistent at or after that position and the snapshot is importable while
    // the creating connection is idle
    assert_eq!(slot.slot_name, name);
    assert!(slot.consistent_point >= before, "{} < {before}", slot.consistent_point);
    let snapshot = slot.snapshot_name.clone().expect("exported snapshot");
    let import = format!("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'; COMMIT");
    client.batch_execute(&import).await.unwrap();
    assert!(confirmed_flush(&client, &name).await.is_some());
    // AND creating it again fails with 42710
    let err = repl.create_logical_slot(&name, false, SlotSnapshot::NoExport).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("42710"));
    // WHEN it is dropped THEN it is gone
    repl.drop_slot(&name, true).await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", &[&name])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn insert_update_delete_decode_in_commit_order() {
    // GIVEN a stream on table `t`
    let StreamSetup { client: db, slot, mut stream, .. } =
        setup_stream("repl_dml", "dml_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(10)).await;
    // WHEN a lone insert and then an insert/update/delete transaction commit
    db.batch_execute("INSERT INTO t VALUES (1, 'a', NULL)").await.unwrap();
    let replies = db
        .simple_query(
            "BEGIN; INSERT INTO t VALUES (2, 'two', 2.50); UPDATE t SET note = 'deux' WHERE id = 2; \
             DELETE FROM t WHERE id = 2; SELECT txid_current()::text; COMMIT;",
        )
        .await
        .unwrap();
    let expected_xid: u32 = replies
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v.parse().unwrap()),
            _ => None,
        })
        .unwrap();

    // THEN the first transaction is Begin, Relation, the insert with a NULL, Commit
    let first = next_transaction(&mut stream).await;
    assert!(matches!(first[0], PgOutputMessage::Begin { .. }), "{first:?}");
    let PgOutputMessage::Relation(rel) = &first[1] else { panic!("{first:?}") };
    assert_eq!((rel.namespace.as_str(), rel.name.as_str(), rel.replica_identity), ("public", "t", b'd'));
    let cols: Vec<(&str, bool, u32)> = rel.columns.iter().map(|c| (c.name.as_str(), c.is_key, c.type_oid)).collect();
    assert_eq!(cols, vec![("id", true, 23), ("note", false, 25), ("n", false, 1700)]);
    assert_eq!(
        first[2],
        PgOutputMessage::Insert {
            xid: None,
            relation_id: rel.relation_id,
            new: vec![text("1"), text("a"), TupleValue::Null]
        }
    );
    assert_eq!(first.len(), 4);

    // AND the second is insert, update, delete (key only) between a Begin and a Commit that agree
    let second = next_transaction(&mut stream).await;
    let PgOutputMessage::Begin { final_lsn, xid, commit_ts_us } = second[0] else { panic!("{second:?}") };
    let rel_id = rel.relation_id;
    assert_eq!(
        &second[1..4],
        &[
            PgOutputMessage::Insert { xid: None, relation_id: rel_id, new: vec![text("2"), text("two"), text("2.50")] },
            PgOutputMessage::Update {
                xid: None,
                relation_id: rel_id,
                old: None,
                new: vec![text("2"), text("deux"), text("2.50")]
            },
            PgOutputMessage::Delete {
                xid: None,
                relation_id: rel_id,
                old: OldTuple::Key(vec![text("2"), TupleValue::Null, TupleValue::Null])
            },
        ]
    );
    let PgOutputMessage::Commit { commit_lsn, end_lsn, commit_ts_us: commit_ts, .. } = second[4] else {
        panic!("{second:?}")
    };
    assert_eq!(commit_lsn, final_lsn);
    assert!(end_lsn > commit_lsn);
    assert_eq!(commit_ts, commit_ts_us);
    assert_eq!(xid, expected_xid);
    // Commit timestamps are Unix-epoch microseconds: within a minute of now.
    let now_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    assert!((now_us - commit_ts).abs() < 60_000_000, "commit ts {commit_ts} vs now {now_us}");
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn keepalive_reply_confirms_exactly_the_flushed_position() {
    // GIVEN a stream with a long status interval: only replies to the server's requests go out
    let StreamSetup { client: db, slot, mut stream, .. } =
        setup_stream("repl_keepalive", "ka_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(600))
            .await;
    db.batch_execute("INSERT INTO t VALUES (1, 'x', 1)").await.unwrap();
    let txn = next_transaction(&mut stream).await;
    let Some(PgOutputMessage::Commit { end_lsn, .. }) = txn.last().cloned() else { panic!("{txn:?}") };
    let initial = confirmed_flush(&db, &slot).await.unwrap();
    assert!(initial < end_lsn);

    // WHEN the commit is declared durable and the server asks for a reply (after
    // wal_sender_timeout / 2 without one)
    stream.set_flushed(end_lsn);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no keepalive requesting a reply");
        let msg = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap().unwrap();
        if let ReplicationMessage::Keepalive { reply_requested: true, wal_end, .. } = msg {
            assert!(wal_end >= end_lsn);
            break;
        }
    }
    // THEN the reply went out at once with exactly what was declared durable
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let confirmed = confirmed_flush(&db, &slot).await.unwrap();
        if confirmed == end_lsn {
            break;
        }
        assert!(confirmed < end_lsn, "slot confirmed {confirmed} beyond the flushed {end_lsn}");
        assert!(Instant::now() < deadline, "confirmed_flush_lsn stayed at {confirmed}, expected {end_lsn}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // AND answering every request keeps the connection past wal_sender_timeout
    let until = Instant::now() + Duration::from_secs(WAL_SENDER_TIMEOUT_S * 2);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Err(_) => {}
            Ok(r) => assert!(r.unwrap().is_some()),
        }
    }
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn periodic_status_advances_the_slot_without_server_requests() {
    // GIVEN a stream sending status every 300 ms
    let StreamSetup { client: db, slot, mut stream, .. } = setup_stream(
        "repl_periodic",
        "periodic_slot",
        StartOptions::new(vec!["pub_all".into()]),
        Duration::from_millis(300),
    )
    .await;
    db.batch_execute("INSERT INTO t VALUES (1, 'x', 1)").await.unwrap();
    let txn = next_transaction(&mut stream).await;
    let Some(PgOutputMessage::Commit { end_lsn, .. }) = txn.last().cloned() else { panic!("{txn:?}") };
    // WHEN the commit is declared durable and we only loop over next() for wal_sender_timeout
    stream.set_flushed(end_lsn);
    let until = Instant::now() + Duration::from_secs(WAL_SENDER_TIMEOUT_S);
    while Instant::now() < until {
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
            // THEN the server never has to ask for a reply
            if let Some(ReplicationMessage::Keepalive { reply_requested, .. }) = r.unwrap() {
                assert!(!reply_requested, "server had to ask despite periodic status updates");
            }
        }
    }
    // AND the slot confirmed the flushed position
    assert_eq!(confirmed_flush(&db, &slot).await, Some(end_lsn));
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn logical_decoding_messages_arrive_as_message() {
    // GIVEN a stream with messages enabled
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.messages = true;
    let StreamSetup { client: db, slot, mut stream, .. } =
        setup_stream("repl_messages", "msg_slot", options, Duration::from_secs(10)).await;
    // WHEN a transactional and a non-transactional message are emitted
    db.batch_execute("BEGIN; SELECT pg_logical_emit_message(true, 'pfx', 'hello'); COMMIT;").await.unwrap();
    db.batch_execute("SELECT pg_logical_emit_message(false, 'now', '\\x00ff'::bytea)").await.unwrap();

    // THEN the first comes inside Begin/Commit, the second on its own, with prefix and content
    let txn = next_transaction(&mut stream).await;
    assert_eq!(txn.len(), 3, "{txn:?}");
    let PgOutputMessage::Message { xid, transactional, prefix, content, lsn } = &txn[1] else { panic!("{txn:?}") };
    assert_eq!((xid, *transactional, prefix.as_str(), &content[..]), (&None, true, "pfx", &b"hello"[..]));
    assert!(*lsn > Lsn::ZERO);
    let mut in_stream = false;
    let lone = next_pgoutput(&mut stream, &mut in_stream).await;
    let PgOutputMessage::Message { transactional, prefix, content, .. } = lone else { panic!("{lone:?}") };
    assert_eq!((transactional, prefix.as_str(), &content[..]), (false, "now", &[0x00, 0xff][..]));
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn transaction_larger_than_decoding_memory_is_streamed_in_blocks() {
    // GIVEN a protocol-v2 stream with streaming on and logical_decoding_work_mem = 64kB
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.proto_version = 2;
    options.streaming = Streaming::On;
    let StreamSetup { client: db, slot, mut stream, .. } =
        setup_stream("repl_streaming", "stream_slot", options, Duration::from_secs(10)).await;
    // WHEN one transaction writes ~3000 × 200 bytes, far above that
    const ROWS: i32 = 3000;
    db.batch_execute(&format!("INSERT INTO t SELECT g, repeat('x', 200), g FROM generate_series(1, {ROWS}) g"))
        .await
        .unwrap();

    // THEN it arrives in several Stream Start/Stop blocks, every change carrying the xid,
    // and ends with a Stream Commit of that xid
    let msgs = next_transaction(&mut stream).await;
    let PgOutputMessage::StreamStart { xid, first_segment: true } = msgs[0] else { panic!("{:?}", &msgs[..2]) };
    let starts = msgs.iter().filter(|m| matches!(m, PgOutputMessage::StreamStart { .. })).count();
    let stops = msgs.iter().filter(|m| matches!(m, PgOutputMessage::StreamStop)).count();
    assert!(starts >= 2, "expected several stream blocks, got {starts}");
    assert_eq!(starts, stops);
    let inserts: Vec<&PgOutputMessage> = msgs.iter().filter(|m| matches!(m, PgOutputMessage::Insert { .. })).collect();
    assert_eq!(inserts.len(), ROWS as usize);
    for m in &inserts {
        let PgOutputMessage::Insert { xid: Some(x), .. } = m else { panic!("insert without xid: {m:?}") };
        assert_eq!(*x, xid);
    }
    assert!(msgs.iter().any(|m| matches!(m, PgOutputMessage::Relation(r) if r.xid == Some(xid))));
    let Some(PgOutputMessage::StreamCommit { xid: commit_xid, end_lsn, .. }) = msgs.last() else { panic!() };
    assert_eq!(*commit_xid, xid);
    assert!(*end_lsn > Lsn::ZERO);
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn shutdown_releases_the_slot_and_finish_returns_to_commands() {
    // GIVEN a running stream
    let StreamSetup { db: test_db, client: db, slot, stream } =
        setup_stream("repl_shutdown", "shut_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(10))
            .await;
    // WHEN it is finished THEN the same connection is back in the command phase
    let mut client = stream.finish().await.unwrap();
    assert!(client.identify_system().await.is_ok());
    client.close().await.unwrap();
    // AND the slot becomes inactive
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let active: bool = db
            .query_one("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .unwrap()
            .get(0);
        if !active {
            break;
        }
        assert!(Instant::now() < deadline, "slot still active after shutdown");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // AND a new stream can take it
    let again = connect(&test_db)
        .await
        .start_replication(&slot, Lsn::ZERO, &StartOptions::new(vec!["pub_all".into()]))
        .await
        .unwrap();
    again.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

/// `server_version_num` of the shared cluster.
async fn server_version_num() -> u32 {
    let server = PgServer::shared();
    let (client, conn) = tokio_postgres::connect(&server.conn_str("postgres"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let row = client.query_one("SELECT current_setting('server_version_num')::int", &[]).await.unwrap();
    u32::try_from(row.get::<_, i32>(0)).unwrap()
}

/// Messages up to and including the first one `last` accepts; tracks stream blocks.
async fn messages_until(stream: &mut BoxStream, last: impl Fn(&PgOutputMessage) -> bool) -> Vec<PgOutputMessage> {
    let mut in_stream = false;
    let mut out = Vec::new();
    loop {
        let m = next_pgoutput(stream, &mut in_stream).await;
        let end = last(&m);
        out.push(m);
        if end {
            return out;
        }
    }
}

/// GIVEN a stream started with `options` (streaming on or parallel) and logical_decoding_work_mem = 64kB,
/// WHEN a large transaction rolls back a large savepoint and commits, then another large one aborts,
/// THEN the first is streamed in blocks with a Stream Abort of the subtransaction and a Stream Commit,
/// the second ends with a Stream Abort of its own xid, and the abort LSN and time are present exactly
/// when `parallel` was requested (protocol 4, PostgreSQL 16+).
async fn streamed_commit_and_aborts(options: StartOptions) {
    let parallel = options.streaming == Streaming::Parallel;
    let StreamSetup { client: db, slot, mut stream, .. } =
        setup_stream("repl_stream_abort", "stream_abort_slot", options, Duration::from_secs(10)).await;
    let before = db.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap();
    let before: Lsn = before.get::<_, String>(0).parse().unwrap();
    let big = |from: i32| {
        format!("INSERT INTO t SELECT g, repeat('x', 200), g FROM generate_series({from}, {}) g", from + 599)
    };
    db.batch_execute(&format!(
        "BEGIN; {}; SAVEPOINT s1; {}; ROLLBACK TO SAVEPOINT s1; {}; COMMIT",
        big(1),
        big(1001),
        big(2001)
    ))
    .await
    .unwrap();
    db.batch_execute(&format!("BEGIN; {}; ROLLBACK", big(5001))).await.unwrap();

    // The committed one: stream blocks, the savepoint's abort, the commit.
    let mut committed = messages_until(&mut stream, |m| matches!(m, PgOutputMessage::StreamCommit { .. })).await;
    // PostgreSQL 14 also sends the setup's DDL transactions, empty (see `next_transaction`).
    let first = committed.iter().position(|m| matches!(m, PgOutputMessage::StreamStart { .. })).unwrap_or(0);
    let empty = committed
        .drain(..first)
        .filter(|m| !matches!(m, PgOutputMessage::Begin { .. } | PgOutputMessage::Commit { .. }));
    assert_eq!(empty.count(), 0, "only empty transactions before the streamed one");
    let PgOutputMessage::StreamStart { xid, first_segment: true } = committed[0] else {
        panic!("{:?}", &committed[..2])
    };
    let Some(&PgOutputMessage::StreamCommit { xid: commit_xid, commit_lsn, commit_ts_us, .. }) = committed.last()
    else {
        unreachable!()
    };
    assert_eq!(commit_xid, xid);
    let sub_aborts: Vec<_> = committed
        .iter()
        .filter_map(|m| match *m {
            PgOutputMessage::StreamAbort { xid: x, subxid, abort_lsn, abort_ts_us } => {
                Some((x, subxid, abort_lsn, abort_ts_us))
            }
            _ => None,
        })
        .collect();
    assert_eq!(sub_aborts.len(), 1, "one Stream Abort for the rolled-back savepoint: {sub_aborts:?}");
    let (top, subxid, abort_lsn, abort_ts) = sub_aborts[0];
    assert_eq!(top, xid);
    assert_ne!(subxid, xid, "the savepoint's abort names its subtransaction");
    assert_eq!((abort_lsn.is_some(), abort_ts.is_some()), (parallel, parallel), "abort LSN/time only with 'parallel'");
    if let (Some(lsn), Some(ts)) = (abort_lsn, abort_ts) {
        assert!(
            before < lsn && lsn < commit_lsn,
            "savepoint abort at {lsn}: between {before} and the commit {commit_lsn}"
        );
        assert!(ts <= commit_ts_us && commit_ts_us - ts < 60_000_000, "abort time {ts}, commit time {commit_ts_us}");
    }
    // Inside stream blocks each change carries the xid of the (sub)transaction that made it: the
    // savepoint's inserts carry its subxid, the rest the top-level xid or the later savepoint's.
    let inserts: Vec<(u32, i32)> = committed
        .iter()
        .filter_map(|m| match m {
            PgOutputMessage::Insert { xid: Some(x), new, .. } => match &new[0] {
                TupleValue::Text(id) => Some((*x, std::str::from_utf8(id).ok()?.parse().ok()?)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let (dropped, kept): (Vec<_>, Vec<_>) = inserts.iter().partition(|(x, _)| *x == subxid);
    assert!(dropped.iter().all(|(_, id)| (1001..=1600).contains(id)), "only the savepoint's rows carry its subxid");
    let mut kept: Vec<i32> = kept.iter().map(|(_, id)| *id).collect();
    kept.sort_unstable();
    assert_eq!(kept, (1..=600).chain(2001..=2600).collect::<Vec<_>>(), "every committed row was streamed once");

    // The aborted one: its own xid twice, after the commit.
    let aborted = messages_until(&mut stream, |m| matches!(m, PgOutputMessage::StreamAbort { .. })).await;
    let PgOutputMessage::StreamStart { xid: xid2, first_segment: true } = aborted[0] else {
        panic!("{:?}", &aborted[..2])
    };
    let Some(&PgOutputMessage::StreamAbort { xid: top2, subxid: sub2, abort_lsn, abort_ts_us }) = aborted.last() else {
        unreachable!()
    };
    assert_eq!((top2, sub2), (xid2, xid2), "a top-level abort names the transaction twice");
    assert_eq!(
        (abort_lsn.is_some(), abort_ts_us.is_some()),
        (parallel, parallel),
        "abort LSN/time only with 'parallel'"
    );
    if let (Some(lsn), Some(ts)) = (abort_lsn, abort_ts_us) {
        assert!(lsn > commit_lsn, "abort at {lsn} after the earlier commit at {commit_lsn}");
        assert!(ts >= commit_ts_us && ts - commit_ts_us < 60_000_000, "abort time {ts}, commit time {commit_ts_us}");
    }
    stream.shutdown().await.unwrap();
    drop_slot_when_released(&db, &slot).await;
}

#[tokio::test]
async fn negotiated_protocol_streams_savepoint_and_transaction_aborts() {
    // The options pgcdc itself starts with on this server: protocol 2 on 14–15, 4 on 16+,
    // streaming 'on' (no abort LSN/time in Stream Abort).
    let (proto_version, streaming) = capture::negotiate(server_version_num().await, true);
    assert_eq!(streaming, Streaming::On);
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.proto_version = proto_version;
    options.streaming = streaming;
    streamed_commit_and_aborts(options).await;
}

#[tokio::test]
async fn parallel_streaming_aborts_carry_lsn_and_time() {
    let version = server_version_num().await;
    if version < 160_000 {
        eprintln!("skipped: streaming 'parallel' needs PostgreSQL 16+ (server_version_num {version})");
        return;
    }
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.proto_version = 4;
    options.streaming = Streaming::Parallel;
    streamed_commit_and_aborts(options).await;
}
