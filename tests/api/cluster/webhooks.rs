//! Webhook deliveries shared by two nodes over one SurrealDB server: every node looks for due
//! deliveries of the tenant every second, and each delivery is claimed by one of them, so a
//! receiver gets each event once.

use std::time::Duration;

use serde_json::{Value, json};

use super::{cluster, user_id};
use crate::helpers::PASSWORD;
use crate::webhooks::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_delivery_is_sent_by_one_node() {
    const N: usize = 20;
    let vars = [
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        ("OUTBOX_CLAIM_SECONDS", "2"),
    ];
    let (_dir, _db, nodes, _) = cluster(2, &vars).await;
    let login = nodes[0]
        .acme(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({"i": {"identifier": "admin", "password": PASSWORD}}),
        )
        .await;
    let admin = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rx = Receiver::start();
    let b = nodes[0]
        .acme(
            Some(&admin),
            "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id } } }",
            json!({"i": {"url": rx.url("/hook"), "events": ["user.created"]}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let hook = b["data"]["createWebhook"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Slow answers, so that both nodes find the same deliveries due while others are in flight.
    rx.control(json!({"secret": b["data"]["createWebhook"]["secret"], "delay_ms": 200}))
        .await;
    // A change through the other node makes it look at the tenant at once too (it would also
    // find the endpoint by its periodic scan).
    let b = nodes[1]
        .acme(
            Some(&admin),
            "mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: true}) { id } }",
            json!({"id": hook}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    for i in 0..N {
        user_id(
            &nodes[i % 2]
                .register(&format!("hook{i}@acme.example"), &format!("hooked{i}"))
                .await,
        );
    }
    // Every delivery recorded as succeeded (after which no node can claim it again), each
    // after one attempt: had both nodes sent one, it would show two.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let log = loop {
        let b = nodes[1]
            .acme(
                Some(&admin),
                "query($w: ID!) { webhookDeliveries(webhookId: $w, first: 100) { totalCount edges { node { status attempts { httpStatus } } } } }",
                json!({"w": hook}),
            )
            .await;
        let edges = b["data"]["webhookDeliveries"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if edges.len() == N && edges.iter().all(|e| e["node"]["status"] == "SUCCEEDED") {
            break edges;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all delivered: {b:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for e in &log {
        assert_eq!(e["node"]["attempts"].as_array().unwrap().len(), 1, "{e}");
    }
    let seen: Vec<Value> = rx.seen();
    assert_eq!(
        seen.len(),
        N,
        "each event once: {} receipts for {N} events",
        seen.len()
    );
    assert!(seen.iter().all(|r| r["verified"] == true));
    drop(rx);
}

/// Sixty wrong passwords for one account over two nodes at once: the compare-and-set that
/// starts the lock is the one write that emits `user.locked_out`, so the receiver hears of the
/// lock exactly once, from whichever node won.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lockout_raced_over_two_nodes_is_one_event() {
    let vars = [
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        ("LOGIN_LOCKOUT_BASE_SECONDS", "600"),
        ("LOGIN_FAILURES_PER_ADDRESS", "10000/60"),
        ("RATE_LIMIT_LOGIN", "10000/60"),
    ];
    let (_dir, _db, nodes, _) = cluster(2, &vars).await;
    let login = nodes[0].login("admin", PASSWORD).await;
    let admin = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rx = Receiver::start();
    let b = nodes[0]
        .acme(
            Some(&admin),
            "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id } } }",
            json!({"i": {"url": rx.url("/hook"), "events": ["user.locked_out"]}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    rx.control(json!({"secret": b["data"]["createWebhook"]["secret"]}))
        .await;
    let victim = user_id(&nodes[1].register("lock@acme.example", "locked").await);
    let nodes = std::sync::Arc::new(nodes);
    let handles: Vec<_> = (0..60)
        .map(|i| {
            let nodes = nodes.clone();
            tokio::spawn(async move { nodes[i % 2].login("locked", "definitely not it").await })
        })
        .collect();
    let mut evaluated = 0;
    for h in handles {
        let body = h.await.unwrap();
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_string);
        match code.as_deref() {
            Some("INVALID_CREDENTIALS") => evaluated += 1,
            Some("RATE_LIMITED") => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(evaluated, 5, "the threshold, across both nodes");
    let seen = rx.wait_until("the lockout event", |s| !s.is_empty()).await;
    // Every due delivery goes out within a second's tick on either node: once none is left
    // pending, the receiver has all there will be.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let b = nodes[0]
            .acme(
                Some(&admin),
                "{ webhooks { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let hook = b["data"]["webhooks"]["edges"][0]["node"]["id"].clone();
        let log = nodes[0]
            .acme(
                Some(&admin),
                "query($w: ID!) { webhookDeliveries(webhookId: $w, first: 100) { totalCount edges { node { status } } } }",
                json!({"w": hook}),
            )
            .await;
        let d = &log["data"]["webhookDeliveries"];
        if d["edges"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["node"]["status"] == "SUCCEEDED"))
        {
            assert_eq!(d["totalCount"], 1, "one lock, one event: {log:#}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = rx.seen().len().max(seen.len());
    assert_eq!(seen, 1, "one receipt");
    let body = &rx.seen()[0]["body"];
    assert_eq!(body["data"]["user_id"], victim.as_str(), "{body}");
    assert_eq!(body["data"]["failures"], 5, "{body}");
    assert_eq!(rx.seen()[0]["verified"], true);
}
