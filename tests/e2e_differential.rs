//! The randomized differential test: random tables and changes
//! (`support::differential`), captured by Debezium 3.6.3 (embedded engine,
//! `tests/debezium/run-oracle.sh`) and by pgcdc from the same WAL, compared
//! record by record under the conformance suite's normalisation.
//!
//! ```text
//!   seed ──▶ setup.sql ──▶ database ──▶ Debezium's slot + pgcdc's slot
//!            changes.sql ──▶ PostgreSQL ──▶ Debezium (JSONL) ─┐
//!                                       └─▶ pgcdc ─▶ Kafka ───┴─▶ compare_topics
//! ```
//!
//! Each seed also draws a connector option set (`differential::options`:
//! converters, handling modes, the unwrap transform, tombstones) that both
//! run with, and some seeds compare an initial snapshot instead of streaming
//! (`differential::snapshot_first`).
//!
//! `PGCDC_DIFF_SEEDS` chooses the seeds (`"1 2 3"`, `"1-50"`; default `1-3`),
//! `PGCDC_DIFF_TABLES` / `PGCDC_DIFF_STATEMENTS` the size of each scenario.
//! `scripts/differential.sh N` runs N seeds and prints what differed. A
//! failing seed's scenario is printed in full (and written under
//! `target/differential/`), to be kept as a golden scenario.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::support::differential::{generate, options, snapshot_first};
use crate::support::golden::{compare_topics, debezium_dir, rename_exact, run_like_psql};
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TASK_TIMEOUT: Duration = Duration::from_secs(60);
/// The prefix Debezium's topics get (pgcdc's own is renamed to it).
const DBZ_PREFIX: &str = "dbz";

fn seeds() -> Vec<u64> {
    let spec = std::env::var("PGCDC_DIFF_SEEDS").unwrap_or_else(|_| "1-3".to_owned());
    let mut out = Vec::new();
    for part in spec.split([' ', ',']).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u64>().expect("seed")..=b.parse::<u64>().expect("seed")),
            None => out.push(part.parse().expect("seed")),
        }
    }
    out
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Debezium's records from `run-oracle.sh`'s JSONL, grouped by topic.
fn by_topic(text: &str) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("oracle line is JSON");
        out.entry(v["topic"].as_str().unwrap_or_default().to_owned()).or_default().push(v);
    }
    out
}

/// Runs Debezium on `slot` with the seed's `options` until it has been idle
/// for 4 s; its records.
fn run_debezium(
    libs: &str,
    dir: &std::path::Path,
    (host, port, dbname): (String, u16, String),
    slot: &str,
    options: &[(String, String)],
) -> String {
    let props = dir.join("oracle.properties");
    let out = dir.join("debezium.jsonl");
    let mut text = format!(
        "name=diff\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n\
         offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore\n\
         offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n\
         database.hostname={}\ndatabase.port={}\ndatabase.user=postgres\ndatabase.password=postgres\n\
         database.dbname={}\ntopic.prefix={DBZ_PREFIX}\nplugin.name=pgoutput\nslot.name={slot}\n\
         publication.name=dbz_publication\nsnapshot.mode=no_data\n\
         key.converter.schemas.enable=true\nvalue.converter.schemas.enable=true\n",
        dir.join("offsets").display(),
        host,
        port,
        dbname
    );
    // java.util.Properties keeps the last value of a key (the seed's snapshot.mode).
    for (k, v) in options {
        text.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(&props, text).expect("oracle properties");
    let status = std::process::Command::new(debezium_dir().join("run-oracle.sh"))
        .args([props.to_str().unwrap_or_default(), out.to_str().unwrap_or_default(), "1000000", "4", "180"])
        .env("DEBEZIUM_LIBS", libs)
        .stderr(std::fs::File::create(dir.join("debezium.log")).expect("oracle log"))
        .status()
        .expect("run-oracle.sh");
    assert!(status.success(), "Debezium failed, see {}", dir.join("debezium.log").display());
    std::fs::read_to_string(&out).unwrap_or_default()
}

/// One seed: the differences (empty when pgcdc matches) and the number of
/// Debezium records compared.
async fn run_seed(libs: &str, seed: u64, tables: usize, statements: usize) -> (Vec<String>, usize) {
    let scenario = generate(seed, tables, statements);
    let mut options = options(seed);
    let snapshot = snapshot_first(seed);
    if snapshot {
        options.push(("snapshot.mode".to_owned(), "initial".to_owned()));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/differential/seed-{seed}"));
    std::fs::create_dir_all(&dir).expect("scenario dir");
    let _ = std::fs::remove_file(dir.join("offsets"));
    std::fs::write(dir.join("setup.sql"), &scenario.setup).expect("setup.sql");
    std::fs::write(dir.join("changes.sql"), &scenario.changes).expect("changes.sql");
    let listed: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
    std::fs::write(dir.join("options.properties"), listed.join("\n")).expect("options.properties");
    eprintln!("differential: seed {seed}: options {}", listed.join(" "));

    let db = PgServer::shared().create_database("diff").await;
    db.execute("CREATE EXTENSION IF NOT EXISTS hstore").await;
    run_like_psql(&db, &scenario.setup).await;
    let dbz_slot = unique_name("dbz");
    let pgcdc_slot = unique_name("slot");
    if snapshot {
        // Every row exists before the connectors start; each creates its slot
        // and reads the tables (`r` records).
        run_like_psql(&db, &scenario.changes).await;
    } else {
        db.execute(&format!("SELECT pg_create_logical_replication_slot('{dbz_slot}', 'pgoutput')")).await;
        // pgcdc's slot too exists before the changes, and pgcdc starts after them,
        // like Debezium: both decode the WAL with the catalog as it is at the end
        // (column defaults and NOT NULL are read from the catalog).
        db.execute(&format!("SELECT pg_create_logical_replication_slot('{pgcdc_slot}', 'pgoutput')")).await;
        run_like_psql(&db, &scenario.changes).await;
    }

    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("diff");
    let mut props = vec![("snapshot.mode", "no_data")];
    // The last value of a property wins (the seed's snapshot.mode).
    props.extend(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let config = connector_config(&db, &prefix, &pgcdc_slot, &props);
    let (code, body) = worker.register("diff", config).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("diff", "RUNNING", TASK_TIMEOUT).await;

    let (libs2, dir2, slot2, options2) = (libs.to_owned(), dir.clone(), dbz_slot.clone(), options.clone());
    let db_conn = (db.host.clone(), db.port, db.name.clone());
    let text = tokio::task::spawn_blocking(move || run_debezium(&libs2, &dir2, db_conn, &slot2, &options2))
        .await
        .expect("oracle");
    let mut expected = by_topic(&text);
    // The database name (add.fields/add.headers `db`) as compare_topics renames pgcdc's.
    for records in expected.values_mut() {
        records.iter_mut().for_each(|r| *r = rename_exact(r, &db.name, DBZ_PREFIX));
    }
    let records = expected.values().map(Vec::len).sum();
    let mut mismatches = compare_topics(broker, &prefix, DBZ_PREFIX, &db.name, &expected).await;
    if records == 0 {
        mismatches.push("Debezium wrote no record".to_owned());
    }
    db.execute(&format!("SELECT pg_drop_replication_slot('{dbz_slot}')")).await;
    if !mismatches.is_empty() {
        std::fs::write(dir.join("differences.txt"), mismatches.join("\n")).expect("differences.txt");
    }
    (mismatches, records)
}

/// GIVEN random tables and changes (several seeds), WHEN Debezium 3.6.3 and
/// pgcdc capture them from the same WAL, THEN every record is identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_scenarios_match_debezium() {
    let Ok(libs) = std::env::var("PGCDC_DEBEZIUM_LIBS") else {
        eprintln!("skipped: PGCDC_DEBEZIUM_LIBS is not set (scripts/install-deps.sh --debezium)");
        return;
    };
    let (tables, statements) = (env_usize("PGCDC_DIFF_TABLES", 3), env_usize("PGCDC_DIFF_STATEMENTS", 30));
    let mut failed = Vec::new();
    let mut total = 0;
    for seed in seeds() {
        let (mismatches, records) = run_seed(&libs, seed, tables, statements).await;
        total += records;
        eprintln!("differential: seed {seed}: {records} records, {} differences", mismatches.len());
        if !mismatches.is_empty() {
            let scenario = generate(seed, tables, statements);
            let listed: Vec<String> = options(seed).iter().map(|(k, v)| format!("{k}={v}")).collect();
            failed.push(format!(
                "seed {seed}: {} differences\n{}\n--- options\n{}\n--- setup.sql\n{}--- changes.sql\n{}",
                mismatches.len(),
                mismatches.join("\n"),
                listed.join("\n"),
                scenario.setup,
                scenario.changes
            ));
        }
    }
    eprintln!("differential: {} seeds, {total} records compared, {} seeds differ", seeds().len(), failed.len());
    assert!(failed.is_empty(), "pgcdc differs from Debezium 3.6.3:\n{}", failed.join("\n\n"));
}
