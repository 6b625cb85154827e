//! `pgcdc-bench`: the benchmark harness of issue 6.
//!
//! Starts its own PostgreSQL cluster and a fresh tansu broker per measurement, then runs:
//!
//! ```text
//!  backlog (slots created first, rows committed while nothing streams)
//!     ├─▶ pgcdc, exactly-once on / off  ──▶ Kafka ──▶ counting consumer (read_committed)
//!     ├─▶ pg_recvlogical (pgoutput) ──▶ /dev/null           — the walsender's own limit
//!     └─▶ Debezium 3.6.3 embedded engine ──▶ Kafka          — with --with-debezium
//!  broker ceiling: plain rdkafka producer, idempotent and transactional
//!  latency: paced open-loop writer at fixed rates → pgcdc → consumer, HDR percentiles
//!  snapshot: a table that exists before the connector ─▶ COPY TO STDOUT (the floor)
//!                                                     └▶ pgcdc snapshot.mode=initial, 1 and 2 threads
//! ```
//!
//! Prints one markdown table and writes `bench-results/<timestamp>.json`. Benchmarks are never
//! timed tests of the test suite; run it through `scripts/bench.sh`.

mod daemon;
mod infra;
mod kafka;
mod latency;
mod load;
mod report;
mod runners;
mod snapshot;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use load::Kind;
use report::Row;
use runners::Ctx;

#[derive(Parser, Debug, serde::Serialize)]
#[command(
    name = "pgcdc-bench",
    about = "pgcdc benchmarks against pg_recvlogical, the broker and Debezium"
)]
struct Args {
    /// Rows of the ~200 B backlog drain (and operations of the mixed set).
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Rows of the 4 KB-row backlog (default: rows / 10).
    #[arg(long)]
    large_rows: Option<u64>,
    /// Rows of the one-transaction workload (default: rows × 5, i.e. 5M at the default scale).
    #[arg(long)]
    txn_rows: Option<u64>,
    /// Rows of the table the snapshot workload reads (default: rows).
    #[arg(long)]
    snapshot_rows: Option<u64>,
    /// Latency workload rates, rows/s.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    rates: Vec<u64>,
    /// Seconds per latency rate.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Also drain the ~200 B backlog through Debezium 3.6.3 (tests/debezium/run-oracle.sh).
    #[arg(long)]
    with_debezium: bool,
    /// Workloads to run (comma-separated): small, large, mixed, txn, compression, ceiling, latency, snapshot,
    /// smt (the ~200 B drain with and without unwrap + InsertField + RegexRouter; not in the default set).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "small,large,mixed,txn,compression,ceiling,latency,snapshot"
    )]
    only: Vec<String>,
    /// The pgcdc binary (default: `pgcdc` next to this program).
    #[arg(long)]
    pgcdc_bin: Option<PathBuf>,
    /// Per-measurement time limit, seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Where the JSON result goes.
    #[arg(long, default_value = "bench-results")]
    out_dir: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let pgcdc_bin = match &args.pgcdc_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("pgcdc"),
    };
    let (nproc, cpu, ram) = infra::machine();
    let work_dir = std::env::temp_dir().join(format!("pgcdc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    eprintln!("[bench] starting PostgreSQL");
    let pg = tokio::task::spawn_blocking(infra::Postgres::start).await??;
    let pg_version = pg.version();
    pg.client("postgres")
        .await?
        .batch_execute(&format!("CREATE DATABASE {}", load::DB))
        .await?;
    let mut ctx = Ctx {
        pg,
        pgcdc_bin,
        pgcdc_unavailable: None,
        work_dir: work_dir.clone(),
        timeout: Duration::from_secs(args.timeout_secs),
        record_size: None,
        seq: 0,
        connector_extra: None,
    };
    if !ctx.pgcdc_bin.exists() {
        ctx.pgcdc_unavailable = Some(format!("{} not found", ctx.pgcdc_bin.display()));
    }
    let wants = |w: &str| args.only.iter().any(|o| o == w);
    let mut rows: Vec<Row> = Vec::new();

    let backlogs: [(Kind, &str, u64, &str); 4] = [
        (Kind::Small, "small", args.rows, "drain ~200 B rows"),
        (
            Kind::Large,
            "large",
            args.large_rows.unwrap_or((args.rows / 10).max(1000)),
            "drain 4 KB rows",
        ),
        (
            Kind::Mixed,
            "mixed",
            args.rows,
            "drain mixed 50/30/20 ins/upd/del",
        ),
        (
            Kind::OneTxn,
            "txn",
            args.txn_rows.unwrap_or(args.rows * 5),
            "one big transaction",
        ),
    ];
    for (kind, key, n, label) in backlogs {
        if !wants(key) {
            continue;
        }
        let dbz = args.with_debezium && kind == Kind::Small;
        let mut slots = vec![
            format!("{key}_recv"),
            format!("{key}_eo"),
            format!("{key}_alo"),
        ];
        if dbz {
            slots.push(format!("{key}_dbz"));
        }
        eprintln!("[bench] {label}: loading {n} rows");
        let backlog = load::prepare(&ctx.pg, kind, n, &slots)
            .await
            .with_context(|| format!("loading {label}"))?;
        let workload = format!("{label} ({} events)", backlog.events);
        eprintln!(
            "[bench] {label}: loaded in {:.1} s, end lsn {}",
            backlog.load_secs, backlog.end_lsn
        );
        eprintln!("[bench] {label}: pg_recvlogical");
        rows.push(runners::recvlogical_drain(&ctx, &workload, &backlog, &slots[0]).await);
        for (i, eo) in [(1, true), (2, false)] {
            eprintln!("[bench] {label}: {}", runners::eo_label(eo));
            // Restart → first event once, on the exactly-once run (its extra row also lands in the
            // later slots' backlogs, after their end position).
            let restart = kind == Kind::Small && eo;
            rows.extend(
                runners::pgcdc_drain(&mut ctx, &workload, &backlog, &slots[i], eo, restart, None)
                    .await,
            );
        }
        if dbz {
            eprintln!("[bench] {label}: Debezium");
            rows.push(runners::debezium_drain(&mut ctx, &workload, &backlog, &slots[3]).await);
        }
        for s in &slots {
            load::drop_slot(&ctx.pg, s).await;
        }
        print_progress(&rows);
    }

    if wants("smt") {
        // The same ~200 B backlog drained at-least-once without transforms and with a
        // three-transform chain (unwrap + InsertField + RegexRouter keeping the topic name).
        let slots = ["smt_plain".to_owned(), "smt_chain".to_owned()];
        let label = "drain ~200 B rows, transform chain";
        eprintln!("[bench] {label}: loading {} rows", args.rows);
        let backlog = load::prepare(&ctx.pg, Kind::Small, args.rows, &slots)
            .await
            .with_context(|| format!("loading {label}"))?;
        let workload = format!("{label} ({} events)", backlog.events);
        eprintln!("[bench] {label}: no transforms");
        rows.extend(runners::pgcdc_drain(&mut ctx, &workload, &backlog, &slots[0], false, false, None).await);
        ctx.connector_extra = Some((
            "unwrap + InsertField + RegexRouter",
            vec![
                ("transforms", "unwrap,insert,route".to_owned()),
                ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState".to_owned()),
                ("transforms.insert.type", "org.apache.kafka.connect.transforms.InsertField$Value".to_owned()),
                ("transforms.insert.static.field", "origin".to_owned()),
                ("transforms.insert.static.value", "pgcdc".to_owned()),
                ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter".to_owned()),
                ("transforms.route.regex", "(.*)\\.public\\.(.*)".to_owned()),
                ("transforms.route.replacement", "$1.public.$2".to_owned()),
            ],
        ));
        eprintln!("[bench] {label}: unwrap + InsertField + RegexRouter");
        rows.extend(runners::pgcdc_drain(&mut ctx, &workload, &backlog, &slots[1], false, false, None).await);
        ctx.connector_extra = None;
        for s in &slots {
            load::drop_slot(&ctx.pg, s).await;
        }
        print_progress(&rows);
    }

    if wants("compression") {
        // The same ~200 B backlog drained exactly-once with each producer compression, one slot
        // each; bytes = what pgcdc handed to its sockets (nearly all to the broker).
        let codecs = ["none", "lz4", "zstd", "snappy", "gzip"];
        let slots: Vec<String> = codecs.iter().map(|c| format!("cmp_{c}")).collect();
        let label = "drain ~200 B rows, by compression.type";
        eprintln!("[bench] {label}: loading {} rows", args.rows);
        let backlog = load::prepare(&ctx.pg, Kind::Small, args.rows, &slots)
            .await
            .with_context(|| format!("loading {label}"))?;
        let workload = format!("{label} ({} events)", backlog.events);
        for (codec, slot) in codecs.iter().zip(&slots) {
            eprintln!("[bench] {label}: {codec}");
            rows.extend(
                runners::pgcdc_drain(&mut ctx, &workload, &backlog, slot, true, false, Some(codec))
                    .await,
            );
        }
        for s in &slots {
            load::drop_slot(&ctx.pg, s).await;
        }
        print_progress(&rows);
    }

    if wants("ceiling") {
        let (size, how) = match ctx.record_size {
            Some(s) if s > 0.0 => (
                s.round() as usize,
                "mean size of the ~200 B drain's records",
            ),
            _ => (
                1400,
                "1400 B: estimated size of a ~200 B row's JSON envelope (no drain measured)",
            ),
        };
        for (label, batch) in [
            ("idempotent", None),
            ("transactional, 10k per txn", Some(10_000u64)),
        ] {
            eprintln!("[bench] broker ceiling: {label}");
            let system = format!("rdkafka producer ({label})");
            let workload = format!("broker ceiling ({} × {size} B)", args.rows);
            let row = match broker_ceiling(args.rows, size, batch).await {
                Ok(c) => Row::timed(
                    Row::new(&workload, &system),
                    args.rows,
                    c.secs,
                    Some(c.cpu_secs),
                )
                .with_note(&format!("{how}; CPU of the producer process")),
                Err(e) => Row::missing(&workload, &system, &format!("failed: {e:#}")),
            };
            rows.push(row);
        }
    }

    if wants("latency") {
        let size = ctx
            .record_size
            .filter(|s| *s > 0.0)
            .map_or(1400, |s| s.round() as usize);
        eprintln!("[bench] latency: broker floor");
        rows.extend(latency::broker_floor(&args.rates, args.latency_secs, size).await);
        for eo in [true, false] {
            eprintln!("[bench] latency: {}", runners::eo_label(eo));
            rows.extend(latency::run(&mut ctx, &args.rates, args.latency_secs, eo).await);
        }
    }
    if wants("snapshot") {
        let n = args.snapshot_rows.unwrap_or(args.rows);
        eprintln!("[bench] snapshot: loading {n} rows");
        let table = snapshot::prepare(&ctx, n)
            .await
            .context("loading the snapshot table")?;
        eprintln!(
            "[bench] snapshot: loaded in {:.1} s, {} blocks",
            table.load_secs, table.blocks
        );
        for readers in [1, 2] {
            eprintln!("[bench] snapshot: COPY TO STDOUT, {readers} connection(s)");
            rows.push(snapshot::copy_floor(&ctx, &table, readers).await);
        }
        for threads in [1, 2] {
            eprintln!("[bench] snapshot: pgcdc, snapshot.max.threads={threads}");
            rows.push(snapshot::pgcdc_snapshot(&mut ctx, &table, threads).await);
        }
        print_progress(&rows);
    }

    let now = chrono::Utc::now();
    let header = format!(
        "### pgcdc-bench {} — {nproc} CPUs ({cpu}), {ram:.0} GiB RAM, {pg_version}, tansu (memory storage), rows={}",
        now.format("%Y-%m-%d %H:%M UTC"),
        args.rows
    );
    let table = report::markdown(&header, &rows);
    println!("{table}");
    std::fs::create_dir_all(&args.out_dir)?;
    let path = args
        .out_dir
        .join(format!("{}.json", now.format("%Y%m%dT%H%M%SZ")));
    let json = serde_json::json!({
        "timestamp": now.to_rfc3339(),
        "machine": { "nproc": nproc, "cpu": cpu, "ram_gib": ram, "postgres": pg_version },
        "args": args,
        "rows": rows,
        "markdown": table,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    eprintln!("[bench] wrote {}", path.display());
    drop(ctx);
    eprintln!(
        "[bench] logs and configs of this run: {}",
        work_dir.display()
    );
    Ok(())
}

async fn broker_ceiling(n: u64, size: usize, batch: Option<u64>) -> Result<kafka::Ceiling> {
    let broker = infra::Broker::start()?;
    let topic = "ceiling";
    kafka::create_topic(&broker.bootstrap(), topic).await?;
    let bootstrap = broker.bootstrap();
    let c = tokio::task::spawn_blocking(move || {
        kafka::broker_ceiling(&bootstrap, topic, n, size, batch)
    })
    .await??;
    drop(broker);
    Ok(c)
}

fn print_progress(rows: &[Row]) {
    for r in rows.iter().rev().take(4).rev() {
        eprintln!(
            "[bench]   {} / {}: {} events/s, {}",
            r.workload,
            r.system,
            r.events_per_sec
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "–".into()),
            r.note
        );
    }
}

impl Row {
    fn with_note(mut self, note: &str) -> Row {
        self.note = note.to_owned();
        self
    }
}
