//! The link watch: for a SurrealDB server, a probe every [`PROBE_EVERY`] decides whether the
//! server is reachable ([`Health::link_up`](super::db::Health::link_up)). While it is not,
//! queries fail at once (`SERVICE_UNAVAILABLE`) and `/readyz` is unready; the SDK reconnects
//! by itself, and the first probe answered afterwards opens a new link epoch, on which every
//! node flushes what it cached from the server's change notifications.

use std::time::Duration;

use super::Db;

/// How often the server is probed.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// A probe not answered in this long counts as a lost server. With the interval, a killed
/// server is noticed within ~0.6 s (a refused connection, sooner).
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// Starts the watch on `root` (a remote session); it ends when the task is aborted.
pub fn watch(root: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let up = root.probe(PROBE_TIMEOUT).await;
            root.health().set_link(up);
        }
    })
}
