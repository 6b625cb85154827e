//! The source while streaming: START_REPLICATION at the resume point, then
//! XLogData → decoder → events, keepalives and standby status, heartbeats,
//! streamed transactions and signals (the invariants relied on are in the
//! parent module's docs).

use super::*;

/// Where streaming starts.
pub(super) struct Position {
    /// The slot's confirmed position.
    pub(super) slot_lsn: Lsn,
    /// Transactions that ended at or before it are in Kafka.
    pub(super) stored: Option<Lsn>,
    /// `lsn_commit` of the stored offset.
    pub(super) last_commit: Option<Lsn>,
    pub(super) floors: HashMap<TableId, Lsn>,
    /// The stored progress of an incremental snapshot.
    pub(super) incremental: Option<crate::progress::IncrementalProgress>,
    /// The parent of the spill directory.
    pub(super) spill_dir: std::path::PathBuf,
}

/// The source while streaming from its slot.
pub(super) struct Streamer {
    stream: ReplicationStream<BoxTransport>,
    decoder: ChangeDecoder,
    lookup: CatalogLookup,
    status_interval: Duration,
    /// `heartbeat.interval.ms` when heartbeats are on.
    heartbeat_interval: Option<Duration>,
    /// `heartbeat.action.query`.
    heartbeat_query: Option<String>,
    /// Files of streamed in-progress transactions (streaming on only).
    spool: Option<StreamSpool>,
    /// `signal.data.collection`: signals and incremental snapshots.
    signals: Option<Signals>,
    /// `flush.lsn.source`, `lsn.flush.timeout.*`.
    slot: crate::config::slot::SlotSettings,
    /// `slot.name`, for the slot's lag metrics.
    slot_name: String,
    metrics: std::sync::Arc<crate::metrics::ConnectorMetrics>,
}

impl Streamer {
    /// START_REPLICATION after `stored` (transactions that ended at or
    /// before it are dropped) or the slot's position, whichever is later.
    /// Returns the streamer and its walsender's process id; `None` when
    /// stopped while waiting for a busy slot.
    pub(super) async fn start(
        config: &ConnectorConfig,
        client: tokio_postgres::Client,
        mut repl: ReplicationClient<BoxTransport>,
        repl_config: &ReplicationConfig,
        position: Position,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<(Self, Option<i32>)>, SourceError> {
        let Position { slot_lsn, stored, last_commit, floors, incremental, spill_dir } = position;
        let status_interval = repl_config.status_interval;
        let start_lsn = stored.map_or(slot_lsn, |s| s.max(slot_lsn));
        let mut options = StartOptions::new(vec![config.publication_name.clone()]);
        options.messages = true;
        options.extra = config.slot.stream_params.clone();
        (options.proto_version, options.streaming) = negotiate(repl.server_version(), config.streaming);
        let spool = match options.streaming {
            Streaming::Off => None,
            _ => Some(StreamSpool::new(&spill_dir, &config.slot_name)?),
        };
        tracing::info!(server_version = repl.server_version(), proto_version = options.proto_version, streaming = ?options.streaming, "pgoutput options");
        let waited_since = tokio::time::Instant::now();
        let (stream, pid) = loop {
            let pid = repl.backend_pid();
            match repl.start_replication(&config.slot_name, start_lsn, &options).await {
                Ok(stream) => break (stream, pid),
                Err(ReplicationError::Server(e))
                    if e.code == OBJECT_IN_USE && waited_since.elapsed() < SLOT_BUSY_WAIT =>
                {
                    if waited_since.elapsed() < SLOT_BUSY_RETRY {
                        tracing::info!(slot = %config.slot_name, error = %e, "slot still in use by another process; waiting");
                    } else {
                        tracing::debug!(slot = %config.slot_name, "slot still in use; waiting");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(SLOT_BUSY_RETRY) => {}
                        _ = crate::shutdown::stopped(shutdown) => return Ok(None),
                    }
                    repl = ReplicationClient::connect(repl_config).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        tracing::info!(slot = %config.slot_name, lsn = %start_lsn, slot_lsn = %slot_lsn, stored = ?stored.map(|l| l.to_string()), floors = floors.len(), "streaming started");

        let filter = config.table_filter();
        let signal_table = config.signal_table.clone();
        let signals = signal_table.clone().map(|table| Signals::new(table, config, incremental.as_ref()));
        let include = Box::new(move |t: &TableId| filter.matches(t) || signal_table.as_ref() == Some(t));
        let mut decoder = ChangeDecoder::new(include, last_commit).with_floors(floors);
        if let Some(stored) = stored {
            decoder = decoder.resume_after(stored);
        }
        let mut stream = stream;
        // flush.lsn.source=false: every status update reports flush 0/0,
        // which PostgreSQL takes as "nothing confirmed".
        stream.set_confirm(config.slot.flush_lsn_source);
        let streamer = Streamer {
            stream,
            decoder,
            lookup: CatalogLookup::new(client, config),
            status_interval: if status_interval.is_zero() { DEFAULT_STATUS_INTERVAL } else { status_interval },
            heartbeat_interval: config.heartbeat.enabled().then_some(config.heartbeat.interval),
            heartbeat_query: config.heartbeat.action_query.clone(),
            spool,
            signals,
            slot: config.slot.clone(),
            slot_name: config.slot_name.clone(),
            metrics: crate::metrics::Registry::global().connector(&config.name),
        };
        Ok(Some((streamer, pid)))
    }

    /// Signals: see [`Signals::intercept`].
    async fn intercept_signals(&mut self, out: &mut Vec<SourceEvent>) -> Result<(), SourceError> {
        match self.signals.as_mut() {
            Some(sig) => sig.intercept(&self.lookup.client, &self.lookup.values, out).await,
            None => Ok(()),
        }
    }

    /// Stream until `shutdown` or an error. `durable` carries the position
    /// the sink made durable; it is reported to the server as flushed.
    pub(super) async fn run(
        mut self,
        events: mpsc::Sender<SourceEvent>,
        mut durable: watch::Receiver<Lsn>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        if let Some(sig) = self.signals.as_mut() {
            sig.resume(&self.lookup.client, &self.lookup.values).await?;
        }
        let mut out = Vec::new();
        let mut heartbeat = self.heartbeat_interval.map(|every| {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        });
        // The slot's lag metrics, refreshed every status interval over the catalog connection.
        let mut slot_stats = Some(tokio::time::interval(self.status_interval));
        let result = loop {
            let message = tokio::select! {
                biased;
                _ = crate::shutdown::stopped(&mut shutdown) => break Ok(()),
                _ = tick(&mut slot_stats) => {
                    refresh_slot_metrics(&self.lookup.client, &self.slot_name, &self.metrics).await;
                    continue;
                }
                _ = tick(&mut heartbeat) => {
                    match self.on_heartbeat().await {
                        Ok(Some(idle)) => {
                            if !self.forward(&events, idle, &mut durable, &mut shutdown).await? {
                                return Ok(());
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                    continue;
                }
                changed = durable.changed() => {
                    if changed.is_ok() {
                        let lsn = *durable.borrow_and_update();
                        self.stream.set_flushed(lsn);
                        if let Err(e) = self.report_flushed(lsn).await {
                            break Err(e);
                        }
                    }
                    continue;
                }
                message = self.stream.next() => message,
            };
            crate::metrics::ConnectorMetrics::raise(&self.metrics.source_server_lsn, self.stream.received().as_u64());
            let message = match message {
                Ok(Some(m)) => m,
                Ok(None) => break Err(SourceError::StreamEnded),
                Err(e) => break Err(e.into()),
            };
            let replay = match self.handle(message, &mut out).await {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            if let Err(e) = self.intercept_signals(&mut out).await {
                break Err(e);
            }
            for event in out.drain(..) {
                if !self.forward(&events, event, &mut durable, &mut shutdown).await? {
                    return Ok(());
                }
            }
            if let Some(replay) = replay {
                match self.replay(replay, &mut out, &events, &mut durable, &mut shutdown).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(e) => break Err(e),
                }
            }
        };
        match &result {
            Ok(()) => {
                self.stream.set_flushed(*durable.borrow());
                if let Err(err) = self.stream.shutdown().await {
                    tracing::debug!(error = %err, "replication shutdown");
                }
            }
            Err(_) => self.stream.abort().await,
        }
        result
    }

    /// Reports a new durable position to the server at once (as Debezium
    /// flushes the LSN at each offset commit), within `lsn.flush.timeout.ms`;
    /// past it, `lsn.flush.timeout.action` decides. Nothing is reported
    /// with `flush.lsn.source=false`.
    async fn report_flushed(&mut self, lsn: Lsn) -> Result<(), SourceError> {
        if !self.slot.flush_lsn_source {
            return Ok(());
        }
        let timeout = self.slot.lsn_flush_timeout;
        match flush_within(timeout, self.slot.lsn_flush_timeout_action, lsn, self.stream.send_feedback(false)).await? {
            Some(result) => result.map_err(SourceError::from),
            // Whatever of the update was written stays buffered and goes out first next time.
            None => Ok(()),
        }
    }

    /// One replication message; a Stream Commit returns the replay to run.
    async fn handle(
        &mut self,
        message: ReplicationMessage,
        out: &mut Vec<SourceEvent>,
    ) -> Result<Option<PendingReplay>, SourceError> {
        match message {
            ReplicationMessage::XLogData { wal_start, data, .. } => {
                let in_stream = self.spool.as_ref().is_some_and(|s| s.in_stream());
                let message = pgoutput::decode_bytes(&data, in_stream)?;
                let Some(spool) = self.spool.as_mut() else {
                    self.decoder.on_message(wal_start, message, &mut self.lookup, out).await?;
                    return Ok(None);
                };
                match message {
                    PgOutputMessage::StreamStart { xid, first_segment } => spool.start(xid, first_segment)?,
                    PgOutputMessage::StreamStop => spool.stop()?,
                    PgOutputMessage::StreamAbort { xid, subxid, .. } => {
                        tracing::debug!(xid, subxid, "streamed transaction aborted");
                        spool.abort(xid, subxid);
                    }
                    PgOutputMessage::StreamCommit { xid, flags, commit_lsn, end_lsn, commit_ts_us } => {
                        let replay = spool.commit(xid)?;
                        let commit = PgOutputMessage::Commit { flags, commit_lsn, end_lsn, commit_ts_us };
                        let begin = PgOutputMessage::Begin { final_lsn: commit_lsn, commit_ts_us, xid };
                        return Ok(Some(PendingReplay { replay, begin, commit, commit_wal_start: wal_start }));
                    }
                    m if in_stream => spool.append(wal_start, &data, &m)?,
                    m => self.decoder.on_message(wal_start, m, &mut self.lookup, out).await?,
                }
            }
            ReplicationMessage::Keepalive { wal_end, .. } => {
                if !self.decoder.in_transaction() {
                    out.push(SourceEvent::Idle { lsn: wal_end });
                }
            }
        }
        Ok(None)
    }

    /// Replays a committed streamed transaction through the decoder as
    /// Begin · its messages · Commit, forwarding the events of each message
    /// before reading the next. An empty one (every change in an aborted
    /// subtransaction, or none captured) only updates the relation cache, as
    /// the server sends no Begin/Commit for an empty non-streamed transaction.
    /// Returns false when shut down while forwarding.
    async fn replay(
        &mut self,
        pending: PendingReplay,
        out: &mut Vec<SourceEvent>,
        events: &mpsc::Sender<SourceEvent>,
        durable: &mut watch::Receiver<Lsn>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, SourceError> {
        let PendingReplay { mut replay, begin, commit, commit_wal_start } = pending;
        let whole = replay.has_changes();
        let mut begun = false;
        // The socket is not read while replaying: answer the server on time
        // anyway, or a long replay would trip its wal_sender_timeout.
        let mut last_status = tokio::time::Instant::now();
        while let Some((wal_start, raw)) = replay.next(!whole)? {
            if last_status.elapsed() >= self.status_interval {
                self.stream.set_flushed(*durable.borrow_and_update());
                self.stream.send_feedback(false).await?;
                last_status = tokio::time::Instant::now();
            }
            if whole && !begun {
                self.decoder.on_message(wal_start, begin.clone(), &mut self.lookup, out).await?;
                begun = true;
            }
            let message = pgoutput::decode_bytes(&raw, true)?;
            self.decoder.on_message(wal_start, message, &mut self.lookup, out).await?;
            self.intercept_signals(out).await?;
            for event in out.drain(..) {
                if !self.forward(events, event, durable, shutdown).await? {
                    return Ok(false);
                }
            }
        }
        if begun {
            self.decoder.on_message(commit_wal_start, commit, &mut self.lookup, out).await?;
        }
        for event in out.drain(..) {
            if !self.forward(events, event, durable, shutdown).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A heartbeat interval passed: run `heartbeat.action.query`, and outside
    /// a transaction return the idle position to confirm.
    async fn on_heartbeat(&mut self) -> Result<Option<SourceEvent>, SourceError> {
        if let Some(query) = &self.heartbeat_query {
            self.lookup.client.batch_execute(query).await.map_err(SourceError::HeartbeatQuery)?;
        }
        let lsn = self.stream.received();
        Ok((!self.decoder.in_transaction() && lsn > Lsn::ZERO).then_some(SourceEvent::Idle { lsn }))
    }

    /// Hand one event downstream, answering the server while waiting.
    /// Returns false when shut down while waiting.
    async fn forward(
        &mut self,
        events: &mpsc::Sender<SourceEvent>,
        event: SourceEvent,
        durable: &mut watch::Receiver<Lsn>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, SourceError> {
        let reserve = events.reserve();
        tokio::pin!(reserve);
        loop {
            tokio::select! {
                permit = &mut reserve => {
                    return match permit {
                        Ok(p) => { p.send(event); Ok(true) }
                        // The delivery side is gone: it reports its own error.
                        Err(_) => Ok(false),
                    };
                }
                _ = crate::shutdown::stopped(shutdown) => return Ok(false),
                _ = tokio::time::sleep(self.status_interval) => {
                    self.stream.set_flushed(*durable.borrow_and_update());
                    self.stream.send_feedback(false).await?;
                    // Waiting on the sink is when the slot's lag grows: keep the metrics current.
                    refresh_slot_metrics(&self.lookup.client, &self.slot_name, &self.metrics).await;
                }
            }
        }
    }
}

/// A committed streamed transaction waiting to be replayed.
struct PendingReplay {
    replay: Replay,
    /// The Begin the server would have sent had it not streamed.
    begin: PgOutputMessage,
    commit: PgOutputMessage,
    /// The Stream Commit's `wal_start` (the commit's end LSN, as a Commit's).
    commit_wal_start: Lsn,
}

/// `pgcdc_slot_retained_wal_bytes` and `pgcdc_slot_confirmed_flush_lag_bytes`;
/// a failed query only leaves them as they were (the stream goes on).
async fn refresh_slot_metrics(client: &tokio_postgres::Client, slot: &str, metrics: &crate::metrics::ConnectorMetrics) {
    use crate::metrics::ConnectorMetrics;
    match crate::source::postgres::catalog::slot_lag(client, slot).await {
        Ok(Some((retained, lag))) => {
            ConnectorMetrics::set(&metrics.slot_retained_wal, retained.max(0) as u64);
            ConnectorMetrics::set(&metrics.slot_flush_lag, lag.max(0) as u64);
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "cannot read the slot's lag"),
    }
}

/// The next tick of an optional interval; never, without one.
async fn tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs `flush` within `timeout`; past it, `action` decides: an error
/// (`fail`), a warning, or nothing (`ignore`). The flush's own result is
/// returned as it is.
async fn flush_within<T>(
    timeout: Duration,
    action: crate::config::slot::LsnFlushTimeoutAction,
    lsn: Lsn,
    flush: impl std::future::Future<Output = T>,
) -> Result<Option<T>, SourceError> {
    use crate::config::slot::LsnFlushTimeoutAction as A;
    match tokio::time::timeout(timeout, flush).await {
        Ok(result) => Ok(Some(result)),
        Err(_) => {
            let timeout_ms = timeout.as_millis() as u64;
            match action {
                A::Fail => Err(SourceError::LsnFlushTimeout { lsn, timeout_ms }),
                A::Warn => {
                    tracing::warn!(lsn = %lsn, timeout_ms, "reporting the flushed position timed out; going on (lsn.flush.timeout.action=warn)");
                    Ok(None)
                }
                A::Ignore => {
                    tracing::debug!(lsn = %lsn, timeout_ms, "reporting the flushed position timed out; going on (lsn.flush.timeout.action=ignore)");
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod flush_timeout_tests {
    use super::*;
    use crate::config::slot::LsnFlushTimeoutAction;

    #[tokio::test(start_paused = true)]
    async fn a_flush_past_the_timeout_fails_or_goes_on_as_the_action_says() {
        let t = Duration::from_millis(30_000);
        let hang = || std::future::pending::<()>();
        let failed = flush_within(t, LsnFlushTimeoutAction::Fail, Lsn(42), hang()).await;
        assert!(matches!(failed, Err(SourceError::LsnFlushTimeout { lsn: Lsn(42), timeout_ms: 30_000 })));
        assert!(failed.unwrap_err().to_string().contains("lsn.flush.timeout.ms=30000"));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Warn, Lsn(42), hang()).await, Ok(None)));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Ignore, Lsn(42), hang()).await, Ok(None)));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Fail, Lsn(42), async { 7 }).await, Ok(Some(7))));
    }
}
