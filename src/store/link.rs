//! The link watch: for a SurrealDB server, a probe every [`PROBE_EVERY`] decides whether the
//! server is reachable ([`Health::link_up`](super::db::Health::link_up)). While it is not,
//! queries fail at once (`SERVICE_UNAVAILABLE`) and `/readyz` is unready; the SDK reconnects
//! by itself, and the first probe answered afterwards opens a new link epoch, on which every
//! node flushes what it cached from the server's change notifications.
//!
//! A probe that is not answered in time is not yet a lost server: on a loaded machine a live
//! server can take longer than [`PROBE_TIMEOUT`] to answer `RETURN 1`, and declaring it lost
//! then fails every request in flight and flushes every cache for nothing (seen in CI with
//! three nodes, the server and other tests sharing two cores). So an unanswered probe is
//! followed by a TCP connect to the server's address: refused means the server process is
//! gone (killed, restarting) and the link is down at once; accepted means it is alive but
//! slow, and the link goes down only when no probe has been answered for [`SLOW_LIMIT`] (a
//! hung server, or a network that swallows packets so that even the connect times out).

use std::time::{Duration, Instant};

use super::Db;

/// How often the server is probed.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How long a probe may take before the server's port is checked. With the interval, a
/// killed server (its port refuses connections) is noticed within ~0.6 s.
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);
/// How long a server that still accepts connections, or whose address does not answer at
/// all, may leave probes unanswered before it counts as lost.
const SLOW_LIMIT: Duration = Duration::from_secs(2);

/// Starts the watch on `root` (a remote session to `address`, a `ws://`/`wss://` URL); it ends
/// when the task is aborted.
pub fn watch(root: Db, address: &str) -> tokio::task::JoinHandle<()> {
    let target = socket_address(address);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut answered = Instant::now();
        loop {
            tick.tick().await;
            let up = if root.probe(PROBE_TIMEOUT).await {
                answered = Instant::now();
                true
            } else if refused(&target).await {
                false
            } else {
                answered.elapsed() < SLOW_LIMIT
            };
            root.health().set_link(up);
        }
    })
}

/// Whether connecting to `target` fails outright (nothing listens there). A connect that
/// neither succeeds nor fails within [`PROBE_TIMEOUT`] is not a refusal: it says nothing.
async fn refused(target: &str) -> bool {
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(target)).await,
        Ok(Err(_))
    )
}

/// `HOST:PORT` of a `ws://HOST[:PORT][/PATH]` or `wss://...` URL (the scheme's port when none
/// is given).
fn socket_address(url: &str) -> String {
    let (default_port, rest) = match url.split_once("://") {
        Some(("wss", rest)) => (443, rest),
        Some((_, rest)) => (80, rest),
        None => (80, url),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::socket_address;

    #[test]
    fn socket_addresses_of_server_urls() {
        assert_eq!(socket_address("ws://127.0.0.1:8000"), "127.0.0.1:8000");
        assert_eq!(
            socket_address("ws://db.internal:8000/rpc"),
            "db.internal:8000"
        );
        assert_eq!(socket_address("wss://db.example.com"), "db.example.com:443");
        assert_eq!(socket_address("ws://db"), "db:80");
        assert_eq!(socket_address("ws://[::1]:8000"), "[::1]:8000");
        assert_eq!(socket_address("wss://[::1]"), "[::1]:443");
    }
}
