//! How fast a change made on one node is enforced on another.

use serde_json::{Value, json};

use std::time::Duration;

use super::{ME, Node, WITHIN, cluster, user_id, within};
use crate::helpers::code;

/// A change made through node A is enforced by node B within a second through the change
/// feeds alone (`LIVE_QUERIES=false`, as with several SurrealDB processes), B's caches having
/// been warmed first: role change, user disable, session revocation, settings, signing key
/// rotation, tenant deletion. Then the delay is measured over 100 role changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_on_one_node_are_enforced_on_another_within_a_second() {
    enforced_within_a_second("change feed", cluster(2, &[]).await).await;
}

/// The same with `LIVE SELECT` hints on (one SurrealDB process): the feeds still run, the
/// hints make it faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_live_hints_changes_are_enforced_on_another_node_within_a_second() {
    let nodes = cluster(2, &[("LIVE_QUERIES", "true")]).await;
    enforced_within_a_second("LIVE hints", nodes).await;
}

/// The propagation checks on a started cluster of two nodes (`cluster`'s answer), the
/// figures printed as `path`.
pub(super) async fn enforced_within_a_second(
    path: &str,
    cluster: (
        tempfile::TempDir,
        crate::surreal_server::SurrealServer,
        Vec<Node>,
        String,
    ),
) {
    let (_dir, _db, nodes, admin) = cluster;
    let (a, b) = (&nodes[0], &nodes[1]);
    let id = user_id(&a.register("p@acme.example", "prop").await);
    let (token, _) = b.tokens("prop").await;
    let me_on_b = || async { b.acme(Some(&token), ME, json!({})).await };
    assert!(code(&me_on_b().await).is_none());
    assert!(
        code(&me_on_b().await).is_none(),
        "B has cached the session and the user"
    );

    // Role change.
    a.set_roles(&admin, &id, &["auditor"]).await;
    let t = within(WITHIN, || async {
        me_on_b().await["data"]["me"]["roles"] == json!(["auditor"])
    })
    .await;
    assert!(t.is_some(), "role change seen on B within 1 s");
    println!("cluster propagation ({path}): role change {:?}", t.unwrap());

    // Disable: B refuses the user's token.
    let body = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { disableUser(id: $id) { disabled } }",
            json!({"id": id}),
        )
        .await;
    assert!(code(&body).is_none(), "{body}");
    let t = within(WITHIN, || async { code(&me_on_b().await).is_some() }).await;
    assert!(
        t.is_some(),
        "disabled user refused on B within 1 s: {}",
        me_on_b().await
    );
    println!("cluster propagation ({path}): disable {:?}", t.unwrap());
    let body = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { enableUser(id: $id) { disabled } }",
            json!({"id": id}),
        )
        .await;
    assert!(code(&body).is_none(), "{body}");

    // Session revocation by an admin on A.
    let (token, _) = b.tokens("prop").await;
    assert!(code(&b.acme(Some(&token), ME, json!({})).await).is_none());
    let body = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert!(code(&body).is_none(), "{body}");
    let t = within(WITHIN, || async {
        code(&b.acme(Some(&token), ME, json!({})).await).as_deref() == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(t.is_some(), "revoked session refused on B within 1 s");
    println!(
        "cluster propagation ({path}): session revocation {:?}",
        t.unwrap()
    );

    // Settings: a longer minimum password, enforced by B's registration.
    let settings = "{ tenantSettings { passwordMinLength } }";
    assert_eq!(
        b.acme(Some(&admin), settings, json!({})).await["data"]["tenantSettings"]["passwordMinLength"],
        8
    );
    let t = settings_seen(a, b, &admin, WITHIN).await;
    println!("cluster propagation ({path}): settings {t:?}");

    // Emergency key rotation on A: B refuses tokens of the revoked key, accepts A's new ones.
    let (kid, t) = emergency_rotation_seen(a, b, &admin, WITHIN).await;
    println!("cluster propagation ({path}): emergency key rotation {t:?}");
    let jwks: Value = b
        .http
        .get(format!("{}/t/acme/.well-known/jwks.json", b.base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str()),
        "{jwks}"
    );
    let (fresh, _) = a.tokens("admin").await;
    assert!(
        code(&b.acme(Some(&fresh), ME, json!({})).await).is_none(),
        "A's new token verifies on B"
    );

    // 100 role changes on A, each awaited on B.
    let (token, _) = b.tokens("prop").await;
    let mut delays = Vec::new();
    for i in 0..100 {
        let role = format!("r{i}");
        a.set_roles(&fresh, &id, &[role.as_str()]).await;
        let t = within(WITHIN, || async {
            b.acme(Some(&token), ME, json!({})).await["data"]["me"]["roles"] == json!([role])
        })
        .await;
        delays.push(t.unwrap_or_else(|| panic!("change {i} not seen on B within 1 s")));
    }
    delays.sort();
    println!(
        "cluster propagation ({path}) over 100 role changes: p50 {:?}, p99 {:?}, max {:?}",
        delays[49], delays[98], delays[99]
    );

    // Tenant deletion on A: B answers TENANT_NOT_FOUND and its JWKS is gone.
    let t = deletion_seen(a, b, &token, WITHIN).await;
    println!("cluster propagation ({path}): tenant deletion {t:?}");
    let status = b
        .http
        .get(format!("{}/t/acme/.well-known/jwks.json", b.base()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

/// The safety net under the feeds: with a feed read only once a minute
/// (`CHANGE_FEED_POLL_MS=60000`), a user disabled on A is refused by B, which had cached the
/// session and the user, and settings, an emergency key rotation and a tenant deletion are
/// seen, all within `CACHE_MAX_AGE_SECONDS` (1 s here) and a loaded machine's margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_stalled_feed_changes_are_seen_within_the_cache_max_age() {
    let (_dir, _db, nodes, admin) = cluster(
        2,
        &[
            ("CHANGE_FEED_POLL_MS", "60000"),
            ("CACHE_MAX_AGE_SECONDS", "1"),
        ],
    )
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    // A bound for "within the maximum age": the age, one re-read, and a loaded machine.
    let bound = Duration::from_secs(5);
    let id = user_id(&a.register("n@acme.example", "stalled").await);
    let (token, _) = b.tokens("stalled").await;
    assert!(code(&b.acme(Some(&token), ME, json!({})).await).is_none());
    assert!(code(&b.acme(Some(&token), ME, json!({})).await).is_none());

    let body = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { disableUser(id: $id) { disabled } }",
            json!({"id": id}),
        )
        .await;
    assert!(code(&body).is_none(), "{body}");
    let t = within(bound, || async {
        code(&b.acme(Some(&token), ME, json!({})).await).is_some()
    })
    .await
    .unwrap_or_else(|| panic!("B refuses the disabled user within {bound:?}"));
    println!("stalled feed: disable {t:?}");

    let t = settings_seen(a, b, &admin, bound).await;
    println!("stalled feed: settings {t:?}");
    let (_, t) = emergency_rotation_seen(a, b, &admin, bound).await;
    println!("stalled feed: emergency key rotation {t:?}");
    let (fresh, _) = a.tokens("admin").await;
    let t = deletion_seen(a, b, &fresh, bound).await;
    println!("stalled feed: tenant deletion {t:?}");
}

/// A longer minimum password set on A: how long until B's registration enforces it (at most
/// `bound`, or the test fails).
async fn settings_seen(a: &Node, b: &Node, admin: &str, bound: Duration) -> Duration {
    let body = a
        .acme(Some(admin), "mutation { updateTenantSettings(input: {passwordMinLength: 30}) { passwordMinLength } }", json!({}))
        .await;
    assert!(code(&body).is_none(), "{body}");
    within(bound, || async {
        code(&b.register("short@acme.example", "shorty").await).as_deref() == Some("BAD_USER_INPUT")
    })
    .await
    .unwrap_or_else(|| panic!("B enforces the new minimum within {bound:?}"))
}

/// An emergency key rotation on A: the new kid, and how long until B refuses a token of the
/// revoked key that it accepted just before (at most `bound`).
async fn emergency_rotation_seen(
    a: &Node,
    b: &Node,
    admin: &str,
    bound: Duration,
) -> (String, Duration) {
    let (old, _) = b.tokens("admin").await;
    assert!(code(&b.acme(Some(&old), ME, json!({})).await).is_none());
    let body = a
        .acme(
            Some(admin),
            "mutation { rotateSigningKey(emergency: true) }",
            json!({}),
        )
        .await;
    let kid = body["data"]["rotateSigningKey"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    let t = within(bound, || async {
        code(&b.acme(Some(&old), ME, json!({})).await).as_deref() == Some("UNAUTHENTICATED")
    })
    .await
    .unwrap_or_else(|| panic!("B refuses the revoked key's tokens within {bound:?}"));
    (kid, t)
}

/// The tenant deleted on A: how long until B answers `TENANT_NOT_FOUND` to `token`'s `me`
/// (at most `bound`).
async fn deletion_seen(a: &Node, b: &Node, token: &str, bound: Duration) -> Duration {
    let body = a
        .platform("mutation { deleteTenant(slug: \"acme\") }", json!({}))
        .await;
    assert_eq!(body["data"]["deleteTenant"], true, "{body}");
    within(bound, || async {
        code(&b.acme(Some(token), ME, json!({})).await).as_deref() == Some("TENANT_NOT_FOUND")
    })
    .await
    .unwrap_or_else(|| panic!("B answers TENANT_NOT_FOUND within {bound:?}"))
}
