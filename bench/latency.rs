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
    // The cluster runs with synchronous_commit=off, under which a commit reaches the walsender only
    // when the WAL writer flushes it (up to wal_writer_delay = 200 ms later): the writer commits
    // synchronously (cheap with fsync=off) so latency is the pipeline's, not the WAL writer's.
    c.batch_execute("SET synchronous_commit = on").await?;
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

/// The broker's own latency floor at the same rates: a plain idempotent rdkafka producer
/// (`linger.ms=5`, like the daemon's) sends `{"seq":tick,…}` records of `size` bytes on the same
/// 5 ms schedule; latency = consumer receive time − enqueue time of the tick.
pub async fn broker_floor(rates: &[u64], secs: u64, size: usize) -> Vec<Row> {
    let system = "rdkafka producer → consumer (broker floor)";
    match broker_floor_inner(rates, secs, size).await {
        Ok(rows) => rows,
        Err(e) => rates
            .iter()
            .map(|r| {
                Row::missing(
                    &format!("latency @ {r} rows/s"),
                    system,
                    &format!("failed: {e:#}"),
                )
            })
            .collect(),
    }
}

async fn broker_floor_inner(rates: &[u64], secs: u64, size: usize) -> Result<Vec<Row>> {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

    let broker = Broker::start()?;
    let topic = "latency_floor";
    create_topic(&broker.bootstrap(), topic).await?;
    let counter = Counter::start(&broker.bootstrap(), topic, true)?;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let rates = rates.to_vec();
    let (rows, counter) = tokio::task::spawn_blocking(move || -> Result<(Vec<Row>, Counter)> {
        let pad = "x".repeat(size.saturating_sub(40));
        let mut seq: i64 = 0;
        let mut total = 0u64;
        let mut sent_us: HashMap<i64, u64> = HashMap::new();
        let mut phases = Vec::new();
        for &rate in &rates {
            let per_tick = (rate as f64 * TICK.as_secs_f64()).round().max(1.0) as u64;
            let ticks = secs * 1000 / TICK.as_millis() as u64;
            let first = seq + 1;
            let start = Instant::now();
            for i in 0..ticks {
                let due = start + TICK * i as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                seq += 1;
                let payload = format!("{{\"seq\":{seq},\"p\":\"{pad}\"}}");
                sent_us.insert(seq, now_us());
                for _ in 0..per_tick {
                    producer
                        .send(BaseRecord::<(), str>::to(topic).payload(payload.as_str()))
                        .map_err(|(e, _)| anyhow!("producing: {e}"))?;
                }
                total += per_tick;
            }
            phases.push((
                rate,
                first,
                seq,
                ticks * per_tick,
                start.elapsed().as_secs_f64(),
            ));
            producer.flush(Duration::from_secs(60))?;
            counter.wait_for(total, Duration::from_secs(60), &mut || false);
        }
        let seqs = counter.take_seqs();
        let mut rows = Vec::new();
        for (rate, first, last, n, elapsed) in phases {
            let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            for (s, recv) in seqs.iter().filter(|(s, _)| *s >= first && *s <= last) {
                if let Some(sent) = sent_us.get(s) {
                    h.saturating_record(recv.saturating_sub(*sent).max(1));
                }
            }
            let mut row = Row::new(
                &format!("latency @ {rate} rows/s"),
                "rdkafka producer → consumer (broker floor)",
            )
            .timed(n, elapsed, None);
            if !h.is_empty() {
                let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
                row.latency_ms = Some([q(0.5), q(0.99), q(0.999)]);
            }
            row.note = format!(
                "{}/{n} received; {size} B records, idempotent, linger 5 ms; send → consumer",
                h.len()
            );
            rows.push(row);
        }
        Ok((rows, counter))
    })
    .await??;
    drop(counter);
    drop(broker);
    Ok(rows)
}
