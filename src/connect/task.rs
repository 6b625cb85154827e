//! The connector runtime: one supervised pipeline per connector.
//!
//! ```text
//!   start ──▶ UNASSIGNED ──connected──▶ RUNNING
//!                ▲                        │ transient error
//!                └──── RESTARTING ◀───────┘ (wait, then start again)
//!   data/fatal error, or errors.max.retries exhausted ──▶ FAILED
//! ```
//!
//! A transient failure (database or broker unreachable, connection lost)
//! restarts the pipeline after a delay taken from the connector's
//! [`RetryPolicy`]: `errors.retry.delay.initial.ms` doubling up to
//! `errors.retry.delay.max.ms` while the pipeline cannot start, and
//! `retriable.restart.connector.wait.ms` after it had been streaming. The
//! source resumes from the durable position, so nothing is lost. After
//! `errors.max.retries` failures in a row (-1, the default, is no limit), or
//! at once for a data or fatal error, the task turns FAILED with a trace that
//! says what happened and what to do.
//!
//! Two levels of retry, one backoff: within a run, `errors.retry.timeout`
//! retries one failed operation in place (`crate::delivery::retry`); only
//! when that time is up (at once by default) does the failure reach this
//! supervisor and count against `errors.max.retries`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::connector::{ConnectorConfig, RetryPolicy};
use crate::error::{chain, Classify, ErrorClass};
use crate::lsn::Lsn;
use crate::offsets::SourceOffset;
use crate::pipeline::{self, WorkerSettings};
use crate::source::postgres::ownership::SlotTenure;

use super::runtime::{ConnectorRuntime, RuntimeError, TaskHandle, TaskState};

/// A run that lasted this long resets the failure count.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// How long `stop` waits for the pipeline to finish its batch.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `drop_slot` keeps trying while the stopped task's walsender is still exiting.
const DROP_SLOT_TIMEOUT: Duration = Duration::from_secs(15);
/// SQLSTATE `object_in_use`: the slot is still active.
const OBJECT_IN_USE: &str = "55006";

/// How long one cluster id request waits for the broker.
const CLUSTER_ID_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between cluster id requests while the broker does not answer.
const CLUSTER_ID_RETRY: Duration = Duration::from_secs(5);

/// Runs connectors as pipelines.
pub struct PipelineRuntime {
    worker: WorkerSettings,
    /// The Kafka cluster id from the broker's metadata, once fetched.
    cluster_id: Arc<std::sync::OnceLock<String>>,
}

impl PipelineRuntime {
    /// Also starts fetching the Kafka cluster id (for `GET /`) in the background.
    pub fn new(worker: WorkerSettings) -> Self {
        let cluster_id = Arc::new(std::sync::OnceLock::new());
        let (kafka, slot) = (worker.kafka.clone(), Arc::downgrade(&cluster_id));
        let spawned = std::thread::Builder::new().name("kafka-cluster-id".into()).spawn(move || {
            fetch_cluster_id(&kafka, &slot);
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the kafka cluster id lookup");
        }
        PipelineRuntime { worker, cluster_id }
    }
}

/// Asks the broker's metadata for the cluster id until it answers, the
/// runtime is gone, or the broker refuses the worker's credentials (which
/// the connectors report, naming the setting): librdkafka blocks, hence a
/// thread of its own.
fn fetch_cluster_id(kafka: &crate::config::worker::KafkaConfig, slot: &std::sync::Weak<std::sync::OnceLock<String>>) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    // The one client configuration (Connect's names translated): the raw
    // options would hand `sasl.jaas.config` to librdkafka, which refuses it
    // and echoes it, password included, in its error.
    let settings = kafka.client_settings();
    let context = settings.context();
    let consumer: BaseConsumer<Refused> = match settings.client_config().create_with_context(Refused(AtomicBool::new(false), context.clone())) {
        Ok(c) => {
            crate::kafka::client::seed_with(Consumer::client(&c).native_ptr(), &context);
            c
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot create a kafka client for the cluster id");
            return;
        }
    };
    while let Some(cell) = slot.upgrade() {
        match consumer.client().fetch_cluster_id(CLUSTER_ID_TIMEOUT) {
            Some(id) => {
                tracing::debug!(cluster_id = %id, "kafka cluster id");
                let _ = cell.set(id);
                return;
            }
            None => {
                drop(cell);
                // Serves librdkafka's error callbacks (Refused::error).
                let _ = consumer.poll(Duration::from_millis(100));
                if consumer.context().0.load(Ordering::Relaxed) {
                    tracing::warn!(
                        "kafka cluster id lookup stopped: the broker refused authentication or TLS \
                         (check security.protocol, sasl.jaas.config and the ssl.* settings)"
                    );
                    return;
                }
                std::thread::sleep(CLUSTER_ID_RETRY);
            }
        }
    }
}

/// Remembers that librdkafka reported a refused authentication or TLS
/// handshake; hands out OAUTHBEARER tokens like every client's context.
struct Refused(AtomicBool, crate::kafka::client::KafkaContext);

impl rdkafka::ClientContext for Refused {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        self.1.generate_oauth_token(config)
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::types::RDKafkaErrorCode as C;
        match error.rdkafka_error_code() {
            Some(C::Authentication | C::SaslAuthenticationFailed | C::SSL) => self.0.store(true, Ordering::Relaxed),
            _ => tracing::debug!(error = %error, reason, "kafka cluster id lookup"),
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Refused {}

impl ConnectorRuntime for PipelineRuntime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        let state = Arc::new(Mutex::new(TaskState::Unassigned));
        let (stop_tx, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("connector", connector = %config.name);
        let join = tokio::spawn(supervise(config, self.worker.clone(), state.clone(), stop_rx).instrument(span));
        Box::new(PipelineTask { state, stop: stop_tx, join: Mutex::new(Some(join)) })
    }

    fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.get().cloned()
    }

    fn drop_slot(&self, config: &ConnectorConfig) -> BoxFuture<'static, Result<(), RuntimeError>> {
        drop_slot(config.clone()).boxed()
    }

    fn offsets(&self, config: &ConnectorConfig) -> BoxFuture<'static, Result<serde_json::Value, RuntimeError>> {
        let store = self.worker.offset_store();
        let (name, server) = (config.name.clone(), config.topic_prefix().to_owned());
        async move {
            let stored = store.read_latest(&name, &server).await.map_err(|e| RuntimeError::Failed {
                what: format!("cannot read the offsets of connector {name}"),
                source: Box::new(e),
            })?;
            let offsets: Vec<serde_json::Value> = stored
                .map(|o| {
                    let offset = serde_json::from_slice::<serde_json::Value>(&o.to_json()).unwrap_or_default();
                    serde_json::json!({"partition": {"server": server}, "offset": offset})
                })
                .into_iter()
                .collect();
            Ok(serde_json::json!({ "offsets": offsets }))
        }
        .boxed()
    }

    fn alter_offsets(
        &self,
        config: &ConnectorConfig,
        offsets: serde_json::Value,
    ) -> BoxFuture<'static, Result<(), RuntimeError>> {
        let worker = self.worker.clone();
        let (name, server) = (config.name.clone(), config.topic_prefix().to_owned());
        let connection = config.connection.clone();
        async move {
            let offset = parse_altered_offset(&offsets, &server)?;
            if let Some(offset) = &offset {
                let current = current_wal_lsn(&connection).await?;
                check_within_wal(offset, current).map_err(RuntimeError::Invalid)?;
            }
            write_offset(&worker, &name, &server, offset.as_ref()).await
        }
        .boxed()
    }

    fn reset_offsets(&self, config: &ConnectorConfig) -> BoxFuture<'static, Result<(), RuntimeError>> {
        let worker = self.worker.clone();
        let (name, server) = (config.name.clone(), config.topic_prefix().to_owned());
        async move { write_offset(&worker, &name, &server, None).await }.boxed()
    }
}

/// The one offset of a `PATCH …/offsets` body: `[{"partition": {"server":
/// "<topic.prefix>"}, "offset": {"lsn": N, …} | null}]`. An offset with only
/// `lsn` resumes from it (as Debezium's loader falls back to it).
fn parse_altered_offset(offsets: &serde_json::Value, server: &str) -> Result<Option<SourceOffset>, RuntimeError> {
    let invalid = |m: String| RuntimeError::Invalid(m);
    let items = offsets.as_array().ok_or_else(|| invalid("\"offsets\" must be an array".into()))?;
    let [item] = items.as_slice() else {
        return Err(invalid(format!(
            "a PostgreSQL connector has exactly one source partition ({{\"server\": \"{server}\"}}); {} given",
            items.len()
        )));
    };
    let partition = &item["partition"];
    if partition != &serde_json::json!({ "server": server }) {
        return Err(invalid(format!(
            "unknown source partition {partition}: this connector's partition is {{\"server\": \"{server}\"}}"
        )));
    }
    let offset = &item["offset"];
    if offset.is_null() {
        return Ok(None);
    }
    let mut parsed: SourceOffset = serde_json::from_value(offset.clone())
        .map_err(|e| invalid(format!("offset {offset} is not a Debezium PostgreSQL offset: {e}")))?;
    if parsed.lsn_commit.is_none() && parsed.lsn_proc.is_none() {
        parsed.lsn_proc = parsed.lsn;
        parsed.lsn_commit = parsed.lsn;
    }
    if parsed.resume_lsn().is_none() {
        return Err(invalid(format!("offset {offset} has no \"lsn\": give the LSN (a number) to resume after")));
    }
    Ok(Some(parsed))
}

/// The server's current end of WAL, for checking an altered offset.
async fn current_wal_lsn(conn: &crate::config::connector::PgConnection) -> Result<Lsn, RuntimeError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| RuntimeError::Failed {
        what: "cannot read the server's current WAL position to check the offset against it".to_owned(),
        source,
    };
    let (client, _tls) =
        crate::source::postgres::capture::catalog_client(conn).await.map_err(|e| failed(Box::new(e)))?;
    crate::source::postgres::catalog::current_wal_lsn(&client).await.map_err(|e| failed(Box::new(e)))
}

/// Every LSN of an altered offset must be at or before the server's current
/// end of WAL: a later one would make the connector skip every change until
/// the server reaches it (see `source::postgres::wal_bound`).
fn check_within_wal(offset: &SourceOffset, current: Lsn) -> Result<(), String> {
    let fields = [("lsn", offset.lsn), ("lsn_proc", offset.lsn_proc), ("lsn_commit", offset.lsn_commit)];
    let floors = offset.floors().into_iter().map(|(t, l)| (format!("pgcdc_table_lsn.{t}"), Some(l.as_u64())));
    let beyond = fields.into_iter().map(|(f, v)| (f.to_owned(), v)).chain(floors).find_map(|(field, value)| {
        value.filter(|v| Lsn(*v) > current).map(|v| (field, v))
    });
    match beyond {
        None => Ok(()),
        Some((field, value)) => Err(format!(
            "offset field \"{field}\" = {value} ({}) is beyond the server's current WAL position {} ({}): \
             the connector would skip every change until the server reaches it; give an LSN at or before {}",
            Lsn(value),
            current,
            current.as_u64(),
            current.as_u64()
        )),
    }
}

async fn write_offset(
    worker: &WorkerSettings,
    name: &str,
    server: &str,
    offset: Option<&SourceOffset>,
) -> Result<(), RuntimeError> {
    worker.offset_store().write(name, server, offset, worker.offset_storage_partitions).await.map_err(|e| {
        RuntimeError::Failed { what: format!("cannot write the offsets of connector {name}"), source: Box::new(e) }
    })?;
    tracing::info!(connector = name, lsn = ?offset.and_then(SourceOffset::resume_lsn).map(|l| l.to_string()), "offsets altered");
    Ok(())
}

/// Drops `config`'s slot with `pg_drop_replication_slot`, retrying while the
/// stopped task's walsender still holds it.
async fn drop_slot(config: ConnectorConfig) -> Result<(), RuntimeError> {
    let conn = &config.connection;
    let failed = |what: &str, e: tokio_postgres::Error| RuntimeError::Failed {
        what: format!("cannot drop replication slot {}: {what}", config.slot_name),
        source: Box::new(e),
    };
    let (client, _tls) = crate::source::postgres::capture::catalog_client(conn).await.map_err(|e| {
        RuntimeError::Failed {
            what: format!("cannot drop replication slot {}: cannot connect", config.slot_name),
            source: Box::new(e),
        }
    })?;
    let deadline = Instant::now() + DROP_SLOT_TIMEOUT;
    let result = loop {
        let r = client
            .query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = $1 AND database = current_database()",
                &[&config.slot_name],
            )
            .await;
        match r {
            Ok(rows) => {
                if !rows.is_empty() {
                    tracing::info!(slot = %config.slot_name, "replication slot dropped (slot.drop.on.stop)");
                }
                break Ok(());
            }
            Err(e) if e.code().is_some_and(|c| c.code() == OBJECT_IN_USE) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => break Err(failed("the slot is still in use or the query failed", e)),
        }
    };
    drop(client);
    result
}

struct PipelineTask {
    state: Arc<Mutex<TaskState>>,
    stop: watch::Sender<bool>,
    join: Mutex<Option<JoinHandle<()>>>,
}

impl TaskHandle for PipelineTask {
    fn state(&self) -> TaskState {
        self.state.lock().map(|s| s.clone()).unwrap_or(TaskState::Unassigned)
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        let _ = self.stop.send(true);
        let join = self.join.lock().ok().and_then(|mut j| j.take());
        async move {
            if let Some(join) = join {
                if tokio::time::timeout(STOP_TIMEOUT, join).await.is_err() {
                    tracing::warn!("connector task did not stop in time");
                }
            }
        }
        .boxed()
    }
}

impl Drop for PipelineTask {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn set(state: &Mutex<TaskState>, new: TaskState) {
    if let Ok(mut s) = state.lock() {
        *s = new;
    }
}

async fn supervise(
    config: ConnectorConfig,
    worker: WorkerSettings,
    state: Arc<Mutex<TaskState>>,
    mut stop: watch::Receiver<bool>,
) {
    let policy = config.retry;
    let mut failures = 0u32;
    let mut connect_failures = 0u32;
    // The slot's walsender across restarts: a restart must not take the
    // slot back from whoever took it over (see `ownership`).
    let mut tenure = SlotTenure::default();
    let failed_gauge = crate::metrics::Registry::global().connector(&config.name);
    crate::metrics::ConnectorMetrics::set(&failed_gauge.failed, 0);
    loop {
        let started = Instant::now();
        let st = state.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_flag = ran.clone();
        let running = move || {
            ran_flag.store(true, Ordering::SeqCst);
            set(&st, TaskState::Running)
        };
        let run = pipeline::run(&config, &worker, stop.clone(), running, &mut tenure);
        tokio::pin!(run);
        let mut stop_wait = stop.clone();
        let early = tokio::select! {
            r = &mut run => Some(r),
            _ = crate::shutdown::stopped(&mut stop_wait) => None,
        };
        let result = match early {
            Some(r) => r,
            // Still connecting (nothing accepted yet, e.g. a broker that does not
            // answer): abandon the attempt instead of making `stop` wait for it.
            None if !ran.load(Ordering::SeqCst) => {
                tracing::info!("connector stopped while starting");
                return;
            }
            // Streaming: the pipeline finishes its batch and stops by itself.
            None => run.await,
        };
        if *stop.borrow() {
            tracing::info!("connector stopped");
            return;
        }
        let (class, trace) = match &result {
            Ok(()) => (ErrorClass::Transient, "the pipeline ended without being stopped".to_owned()),
            Err(e) => (e.class(), chain(e)),
        };
        let metrics = crate::metrics::Registry::global().connector(&config.name);
        metrics.error_now();
        if started.elapsed() >= HEALTHY_RUN {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let ran = ran.load(Ordering::SeqCst);
        connect_failures = if ran { 0 } else { connect_failures.saturating_add(1) };
        let exhausted = policy.max_retries.is_some_and(|max| failures > max);
        if class != ErrorClass::Transient || exhausted {
            tracing::error!(error = %trace, class = ?class, "connector failed");
            let trace = if class == ErrorClass::Transient {
                format!(
                    "{trace}\n(gave up after {} retries (errors.max.retries); fix the cause, then POST /connectors/{}/restart)",
                    failures - 1,
                    config.name
                )
            } else {
                trace
            };
            set(&state, TaskState::Failed { trace });
            crate::metrics::ConnectorMetrics::set(&failed_gauge.failed, 1);
            return;
        }
        let delay = retry_delay(&policy, ran, connect_failures);
        crate::metrics::ConnectorMetrics::add(&metrics.restarts, 1);
        tracing::warn!(error = %trace, retry = failures, delay_ms = delay.as_millis() as u64, "connector failed; retrying");
        set(&state, TaskState::Restarting { trace });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = crate::shutdown::stopped(&mut stop) => return,
        }
    }
}

/// The wait before the next attempt: `retriable.restart.connector.wait.ms`
/// after a run that had started streaming, else the initial delay doubled
/// per consecutive failed start, capped at `errors.retry.delay.max.ms`.
pub fn retry_delay(policy: &RetryPolicy, ran: bool, connect_failures: u32) -> Duration {
    if ran {
        return policy.restart_wait;
    }
    let doublings = connect_failures.saturating_sub(1).min(20);
    policy.delay_initial.saturating_mul(1u32 << doublings).min(policy.delay_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn altered_offsets_beyond_the_end_of_wal_are_refused_naming_field_value_and_position() {
        let current = Lsn(0x1_0000_0100);
        let offset = |json: serde_json::Value| {
            let body = serde_json::json!([{"partition": {"server": "c"}, "offset": json}]);
            parse_altered_offset(&body, "c").unwrap().unwrap()
        };
        check_within_wal(&offset(serde_json::json!({"lsn": 0x1_0000_0100u64})), current).unwrap();
        let err = check_within_wal(&offset(serde_json::json!({"lsn": u64::MAX})), current).unwrap_err();
        for part in ["\"lsn\"", "18446744073709551615", "FFFFFFFF/FFFFFFFF", "1/100", "4294967552"] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
        let err = check_within_wal(&offset(serde_json::json!({"lsn": 1, "lsn_commit": 1, "lsn_proc": u64::MAX})), current)
            .unwrap_err();
        assert!(err.contains("\"lsn_proc\""), "{err}");
        let floors = serde_json::json!({"lsn": 1, "pgcdc_table_lsn": {"\"public\".\"t\"": u64::MAX}});
        assert!(check_within_wal(&offset(floors), current).unwrap_err().contains("pgcdc_table_lsn"));
    }

    #[test]
    fn delays_follow_the_policy() {
        let p = RetryPolicy {
            max_retries: None,
            delay_initial: Duration::from_millis(300),
            delay_max: Duration::from_millis(1000),
            restart_wait: Duration::from_millis(7000),
        };
        let got: Vec<u128> = (1..=4).map(|n| retry_delay(&p, false, n).as_millis()).collect();
        assert_eq!(got, [300, 600, 1000, 1000]);
        assert_eq!(retry_delay(&p, true, 0), Duration::from_millis(7000));
        assert_eq!(retry_delay(&p, false, 100), Duration::from_millis(1000));
    }
}
