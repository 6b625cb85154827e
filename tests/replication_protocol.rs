//! The replication connection against a real PostgreSQL 15: authentication,
//! replication commands, decoding of the stream, feedback and streaming of
//! large transactions.
//!
//! One throwaway cluster per test process (shared through a `OnceLock`);
//! each test has its own database, slot and publication, so they run in
//! parallel. A detached watchdog stops the cluster when the process exits.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pgcdc::config::Secret;
use pgcdc::error::{Classify, ErrorClass};
use pgcdc::lsn::Lsn;
use pgcdc::source::postgres::pgoutput::{self, OldTuple, PgOutputMessage, TupleValue};
use pgcdc::source::postgres::replication::{
    ReplicationClient, ReplicationConfig, ReplicationError, ReplicationMessage, ReplicationStream, SlotSnapshot,
    StartOptions, Streaming,
};
use tokio_postgres::NoTls;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The server asks for a reply after half of this without one.
const WAL_SENDER_TIMEOUT_S: u64 = 4;
const WAIT: Duration = Duration::from_secs(30);

type BoxStream = ReplicationStream<pgcdc::source::postgres::replication::BoxTransport>;

struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn as_postgres(args: &[&str]) {
    run(Command::new("runuser").args(["-u", "postgres", "--"]).args(args));
}

/// Starts PostgreSQL 15 on a free port, with users for every auth method.
fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let dir = PathBuf::from(format!("/tmp/pgcdc-repl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("chown").args(["postgres:postgres", dir.to_str().unwrap()]));
        let data = dir.join("data");
        let data_s = data.to_str().unwrap().to_owned();
        as_postgres(&[
            &format!("{PG_BIN}/initdb"),
            "-D",
            &data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "listen_addresses='127.0.0.1'\nport={port}\nunix_socket_directories='{data_s}'\n\
             wal_level=logical\nmax_replication_slots=40\nmax_wal_senders=40\nmax_connections=200\n\
             fsync=off\nsynchronous_commit=off\nfull_page_writes=off\n\
             logical_decoding_work_mem=64kB\nwal_sender_timeout={WAL_SENDER_TIMEOUT_S}s\n"
        );
        append(&data.join("postgresql.conf"), &conf);
        let hba = "local all all trust\n\
                   host all md5user 127.0.0.1/32 md5\n\
                   host replication md5user 127.0.0.1/32 md5\n\
                   host all scramuser 127.0.0.1/32 scram-sha-256\n\
                   host replication scramuser 127.0.0.1/32 scram-sha-256\n\
                   host all pwuser 127.0.0.1/32 password\n\
                   host replication pwuser 127.0.0.1/32 password\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host replication postgres 127.0.0.1/32 trust\n";
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        as_postgres(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            &data_s,
            "-l",
            &format!("{data_s}/server.log"),
            "-w",
            "start",
        ]);
        // Stop the cluster and remove it once this test process is gone.
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             runuser -u postgres -- {PG_BIN}/pg_ctl -D {data_s} stop -m immediate; rm -rf {dir}",
            pid = std::process::id(),
            dir = dir.display()
        );
        // Detached on purpose: it must outlive this process to stop the cluster.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("setsid")
            .args(["sh", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sql = "CREATE ROLE scramuser LOGIN REPLICATION PASSWORD 'scram-pw'; \
                   SET password_encryption = 'md5'; \
                   CREATE ROLE md5user LOGIN REPLICATION PASSWORD 'md5-pw'; \
                   CREATE ROLE pwuser LOGIN REPLICATION PASSWORD 'plain-pw';";
        as_postgres(&[&format!("{PG_BIN}/psql"), "-h", &data_s, "-p", &port.to_string(), "-c", sql]);
        Cluster { port }
    })
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A regular (non-replication) client as the superuser.
async fn sql_client(db: &str) -> tokio_postgres::Client {
    let conn_str = format!("host=127.0.0.1 port={} user=postgres dbname={db}", cluster().port);
    let (client, conn) = tokio_postgres::connect(&conn_str, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// Creates a database for one test and returns a client connected to it.
async fn fresh_db(name: &str) -> tokio_postgres::Client {
    let admin = sql_client("postgres").await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    sql_client(name).await
}

fn config(user: &str, password: Option<&str>, db: &str) -> ReplicationConfig {
    let mut c = ReplicationConfig::new("127.0.0.1", cluster().port, user, db);
    c.password = password.map(Secret::new);
    c.application_name = format!("test_{db}");
    c
}

async fn connect(db: &str) -> ReplicationClient {
    ReplicationClient::connect(&config("postgres", None, db)).await.unwrap()
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

/// Messages up to and including the next Commit (or Stream Commit).
async fn next_transaction(stream: &mut BoxStream) -> Vec<PgOutputMessage> {
    let mut in_stream = false;
    let mut out = Vec::new();
    loop {
        let m = next_pgoutput(stream, &mut in_stream).await;
        let end = matches!(m, PgOutputMessage::Commit { .. } | PgOutputMessage::StreamCommit { .. });
        out.push(m);
        if end {
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

/// Creates table `t`, publication `pub_all` and a slot; starts streaming.
async fn setup_stream(
    db_name: &str,
    slot: &str,
    options: StartOptions,
    status: Duration,
) -> (tokio_postgres::Client, BoxStream) {
    let db = fresh_db(db_name).await;
    let mut repl =
        ReplicationClient::connect(&ReplicationConfig { status_interval: status, ..config("postgres", None, db_name) })
            .await
            .unwrap();
    repl.create_logical_slot(slot, false, SlotSnapshot::NoExport).await.unwrap();
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, note text, n numeric); CREATE PUBLICATION pub_all FOR TABLE t;",
    )
    .await
    .unwrap();
    let stream = repl.start_replication(slot, Lsn::ZERO, &options).await.unwrap();
    (db, stream)
}

#[tokio::test]
async fn trust_auth_and_identify_system() {
    let _db = fresh_db("repl_identify").await;
    let mut repl = connect("repl_identify").await;
    assert!(repl.server_version() >= 150_000, "server_version {}", repl.server_version());
    let id = repl.identify_system().await.unwrap();
    assert_eq!(id.dbname.as_deref(), Some("repl_identify"));
    assert_eq!(id.timeline, 1);
    assert!(id.xlogpos > Lsn::ZERO);
    assert!(id.systemid.parse::<u64>().is_ok(), "systemid {:?}", id.systemid);
    repl.close().await.unwrap();
}

#[tokio::test]
async fn password_auth_methods() {
    let _db = fresh_db("repl_auth").await;
    for (user, pw) in [("md5user", "md5-pw"), ("scramuser", "scram-pw"), ("pwuser", "plain-pw")] {
        let mut repl = ReplicationClient::connect(&config(user, Some(pw), "repl_auth"))
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(repl.identify_system().await.unwrap().dbname.as_deref(), Some("repl_auth"));
        repl.close().await.unwrap();
    }
}

#[tokio::test]
async fn wrong_or_missing_password_is_a_fatal_auth_error() {
    let _db = fresh_db("repl_badauth").await;
    for user in ["scramuser", "md5user"] {
        let err = ReplicationClient::connect(&config(user, Some("wrong"), "repl_badauth")).await.err().unwrap();
        let ReplicationError::Server(server) = &err else { panic!("{user}: {err:?}") };
        assert_eq!(server.code, "28P01", "{user}: {server}");
        assert_eq!(err.class(), ErrorClass::Fatal);
        assert!(err.hint().unwrap().contains("password"));
    }
    let err = ReplicationClient::connect(&config("scramuser", None, "repl_badauth")).await.err().unwrap();
    assert!(matches!(err, ReplicationError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_slot_and_slot_in_use_are_classified() {
    let db = fresh_db("repl_slot_errors").await;
    db.batch_execute("CREATE PUBLICATION p FOR ALL TABLES").await.unwrap();
    let options = StartOptions::new(vec!["p".into()]);
    let err =
        connect("repl_slot_errors").await.start_replication("no_such_slot", Lsn::ZERO, &options).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("42704"), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Fatal);

    let mut repl = connect("repl_slot_errors").await;
    repl.create_logical_slot("busy_slot", false, SlotSnapshot::NoExport).await.unwrap();
    let first = repl.start_replication("busy_slot", Lsn::ZERO, &options).await.unwrap();
    let err =
        connect("repl_slot_errors").await.start_replication("busy_slot", Lsn::ZERO, &options).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("55006"), "{err:?}");
    assert!(err.hint().unwrap().contains("in use"));
    first.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_slot_exports_snapshot_and_drop_removes_it() {
    let db = fresh_db("repl_create_slot").await;
    let mut repl = connect("repl_create_slot").await;
    let before = repl.identify_system().await.unwrap().xlogpos;
    let slot = repl.create_logical_slot("export_slot", false, SlotSnapshot::Export).await.unwrap();
    assert_eq!(slot.slot_name, "export_slot");
    assert!(slot.consistent_point >= before, "{} < {before}", slot.consistent_point);
    let snapshot = slot.snapshot_name.clone().expect("exported snapshot");
    // The snapshot is importable while the creating connection is idle.
    let import = format!("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'; COMMIT");
    db.batch_execute(&import).await.unwrap();
    assert!(confirmed_flush(&db, "export_slot").await.is_some());
    let err = repl.create_logical_slot("export_slot", false, SlotSnapshot::NoExport).await.err().unwrap();
    assert_eq!(err.sqlstate(), Some("42710"));
    repl.drop_slot("export_slot", true).await.unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'export_slot'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn insert_update_delete_decode_in_order() {
    let (db, mut stream) =
        setup_stream("repl_dml", "dml_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(10)).await;
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

    // The first transaction: a lone insert with a NULL.
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

    // The second: insert, update, delete (key only) in one transaction.
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
}

#[tokio::test]
async fn keepalive_reply_confirms_the_flushed_position() {
    // A long status interval: only replies to the server's requests go out.
    let (db, mut stream) =
        setup_stream("repl_keepalive", "ka_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(600))
            .await;
    db.batch_execute("INSERT INTO t VALUES (1, 'x', 1)").await.unwrap();
    let txn = next_transaction(&mut stream).await;
    let Some(PgOutputMessage::Commit { end_lsn, .. }) = txn.last().cloned() else { panic!("{txn:?}") };
    let initial = confirmed_flush(&db, "ka_slot").await.unwrap();
    assert!(initial < end_lsn);

    stream.set_flushed(end_lsn);
    // Wait for the server to ask (after wal_sender_timeout / 2 without a reply).
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no keepalive requesting a reply");
        let msg = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap().unwrap();
        if let ReplicationMessage::Keepalive { reply_requested: true, wal_end, .. } = msg {
            assert!(wal_end >= end_lsn);
            break;
        }
    }
    // The reply went out at once with exactly what was declared durable.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let confirmed = confirmed_flush(&db, "ka_slot").await.unwrap();
        if confirmed == end_lsn {
            break;
        }
        assert!(confirmed < end_lsn, "slot confirmed {confirmed} beyond the flushed {end_lsn}");
        assert!(Instant::now() < deadline, "confirmed_flush_lsn stayed at {confirmed}, expected {end_lsn}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Answering every request keeps the connection past wal_sender_timeout.
    let until = Instant::now() + Duration::from_secs(WAL_SENDER_TIMEOUT_S * 2);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Err(_) => {}
            Ok(r) => assert!(r.unwrap().is_some()),
        }
    }
    stream.shutdown().await.unwrap();
}

#[tokio::test]
async fn periodic_status_advances_the_slot_without_requests() {
    let (db, mut stream) = setup_stream(
        "repl_periodic",
        "periodic_slot",
        StartOptions::new(vec!["pub_all".into()]),
        Duration::from_millis(300),
    )
    .await;
    db.batch_execute("INSERT INTO t VALUES (1, 'x', 1)").await.unwrap();
    let txn = next_transaction(&mut stream).await;
    let Some(PgOutputMessage::Commit { end_lsn, .. }) = txn.last().cloned() else { panic!("{txn:?}") };
    stream.set_flushed(end_lsn);
    // Loop over next() only; the server never has to ask for a reply.
    let until = Instant::now() + Duration::from_secs(WAL_SENDER_TIMEOUT_S);
    while Instant::now() < until {
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
            if let Some(ReplicationMessage::Keepalive { reply_requested, .. }) = r.unwrap() {
                assert!(!reply_requested, "server had to ask despite periodic status updates");
            }
        }
    }
    assert_eq!(confirmed_flush(&db, "periodic_slot").await, Some(end_lsn));
    stream.shutdown().await.unwrap();
}

#[tokio::test]
async fn logical_messages_arrive_as_message() {
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.messages = true;
    let (db, mut stream) = setup_stream("repl_messages", "msg_slot", options, Duration::from_secs(10)).await;
    db.batch_execute("BEGIN; SELECT pg_logical_emit_message(true, 'pfx', 'hello'); COMMIT;").await.unwrap();
    db.batch_execute("SELECT pg_logical_emit_message(false, 'now', '\\x00ff'::bytea)").await.unwrap();

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
}

#[tokio::test]
async fn big_transaction_is_streamed_in_blocks() {
    let mut options = StartOptions::new(vec!["pub_all".into()]);
    options.proto_version = 2;
    options.streaming = Streaming::On;
    let (db, mut stream) = setup_stream("repl_streaming", "stream_slot", options, Duration::from_secs(10)).await;
    const ROWS: i32 = 3000;
    // ~3000 × 200 bytes is far above logical_decoding_work_mem = 64kB.
    db.batch_execute(&format!("INSERT INTO t SELECT g, repeat('x', 200), g FROM generate_series(1, {ROWS}) g"))
        .await
        .unwrap();

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
}

#[tokio::test]
async fn shutdown_releases_the_slot_and_finish_allows_commands() {
    let (db, stream) =
        setup_stream("repl_shutdown", "shut_slot", StartOptions::new(vec!["pub_all".into()]), Duration::from_secs(10))
            .await;
    let mut client = stream.finish().await.unwrap();
    // Back in the command phase on the same connection.
    assert!(client.identify_system().await.is_ok());
    client.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let active: bool = db
            .query_one("SELECT active FROM pg_replication_slots WHERE slot_name = 'shut_slot'", &[])
            .await
            .unwrap()
            .get(0);
        if !active {
            break;
        }
        assert!(Instant::now() < deadline, "slot still active after shutdown");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The slot is free again: a new stream can take it.
    let again = connect("repl_shutdown")
        .await
        .start_replication("shut_slot", Lsn::ZERO, &StartOptions::new(vec!["pub_all".into()]))
        .await
        .unwrap();
    again.shutdown().await.unwrap();
}
