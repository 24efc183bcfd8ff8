//! The outbound client's address guard, end to end, against loopback only: a listener on
//! 127.0.0.1 that records every connection, and every spelling of a loopback destination. With
//! private networks refused nothing reaches the listener; with them allowed the same client
//! does reach it (so the listener would have seen a connection that got through).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey::infra::outbound::{Outbound, OutboundError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::upstream::UpstreamProvider;

/// A listener on 127.0.0.1 that answers `{}` to anything and counts connections.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            // Read the request's head before answering: closing a socket with unread data
            // resets the connection, and the client would see no answer.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    });
    (port, seen)
}

#[tokio::test]
async fn loopback_in_every_spelling_is_refused_before_any_connection() {
    let (port, seen) = listener().await;
    let guarded = Outbound::new(false);
    for host in [
        "127.0.0.1",
        "localhost",
        "127.1",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
    ] {
        for scheme in ["https", "http"] {
            let url = format!("{scheme}://{host}:{port}/.well-known/openid-configuration");
            let got = guarded.get_json(&url).await;
            assert!(
                matches!(got, Err(OutboundError::Refused(_))),
                "{url}: {got:?}"
            );
        }
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "nothing connected to the listener"
    );

    // The same client with private networks allowed reaches it: the listener counts.
    let open = Outbound::new(true);
    let got = open
        .get_json(&format!("http://127.0.0.1:{port}/"))
        .await
        .expect("allowed: the listener answers");
    assert_eq!(got, serde_json::json!({}));
    // The listener counts a connection before it answers, so the answer implies the count.
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

/// The outbound client reads a real provider's discovery document and keys (private networks
/// allowed: the provider is on loopback); the guarded client refuses the same issuer.
#[tokio::test]
async fn a_real_openid_providers_discovery_and_keys_come_through() {
    let upstream = UpstreamProvider::start(serde_json::json!({})).await;
    let discovery_url = format!("{}/.well-known/openid-configuration", upstream.issuer);
    let open = Outbound::new(true);
    let discovery = open.get_json(&discovery_url).await.unwrap();
    assert_eq!(discovery["issuer"], upstream.issuer.as_str());
    let jwks = open
        .get_json(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
    let got = Outbound::new(false).get_json(&discovery_url).await;
    assert!(matches!(got, Err(OutboundError::Refused(_))), "{got:?}");
}
