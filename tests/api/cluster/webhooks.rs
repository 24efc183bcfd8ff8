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
