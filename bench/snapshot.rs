//! The initial snapshot: a table of ~200 B rows that exists before the connector does, read by a
//! plain COPY and by pgcdc.
//!
//! ```text
//!  snapshot_src (rows committed, then VACUUM FREEZE: no reader pays for hint bits)
//!     ├─▶ COPY (SELECT id, seq, payload FROM ONLY …) TO STDOUT ──▶ bytes counted, dropped
//!     │       — the floor of what reading the table costs: one connection, then two at once
//!     │         (one ctid block range each)
//!     └─▶ pgcdc run, connector registered with snapshot.mode=initial (it creates its slot, which
//!         exports the snapshot), snapshot.max.threads = 1 and 2, exactly-once
//!             ──▶ op r records ──▶ Kafka ──▶ counting consumer (read_committed)
//! ```
//!
//! Time: the COPY's first byte requested → its end; pgcdc's registration (POST /connectors) → the
//! last snapshot record at the consumer. Besides the measured process's own CPU, each row notes the
//! CPU the PostgreSQL server spent meanwhile (postmaster, live and reaped children), which is where
//! the COPY itself runs.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;

use crate::daemon::{secs_between, ConnectorSpec, Daemon};
use crate::infra::{proc_stats, Broker};
use crate::kafka::{create_topic, Counter};
use crate::load::{drop_slot, DB};
use crate::report::Row;
use crate::runners::Ctx;

/// The table every snapshot row reads.
const TABLE: &str = "snapshot_src";

/// Rows per INSERT while loading.
const LOAD_BATCH: u64 = 100_000;

/// The loaded table.
pub struct SnapshotTable {
    pub rows: u64,
    pub publication: String,
    /// `pg_relation_size`, in 8 KiB blocks and bytes.
    pub blocks: i64,
    pub bytes: i64,
    pub load_secs: f64,
}

impl SnapshotTable {
    /// The workload column of its rows.
    pub fn workload(&self) -> String {
        format!(
            "snapshot ~200 B rows ({} rows, {} blocks = {:.0} MiB)",
            self.rows,
            self.blocks,
            self.bytes as f64 / 1048576.0
        )
    }
}

/// Creates the table and its publication, commits `n` rows (the drain's ~200 B rows) and
/// vacuums it; no slot exists yet.
pub async fn prepare(ctx: &Ctx, n: u64) -> Result<SnapshotTable> {
    let c = ctx.pg.client(DB).await?;
    let publication = format!("{TABLE}_pub");
    c.batch_execute(&format!(
        "DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS {TABLE};\
         CREATE TABLE {TABLE} (id bigint PRIMARY KEY, seq bigint NOT NULL, payload text NOT NULL);\
         CREATE PUBLICATION {publication} FOR TABLE {TABLE};"
    ))
    .await
    .context("creating the table")?;
    let start = Instant::now();
    let mut lo = 1;
    while lo <= n {
        let hi = (lo + LOAD_BATCH - 1).min(n);
        c.batch_execute(&format!(
            "INSERT INTO {TABLE} SELECT g, g, repeat(md5(g::text), 6) FROM generate_series({lo}, {hi}) g"
        ))
        .await?;
        lo = hi + 1;
    }
    c.batch_execute(&format!("VACUUM (FREEZE, ANALYZE) {TABLE}"))
        .await
        .context("vacuuming the table")?;
    let load_secs = start.elapsed().as_secs_f64();
    let row = c
        .query_one(
            "SELECT pg_relation_size($1::text::regclass) / current_setting('block_size')::bigint, \
             pg_relation_size($1::text::regclass)",
            &[&TABLE],
        )
        .await?;
    Ok(SnapshotTable {
        rows: n,
        publication,
        blocks: row.get(0),
        bytes: row.get(1),
        load_secs,
    })
}

/// `COPY (SELECT …) TO STDOUT` of the whole table, the bytes counted and dropped: over one
/// connection, or split in `readers` block ranges (TID range scans, PostgreSQL 14+) read at once
/// over as many connections. CPU column: the backends that run the COPYs.
pub async fn copy_floor(ctx: &Ctx, t: &SnapshotTable, readers: usize) -> Row {
    let workload = t.workload();
    let system = if readers == 1 {
        "COPY (SELECT …) TO STDOUT → /dev/null".to_owned()
    } else {
        format!("{readers} × COPY (SELECT … WHERE ctid range) TO STDOUT → /dev/null")
    };
    match copy_floor_inner(ctx, t, readers, &workload, &system).await {
        Ok(r) => r,
        Err(e) => Row::missing(&workload, &system, &format!("failed: {e:#}")),
    }
}

/// The COPY statements of `readers` block ranges tiling a table of `blocks` blocks.
fn copy_statements(blocks: i64, readers: usize) -> Vec<String> {
    let select = format!("SELECT id, seq, payload FROM ONLY public.{TABLE}");
    if readers <= 1 {
        return vec![format!("COPY ({select}) TO STDOUT")];
    }
    let size = (blocks.max(1) as u64).div_ceil(readers as u64);
    (0..readers as u64)
        .map(|i| {
            let (lo, hi) = (i * size, (i + 1) * size);
            if i + 1 == readers as u64 {
                format!("COPY ({select} WHERE ctid >= '({lo},0)'::tid) TO STDOUT")
            } else {
                format!("COPY ({select} WHERE ctid >= '({lo},0)'::tid AND ctid < '({hi},0)'::tid) TO STDOUT")
            }
        })
        .collect()
}

/// Runs one COPY to its end: (bytes, rows).
async fn copy_count(client: &tokio_postgres::Client, sql: &str) -> Result<(u64, u64)> {
    let stream = client.copy_out(sql).await.context("COPY")?;
    futures::pin_mut!(stream);
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(data) = stream.next().await {
        let data = data.context("COPY")?;
        bytes += data.len() as u64;
        lines += data.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((bytes, lines))
}

async fn copy_floor_inner(
    ctx: &Ctx,
    t: &SnapshotTable,
    readers: usize,
    workload: &str,
    system: &str,
) -> Result<Row> {
    let mut clients = Vec::with_capacity(readers);
    let mut backends = Vec::with_capacity(readers);
    for _ in 0..readers {
        let c = ctx.pg.client(DB).await?;
        let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
        backends.push(u32::try_from(pid)?);
        clients.push(c);
    }
    let statements = copy_statements(t.blocks, readers);
    let backend_cpu = || -> Option<f64> {
        backends
            .iter()
            .map(|pid| proc_stats(*pid).map(|s| s.cpu_secs))
            .sum()
    };
    let self_cpu = || proc_stats(std::process::id()).map_or(0.0, |s| s.cpu_secs);
    let (server0, backend0, self0) = (ctx.pg.server_cpu(), backend_cpu(), self_cpu());
    let start = Instant::now();
    let copies = clients
        .iter()
        .zip(&statements)
        .map(|(c, sql)| copy_count(c, sql));
    let counts = futures::future::try_join_all(copies).await?;
    let secs = start.elapsed().as_secs_f64();
    let (server1, backend1, self1) = (ctx.pg.server_cpu(), backend_cpu(), self_cpu());
    let bytes: u64 = counts.iter().map(|c| c.0).sum();
    let lines: u64 = counts.iter().map(|c| c.1).sum();
    if lines != t.rows {
        return Err(anyhow!("COPY returned {lines} rows, expected {}", t.rows));
    }
    let backend_secs = backend0.zip(backend1).map(|(a, b)| b - a);
    let mut row = Row::new(workload, system).timed(lines, secs, backend_secs);
    let how = if readers == 1 {
        "one connection".to_owned()
    } else {
        format!("{readers} connections at once, one block range each")
    };
    row.note = format!(
        "{how}, tokio-postgres copy_out counting bytes; CPU = the COPY backends; {:.0} B/row of \
         COPY text; harness (client) {:.1} CPU-s/M; {}",
        bytes as f64 / lines.max(1) as f64,
        (self1 - self0) * 1e6 / lines.max(1) as f64,
        server_note(server0, server1, lines)
    );
    Ok(row)
}

/// "PostgreSQL server N CPU-s/M events" between two `server_cpu` readings.
fn server_note(before: Option<f64>, after: Option<f64>, events: u64) -> String {
    match before.zip(after) {
        Some((a, b)) if events > 0 => format!(
            "PostgreSQL server {:.1} CPU-s/M",
            (b - a) * 1e6 / events as f64
        ),
        _ => "PostgreSQL server CPU unknown".to_owned(),
    }
}

/// pgcdc's initial snapshot of the table with `threads` reading connections, exactly-once.
pub async fn pgcdc_snapshot(ctx: &mut Ctx, t: &SnapshotTable, threads: usize) -> Row {
    let workload = t.workload();
    let system = format!("pgcdc (exactly-once, snapshot.max.threads={threads})");
    if let Some(why) = &ctx.pgcdc_unavailable {
        return Row::missing(&workload, &system, &format!("not available: {why}"));
    }
    let slot = ctx.next("snap_slot");
    let result = pgcdc_snapshot_inner(ctx, t, threads, &workload, &system, &slot).await;
    drop_slot_when_released(ctx, &slot).await;
    match result {
        Ok(r) => r,
        Err(e) => {
            let why = format!("{e:#}");
            if why.contains("did not serve its REST API") {
                ctx.pgcdc_unavailable = Some(why.clone());
            }
            Row::missing(&workload, &system, &format!("not available: {why}"))
        }
    }
}

async fn pgcdc_snapshot_inner(
    ctx: &mut Ctx,
    t: &SnapshotTable,
    threads: usize,
    workload: &str,
    system: &str,
    slot: &str,
) -> Result<Row> {
    let broker = Broker::start()?;
    let prefix = ctx.next("s");
    let name = ctx.next("snap");
    let spec = ConnectorSpec {
        name: &name,
        pg_port: ctx.pg.port,
        dbname: DB,
        table: TABLE,
        slot,
        publication: &t.publication,
        topic_prefix: &prefix,
    };
    let topic = spec.topic();
    create_topic(&broker.bootstrap(), &topic).await?;
    let counter = Counter::start(&broker.bootstrap(), &topic, false)?;
    let state_name = ctx.next("state");
    let state_dir = ctx.work_dir.join(state_name);
    let bin = ctx.pgcdc_bin.clone();
    let bootstrap = broker.bootstrap();
    let mut daemon =
        tokio::task::spawn_blocking(move || Daemon::start(&bin, &bootstrap, true, &state_dir))
            .await??;
    let broker_pid = broker.pid();
    let others = |server: Option<f64>| OtherCpu {
        server,
        broker: proc_stats(broker_pid).map(|s| s.cpu_secs),
        harness: proc_stats(std::process::id()).map(|s| s.cpu_secs),
    };
    let cpu0 = others(ctx.pg.server_cpu());
    let start = Instant::now();
    daemon.register_with(
        &spec,
        &[
            ("snapshot.mode", "initial".to_owned()),
            ("snapshot.max.threads", threads.to_string()),
        ],
    )?;
    let rows = t.rows;
    let timeout = ctx.timeout;
    let (daemon, (last, counter)) = tokio::task::spawn_blocking(move || {
        let last = counter.wait_for(rows, timeout, &mut || daemon.exited());
        (daemon, (last, counter))
    })
    .await?;
    let stats = daemon.sampler.read();
    let cpu1 = others(ctx.pg.server_cpu());
    let Some(last) = last else {
        let got = counter.count();
        let tail = daemon.log_tail();
        daemon.stop();
        return Err(anyhow!(
            "saw {got} of {rows} snapshot records before the time limit; log: {tail}"
        ));
    };
    // Anything beyond the table's rows would be a duplicate: give it a moment to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = counter.count();
    daemon.stop();
    let mut row =
        Row::new(workload, system).timed(rows, secs_between(start, last), Some(stats.cpu_secs));
    row.peak_rss_mib = Some(stats.peak_rss as f64 / 1048576.0);
    let extra = if seen > rows {
        format!("; {} records beyond the table's rows", seen - rows)
    } else {
        String::new()
    };
    let first = counter.first().map_or_else(String::new, |f| {
        format!("first record after {:.2} s, ", secs_between(start, f))
    });
    row.note = format!(
        "{threads} reading connection{}; POST /connectors → last record, CPU from process start; {first}{}; \
         mean record {:.0} B; {}{extra}",
        if threads == 1 { "" } else { "s" },
        counter.steady_note(rows, last),
        counter.mean_size(),
        cpu0.note(&cpu1, rows),
    );
    drop(broker);
    Ok(row)
}

/// CPU seconds of the processes around pgcdc, read before and after a measurement.
struct OtherCpu {
    server: Option<f64>,
    broker: Option<f64>,
    /// This harness: the counting consumer reading the records back.
    harness: Option<f64>,
}

impl OtherCpu {
    /// "PostgreSQL server N, broker N, harness (consumer) N CPU-s/M" from `self` to `after`.
    fn note(&self, after: &OtherCpu, events: u64) -> String {
        let per_m = |a: Option<f64>, b: Option<f64>| {
            a.zip(b).filter(|_| events > 0).map_or_else(
                || "?".to_owned(),
                |(a, b)| format!("{:.1}", (b - a) * 1e6 / events as f64),
            )
        };
        format!(
            "CPU-s/M of the PostgreSQL server {}, the broker {}, the consumer (harness) {}",
            per_m(self.server, after.server),
            per_m(self.broker, after.broker),
            per_m(self.harness, after.harness)
        )
    }
}

/// Drops the connector's slot once its walsender is gone (the daemon was just stopped).
async fn drop_slot_when_released(ctx: &Ctx, slot: &str) {
    for _ in 0..50 {
        drop_slot(&ctx.pg, slot).await;
        let left = match ctx.pg.client(DB).await {
            Ok(c) => c
                .query_opt(
                    "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                    &[&slot],
                )
                .await
                .map(|r| r.is_some())
                .unwrap_or(false),
            Err(_) => false,
        };
        if !left {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
