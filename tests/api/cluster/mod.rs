//! Several latchkey processes on one real SurrealDB server (tests/api/surreal_server.rs), or
//! on two SurrealDB endpoints over one datastore (`two_endpoints`):
//! what the database decides across nodes (lockout admission, refresh rotation, uniqueness,
//! one send per queued mail), how fast a change made on one node is enforced on another
//! (each node reading the tenants' change feeds, with `LIVE SELECT` off), and what happens when the
//! SurrealDB server or a node is killed. Every wait is a poll with a deadline.

mod faults;
mod federation;
mod organizations;
mod outbox;
mod propagation;
mod races;
mod two_endpoints;
mod webhooks;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::{LOGIN, PASSWORD, REGISTER, code};
use crate::surreal_server::SurrealServer;

const ADMIN_KEY: &str = "cluster-admin-key-0123456789abcdef";
const ME: &str = "{ me { id username roles } }";
/// "Within 1 second", as the issue asks of propagation and of a lost SurrealDB server.
const WITHIN: Duration = Duration::from_secs(1);

/// One latchkey process and an HTTP client for it.
struct Node {
    server: ChildServer,
    http: reqwest::Client,
    _work: tempfile::TempDir,
}

impl Node {
    fn start(db: &SurrealServer, extra: &[(&str, &str)]) -> Node {
        Node::start_at(db, 0, extra)
    }

    /// A node on endpoint `endpoint` of `db` (0, or 1 of a pair).
    fn start_at(db: &SurrealServer, endpoint: usize, extra: &[(&str, &str)]) -> Node {
        let work = tempfile::tempdir().unwrap();
        let mut vars: Vec<(&str, String)> = db.node_vars_at(endpoint);
        vars.extend([
            ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
            ("RATE_LIMIT_LOGIN", "1000000/60".into()),
            ("RATE_LIMIT_REGISTER", "1000000/60".into()),
            ("RATE_LIMIT_PASSWORD_RESET", "1000000/60".into()),
            ("LOGIN_FAILURES_PER_ADDRESS", "1000000/60".into()),
            ("RUST_LOG", "warn,latchkey=info,audit=warn".into()),
            // The change feeds alone carry every guarantee these tests check, as they must
            // when SurrealDB runs as several processes (where LIVE SELECT hears only its own
            // process's writes). The one test with LIVE hints on says so.
            ("LIVE_QUERIES", "false".into()),
        ]);
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k, v.to_string()));
        }
        let all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = ChildServer::start_in(work.path(), &all);
        Node {
            server,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            _work: work,
        }
    }

    fn base(&self) -> &str {
        &self.server.base
    }

    /// The node's last `n` log lines, one string.
    fn log_tail(&self, n: usize) -> String {
        let log = self.server.lines();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// A GraphQL call on `path`; the body (a transport failure panics).
    async fn gql_at(&self, path: &str, bearer: Option<&str>, query: &str, vars: Value) -> Value {
        self.try_gql_at(path, bearer, query, vars)
            .await
            .unwrap_or_else(|e| panic!("no answer from {}{path}: {e}", self.base()))
    }

    async fn try_gql_at(
        &self,
        path: &str,
        bearer: Option<&str>,
        query: &str,
        vars: Value,
    ) -> Result<Value, reqwest::Error> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base()))
            .json(&json!({"query": query, "variables": vars}));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send().await?.json::<Value>().await
    }

    async fn acme(&self, bearer: Option<&str>, query: &str, vars: Value) -> Value {
        self.gql_at("/t/acme/graphql", bearer, query, vars).await
    }

    async fn platform(&self, query: &str, vars: Value) -> Value {
        self.gql_at("/admin/graphql", Some(ADMIN_KEY), query, vars)
            .await
    }

    async fn register(&self, email: &str, username: &str) -> Value {
        self.acme(
            None,
            REGISTER,
            json!({"input": {"email": email, "username": username, "password": PASSWORD}}),
        )
        .await
    }

    async fn login(&self, identifier: &str, password: &str) -> Value {
        self.acme(
            None,
            LOGIN,
            json!({"input": {"identifier": identifier, "password": password}}),
        )
        .await
    }

    async fn tokens(&self, identifier: &str) -> (String, String) {
        let body = self.login(identifier, PASSWORD).await;
        let l = &body["data"]["login"];
        assert!(l.is_object(), "login of {identifier} failed: {body}");
        (
            l["accessToken"].as_str().unwrap().to_string(),
            l["refreshToken"].as_str().unwrap().to_string(),
        )
    }

    /// Sets a user's roles through `admin`'s token; fails the test on an error.
    async fn set_roles(&self, admin: &str, id: &str, roles: &[&str]) {
        let body = self
            .acme(
                Some(admin),
                "mutation($id: ID!, $r: [String!]!) { setUserRoles(id: $id, roles: $r) { id } }",
                json!({"id": id, "r": roles}),
            )
            .await;
        assert!(code(&body).is_none(), "{body}");
    }

    async fn readyz(&self) -> u16 {
        self.readiness().await.0
    }

    /// `/readyz`'s status and body (the reason when unready); status 0 when nothing answered.
    async fn readiness(&self) -> (u16, String) {
        match self
            .http
            .get(format!("{}/readyz", self.base()))
            .send()
            .await
        {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }
}

/// A SurrealDB server, `n` nodes on it and the tenant `acme` with its admin; the admin's
/// access token.
async fn cluster(
    n: usize,
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, SurrealServer, Vec<Node>, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start(dir.path());
    let nodes: Vec<Node> = (0..n).map(|_| Node::start(&db, extra)).collect();
    with_acme(dir, db, nodes).await
}

/// Two SurrealDB endpoints over one datastore (`SurrealServer::start_pair`), one node on
/// each, and the tenant `acme` with its admin.
async fn pair_cluster(
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, SurrealServer, Vec<Node>, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start_pair(dir.path());
    let nodes: Vec<Node> = (0..2).map(|i| Node::start_at(&db, i, extra)).collect();
    with_acme(dir, db, nodes).await
}

/// The tenant `acme` created through the first node, and its admin's access token.
async fn with_acme(
    dir: tempfile::TempDir,
    db: SurrealServer,
    nodes: Vec<Node>,
) -> (tempfile::TempDir, SurrealServer, Vec<Node>, String) {
    let create = || {
        nodes[0].platform(
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
            json!({"i": {"slug": "acme", "displayName": "Acme",
                "admin": {"email": "admin@acme.example", "username": "admin", "password": PASSWORD}}}),
        )
    };
    let mut body = create().await;
    // SERVICE_UNAVAILABLE says "retry later" (seen once in CI with the machine loaded): the
    // setup does what a client does, at most twice more, and says so; what each test asserts
    // is not touched by it.
    for _ in 0..2 {
        if code(&body).as_deref() != Some("SERVICE_UNAVAILABLE") {
            break;
        }
        println!(
            "cluster setup: createTenant answered SERVICE_UNAVAILABLE; retrying. The node's last lines:\n{}",
            nodes[0].log_tail(20)
        );
        body = create().await;
    }
    if body["data"]["createTenant"]["slug"] != "acme" {
        // What the node logged is the only account of why (the answer says "retry later").
        panic!(
            "createTenant failed: {body}\nthe node's last lines:\n{}",
            nodes[0].log_tail(40)
        );
    }
    let (admin, _) = nodes[0].tokens("admin").await;
    (dir, db, nodes, admin)
}

/// Polls `check` until it holds or `within` has passed; how long it took, or `None`.
async fn within<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn user_id(body: &Value) -> String {
    body["data"]["register"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("register failed: {body}"))
        .to_string()
}
