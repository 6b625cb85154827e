//! A mixed insert/update/delete load that survives faults, for the fault
//! tests: it reconnects when PostgreSQL restarts or cuts it off, and settles
//! the fate of a transaction whose COMMIT went unanswered from a ledger table
//! written in the same transaction.
//!
//! ```text
//!   BEGIN; INSERT/UPDATE/DELETE t (1–4 rows); INSERT INTO load_ledger(n); COMMIT
//!            │ ok ──────────────────────────────▶ expected[key] += changes
//!            │ error, connection lost ──reconnect──▶ n in load_ledger? ──yes──▶ expected += changes
//! ```
//!
//! `t` has REPLICA IDENTITY FULL, so each change of a key carries a value
//! unique for that key: `(op, version)`, where a delete carries the version
//! it removed. [`observed`] reads the same pairs back from Kafka.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::txlog::{read_topic_with, verify, Verdict};
use pgcdc::kafka::ClientSettings;
use super::TestDatabase;

/// Keys the load works on.
pub const KEYS: i64 = 40;

/// (op, version) of one change of a key.
pub type Change = (String, i64);
/// What the load committed, per key, in commit order.
pub type Expected = Arc<Mutex<BTreeMap<i64, Vec<Change>>>>;

/// A small xorshift generator: no dependency, seed printed for reruns.
pub struct Rng(pub u64);

impl Rng {
    /// Seeded from `$PGCDC_TEST_SEED` or the clock; prints the seed.
    pub fn seeded() -> Rng {
        let seed = std::env::var("PGCDC_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
        });
        println!("seed {seed} (PGCDC_TEST_SEED to replay)");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Creates the captured table `t` and the ledger (`load_ledger`).
pub async fn create_tables(db: &TestDatabase) {
    db.execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, version bigint NOT NULL, pad text);
         ALTER TABLE t REPLICA IDENTITY FULL;
         CREATE TABLE load_ledger (n bigint PRIMARY KEY);",
    )
    .await;
}

/// What the writer did.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Transactions committed.
    pub transactions: usize,
    /// Transactions that failed and were rolled back (connection lost before COMMIT).
    pub rolled_back: usize,
    /// COMMITs that went unanswered and were found committed in the ledger.
    pub commit_unknown_committed: usize,
    /// Reconnections.
    pub reconnects: usize,
}

/// A running load.
pub struct Load {
    /// Changes committed so far.
    pub expected: Expected,
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<LoadStats>,
}

impl Load {
    /// Start committing transactions on `db` until [`Load::stop`], on keys
    /// `0..KEYS` of an empty table.
    pub fn start(db: &TestDatabase, seed: u64) -> Load {
        Self::start_on(db, seed, 0)
    }

    /// Start on keys `first_key..first_key + KEYS` (none of them may exist
    /// yet): a second load on the same table uses keys of its own.
    pub fn start_on(db: &TestDatabase, seed: u64, first_key: i64) -> Load {
        let expected: Expected = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = tokio::spawn(write(db.conn_str(), expected.clone(), stop.clone(), seed, first_key));
        Load { expected, stop, handle }
    }

    /// [`Load::start`] over a connection string of its own, e.g. several
    /// hosts with `target_session_attrs=read-write` to follow a failover.
    pub fn start_conn(conn: String, seed: u64) -> Load {
        let expected: Expected = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = tokio::spawn(write(conn, expected.clone(), stop.clone(), seed, 0));
        Load { expected, stop, handle }
    }

    /// Changes committed so far, in total.
    pub fn committed(&self) -> usize {
        self.expected.lock().unwrap().values().map(Vec::len).sum()
    }

    /// Stop and return the statistics and everything committed.
    pub async fn stop(self) -> (LoadStats, BTreeMap<i64, Vec<Change>>) {
        self.stop.store(true, Ordering::Relaxed);
        let stats = self.handle.await.expect("load writer");
        let expected = self.expected.lock().unwrap().clone();
        (stats, expected)
    }
}

async fn connect(conn: &str, stop: &AtomicBool) -> Option<tokio_postgres::Client> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match tokio_postgres::connect(conn, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return Some(client);
            }
            Err(e) if Instant::now() > deadline => panic!("load writer cannot reconnect: {e}"),
            Err(_) if stop.load(Ordering::Relaxed) => return None,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// One transaction's outcome.
enum Outcome {
    Committed,
    RolledBack,
    /// COMMIT was sent but not answered.
    Unknown,
}

async fn run_tx(
    client: &mut tokio_postgres::Client,
    n: i64,
    ops: &[(i64, Change, &'static str)],
) -> Result<(), (bool, tokio_postgres::Error)> {
    let tx = client.transaction().await.map_err(|e| (false, e))?;
    for (id, (_, version), sql) in ops {
        let result = match *sql {
            "insert" => tx.execute("INSERT INTO t VALUES ($1, $2, repeat('x', 20))", &[id, version]).await,
            "delete" => tx.execute("DELETE FROM t WHERE id = $1", &[id]).await,
            _ => tx.execute("UPDATE t SET version = $2 WHERE id = $1", &[id, version]).await,
        };
        result.map_err(|e| (false, e))?;
    }
    tx.execute("INSERT INTO load_ledger VALUES ($1)", &[&n]).await.map_err(|e| (false, e))?;
    tx.commit().await.map_err(|e| (true, e))
}

async fn write(conn: String, expected: Expected, stop: Arc<AtomicBool>, seed: u64, first_key: i64) -> LoadStats {
    let mut stats = LoadStats::default();
    let Some(mut client) = connect(&conn, &stop).await else { return stats };
    let mut rng = Rng(seed | 1);
    let mut state: BTreeMap<i64, i64> = BTreeMap::new();
    let mut version = 0i64;
    // Ledger numbers and keys of this load never collide with another's.
    let mut n = first_key * 1_000_000_000;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let mut ops: Vec<(i64, Change, &'static str)> = Vec::new();
        let mut local = state.clone();
        for _ in 0..1 + rng.below(4) {
            let id = first_key + rng.below(KEYS as u64) as i64;
            version += 1;
            match local.get(&id).copied() {
                None => {
                    local.insert(id, version);
                    ops.push((id, ("c".into(), version), "insert"));
                }
                Some(current) if rng.below(4) == 0 => {
                    local.remove(&id);
                    ops.push((id, ("d".into(), current), "delete"));
                }
                Some(_) => {
                    local.insert(id, version);
                    ops.push((id, ("u".into(), version), "update"));
                }
            }
        }
        let outcome = match run_tx(&mut client, n, &ops).await {
            Ok(()) => Outcome::Committed,
            Err((at_commit, e)) => {
                // Server errors other than "shutting down / terminated"
                // (class 57) or connection exceptions (class 08) are bugs.
                if let Some(db) = e.as_db_error() {
                    let code = db.code().code();
                    if !code.starts_with("57") && !code.starts_with("08") {
                        panic!("load transaction failed: {e}");
                    }
                }
                stats.reconnects += 1;
                let Some(c) = connect(&conn, &stop).await else { break };
                client = c;
                if at_commit {
                    Outcome::Unknown
                } else {
                    Outcome::RolledBack
                }
            }
        };
        let committed = match outcome {
            Outcome::Committed => true,
            Outcome::RolledBack => false,
            Outcome::Unknown => {
                let row = client
                    .query_opt("SELECT 1 FROM load_ledger WHERE n = $1", &[&n])
                    .await
                    .expect("ledger lookup after reconnect");
                if row.is_some() {
                    stats.commit_unknown_committed += 1;
                }
                row.is_some()
            }
        };
        if !committed {
            stats.rolled_back += 1;
            continue;
        }
        state = local;
        stats.transactions += 1;
        {
            let mut e = expected.lock().unwrap();
            for (id, change, _) in ops {
                e.entry(id).or_default().push(change);
            }
        }
        tokio::time::sleep(Duration::from_millis(5 + rng.below(15))).await;
    }
    stats
}

/// The (id, (op, version)) pairs of the change topic, tombstones left out.
pub async fn observed(bootstrap: &str, topic: &str) -> Vec<(i64, Change)> {
    observed_with(&ClientSettings::new(bootstrap, Vec::new()), topic).await
}

/// [`observed`] with the given client settings (TLS, SASL).
pub async fn observed_with(client: &ClientSettings, topic: &str) -> Vec<(i64, Change)> {
    read_topic_with(client, topic)
        .await
        .iter()
        .filter_map(|r| {
            let value: Value = serde_json::from_slice(r.value.as_deref()?).expect("value JSON");
            let key: Value = serde_json::from_slice(r.key.as_deref()?).expect("key JSON");
            let p = if value.get("payload").is_some() { &value["payload"] } else { &value };
            let k = if key.get("payload").is_some() { &key["payload"] } else { &key };
            let op = p["op"].as_str()?.to_owned();
            let row = if op == "d" { &p["before"] } else { &p["after"] };
            Some((k["id"].as_i64()?, (op, row["version"].as_i64()?)))
        })
        .collect()
}

/// Polls until nothing is lost (or `timeout`), then looks once more after a
/// pause (so a late duplicate shows up too) and returns the verdict.
pub async fn settle(bootstrap: &str, topic: &str, expected: &BTreeMap<i64, Vec<Change>>, timeout: Duration) -> Verdict {
    settle_with(&ClientSettings::new(bootstrap, Vec::new()), topic, expected, timeout).await
}

/// [`settle`] with the given client settings (TLS, SASL).
pub async fn settle_with(client: &ClientSettings, topic: &str, expected: &BTreeMap<i64, Vec<Change>>, timeout: Duration) -> Verdict {
    let deadline = Instant::now() + timeout;
    loop {
        let v = verify(expected, &observed_with(client, topic).await);
        if v.lost == 0 || Instant::now() > deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            return verify(expected, &observed_with(client, topic).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// One line of numbers for the test output.
pub fn report(name: &str, stats: &LoadStats, expected: &BTreeMap<i64, Vec<Change>>, v: &Verdict) -> String {
    format!(
        "{name}: {} transactions ({} rolled back by the fault, {} unanswered commits found committed, {} reconnects), \
         {} changes committed; in kafka {}; lost {}, duplicated {}, out of order {}, unexpected {}",
        stats.transactions,
        stats.rolled_back,
        stats.commit_unknown_committed,
        stats.reconnects,
        expected.values().map(Vec::len).sum::<usize>(),
        v.observed,
        v.lost,
        v.duplicated,
        v.out_of_order,
        v.unexpected
    )
}
