//! Snapshots resumed after kill -9 while a writer updates, deletes and
//! re-inserts rows: replaying each topic gives the table (no row outlives
//! its delete), and after each key's last `op: r` come exactly the changes
//! committed after that row version. Every check reads Kafka through the
//! read_committed verifier.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::txlog::read_topic;
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(120);
const ROWS: i64 = 30_000;
const TABLES: [&str; 2] = ["a", "b"];

/// (op, version): `d` carries its old version where the table sends it
/// (REPLICA IDENTITY FULL), `None` under the primary key.
type Change = (String, Option<i64>);
/// Committed changes per (table, key), in commit order.
type History = BTreeMap<(String, i64), Vec<(String, i64)>>;

/// Each key's records in log order (tombstones left out).
async fn observed(bootstrap: &str, topic: &str) -> BTreeMap<i64, Vec<Change>> {
    let mut by_key: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    for record in read_topic(bootstrap, topic).await {
        let Some(value) = record.value.as_deref() else { continue };
        let v: Value = serde_json::from_slice(value).expect("value is JSON");
        let op = v["op"].as_str().expect("op").to_owned();
        let row = if op == "d" { &v["before"] } else { &v["after"] };
        let id = row["id"].as_i64().expect("id");
        by_key.entry(id).or_default().push((op, row["version"].as_i64()));
    }
    by_key
}

/// Single-row transactions on both tables until `stop`: updates, deletes,
/// re-inserts of deleted keys and inserts of new keys, each with a new
/// version. Returns every committed change.
fn spawn_writer(db: &TestDatabase, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<History> {
    let conn = db.conn_str();
    tokio::spawn(async move {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.expect("writer connects");
        tokio::spawn(connection);
        let committed: Arc<Mutex<History>> = Arc::default();
        let mut deleted: Vec<(String, i64)> = Vec::new();
        let (mut version, mut next_key, mut n) = (1_000_000i64, ROWS, 0u64);
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            version += 1;
            let table = TABLES[(n % 2) as usize];
            let id = ((n * 7919) % ROWS as u64) as i64 + 1;
            let change = match (n / 2) % 6 {
                0 => {
                    next_key += 1;
                    let sql = format!("INSERT INTO {table} VALUES ($1, $2, 'new')");
                    client.execute(&sql, &[&next_key, &version]).await.expect("insert");
                    Some((next_key, "c", version))
                }
                1 | 2 => {
                    let sql = format!("DELETE FROM {table} WHERE id = $1 RETURNING version");
                    let row = client.query_opt(&sql, &[&id]).await.expect("delete");
                    row.map(|r| {
                        deleted.push((table.to_owned(), id));
                        (id, "d", r.get(0))
                    })
                }
                3 if !deleted.is_empty() => {
                    // the same key again, as a service re-creating an entity
                    let (t, id) = deleted.swap_remove((n as usize / 12) % deleted.len());
                    let sql = format!("INSERT INTO {t} VALUES ($1, $2, 'again') ON CONFLICT DO NOTHING");
                    let inserted = client.execute(&sql, &[&id, &version]).await.expect("re-insert");
                    if inserted == 1 {
                        committed.lock().unwrap().entry((t, id)).or_default().push(("c".into(), version));
                    }
                    None
                }
                _ => {
                    let sql = format!("UPDATE {table} SET version = $2 WHERE id = $1");
                    let updated = client.execute(&sql, &[&id, &version]).await.expect("update");
                    (updated == 1).then_some((id, "u", version))
                }
            };
            if let Some((key, op, v)) = change {
                committed.lock().unwrap().entry((table.to_owned(), key)).or_default().push((op.into(), v));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let out = committed.lock().unwrap().clone();
        out
    })
}

/// One key: replaying `seen` gives `now` (the row's version in the table,
/// if it is there); with `exact`, after the last `r` come exactly the
/// changes committed after that version (or, with no `r`, the last changes).
fn check_key(key: &str, initial: bool, committed: &[(String, i64)], seen: &[Change], now: Option<i64>, exact: bool) -> Result<(), String> {
    let replayed = seen.iter().fold(None, |_, (op, v)| if op == "d" { None } else { *v });
    if replayed != now {
        return Err(format!("{key}: replaying gives {replayed:?}, the table has {now:?}; records {seen:?}, committed {committed:?}"));
    }
    if !exact {
        return Ok(());
    }
    let mut history: Vec<(String, i64)> = if initial { vec![("init".to_owned(), 0)] } else { Vec::new() };
    history.extend(committed.iter().cloned());
    let (rest, tail) = match seen.iter().rposition(|(op, _)| op == "r") {
        Some(last_r) => {
            let v = seen[last_r].1;
            let at = history
                .iter()
                .rposition(|(op, hv)| op != "d" && Some(*hv) == v)
                .ok_or_else(|| format!("{key}: snapshot row at version {v:?} never committed: {history:?}"))?;
            (&history[at + 1..], &seen[last_r + 1..])
        }
        None => (&history[history.len() - seen.len().min(history.len())..], seen),
    };
    let same = rest.len() == tail.len()
        && rest.iter().zip(tail).all(|((op, v), (sop, sv))| op == sop && sv.is_none_or(|sv| sv == *v));
    if !same {
        return Err(format!("{key}: after the last snapshot row got {tail:?}, committed {rest:?} (records {seen:?}, history {history:?})"));
    }
    Ok(())
}

/// Which occurrence (0-based) of `marker` in `log` the line `line` is.
fn log_index(log: &str, line: &str, marker: &str) -> usize {
    let at = line.as_ptr() as usize - log.as_ptr() as usize;
    log[..at].matches(marker).count()
}

/// The text without terminal colour codes.
fn plain(log: &str) -> String {
    regex::Regex::new("\x1b\\[[0-9;]*m").map(|r| r.replace_all(log, "").into_owned()).unwrap_or_default()
}

/// GIVEN two tables of ROWS rows (one REPLICA IDENTITY FULL, one by primary
/// key) and a writer changing both, WHEN the worker is killed once per entry
/// of `kills` (each while that table's snapshot is being read) and started
/// again, THEN every key adds up.
async fn resumed_snapshot(kills: &[&str]) {
    let db = PgServer::shared().create_database("snap_ghost").await;
    db.execute(&format!(
        "CREATE TABLE a (id bigint PRIMARY KEY, version bigint NOT NULL, pad text);
         ALTER TABLE a REPLICA IDENTITY FULL;
         CREATE TABLE b (id bigint PRIMARY KEY, version bigint NOT NULL, pad text);
         INSERT INTO a SELECT g, 0, repeat('x', 300) FROM generate_series(1, {ROWS}) g;
         INSERT INTO b SELECT g, 0, repeat('x', 300) FROM generate_series(1, {ROWS}) g;"
    ))
    .await;
    let broker = &Broker::dedicated();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&db, Arc::clone(&stop));
    let mut worker = Worker::start(broker).await;
    let (prefix, slot) = (unique_name("ghost"), unique_name("slot"));
    let props = [
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
        ("tombstones.on.delete", "false"),
        ("snapshot.max.threads", "2"),
        ("pgcdc.snapshot.chunk.blocks", "64"),
    ];
    let (code, body) = worker.register("ghost", connector_config(&db, &prefix, &slot, &props)).await;
    assert_eq!(code, 201, "{body}");
    let topic = |t: &str| format!("{prefix}.public.{t}");

    for (i, table) in kills.iter().enumerate() {
        // WHEN the worker is killed while its (i+1)-th snapshot pass reads
        // `table`: once two batches were committed after that pass began
        // whose offsets say it reads `table` (the first holds the pass's
        // start, the second its rows), read from the log so the kill
        // follows at once
        let deadline = Instant::now() + TIMEOUT;
        let marker = format!("table snapshot pass started table=public.{table} ");
        let reading = format!("snapshot_reading=\"public\".\"{table}\"");
        loop {
            let log = plain(&worker.log());
            let after_start = log.lines().skip_while(|l| !l.contains(&marker) || log_index(&log, l, &marker) < i);
            let committed = after_start.filter(|l| l.contains("batch durable") && l.contains(&reading)).count();
            if committed >= 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{table} was never read:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.kill9();
        let later = TABLES.iter().skip_while(|t| *t != table).nth(1);
        if let Some(later) = later {
            let read = read_topic(&broker.bootstrap, &topic(later)).await.len();
            assert_eq!(read, 0, "kill {i}: {later} was read already: the kill came after {table}; make the tables larger");
        }
        // while rows keep changing, and it comes back
        tokio::time::sleep(Duration::from_millis(1500)).await;
        worker.start_again().await;
    }
    let deadline = Instant::now() + TIMEOUT;
    while !plain(&worker.log()).contains("snapshot completed") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let committed = writer.await.expect("writer");
    let changes: usize = committed.values().map(Vec::len).sum();

    // THEN replaying each topic gives its table, and (one kill) each key's
    // records after its last snapshot row are exactly its later changes
    let exact = kills.len() == 1;
    let client = db.client().await;
    let deadline = Instant::now() + TIMEOUT;
    let errors = loop {
        let mut errors = Vec::new();
        for table in TABLES {
            let rows = client.query(&format!("SELECT id, version FROM {table}"), &[]).await.expect("final state");
            let now: BTreeMap<i64, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let seen = observed(&broker.bootstrap, &topic(table)).await;
            let keys: BTreeSet<i64> = seen
                .keys()
                .chain(now.keys())
                .copied()
                .chain(committed.keys().filter(|(t, _)| t == table).map(|(_, k)| *k))
                .collect();
            let none = Vec::new();
            for id in keys {
                let c = committed.get(&(table.to_owned(), id)).unwrap_or(&none);
                let s = seen.get(&id).map_or(&[][..], Vec::as_slice);
                if let Err(e) = check_key(&format!("{table} key {id}"), id <= ROWS, c, s, now.get(&id).copied(), exact) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() || Instant::now() > deadline {
            break errors;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let log = plain(&worker.log());
    let sent: usize = regex::Regex::new(r"changes sent for rows gone since an interrupted pass.* events=(\d+)")
        .expect("regex")
        .captures_iter(&log)
        .filter_map(|c| c[1].parse::<usize>().ok())
        .sum();
    println!("resumed snapshot, kills in {kills:?}: {changes} concurrent changes, {sent} changes sent for rows gone since an interrupted pass");
    assert!(errors.is_empty(), "{} keys wrong, e.g.:\n{}", errors.len(), errors.iter().take(8).cloned().collect::<Vec<_>>().join("\n"));
    assert!(sent > 0, "no row was deleted between the passes: the scenario did not test anything\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_killed_in_the_first_table_leaves_no_ghost_rows() {
    resumed_snapshot(&["a"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_killed_in_the_second_table_leaves_no_ghost_rows() {
    resumed_snapshot(&["b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_killed_twice_in_one_table_leaves_no_ghost_rows() {
    resumed_snapshot(&["a", "a"]).await;
}
