//! Whether the worker is alive, for `GET /health` and the systemd watchdog.
//!
//! ```text
//!   pulse task (on the worker's runtime) ── every PULSE ──▶ last beat
//!        /health, watchdog ── beat older than STALL? ──▶ wedged (503 / no WATCHDOG=1)
//! ```
//!
//! The pulse is a task of the same async runtime the connectors, the herder
//! and the REST API run on: when its threads are all blocked (a blocking call
//! on an async thread, a deadlock) the beat stops, so the age of the last beat
//! says whether the runtime still schedules work. A connector that failed is
//! not a liveness problem (the worker still serves and can restart it); that
//! is in `/health`'s connector states and `/ready`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// tokio's clock: the same as std's outside tests, paused in them.
use tokio::time::Instant;

/// How often the pulse beats.
pub const PULSE: Duration = Duration::from_millis(500);
/// A beat older than this means the runtime stopped scheduling work.
pub const STALL: Duration = Duration::from_secs(10);

/// The runtime's heartbeat: the time of the last beat.
#[derive(Debug)]
pub struct Pulse {
    origin: Instant,
    /// Milliseconds after `origin` of the last beat.
    last_ms: AtomicU64,
}

/// Why the worker is not live.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the worker's async runtime has not run its heartbeat for {} ms (more than {} ms): its threads are blocked", .silent.as_millis(), STALL.as_millis())]
pub struct Wedged {
    pub silent: Duration,
}

impl Pulse {
    /// A pulse that has just beaten; call [`Pulse::spawn`] to keep it beating.
    pub fn new() -> Arc<Pulse> {
        Arc::new(Pulse { origin: Instant::now(), last_ms: AtomicU64::new(0) })
    }

    /// A pulse beating on the current runtime (outside one: not beating, so
    /// it reads as wedged after [`STALL`]; herders are built inside one).
    pub fn started() -> Arc<Pulse> {
        let pulse = Pulse::new();
        if tokio::runtime::Handle::try_current().is_ok() {
            pulse.spawn();
        }
        pulse
    }

    /// Starts the beating task on the current runtime; it ends with the runtime
    /// or when the pulse is dropped.
    pub fn spawn(self: &Arc<Self>) {
        let pulse = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PULSE);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match pulse.upgrade() {
                    Some(p) => p.beat(),
                    None => return,
                }
            }
        });
    }

    /// Records a beat now.
    pub fn beat(&self) {
        self.last_ms.store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long ago the last beat was.
    pub fn silence(&self) -> Duration {
        self.origin.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }

    /// `Ok` while the last beat is younger than [`STALL`].
    pub fn check(&self) -> Result<(), Wedged> {
        let silent = self.silence();
        if silent > STALL {
            Err(Wedged { silent })
        } else {
            Ok(())
        }
    }

    /// A pulse whose last beat was `ago` before now (tests).
    #[cfg(test)]
    pub fn stale(ago: Duration) -> Arc<Pulse> {
        let origin = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
        Arc::new(Pulse { origin, last_ms: AtomicU64::new(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_beating_pulse_is_live_and_a_silent_one_is_wedged() {
        let pulse = Pulse::new();
        pulse.spawn();
        tokio::time::sleep(STALL * 3).await;
        assert_eq!(pulse.check(), Ok(()), "the spawned task keeps beating");

        let stale = Pulse::stale(STALL + Duration::from_secs(1));
        let err = stale.check().unwrap_err();
        assert!(err.silent > STALL, "{err:?}");
        assert!(err.to_string().contains("blocked"), "{err}");
        stale.beat();
        assert_eq!(stale.check(), Ok(()));
    }
}
