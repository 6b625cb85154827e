//! Prometheus metrics: names as constants, one label (`connector`), values
//! in atomics; rendered in the text exposition format at `GET /metrics`.
//!
//! Stages get their connector's [`ConnectorMetrics`] once (an `Arc`) and
//! update it with relaxed atomic operations: no lock on the hot path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Row changes and messages decoded from the replication stream.
pub const SOURCE_EVENTS_TOTAL: &str = "pgcdc_source_events_total";
/// PostgreSQL transactions decoded (commits seen).
pub const SOURCE_TRANSACTIONS_TOTAL: &str = "pgcdc_source_transactions_total";
/// Server's end of WAL from the last message or keepalive (bytes).
pub const SOURCE_SERVER_LSN: &str = "pgcdc_source_server_lsn";
/// Records handed to the Kafka producer.
pub const SINK_RECORDS_TOTAL: &str = "pgcdc_sink_records_total";
/// Key and value bytes handed to the Kafka producer.
pub const SINK_BYTES_TOTAL: &str = "pgcdc_sink_bytes_total";
/// Batches made durable (Kafka transactions committed, or fully acknowledged).
pub const SINK_BATCHES_TOTAL: &str = "pgcdc_sink_batches_total";
/// The durable position: everything before it is in Kafka and confirmed to the slot.
pub const DURABLE_LSN: &str = "pgcdc_durable_lsn";
/// Commit time of the last transaction handed to the sink (seconds since the epoch).
pub const DURABLE_COMMIT_TIMESTAMP_SECONDS: &str = "pgcdc_durable_commit_timestamp_seconds";
/// 1 while the connector's task is FAILED (stopped by an error until restarted), else 0.
pub const CONNECTOR_FAILED: &str = "pgcdc_connector_failed";
/// Restarts of the connector's pipeline after a transient error.
pub const CONNECTOR_RESTARTS_TOTAL: &str = "pgcdc_connector_restarts_total";
/// Rows read by the initial snapshot (Debezium's `RowsScanned`, summed).
pub const SNAPSHOT_ROWS_TOTAL: &str = "pgcdc_snapshot_rows_total";
/// 1 while the initial snapshot runs (Debezium's `SnapshotRunning`).
pub const SNAPSHOT_RUNNING: &str = "pgcdc_snapshot_running";
/// 1 once a snapshot completed in this process (Debezium's `SnapshotCompleted`).
pub const SNAPSHOT_COMPLETED: &str = "pgcdc_snapshot_completed";
/// Tables the running or last snapshot reads, done or not (`TotalTableCount`).
pub const SNAPSHOT_TABLES: &str = "pgcdc_snapshot_tables";
/// Rows this connector's running or last snapshot run has read (reset when a run starts).
pub const SNAPSHOT_ROWS_READ: &str = "pgcdc_snapshot_rows_read";
/// The planner's estimate (`pg_class.reltuples`) of the rows that run reads: progress is `pgcdc_snapshot_rows_read / pgcdc_snapshot_rows_estimated`.
pub const SNAPSHOT_ROWS_ESTIMATED: &str = "pgcdc_snapshot_rows_estimated";
/// Tables of it done (`TotalTableCount - RemainingTableCount`).
pub const SNAPSHOT_TABLES_DONE: &str = "pgcdc_snapshot_tables_done";

/// Time to make one batch durable (the Kafka transaction's commit with its offset).
pub const SINK_COMMIT_SECONDS: &str = "pgcdc_sink_commit_seconds";

/// Change events decoded, by table (`schema.table`) and Debezium op (`c`, `u`, `d`, `r`, `t`).
pub const SOURCE_TABLE_EVENTS_TOTAL: &str = "pgcdc_source_table_events_total";

/// Bytes the connector's producer sent to the brokers, after compression (librdkafka's statistics, every `statistics.interval.ms`: 10 s by default).
pub const KAFKA_TX_BYTES_TOTAL: &str = "pgcdc_kafka_tx_bytes_total";
/// Requests sent to the brokers (librdkafka's `tx`).
pub const KAFKA_TX_REQUESTS_TOTAL: &str = "pgcdc_kafka_tx_requests_total";
/// Send errors and retries, summed over the brokers (librdkafka's `txerrs` + `txretries`).
pub const KAFKA_TX_ERRORS_TOTAL: &str = "pgcdc_kafka_tx_errors_total";
/// Messages in the producer's queue, not yet acknowledged (librdkafka's `msg_cnt`).
pub const KAFKA_QUEUE_MESSAGES: &str = "pgcdc_kafka_queue_messages";
/// The slowest broker's average request round trip over the last interval, seconds (librdkafka's `rtt.avg`).
pub const KAFKA_RTT_SECONDS: &str = "pgcdc_kafka_rtt_seconds";

/// WAL the connector's slot keeps on the server: end of WAL − the slot's `restart_lsn` (bytes).
pub const SLOT_RETAINED_WAL_BYTES: &str = "pgcdc_slot_retained_wal_bytes";
/// End of WAL − the slot's `confirmed_flush_lsn` (bytes); a transaction PostgreSQL is still sending counts as confirmed up to its start, so alert on the retained WAL.
pub const SLOT_CONFIRMED_FLUSH_LAG_BYTES: &str = "pgcdc_slot_confirmed_flush_lag_bytes";

/// Records that failed with a data error (conversion, encoding, a write the broker refuses).
pub const RECORDS_FAILED_TOTAL: &str = "pgcdc_records_failed_total";
/// Of those, skipped without a trace in Kafka (errors.tolerance=all without a DLQ, or warn/skip).
pub const RECORDS_SKIPPED_TOTAL: &str = "pgcdc_records_skipped_total";
/// Of those, written to the dead letter queue.
pub const RECORDS_DLQ_TOTAL: &str = "pgcdc_records_dlq_total";
/// Operations retried in place after a transient failure (`errors.retry.timeout`).
pub const RETRIES_TOTAL: &str = "pgcdc_retries_total";
/// When the connector last met an error (a failed record, tolerated or not; a retried operation; a failed task), seconds since the epoch (Connect's `last-error-timestamp`).
pub const LAST_ERROR_TIMESTAMP_SECONDS: &str = "pgcdc_last_error_timestamp_seconds";

/// One connector's metrics.
#[derive(Debug, Default)]
pub struct ConnectorMetrics {
    pub source_events: AtomicU64,
    pub source_transactions: AtomicU64,
    pub source_server_lsn: AtomicU64,
    pub sink_records: AtomicU64,
    pub sink_bytes: AtomicU64,
    pub sink_batches: AtomicU64,
    pub durable_lsn: AtomicU64,
    /// Microseconds since the epoch.
    pub durable_commit_ts_us: AtomicU64,
    pub restarts: AtomicU64,
    pub failed: AtomicU64,
    pub snapshot_rows: AtomicU64,
    pub snapshot_running: AtomicU64,
    pub snapshot_completed: AtomicU64,
    pub snapshot_tables: AtomicU64,
    pub snapshot_tables_done: AtomicU64,
    pub records_failed: AtomicU64,
    pub records_skipped: AtomicU64,
    pub records_dlq: AtomicU64,
    pub slot_retained_wal: AtomicU64,
    pub slot_flush_lag: AtomicU64,
    pub commit_seconds: Histogram,
    /// librdkafka's statistics of the producer.
    pub kafka: KafkaStats,
    pub snapshot_rows_read: AtomicU64,
    /// `schema.table` → its counters by op; see [`ConnectorMetrics::table`].
    tables: Mutex<BTreeMap<String, Arc<TableCounters>>>,
    pub snapshot_rows_estimated: AtomicU64,
    pub retries: AtomicU64,
    /// Milliseconds since the epoch; 0: none yet.
    pub last_error_ms: AtomicU64,
}

/// One table's change events by op: `c`, `u`, `d`, `r`, `t` (in [`TABLE_OPS`] order).
#[derive(Debug, Default)]
pub struct TableCounters {
    by_op: [AtomicU64; TABLE_OPS.len()],
}

/// The ops counted per table, in [`TableCounters`]' order.
pub const TABLE_OPS: [&str; 5] = ["c", "u", "d", "r", "t"];

impl TableCounters {
    /// Counts one event of `op` (Debezium's code; other codes are not counted here).
    pub fn count(&self, op: &str) {
        if let Some(i) = TABLE_OPS.iter().position(|o| *o == op) {
            self.by_op[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ConnectorMetrics {
    /// The counters of `table` (`schema.table`), created on first use. Callers keep the
    /// `Arc` while the table stays the same: one lock per table switch, not per event.
    pub fn table(&self, table: &str) -> Arc<TableCounters> {
        let mut map = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(table) {
            Some(c) => Arc::clone(c),
            None => Arc::clone(map.entry(table.to_owned()).or_default()),
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Raise a gauge that only moves forward (LSNs).
    pub fn raise(gauge: &AtomicU64, v: u64) {
        gauge.fetch_max(v, Ordering::Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Ordering::Relaxed);
    }

    /// Records that an error happened now (`pgcdc_last_error_timestamp_seconds`).
    pub fn error_now(&self) {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Self::raise(&self.last_error_ms, ms);
    }
}

/// The last statistics librdkafka reported for a connector's producer.
#[derive(Debug, Default)]
pub struct KafkaStats {
    pub tx_bytes: AtomicU64,
    pub tx_requests: AtomicU64,
    pub tx_errors: AtomicU64,
    pub queue_messages: AtomicU64,
    /// Microseconds.
    pub rtt_us: AtomicU64,
}

impl KafkaStats {
    /// Keeps the figures of one statistics report (a producer restarted with the task
    /// starts from 0 again: the totals only rise, as a counter's reset shows).
    pub fn record(&self, s: &rdkafka::Statistics) {
        let set = |a: &AtomicU64, v: i64| a.store(u64::try_from(v).unwrap_or(0), Ordering::Relaxed);
        set(&self.tx_bytes, s.tx_bytes);
        set(&self.tx_requests, s.tx);
        self.queue_messages.store(s.msg_cnt, Ordering::Relaxed);
        let errors: u64 = s.brokers.values().map(|b| b.txerrs + b.txretries).sum();
        self.tx_errors.store(errors, Ordering::Relaxed);
        let rtt = s.brokers.values().filter_map(|b| b.rtt.as_ref()).map(|w| w.avg).max().unwrap_or(0);
        set(&self.rtt_us, rtt);
    }
}

/// Upper bounds (seconds) of [`Histogram`]'s buckets: 1 ms to 60 s.
pub const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0];

/// A Prometheus histogram of durations over [`LATENCY_BUCKETS`]: a count per
/// bucket (not cumulative; cumulated when rendered), the sum in microseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    /// Observations above the last bound.
    overflow: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        match LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// `name_bucket{…,le="…"}` (cumulative), `name_sum`, `name_count` lines.
    fn render(&self, out: &mut String, name: &str, label: &str) {
        let mut cumulative = 0u64;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{connector=\"{label}\",le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.overflow.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{connector=\"{label}\",le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum{{connector=\"{label}\"}} {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{connector=\"{label}\"}} {cumulative}");
    }
}

/// The process-wide registry.
#[derive(Default)]
pub struct Registry {
    connectors: Mutex<BTreeMap<String, Arc<ConnectorMetrics>>>,
}

impl Registry {
    pub fn global() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(Registry::default)
    }

    /// The metrics of `connector`, created on first use and kept across
    /// restarts of its pipeline.
    pub fn connector(&self, connector: &str) -> Arc<ConnectorMetrics> {
        let mut map = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(connector.to_owned()).or_default().clone()
    }

    /// Forget a deleted connector.
    pub fn remove(&self, connector: &str) {
        let mut map = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(connector);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let map = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        type Getter = fn(&ConnectorMetrics) -> &AtomicU64;
        let families: [(&str, &str, &str, Getter); 29] = [
            (RECORDS_FAILED_TOTAL, "counter", "Records that failed with a data error.", |m| &m.records_failed),
            (RECORDS_SKIPPED_TOTAL, "counter", "Failed records skipped (no dead letter queue).", |m| &m.records_skipped),
            (RECORDS_DLQ_TOTAL, "counter", "Failed records written to the dead letter queue.", |m| &m.records_dlq),
            (RETRIES_TOTAL, "counter", "Operations retried in place after a transient failure.", |m| &m.retries),
            (LAST_ERROR_TIMESTAMP_SECONDS, "gauge", "When the connector last met an error (0: never).", |m| &m.last_error_ms),
            (SOURCE_EVENTS_TOTAL, "counter", "Row changes and messages decoded.", |m| &m.source_events),
            (SOURCE_TRANSACTIONS_TOTAL, "counter", "PostgreSQL transactions decoded.", |m| &m.source_transactions),
            (SOURCE_SERVER_LSN, "gauge", "Server end of WAL last reported.", |m| &m.source_server_lsn),
            (SLOT_RETAINED_WAL_BYTES, "gauge", "WAL the slot keeps on the server (end of WAL - restart_lsn).", |m| &m.slot_retained_wal),
            (SLOT_CONFIRMED_FLUSH_LAG_BYTES, "gauge", "End of WAL - the slot's confirmed_flush_lsn.", |m| &m.slot_flush_lag),
            (KAFKA_TX_BYTES_TOTAL, "counter", "Bytes the producer sent to the brokers (librdkafka).", |m| &m.kafka.tx_bytes),
            (KAFKA_TX_REQUESTS_TOTAL, "counter", "Requests the producer sent to the brokers (librdkafka).", |m| &m.kafka.tx_requests),
            (KAFKA_TX_ERRORS_TOTAL, "counter", "Send errors and retries of the producer (librdkafka).", |m| &m.kafka.tx_errors),
            (KAFKA_QUEUE_MESSAGES, "gauge", "Messages in the producer's queue (librdkafka).", |m| &m.kafka.queue_messages),
            (KAFKA_RTT_SECONDS, "gauge", "Slowest broker's average round trip (librdkafka).", |m| &m.kafka.rtt_us),
            (SINK_RECORDS_TOTAL, "counter", "Records handed to the Kafka producer.", |m| &m.sink_records),
            (SINK_BYTES_TOTAL, "counter", "Key and value bytes handed to the producer.", |m| &m.sink_bytes),
            (SINK_BATCHES_TOTAL, "counter", "Batches made durable.", |m| &m.sink_batches),
            (DURABLE_LSN, "gauge", "Position durable in Kafka and confirmed to the slot.", |m| &m.durable_lsn),
            (CONNECTOR_FAILED, "gauge", "1 while the connector's task is FAILED.", |m| &m.failed),
            (CONNECTOR_RESTARTS_TOTAL, "counter", "Pipeline restarts after transient errors.", |m| &m.restarts),
            (SNAPSHOT_ROWS_TOTAL, "counter", "Rows read by the initial snapshot.", |m| &m.snapshot_rows),
            (SNAPSHOT_RUNNING, "gauge", "1 while the initial snapshot runs.", |m| &m.snapshot_running),
            (SNAPSHOT_COMPLETED, "gauge", "1 once a snapshot completed in this process.", |m| &m.snapshot_completed),
            (SNAPSHOT_TABLES, "gauge", "Tables of the running or last snapshot.", |m| &m.snapshot_tables),
            (SNAPSHOT_TABLES_DONE, "gauge", "Tables of it done.", |m| &m.snapshot_tables_done),
            (SNAPSHOT_ROWS_READ, "gauge", "Rows the running or last snapshot run has read.", |m| &m.snapshot_rows_read),
            (SNAPSHOT_ROWS_ESTIMATED, "gauge", "Planner's row estimate of the tables that run reads.", |m| &m.snapshot_rows_estimated),
            (
                DURABLE_COMMIT_TIMESTAMP_SECONDS,
                "gauge",
                "Commit time of the last transaction handed to the sink.",
                |m| &m.durable_commit_ts_us,
            ),
        ];
        let _ = writeln!(out, "# HELP {SOURCE_TABLE_EVENTS_TOTAL} Change events decoded, by table and op.");
        let _ = writeln!(out, "# TYPE {SOURCE_TABLE_EVENTS_TOTAL} counter");
        for (connector, m) in map.iter() {
            let label = escape_label(connector);
            let tables = m.tables.lock().unwrap_or_else(|e| e.into_inner());
            for (table, counters) in tables.iter() {
                let table = escape_label(table);
                for (op, n) in TABLE_OPS.iter().zip(&counters.by_op) {
                    let n = n.load(Ordering::Relaxed);
                    if n > 0 {
                        let _ = writeln!(out, "{SOURCE_TABLE_EVENTS_TOTAL}{{connector=\"{label}\",table=\"{table}\",op=\"{op}\"}} {n}");
                    }
                }
            }
        }
        let _ = writeln!(out, "# HELP {SINK_COMMIT_SECONDS} Time to make a batch durable (Kafka transaction commit).");
        let _ = writeln!(out, "# TYPE {SINK_COMMIT_SECONDS} histogram");
        for (connector, m) in map.iter() {
            m.commit_seconds.render(&mut out, SINK_COMMIT_SECONDS, &escape_label(connector));
        }
        for (name, kind, help, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (connector, m) in map.iter() {
                let v = get(m).load(Ordering::Relaxed);
                let label = escape_label(connector);
                if name == DURABLE_COMMIT_TIMESTAMP_SECONDS {
                    let _ = writeln!(out, "{name}{{connector=\"{label}\"}} {}", v as f64 / 1e6);
                } else if name == KAFKA_RTT_SECONDS {
                    let _ = writeln!(out, "{name}{{connector=\"{label}\"}} {}", v as f64 / 1e6);
                } else if name == LAST_ERROR_TIMESTAMP_SECONDS {
                    let _ = writeln!(out, "{name}{{connector=\"{label}\"}} {}", v as f64 / 1e3);
                } else {
                    let _ = writeln!(out, "{name}{{connector=\"{label}\"}} {v}");
                }
            }
        }
        out
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_events_by_op_with_escaped_labels() {
        let r = Registry::default();
        let m = r.connector("c");
        let orders = m.table("public.orders");
        orders.count("c");
        orders.count("c");
        orders.count("u");
        m.table("public.orders").count("d");
        m.table("odd\"name.t").count("r");
        orders.count("m");
        let text = r.render();
        assert!(text.contains("pgcdc_source_table_events_total{connector=\"c\",table=\"public.orders\",op=\"c\"} 2"), "{text}");
        assert!(text.contains("pgcdc_source_table_events_total{connector=\"c\",table=\"public.orders\",op=\"u\"} 1"), "{text}");
        assert!(text.contains("pgcdc_source_table_events_total{connector=\"c\",table=\"public.orders\",op=\"d\"} 1"), "the same counters: {text}");
        assert!(text.contains("table=\"odd\\\"name.t\",op=\"r\"} 1"), "{text}");
        assert!(!text.contains("op=\"t\""), "ops never seen are not listed: {text}");
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let r = Registry::default();
        let m = r.connector("c");
        for ms in [1, 3, 3, 40, 70_000] {
            m.commit_seconds.observe(std::time::Duration::from_millis(ms));
        }
        let text = r.render();
        let line = |le: &str| format!("pgcdc_sink_commit_seconds_bucket{{connector=\"c\",le=\"{le}\"}} ");
        let value = |le: &str| -> u64 {
            let prefix = line(le);
            text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{prefix}: {text}"))
        };
        assert_eq!(value("0.001"), 1);
        assert_eq!(value("0.0025"), 1);
        assert_eq!(value("0.005"), 3);
        assert_eq!(value("0.05"), 4);
        assert_eq!(value("60"), 4);
        assert_eq!(value("+Inf"), 5);
        assert!(text.contains("pgcdc_sink_commit_seconds_count{connector=\"c\"} 5"), "{text}");
        assert!(text.contains("pgcdc_sink_commit_seconds_sum{connector=\"c\"} 70.047"), "{text}");
    }

    #[test]
    fn renders_counters_per_connector_with_escaped_labels() {
        let r = Registry::default();
        let m = r.connector("orders \"eu\"");
        ConnectorMetrics::add(&m.sink_records, 3);
        ConnectorMetrics::raise(&m.durable_lsn, 10);
        ConnectorMetrics::raise(&m.durable_lsn, 7);
        ConnectorMetrics::set(&m.durable_commit_ts_us, 1_500_000);
        ConnectorMetrics::set(&m.last_error_ms, 2_500);
        let text = r.render();
        assert!(text.contains("# TYPE pgcdc_sink_records_total counter"), "{text}");
        assert!(text.contains("pgcdc_sink_records_total{connector=\"orders \\\"eu\\\"\"} 3"), "{text}");
        assert!(text.contains("pgcdc_durable_lsn{connector=\"orders \\\"eu\\\"\"} 10"), "gauge only rises: {text}");
        assert!(text.contains("pgcdc_durable_commit_timestamp_seconds{connector=\"orders \\\"eu\\\"\"} 1.5"), "{text}");
        assert!(text.contains("pgcdc_last_error_timestamp_seconds{connector=\"orders \\\"eu\\\"\"} 2.5"), "{text}");
        assert!(Arc::ptr_eq(&m, &r.connector("orders \"eu\"")), "same metrics across restarts");
        assert!(text.contains("# TYPE pgcdc_sink_commit_seconds histogram"), "{text}");
        r.remove("orders \"eu\"");
        assert!(!r.render().contains("orders"));
    }
}
