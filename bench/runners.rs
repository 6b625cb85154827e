//! The systems that drain a backlog: pgcdc (exactly-once on/off, plus restart → first event),
//! `pg_recvlogical` with pgoutput (the walsender's own limit) and Debezium 3.6.3's embedded engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::daemon::{secs_between, ConnectorSpec, Daemon};
use crate::infra::{Broker, Postgres, Sampler};
use crate::kafka::{create_topic, Counter};
use crate::load::{slot_lag, slot_reached, Backlog, DB};
use crate::report::Row;

/// Shared settings of a run.
pub struct Ctx {
    pub pg: Postgres,
    pub pgcdc_bin: PathBuf,
    /// Why pgcdc cannot run here (set after the first failed start).
    pub pgcdc_unavailable: Option<String>,
    pub work_dir: PathBuf,
    /// Per-drain time limit.
    pub timeout: Duration,
    /// Mean record size (key + value) seen from pgcdc or Debezium on the ~200 B drain.
    pub record_size: Option<f64>,
    pub seq: u64,
    /// Connector properties added to pgcdc's drains (a transform chain), with
    /// the label that names them in the system column.
    pub connector_extra: Option<(&'static str, Vec<(&'static str, String)>)>,
}

impl Ctx {
    pub fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{}", self.seq)
    }
}

pub fn eo_label(eo: bool) -> &'static str {
    if eo {
        "pgcdc (exactly-once)"
    } else {
        "pgcdc (at-least-once)"
    }
}

/// Waits up to 10 s for the slot to confirm `lsn`, then reads its lag.
async fn final_lag(pg: &Postgres, slot: &str, lsn: &str) -> Option<i64> {
    for _ in 0..100 {
        if slot_reached(pg, slot, lsn).await.unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    slot_lag(pg, slot).await.ok()
}

/// The system column of a pgcdc row: the guarantee, and the producers' compression when set.
fn system_label(eo: bool, compression: Option<&str>) -> String {
    match compression {
        Some(c) => format!("{}, compression.type={c}", eo_label(eo).trim_end_matches(')')) + ")",
        None => eo_label(eo).to_owned(),
    }
}

/// pgcdc drains `backlog` from `slot`; with `restart`, also measures restart → first event;
/// with `compression`, the worker's `[kafka.options]` set `compression.type` to it.
pub async fn pgcdc_drain(
    ctx: &mut Ctx,
    workload: &str,
    backlog: &Backlog,
    slot: &str,
    eo: bool,
    restart: bool,
    compression: Option<&str>,
) -> Vec<Row> {
    let system = &system_label(eo, compression);
    if let Some(why) = &ctx.pgcdc_unavailable {
        return vec![Row::missing(
            workload,
            system,
            &format!("not available: {why}"),
        )];
    }
    match pgcdc_drain_inner(ctx, workload, backlog, slot, eo, restart, compression).await {
        Ok(rows) => rows,
        Err(e) => {
            let why = format!("{e:#}");
            if why.contains("did not serve its REST API") {
                ctx.pgcdc_unavailable = Some(why.clone());
            }
            vec![Row::missing(
                workload,
                system,
                &format!("not available: {why}"),
            )]
        }
    }
}

async fn pgcdc_drain_inner(
    ctx: &mut Ctx,
    workload: &str,
    backlog: &Backlog,
    slot: &str,
    eo: bool,
    restart: bool,
    compression: Option<&str>,
) -> Result<Vec<Row>> {
    let mut system = system_label(eo, compression);
    if let Some((label, _)) = &ctx.connector_extra {
        system = format!("{}, {label})", system.trim_end_matches(')'));
    }
    let system = &system;
    let extra: Vec<(&str, String)> = ctx.connector_extra.as_ref().map(|(_, p)| p.clone()).unwrap_or_default();
    let options: Vec<(String, String)> = compression
        .map(|c| vec![("compression.type".to_owned(), c.to_owned())])
        .unwrap_or_default();
    let broker = Broker::start()?;
    let prefix = ctx.next("p");
    let name = ctx.next("conn");
    let spec = ConnectorSpec {
        name: &name,
        pg_port: ctx.pg.port,
        dbname: DB,
        table: &backlog.table,
        slot,
        publication: &backlog.publication,
        topic_prefix: &prefix,
    };
    let topic = spec.topic();
    create_topic(&broker.bootstrap(), &topic).await?;
    let counter = Counter::start(&broker.bootstrap(), &topic, false)?;
    let state_name = ctx.next("state");
    let state_dir = ctx.work_dir.join(state_name);
    let start = Instant::now();
    let bin = ctx.pgcdc_bin.clone();
    let bootstrap = broker.bootstrap();
    let sd = state_dir.clone();
    let opts = options.clone();
    let mut daemon = tokio::task::spawn_blocking(move || {
        Daemon::start_with(&bin, &bootstrap, eo, &sd, &opts)
    })
    .await??;
    daemon.register_with(&spec, &extra)?;
    let events = backlog.events;
    let timeout = ctx.timeout;
    let (daemon, last) = tokio::task::spawn_blocking(move || {
        let last = counter.wait_for(events, timeout, &mut || daemon.exited());
        (daemon, (last, counter))
    })
    .await?;
    let (last, counter) = last;
    let stats = daemon.sampler.read();
    let Some(last) = last else {
        let got = counter.count();
        let tail = daemon.log_tail();
        daemon.stop();
        return Err(anyhow!(
            "saw {got} of {events} events before the time limit; log: {tail}"
        ));
    };
    if backlog.kind == crate::load::Kind::Small {
        ctx.record_size = Some(counter.mean_size());
    }
    // What the consumer fetched = the batches as the producers wrote them (compressed or not).
    let fetched = tokio::task::block_in_place(|| counter.fetched_bytes());
    let mut row =
        Row::new(workload, system).timed(events, secs_between(start, last), Some(stats.cpu_secs));
    row.peak_rss_mib = Some(stats.peak_rss as f64 / 1048576.0);
    row.slot_lag_bytes = final_lag(&ctx.pg, slot, &backlog.end_lsn).await;
    row.note = format!(
        "from process start; {}; mean record {:.0} B; fetched from the broker {:.1} MiB ({:.0} B/event)",
        counter.steady_note(events, last),
        counter.mean_size(),
        fetched as f64 / 1048576.0,
        fetched as f64 / events.max(1) as f64
    );
    let mut rows = vec![row];
    if restart {
        daemon.stop();
        let c = ctx.pg.client(DB).await?;
        c.batch_execute(&format!(
            "INSERT INTO {t} VALUES (-1, -1, 'restart')",
            t = backlog.table
        ))
        .await?;
        let start = Instant::now();
        let bin = ctx.pgcdc_bin.clone();
        let bootstrap = broker.bootstrap();
        let mut daemon = tokio::task::spawn_blocking(move || {
            Daemon::start_with(&bin, &bootstrap, eo, &state_dir, &options)
        })
        .await??;
        let rest_up = start.elapsed().as_secs_f64();
        daemon.register_with(&spec, &extra)?;
        let (daemon, last) = tokio::task::spawn_blocking(move || {
            let last =
                counter.wait_for(events + 1, Duration::from_secs(60), &mut || daemon.exited());
            (daemon, last)
        })
        .await?;
        let mut row = Row::new("restart → first event", system);
        match last {
            Some(t) => {
                row.secs = Some(secs_between(start, t));
                row.events = 1;
                row.note = format!("process start → first new event; REST up after {rest_up:.2} s");
            }
            None => row.note = "no event within 60 s after restart".to_owned(),
        }
        daemon.stop();
        rows.push(row);
    } else {
        daemon.stop();
    }
    Ok(rows)
}

/// `pg_recvlogical` drains `backlog` from `slot` into /dev/null (pgoutput, proto 1).
pub async fn recvlogical_drain(ctx: &Ctx, workload: &str, backlog: &Backlog, slot: &str) -> Row {
    match recvlogical_inner(ctx, workload, backlog, slot).await {
        Ok(r) => r,
        Err(e) => Row::missing(workload, "pg_recvlogical", &format!("failed: {e:#}")),
    }
}

async fn recvlogical_inner(
    ctx: &Ctx,
    workload: &str,
    backlog: &Backlog,
    slot: &str,
) -> Result<Row> {
    let time_out = ctx.work_dir.join(format!("{slot}.time"));
    let time_bin = Path::new("/usr/bin/time");
    let mut cmd = if time_bin.exists() {
        let mut c = Command::new(time_bin);
        c.arg("-f")
            .arg("%e %U %S %M")
            .arg("-o")
            .arg(&time_out)
            .arg(ctx.pg.bin.join("pg_recvlogical"));
        c
    } else {
        Command::new(ctx.pg.bin.join("pg_recvlogical"))
    };
    let port = ctx.pg.port.to_string();
    let publication = format!("publication_names={}", backlog.publication);
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "postgres",
        "-d",
        DB,
        "--slot",
        slot,
        "--start",
        "--no-loop",
    ])
    .args([
        "-o",
        "proto_version=1",
        "-o",
        &publication,
        "-F",
        "1",
        "-s",
        "1",
        "-f",
        "/dev/null",
    ])
    .arg(format!("--endpos={}", backlog.end_lsn))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting pg_recvlogical")?;
    let deadline = start + ctx.timeout;
    let mut confirmed: Option<Instant> = None;
    let end = loop {
        if let Some(status) = child.try_wait()? {
            let t = Instant::now();
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                return Err(anyhow!(
                    "pg_recvlogical exited with {status}: {}",
                    err.trim()
                ));
            }
            break t;
        }
        if confirmed.is_none()
            && slot_reached(&ctx.pg, slot, &backlog.end_lsn)
                .await
                .unwrap_or(false)
        {
            confirmed = Some(Instant::now());
        }
        if let Some(c) = confirmed {
            if c.elapsed() > Duration::from_secs(3) {
                crate::infra::stop_child(&mut child, Duration::from_secs(5));
                break c;
            }
        }
        if Instant::now() > deadline {
            crate::infra::stop_child(&mut child, Duration::from_secs(5));
            return Err(anyhow!(
                "did not reach {} within {:?}",
                backlog.end_lsn,
                ctx.timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let secs = secs_between(start, end);
    let (cpu, rss) = match std::fs::read_to_string(&time_out) {
        Ok(t) => {
            let f: Vec<f64> = t
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (
                f.get(1).zip(f.get(2)).map(|(u, s)| u + s),
                f.get(3).map(|kb| kb / 1024.0),
            )
        }
        Err(_) => (None, None),
    };
    let mut row = Row::new(workload, "pg_recvlogical").timed(backlog.events, secs, cpu);
    row.peak_rss_mib = rss;
    row.slot_lag_bytes = slot_lag(&ctx.pg, slot).await.ok();
    row.note =
        "pgoutput → /dev/null, --endpos; CPU/RSS of pg_recvlogical, not the walsender".to_owned();
    Ok(row)
}

/// Debezium 3.6.3 (embedded engine, tests/debezium/DebeziumOracle.java) drains `backlog` to Kafka.
pub async fn debezium_drain(ctx: &mut Ctx, workload: &str, backlog: &Backlog, slot: &str) -> Row {
    match debezium_inner(ctx, workload, backlog, slot).await {
        Ok(r) => r,
        Err(e) => Row::missing(workload, "Debezium 3.6.3", &format!("failed: {e:#}")),
    }
}

async fn debezium_inner(
    ctx: &mut Ctx,
    workload: &str,
    backlog: &Backlog,
    slot: &str,
) -> Result<Row> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("."));
    let script = root.join("tests/debezium/run-oracle.sh");
    let broker = Broker::start()?;
    let prefix = ctx.next("d");
    let name = ctx.next("dbz");
    let spec = ConnectorSpec {
        name: &name,
        pg_port: ctx.pg.port,
        dbname: DB,
        table: &backlog.table,
        slot,
        publication: &backlog.publication,
        topic_prefix: &prefix,
    };
    let topic = spec.topic();
    create_topic(&broker.bootstrap(), &topic).await?;
    let counter = Counter::start(&broker.bootstrap(), &topic, false)?;
    let props_path = ctx.work_dir.join(format!("{name}.properties"));
    let mut props: Vec<(String, String)> = spec.properties();
    props.push(("name".into(), name.clone()));
    props.push((
        "offset.storage".into(),
        "org.apache.kafka.connect.storage.FileOffsetBackingStore".into(),
    ));
    props.push((
        "offset.storage.file.filename".into(),
        ctx.work_dir
            .join(format!("{name}.offsets"))
            .display()
            .to_string(),
    ));
    props.push(("offset.flush.interval.ms".into(), "1000".into()));
    props.push(("oracle.kafka.bootstrap.servers".into(), broker.bootstrap()));
    // What a Kafka Connect worker sets on its source-task producers (WorkerConfig defaults).
    props.push(("oracle.kafka.acks".into(), "all".into()));
    props.push((
        "oracle.kafka.max.in.flight.requests.per.connection".into(),
        "1".into(),
    ));
    props.push(("oracle.kafka.linger.ms".into(), "0".into()));
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&props_path, text)?;
    // Compile the oracle class before the clock starts (the script compiles it on first use).
    let warm = Command::new("bash").arg("-c").arg(format!(
        "LIBS=${{DEBEZIUM_LIBS:-/work/tools-debezium/libs}}; C=${{ORACLE_CACHE:-$HOME/.cache/pgcdc-debezium-oracle}}; \
         mkdir -p $C; [ -f $C/DebeziumOracle.class ] || javac -nowarn -cp \"$LIBS/*\" -d $C {}",
        root.join("tests/debezium/DebeziumOracle.java").display()
    ))
    .status();
    if !matches!(warm, Ok(s) if s.success()) {
        return Err(anyhow!(
            "compiling DebeziumOracle.java failed (javac and DEBEZIUM_LIBS needed)"
        ));
    }
    let log = std::fs::File::create(ctx.work_dir.join(format!("{name}.log")))?;
    let start = Instant::now();
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(&props_path)
        .arg("/dev/null")
        .arg(backlog.events.to_string())
        .arg("3600")
        .arg(ctx.timeout.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting run-oracle.sh")?;
    let sampler = Sampler::start(child.id());
    let events = backlog.events;
    let timeout = ctx.timeout;
    let (last, counter, mut child) = tokio::task::spawn_blocking(move || {
        let last = counter.wait_for(events, timeout, &mut || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        (last, counter, child)
    })
    .await?;
    let stats = sampler.read();
    crate::infra::stop_child(&mut child, Duration::from_secs(10));
    let last = last.ok_or_else(|| {
        anyhow!(
            "saw {} of {events} events before the limit",
            counter.count()
        )
    })?;
    if ctx.record_size.is_none() {
        ctx.record_size = Some(counter.mean_size());
    }
    let mut row = Row::new(workload, "Debezium 3.6.3").timed(
        events,
        secs_between(start, last),
        Some(stats.cpu_secs),
    );
    row.peak_rss_mib = Some(stats.peak_rss as f64 / 1048576.0);
    row.slot_lag_bytes = slot_lag(&ctx.pg, slot).await.ok();
    row.note = format!(
        "embedded engine (tests/debezium oracle, which also re-serializes each record as a JSON line) + KafkaProducer, from JVM start; {}; mean record {:.0} B; slot confirmed lazily (offset flush)",
        counter.steady_note(events, last),
        counter.mean_size()
    );
    Ok(row)
}
