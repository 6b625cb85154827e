//! Kafka Connect's `errors.retry.timeout`: a transient failure of one
//! operation is retried in place, with exponential backoff, before it fails
//! the task.
//!
//! ```text
//!   convert(event) / sink.send(record) ──Err(transient)──▶ wait d ──▶ same operation again
//!        d = errors.retry.delay.initial.ms · 2^n, capped by errors.retry.delay.max.ms
//!            and by what is left of errors.retry.timeout (0: no retry, -1: forever)
//!   time is up ──▶ the error fails the task ──▶ task restart (errors.max.retries, crate::connect::task)
//! ```
//!
//! Only operations that leave the pipeline as it was are retried here: a
//! conversion (nothing of the event was sent yet) and a send the sink says
//! the open batch survived ([`crate::sink::Sink::send_retriable`]). A failed
//! commit, a broken transaction or a lost database connection go straight
//! to the task restart, which resumes from the durable position. Unlike
//! Connect, a transient failure never ends in the dead letter queue once the
//! time is up: the row did nothing wrong, and dropping it because a server
//! was down would lose it.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::connector::RetryPolicy;

/// The shortest wait between two attempts.
const MIN_DELAY: Duration = Duration::from_millis(1);

/// The retry settings of one connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// `errors.retry.timeout`: `None` = forever.
    pub timeout: Option<Duration>,
    /// `errors.retry.delay.initial.ms`: the first wait (Connect's fixed 300 ms by default).
    pub initial: Duration,
    /// `errors.retry.delay.max.ms`.
    pub max: Duration,
}

impl Default for Retry {
    /// No retry (Connect's default `errors.retry.timeout=0`).
    fn default() -> Self {
        let delays = RetryPolicy::default();
        Retry { timeout: Some(Duration::ZERO), initial: delays.delay_initial, max: delays.delay_max }
    }
}

impl Retry {
    pub fn new(timeout: Option<Duration>, delays: &RetryPolicy) -> Self {
        Retry { timeout, initial: delays.delay_initial, max: delays.delay_max }
    }

    /// The attempts at one operation, starting now (after its first failure
    /// or before its first try: the clock starts at the first call).
    pub fn start(&self) -> Attempts {
        let now = Instant::now();
        Attempts {
            // `None`: forever; a timeout too large for the clock is as good.
            deadline: self.timeout.and_then(|t| now.checked_add(t)),
            next: self.initial,
            max: self.max,
        }
    }
}

/// The retries of one operation so far.
#[derive(Debug)]
pub struct Attempts {
    deadline: Option<Instant>,
    next: Duration,
    max: Duration,
}

impl Attempts {
    /// The wait before the next attempt, or `None` when the time is up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        // Never a busy loop, even with both delays set to 0.
        let mut delay = self.next.min(self.max).max(MIN_DELAY);
        if let Some(deadline) = self.deadline {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            delay = delay.min(deadline - now);
        }
        self.next = self.next.max(MIN_DELAY).saturating_mul(2);
        Some(delay)
    }
}

/// Waits `delay`; false when the connector was stopped meanwhile.
pub async fn wait(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        biased;
        _ = crate::shutdown::stopped(shutdown) => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(timeout_ms: i64, initial: u64, max: u64) -> Retry {
        Retry {
            timeout: u64::try_from(timeout_ms).ok().map(Duration::from_millis),
            initial: Duration::from_millis(initial),
            max: Duration::from_millis(max),
        }
    }

    /// The waits until the time is up, sleeping each (paused clock).
    async fn waits(r: Retry, at_most: usize) -> Vec<u128> {
        let mut attempts = r.start();
        let mut out = Vec::new();
        while let Some(d) = attempts.next_delay() {
            out.push(d.as_millis());
            tokio::time::sleep(d).await;
            if out.len() == at_most {
                break;
            }
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_up_to_the_cap_and_ends_at_the_timeout() {
        // 300, 600, 1200, 2000 (cap), 2000, then the 900 ms left of 7 s.
        assert_eq!(waits(retry(7_000, 300, 2_000), 100).await, [300, 600, 1200, 2000, 2000, 900]);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_is_no_retry_and_minus_one_is_forever() {
        assert!(waits(retry(0, 300, 2_000), 100).await.is_empty());
        let forever = waits(retry(-1, 300, 2_000), 50).await;
        assert_eq!(forever.len(), 50);
        assert!(forever[4..].iter().all(|d| *d == 2000), "{forever:?}");
        // One past the clock's range is forever too.
        let huge = Retry { timeout: Some(Duration::MAX), ..retry(0, 300, 2_000) };
        assert_eq!(waits(huge, 10).await.len(), 10);
        // Delays of 0 still wait a little: no busy loop.
        assert_eq!(waits(retry(-1, 0, 0), 3).await, [1, 1, 1]);
        assert_eq!(waits(retry(-1, 0, 5), 5).await, [1, 2, 4, 5, 5]);
    }
}
