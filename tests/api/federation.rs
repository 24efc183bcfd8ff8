//! Federation: an upstream's discovery document and keys read and checked through the
//! outbound guard, against a real OpenID provider (npm oidc-provider) on loopback.

use latchkey::federation::discovery::{DiscoveryError, discover};
use latchkey::infra::outbound::Outbound;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::upstream::UpstreamProvider;

/// Private networks allowed: the upstream runs on 127.0.0.1, as in every test here.
fn outbound() -> Outbound {
    Outbound::new(true)
}

#[tokio::test]
async fn a_real_providers_metadata_and_keys_are_read_and_checked() {
    let up = UpstreamProvider::start(serde_json::json!({})).await;
    let u = discover(&outbound(), &up.issuer).await.expect("discovered");
    assert_eq!(u.metadata.issuer, up.issuer);
    assert_eq!(
        u.metadata.authorization_endpoint,
        format!("{}/auth", up.issuer)
    );
    assert!(u.metadata.token_endpoint.starts_with(&up.issuer));
    assert!(
        u.metadata
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "S256"))
    );
    assert!(!u.keys.keys.is_empty());
}

#[tokio::test]
async fn another_name_for_the_same_provider_is_an_issuer_mismatch() {
    let up = UpstreamProvider::start(serde_json::json!({})).await;
    // The same server under another name: its document names 127.0.0.1, not localhost
    // (Discovery §4.3: the two must be identical, or a mix-up goes unnoticed).
    let other = up.issuer.replace("127.0.0.1", "localhost");
    match discover(&outbound(), &other).await {
        Err(DiscoveryError::IssuerMismatch {
            configured,
            reported,
        }) => {
            assert_eq!(configured, other);
            assert_eq!(reported, up.issuer);
        }
        got => panic!("{got:?}"),
    }
}

#[tokio::test]
async fn something_that_is_not_a_provider_or_nothing_at_all_says_which() {
    // A web server that answers every request with a 404 page.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found")
                .await;
        }
    });
    let got = discover(&outbound(), &format!("http://127.0.0.1:{port}")).await;
    assert!(
        matches!(got, Err(DiscoveryError::NotAnIssuer(_))),
        "{got:?}"
    );

    // A port nothing listens on (bound, then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let got = discover(&outbound(), &format!("http://127.0.0.1:{port}")).await;
    assert!(
        matches!(got, Err(DiscoveryError::Unreachable(_))),
        "{got:?}"
    );

    // The real provider through the guard as a production server has it: refused, untouched.
    let up = UpstreamProvider::start(serde_json::json!({})).await;
    let got = discover(&Outbound::new(false), &up.issuer).await;
    assert!(matches!(got, Err(DiscoveryError::Refused(_))), "{got:?}");
}
