//! Telling the service manager what the worker does (systemd `Type=notify`,
//! over `$NOTIFY_SOCKET`; without it every call does nothing):
//!
//! ```text
//!   REST API bound + stored connectors restored ──▶ READY=1, STATUS=<connector states>
//!   every WatchdogSec/2, while the worker is live ──▶ WATCHDOG=1, STATUS=…
//!   shutdown begins ─────────────────────────────▶ STOPPING=1, STATUS=stopping …
//! ```
//!
//! "Live" is the same check as `GET /health`: the runtime's heartbeat
//! ([`crate::connect::liveness`]) is recent and the herder answers with the
//! connector states within a quarter of the watchdog interval. When it is
//! not, no WATCHDOG=1 is sent and systemd restarts the worker after
//! `WatchdogSec`; a failed connector does not stop the watchdog.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::connect::Herder;

/// The service manager connection (or none).
#[derive(Clone, Copy, Debug)]
pub struct ServiceManager {
    enabled: bool,
}

impl ServiceManager {
    /// From the environment systemd sets for `Type=notify` services.
    pub fn from_env() -> ServiceManager {
        ServiceManager { enabled: std::env::var_os("NOTIFY_SOCKET").is_some() }
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
        }
    }

    /// READY=1: the REST API listens and the stored connectors are restored.
    pub async fn ready(&self, herder: &Herder) {
        let status = summary(&herder.connector_states().await);
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        if self.enabled {
            tracing::info!(status = %status, "notified the service manager: ready");
        }
    }

    /// STOPPING=1 with a status line.
    pub fn stopping(&self, why: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(&format!("stopping: {why}"))]);
    }

    /// When systemd asked for a watchdog (`WatchdogSec`), a task that sends
    /// WATCHDOG=1 every half interval while the worker is live.
    pub fn spawn_watchdog(&self, herder: Arc<Herder>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.enabled {
            return None;
        }
        let interval = sd_notify::watchdog_enabled()?;
        let manager = *self;
        let every = (interval / 2).max(Duration::from_millis(50));
        let answer_within = (interval / 4).max(Duration::from_millis(25));
        tracing::info!(watchdog_ms = interval.as_millis() as u64, "systemd watchdog enabled");
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = herder.liveness() {
                    tracing::error!(error = %e, "not feeding the systemd watchdog");
                    continue;
                }
                match tokio::time::timeout(answer_within, herder.connector_states()).await {
                    Ok(states) => {
                        let status = summary(&states);
                        manager.send(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
                    }
                    Err(_) => tracing::error!(
                        within_ms = answer_within.as_millis() as u64,
                        "not feeding the systemd watchdog: the connector registry did not answer"
                    ),
                }
            }
        }))
    }
}

/// `2 connectors: 1 RUNNING, 1 FAILED (orders)`: counts by state, and the
/// names of failed connectors (at most five).
pub fn summary(states: &BTreeMap<String, String>) -> String {
    if states.is_empty() {
        return "no connectors".to_owned();
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in states.values() {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let failed: Vec<&str> = states.iter().filter(|(_, s)| *s == "FAILED").map(|(n, _)| n.as_str()).take(5).collect();
    let noun = if states.len() == 1 { "connector" } else { "connectors" };
    let mut line = format!("{} {noun}: {}", states.len(), counts.join(", "));
    if !failed.is_empty() {
        line.push_str(&format!(" (failed: {})", failed.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_states_and_names_failed_connectors() {
        assert_eq!(summary(&BTreeMap::new()), "no connectors");
        let states: BTreeMap<String, String> = [("a", "RUNNING"), ("b", "FAILED"), ("c", "RUNNING")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(summary(&states), "3 connectors: 1 FAILED, 2 RUNNING (failed: b)");
    }
}
