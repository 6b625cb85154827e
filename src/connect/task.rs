//! The connector runtime: one supervised pipeline per connector.
//!
//! A transient failure (database or broker unreachable, connection lost)
//! restarts the pipeline after a backoff; the source resumes from the durable
//! position, so nothing is lost. After [`MAX_CONSECUTIVE_RETRIES`] failures in
//! a row, or at once for a data or fatal error, the task turns FAILED with a
//! trace that says what happened and what to do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::connector::ConnectorConfig;
use crate::error::{chain, Classify, ErrorClass};
use crate::pipeline::{self, WorkerSettings};

use super::runtime::{ConnectorRuntime, TaskHandle, TaskState};

/// Transient failures in a row before the task turns FAILED.
pub const MAX_CONSECUTIVE_RETRIES: u32 = 10;
/// First backoff after a transient failure; doubles up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest backoff (Debezium's `retriable.restart.connector.wait.ms` default).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A run that lasted this long resets the failure count.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// How long `stop` waits for the pipeline to finish its batch.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs connectors as pipelines.
pub struct PipelineRuntime {
    worker: WorkerSettings,
}

impl PipelineRuntime {
    pub fn new(worker: WorkerSettings) -> Self {
        PipelineRuntime { worker }
    }
}

impl ConnectorRuntime for PipelineRuntime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        let state = Arc::new(Mutex::new(TaskState::Unassigned));
        let (stop_tx, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("connector", connector = %config.name);
        let join = tokio::spawn(supervise(config, self.worker.clone(), state.clone(), stop_rx).instrument(span));
        Box::new(PipelineTask { state, stop: stop_tx, join: Mutex::new(Some(join)) })
    }
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
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let st = state.clone();
        let result = pipeline::run(&config, &worker, stop.clone(), move || set(&st, TaskState::Running)).await;
        if *stop.borrow() {
            tracing::info!("connector stopped");
            return;
        }
        let (class, trace) = match &result {
            Ok(()) => (ErrorClass::Transient, "the pipeline ended without being stopped".to_owned()),
            Err(e) => (e.class(), chain(e)),
        };
        if started.elapsed() >= HEALTHY_RUN {
            failures = 0;
        }
        failures += 1;
        if class != ErrorClass::Transient || failures > MAX_CONSECUTIVE_RETRIES {
            tracing::error!(error = %trace, class = ?class, "connector failed");
            let trace = if class == ErrorClass::Transient {
                format!("{trace}\n(gave up after {MAX_CONSECUTIVE_RETRIES} retries; fix the cause, then POST /connectors/{}/restart)", config.name)
            } else {
                trace
            };
            set(&state, TaskState::Failed { trace });
            return;
        }
        let backoff = INITIAL_BACKOFF.saturating_mul(1 << (failures - 1).min(8)).min(MAX_BACKOFF);
        tracing::warn!(error = %trace, retry = failures, backoff_ms = backoff.as_millis() as u64, "connector failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = crate::shutdown::stopped(&mut stop) => return,
        }
    }
}
