//! The stop signal every long-running task listens to: a `watch<bool>` that
//! turns true once.

use tokio::sync::watch;

/// Resolves when `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send; drop it here.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
