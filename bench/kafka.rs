//! Kafka side of the benchmark: topic creation, a counting consumer (read_committed) that timestamps
//! what it receives, and the broker ceiling (a plain rdkafka producer of same-sized messages).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Creates `topic` (1 partition) unless it exists.
pub async fn create_topic(bootstrap: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin
        .create_topics(
            [&NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &opts,
        )
        .await?
    {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

/// librdkafka's statistics of the counting consumer: the bytes it received from the broker.
struct FetchStats {
    rx_bytes: Arc<AtomicU64>,
}

impl rdkafka::client::ClientContext for FetchStats {
    fn stats(&self, statistics: rdkafka::Statistics) {
        self.rx_bytes
            .fetch_max(statistics.rx_bytes.max(0) as u64, Ordering::Relaxed);
    }
}

impl rdkafka::consumer::ConsumerContext for FetchStats {}

/// How often the counting consumer's statistics are refreshed.
const STATS_INTERVAL: Duration = Duration::from_millis(250);

/// A consumer thread counting the records of one topic from the beginning.
pub struct Counter {
    count: Arc<AtomicU64>,
    /// Bytes the consumer received from the broker (librdkafka's `rx_bytes`): the record
    /// batches as the producer wrote them (compressed or not) plus small fetch overheads.
    fetched: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    /// Nanoseconds since `base` at the latest record.
    last_ns: Arc<AtomicU64>,
    /// Nanoseconds since `base` at the first record (0: none yet).
    first_ns: Arc<AtomicU64>,
    base: Instant,
    stop: Arc<AtomicBool>,
    /// (seq, receive time µs) of every record carrying `"seq":N` when `track_seq` is on.
    seqs: Arc<Mutex<Vec<(i64, u64)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Counter {
    /// Starts consuming `topic` (which must exist) with isolation `read_committed`.
    pub fn start(bootstrap: &str, topic: &str, track_seq: bool) -> Result<Counter> {
        let fetched = Arc::new(AtomicU64::new(0));
        let consumer: BaseConsumer<FetchStats> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("pgcdc-bench-{}", now_us()))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "10")
            .set("allow.auto.create.topics", "false")
            .set("statistics.interval.ms", STATS_INTERVAL.as_millis().to_string())
            .create_with_context(FetchStats {
                rx_bytes: fetched.clone(),
            })?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
        consumer.assign(&tpl)?;
        let base = Instant::now();
        let count = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let last_ns = Arc::new(AtomicU64::new(0));
        let first_ns = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let seqs = Arc::new(Mutex::new(Vec::new()));
        let (c, b, l, s, q) = (
            count.clone(),
            bytes.clone(),
            last_ns.clone(),
            stop.clone(),
            seqs.clone(),
        );
        let f = first_ns.clone();
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // Errors (e.g. partition EOF) are retried by librdkafka; the caller's deadline bounds waits.
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    {
                        let size =
                            m.payload().map_or(0, <[u8]>::len) + m.key().map_or(0, <[u8]>::len);
                        if track_seq {
                            if let Some(seq) = m.payload().and_then(find_seq) {
                                if let Ok(mut v) = q.lock() {
                                    v.push((seq, now_us()));
                                }
                            }
                        }
                        b.fetch_add(size as u64, Ordering::Relaxed);
                        let now = (base.elapsed().as_nanos() as u64).max(1);
                        l.store(now, Ordering::Relaxed);
                        let _ = f.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
                        c.fetch_add(1, Ordering::Release);
                    }
                }
            }
        });
        Ok(Counter {
            count,
            fetched,
            bytes,
            last_ns,
            first_ns,
            base,
            stop,
            seqs,
            handle: Some(handle),
        })
    }

    /// Bytes received from the broker so far, waiting one statistics interval so the
    /// last fetches are in (call after the last record).
    pub fn fetched_bytes(&self) -> u64 {
        std::thread::sleep(STATS_INTERVAL * 3);
        self.fetched.load(Ordering::Relaxed)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Mean key + value size of what arrived.
    pub fn mean_size(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            self.bytes.load(Ordering::Relaxed) as f64 / n as f64
        }
    }

    /// When the first record arrived.
    pub fn first(&self) -> Option<Instant> {
        match self.first_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(self.base + Duration::from_nanos(ns)),
        }
    }

    /// "N events/s from the first to the last event" for `events` ending at `last`.
    pub fn steady_note(&self, events: u64, last: Instant) -> String {
        match self.first() {
            Some(f) if last > f && events > 1 => {
                let secs = last.duration_since(f).as_secs_f64();
                format!(
                    "{:.0} events/s first → last event",
                    (events - 1) as f64 / secs
                )
            }
            _ => String::new(),
        }
    }

    /// Waits until at least `n` records arrived; returns when the latest one did, or `None` after
    /// `timeout` (or when `abort` says the producer side is gone).
    pub fn wait_for(
        &self,
        n: u64,
        timeout: Duration,
        abort: &mut dyn FnMut() -> bool,
    ) -> Option<Instant> {
        let mut deadline = Instant::now() + timeout;
        let mut i = 0u64;
        let mut aborted = false;
        let mut progress = (self.count(), Instant::now());
        loop {
            let count = self.count();
            if count >= n {
                return Some(
                    self.base + Duration::from_nanos(self.last_ns.load(Ordering::Relaxed)),
                );
            }
            if count != progress.0 {
                progress = (count, Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            i += 1;
            if !aborted && i % 200 == 0 && abort() {
                // The producer side is gone, but what it produced may still be on its way to the
                // consumer: keep reading while records keep coming.
                aborted = true;
                deadline = deadline.min(Instant::now() + Duration::from_secs(120));
            }
            if aborted && progress.1.elapsed() > Duration::from_secs(5) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The (seq, receive µs) pairs collected so far.
    pub fn take_seqs(&self) -> Vec<(i64, u64)> {
        self.seqs
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The integer after the first `"seq":` in a JSON value (the row's `seq` column in `after`).
fn find_seq(payload: &[u8]) -> Option<i64> {
    const PAT: &[u8] = b"\"seq\":";
    let at = payload.windows(PAT.len()).position(|w| w == PAT)? + PAT.len();
    let digits: &[u8] = &payload[at..];
    let end = digits
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'-'))
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Result of a broker ceiling run.
pub struct Ceiling {
    pub secs: f64,
    pub cpu_secs: f64,
}

/// Produces `n` messages of `size` bytes to `topic` with an idempotent producer, or (with
/// `txn_batch`) a transactional one committing every `txn_batch` messages; times until the last is
/// acknowledged / committed.
pub fn broker_ceiling(
    bootstrap: &str,
    topic: &str,
    n: u64,
    size: usize,
    txn_batch: Option<u64>,
) -> Result<Ceiling> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576");
    if txn_batch.is_some() {
        cfg.set("transactional.id", format!("pgcdc-bench-{}", now_us()));
    }
    let producer: ThreadedProducer<DefaultProducerContext> = cfg.create()?;
    let t = Duration::from_secs(30);
    if txn_batch.is_some() {
        producer.init_transactions(t)?;
    }
    let payload = vec![b'x'; size];
    let cpu0 = self_cpu();
    let start = Instant::now();
    let mut in_txn = 0u64;
    for i in 0..n {
        if let Some(batch) = txn_batch {
            if in_txn == 0 {
                producer.begin_transaction()?;
            }
            in_txn += 1;
            let _ = batch;
        }
        let key = i.to_string();
        let mut rec = BaseRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(anyhow!("producing: {e}")),
            }
        }
        if let Some(batch) = txn_batch {
            if in_txn >= batch || i + 1 == n {
                producer.commit_transaction(Duration::from_secs(60))?;
                in_txn = 0;
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Ceiling {
        secs,
        cpu_secs: self_cpu() - cpu0,
    })
}

/// CPU seconds of this process so far.
fn self_cpu() -> f64 {
    crate::infra::proc_stats(std::process::id())
        .map(|s| s.cpu_secs)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_seq() {
        assert_eq!(
            super::find_seq(br#"{"before":null,"after":{"id":3,"seq":42,"p":"x"}}"#),
            Some(42)
        );
        assert_eq!(super::find_seq(br#"{"after":{"id":3}}"#), None);
    }
}
