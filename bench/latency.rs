//! Fixed-rate latency, open loop: a paced writer commits a small transaction every 5 ms on a fixed
//! schedule (it does not wait for the pipeline; a late tick is issued at once), each row carrying the
//! tick's `seq`. Latency = consumer receive time − the writer's commit-acknowledged time of that tick.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;

use crate::daemon::{ConnectorSpec, Daemon};
use crate::infra::Broker;
use crate::kafka::{create_topic, now_us, Counter};
use crate::load::DB;
use crate::report::Row;
use crate::runners::{eo_label, Ctx};

const TICK: Duration = Duration::from_millis(5);
const TABLE: &str = "latency";

/// Runs every rate in `rates` (rows/s) for `secs` each through one pgcdc process.
pub async fn run(ctx: &mut Ctx, rates: &[u64], secs: u64, eo: bool) -> Vec<Row> {
    let system = eo_label(eo);
    let workload = |r: u64| format!("latency @ {r} rows/s");
    if let Some(why) = &ctx.pgcdc_unavailable {
        return rates
            .iter()
            .map(|r| Row::missing(&workload(*r), system, &format!("not available: {why}")))
            .collect();
    }
    match run_inner(ctx, rates, secs, eo).await {
        Ok(rows) => rows,
        Err(e) => rates
            .iter()
            .map(|r| Row::missing(&workload(*r), system, &format!("failed: {e:#}")))
            .collect(),
    }
}

async fn run_inner(ctx: &mut Ctx, rates: &[u64], secs: u64, eo: bool) -> Result<Vec<Row>> {
    let c = ctx.pg.client(DB).await?;
    let slot = ctx.next("lat_slot");
    let publication = format!("{TABLE}_pub");
    c.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, seq bigint NOT NULL, payload text NOT NULL);\
         DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '{publication}') THEN \
         CREATE PUBLICATION {publication} FOR TABLE {TABLE}; END IF; END $$;"
    ))
    .await?;
    c.query_one(
        "SELECT pg_create_logical_replication_slot($1, 'pgoutput')::text",
        &[&slot],
    )
    .await?;
    let broker = Broker::start()?;
    let prefix = ctx.next("l");
    let name = ctx.next("lat");
    let spec = ConnectorSpec {
        name: &name,
        pg_port: ctx.pg.port,
        dbname: DB,
        table: TABLE,
        slot: &slot,
        publication: &publication,
        topic_prefix: &prefix,
    };
    create_topic(&broker.bootstrap(), &spec.topic()).await?;
    let counter = std::sync::Arc::new(Counter::start(&broker.bootstrap(), &spec.topic(), true)?);
    let state_name = ctx.next("state");
    let (bin, bootstrap, sd) = (
        ctx.pgcdc_bin.clone(),
        broker.bootstrap(),
        ctx.work_dir.join(state_name),
    );
    let mut daemon =
        tokio::task::spawn_blocking(move || Daemon::start(&bin, &bootstrap, eo, &sd)).await??;
    daemon.register(&spec)?;
    // Warm-up row (seq 0): the connector is streaming once it arrives.
    c.execute(
        &format!("INSERT INTO {TABLE} (seq, payload) VALUES (0, 'warmup')"),
        &[],
    )
    .await?;
    let ctr = counter.clone();
    let (mut daemon, warm) = tokio::task::spawn_blocking(move || {
        let w = ctr.wait_for(1, Duration::from_secs(60), &mut || daemon.exited());
        (daemon, w)
    })
    .await?;
    if warm.is_none() {
        return Err(anyhow!(
            "warm-up event not seen within 60 s: {}",
            daemon.log_tail()
        ));
    }
    let insert = c
        .prepare(&format!(
            "INSERT INTO {TABLE} (seq, payload) SELECT $1::bigint, repeat(md5(g::text), 6) FROM generate_series(1, $2::bigint) g"
        ))
        .await?;
    let mut seq: i64 = 0;
    let mut total: u64 = 1;
    // Per rate: (first seq, last seq, rows, achieved seconds, CPU seconds).
    let mut phases = Vec::new();
    let mut commit_us: HashMap<i64, u64> = HashMap::new();
    for &rate in rates {
        let per_tick = (rate as f64 * TICK.as_secs_f64()).round().max(1.0) as i64;
        let ticks = secs * 1000 / TICK.as_millis() as u64;
        let first = seq + 1;
        let cpu0 = daemon.sampler.read().cpu_secs;
        let start = Instant::now();
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for _ in 0..ticks {
            interval.tick().await;
            seq += 1;
            c.execute(&insert, &[&seq, &per_tick]).await?;
            commit_us.insert(seq, now_us());
            total += per_tick as u64;
        }
        let elapsed = start.elapsed().as_secs_f64();
        phases.push((rate, first, seq, ticks * per_tick as u64, elapsed, cpu0));
        // Let this rate's events drain before the next rate starts.
        let ctr = counter.clone();
        let target = total;
        let (d, _) = tokio::task::spawn_blocking(move || {
            let w = ctr.wait_for(target, Duration::from_secs(60), &mut || daemon.exited());
            (daemon, w)
        })
        .await?;
        daemon = d;
        let cpu1 = daemon.sampler.read().cpu_secs;
        if let Some(p) = phases.last_mut() {
            p.5 = cpu1 - p.5;
        }
    }
    let got = counter.count();
    let seqs = counter.take_seqs();
    let stats = daemon.sampler.read();
    daemon.stop();
    let mut rows = Vec::new();
    for (rate, first, last, n, elapsed, cpu) in phases {
        let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
        let mut seen = 0u64;
        for (s, recv) in seqs.iter().filter(|(s, _)| *s >= first && *s <= last) {
            if let Some(commit) = commit_us.get(s) {
                h.saturating_record(recv.saturating_sub(*commit).max(1));
                seen += 1;
            }
        }
        let mut row = Row::new(&format!("latency @ {rate} rows/s"), eo_label(eo)).timed(
            n,
            elapsed,
            Some(cpu),
        );
        row.events_per_sec = Some(n as f64 / elapsed);
        let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
        if seen > 0 {
            row.latency_ms = Some([q(0.5), q(0.99), q(0.999)]);
        }
        row.peak_rss_mib = Some(stats.peak_rss as f64 / 1048576.0);
        row.note = format!(
            "{seen}/{n} received; {}-row txn every {} ms; commit → consumer",
            n / ((last - first + 1).max(1) as u64),
            TICK.as_millis()
        );
        rows.push(row);
    }
    if got < total {
        if let Some(r) = rows.last_mut() {
            r.note
                .push_str(&format!("; only {got}/{total} events arrived"));
        }
    }
    if let Some(r) = rows.last_mut() {
        r.slot_lag_bytes = crate::load::slot_lag(&ctx.pg, &slot).await.ok();
    }
    crate::load::drop_slot(&ctx.pg, &slot).await;
    Ok(rows)
}
