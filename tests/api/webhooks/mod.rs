//! Webhooks end to end: endpoints managed over GraphQL, events emitted by the real flows that
//! cause them, delivered over HTTP to a real receiver (tests/clients/webhook_receiver.py) that
//! verifies each signature with the Standard Webhooks reference library and each payload with
//! its JSON schema (schema/events/), never with latchkey's code. Retries run on the server's
//! clock, advanced by the tests (no sleeping).

mod delivery;
mod endpoints;
mod events;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE: &str = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id url events enabled description } } }";
const DELIVERIES: &str = "query($w: ID!, $s: DeliveryStatus) { webhookDeliveries(webhookId: $w, first: 100, status: $s) {
    totalCount edges { node { id messageId eventType status nextAttemptAt payload attempts { httpStatus error durationMs responseExcerpt } } } } }";

/// The receiver process and what it has seen.
pub(crate) struct Receiver {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
    http: reqwest::Client,
}

impl Receiver {
    pub(crate) fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/webhook_receiver.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the receiver (standardwebhooks, jsonschema: tests/clients/requirements.txt)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the receiver says its port").unwrap();
        let port: u16 = first.strip_prefix("port ").unwrap().parse().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        // Drained on a thread for as long as the receiver lives.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            port,
            seen,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) async fn control(&self, c: Value) {
        let r = self
            .http
            .post(self.url("/_control"))
            .json(&c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub(crate) fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `done` holds for what was received; what was received.
    pub(crate) async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within 30 s; received {}",
                serde_json::to_string_pretty(&seen).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.stdin.take().map(|mut s| s.flush()));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The event types a list of received deliveries carried.
fn types(seen: &[Value]) -> Vec<String> {
    seen.iter()
        .filter_map(|r| r["body"]["type"].as_str().map(str::to_string))
        .collect()
}

/// A server whose outbound guard lets it call the receiver on loopback, a tenant `acme` and
/// its admin's token.
async fn setup() -> (TestApp, String) {
    let app = TestApp::spawn_platform(&[("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    (app, admin)
}

/// Registers an endpoint at the receiver for `events`; its id and secret, the receiver told.
pub(crate) async fn endpoint(
    app: &TestApp,
    admin: &str,
    rx: &Receiver,
    events: &[&str],
) -> (String, String) {
    let b = app
        .gql_tenant(
            "acme",
            Some(admin),
            CREATE,
            json!({"i": {"url": rx.url("/hook"), "events": events, "description": "the tests' receiver"}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let c = &b["data"]["createWebhook"];
    let secret = c["secret"].as_str().unwrap().to_string();
    rx.control(json!({"secret": secret})).await;
    (c["webhook"]["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(app: &TestApp, admin: &str, webhook: &str, status: Option<&str>) -> Value {
    let b = app
        .gql_tenant(
            "acme",
            Some(admin),
            DELIVERIES,
            json!({"w": webhook, "s": status}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    b["data"]["webhookDeliveries"].clone()
}

/// Polls the delivery log until `done` holds (30 s).
async fn wait_log(
    app: &TestApp,
    admin: &str,
    webhook: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = deliveries(app, admin, webhook, None).await;
        if done(&log) {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {log:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
