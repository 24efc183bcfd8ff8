//! Several latchkey processes on one real SurrealDB server (tests/api/surreal_server.rs):
//! what the database decides across nodes (lockout admission, refresh rotation, uniqueness,
//! one send per queued mail), how fast a change made on one node is enforced on another
//! (SurrealDB `LIVE SELECT` invalidating the other node's caches), and what happens when the
//! SurrealDB server or a node is killed. Every wait is a poll with a deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::{LOGIN, PASSWORD, REFRESH, REGISTER, SmtpSink, code};
use crate::surreal_server::SurrealServer;

const ADMIN_KEY: &str = "cluster-admin-key-0123456789abcdef";
const ME: &str = "{ me { id username roles } }";
const WRONG: &str = "wrong horse battery";
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
        let work = tempfile::tempdir().unwrap();
        let mut vars: Vec<(&str, String)> = db.node_vars();
        vars.extend([
            ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
            ("RATE_LIMIT_LOGIN", "1000000/60".into()),
            ("RATE_LIMIT_REGISTER", "1000000/60".into()),
            ("RATE_LIMIT_PASSWORD_RESET", "1000000/60".into()),
            ("LOGIN_FAILURES_PER_ADDRESS", "1000000/60".into()),
            ("RUST_LOG", "warn,latchkey=info,audit=warn".into()),
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

/// Nodes of a fresh deployment start at the same moment (a scaled-up replica set): they race
/// through the platform migrations, the default tenant and the SECRET_KEY check, and every one
/// comes up on one shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_started_at_once_on_a_fresh_server_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start(dir.path());
    let nodes: Vec<Node> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3).map(|_| s.spawn(|| Node::start(&db, &[]))).collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for n in &nodes {
        let (status, body) = n.readiness().await;
        assert_eq!(status, 200, "{} is ready: {body}", n.base());
    }
    let list = "{ tenants { edges { node { slug } } } }";
    for n in &nodes {
        let body = n.platform(list, json!({})).await;
        let slugs: Vec<&str> = body["data"]["tenants"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap())
            .collect();
        assert_eq!(
            slugs,
            ["default"],
            "one default tenant, seen alike by {}",
            n.base()
        );
    }
    // The default tenant works across the nodes: registered on one, signed in on another.
    let body = nodes[0]
        .gql_at(
            "/graphql",
            None,
            REGISTER,
            json!({"input": {"email": "first@example.com", "username": "first", "password": PASSWORD}}),
        )
        .await;
    user_id(&body);
    let body = nodes[2]
        .gql_at(
            "/graphql",
            None,
            LOGIN,
            json!({"input": {"identifier": "first", "password": PASSWORD}}),
        )
        .await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let me = nodes[1]
        .gql_at("/graphql", Some(token), ME, json!({}))
        .await;
    assert_eq!(me["data"]["me"]["username"], "first", "{me}");
    println!("cluster start: 3 nodes started at once on a fresh server, one default tenant");
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

/// 200 wrong passwords for one account, spread over three nodes at once: the nodes together
/// verify exactly as many as the lockout threshold, because admission is a compare-and-set
/// on the account's row in SurrealDB, not a count in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_wrong_logins_over_three_nodes_verify_only_the_threshold() {
    let (_dir, _db, nodes, _) = cluster(3, &[("LOGIN_LOCKOUT_BASE_SECONDS", "600")]).await;
    user_id(&nodes[0].register("race@acme.example", "racer").await);
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let nodes = nodes.clone();
            tokio::spawn(async move { nodes[i % 3].login("racer", WRONG).await })
        })
        .collect();
    let (mut evaluated, mut limited) = (0, 0);
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            Some("INVALID_CREDENTIALS") => evaluated += 1,
            Some("RATE_LIMITED") => limited += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    println!(
        "cluster lockout: 200 wrong logins over 3 nodes: {evaluated} passwords verified, {limited} refused"
    );
    assert_eq!(
        evaluated, 5,
        "exactly the threshold was verified, across all nodes"
    );
    assert_eq!(limited, 195);
    for node in nodes.iter() {
        let body = node.login("racer", PASSWORD).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("RATE_LIMITED"),
            "locked on every node: {body}"
        );
    }
}

/// One refresh token presented at the same moment on every node (four times each): one
/// rotation wins; the others are reuse, which revokes the session, so the winner's new tokens
/// die too, on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_on_every_node_at_once_rotates_once_and_reuse_kills_it_everywhere() {
    let (_dir, _db, nodes, _) = cluster(3, &[]).await;
    user_id(&nodes[0].register("r@acme.example", "rotor").await);
    let (_, refresh) = nodes[1].tokens("rotor").await;
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let nodes = nodes.clone();
            let refresh = refresh.clone();
            tokio::spawn(async move {
                nodes[i % 3]
                    .acme(None, REFRESH, json!({"t": refresh}))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refused = 0;
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            None => winners.push(body["data"]["refresh"].clone()),
            Some("INVALID_TOKEN") => refused += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    println!(
        "cluster refresh: 12 presentations over 3 nodes: {} rotation(s), {refused} refused",
        winners.len()
    );
    assert_eq!(winners.len(), 1, "exactly one rotation");
    let access = winners[0]["accessToken"].as_str().unwrap();
    let next = winners[0]["refreshToken"].as_str().unwrap();
    for node in nodes.iter() {
        let body = node.acme(None, REFRESH, json!({"t": next})).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_TOKEN"),
            "the family is dead: {body}"
        );
        let gone = within(WITHIN, || async {
            code(&node.acme(Some(access), ME, json!({})).await).as_deref()
                == Some("UNAUTHENTICATED")
        })
        .await;
        assert!(
            gone.is_some(),
            "the winner's access token is refused on {}",
            node.base()
        );
    }
}

/// 50 registrations of one address at once over two nodes: one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_registrations_of_one_email_over_nodes_make_one_user() {
    let (_dir, _db, nodes, admin) = cluster(2, &[]).await;
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let nodes = nodes.clone();
            tokio::spawn(async move {
                nodes[i % 2]
                    .register("same@acme.example", &format!("same{i}"))
                    .await
            })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            None => created += 1,
            Some("EMAIL_TAKEN") => taken += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    let body = nodes[1]
        .acme(
            Some(&admin),
            "{ users(search: \"same@acme.example\") { totalCount } }",
            json!({}),
        )
        .await;
    let users = body["data"]["users"]["totalCount"].as_i64().unwrap_or(-1);
    println!(
        "cluster uniqueness: 50 registrations over 2 nodes: {created} created, {taken} EMAIL_TAKEN, {users} user(s) stored"
    );
    assert_eq!((created, taken, users), (1, 49, 1), "{body}");
}

/// A change made through node A is enforced by node B within a second, B's caches having been
/// warmed first: role change, user disable, session revocation, settings, signing key
/// rotation, tenant deletion. Then the delay is measured over 100 role changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_on_one_node_are_enforced_on_another_within_a_second() {
    let (_dir, _db, nodes, admin) = cluster(2, &[]).await;
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
    let body = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { setUserRoles(id: $id, roles: [\"auditor\"]) { roles } }",
            json!({"id": id}),
        )
        .await;
    assert!(code(&body).is_none(), "{body}");
    let t = within(WITHIN, || async {
        me_on_b().await["data"]["me"]["roles"] == json!(["auditor"])
    })
    .await;
    assert!(t.is_some(), "role change seen on B within 1 s");
    println!("cluster propagation: role change {:?}", t.unwrap());

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
    println!("cluster propagation: disable {:?}", t.unwrap());
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
    println!("cluster propagation: session revocation {:?}", t.unwrap());

    // Settings: a longer minimum password, enforced by B's registration.
    let settings = "{ tenantSettings { passwordMinLength } }";
    assert_eq!(
        b.acme(Some(&admin), settings, json!({})).await["data"]["tenantSettings"]["passwordMinLength"],
        8
    );
    let body = a
        .acme(Some(&admin), "mutation { updateTenantSettings(input: {passwordMinLength: 30}) { passwordMinLength } }", json!({}))
        .await;
    assert!(code(&body).is_none(), "{body}");
    let t = within(WITHIN, || async {
        code(&b.register("short@acme.example", "shorty").await).as_deref() == Some("BAD_USER_INPUT")
    })
    .await;
    assert!(t.is_some(), "B enforces the new minimum within 1 s");
    println!("cluster propagation: settings {:?}", t.unwrap());

    // Emergency key rotation on A: B refuses tokens of the revoked key, accepts A's new ones.
    let (old, _) = b.tokens("admin").await;
    assert!(code(&b.acme(Some(&old), ME, json!({})).await).is_none());
    let body = a
        .acme(
            Some(&admin),
            "mutation { rotateSigningKey(emergency: true) }",
            json!({}),
        )
        .await;
    let kid = body["data"]["rotateSigningKey"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    let t = within(WITHIN, || async {
        code(&b.acme(Some(&old), ME, json!({})).await).as_deref() == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(t.is_some(), "B refuses the revoked key's tokens within 1 s");
    println!(
        "cluster propagation: emergency key rotation {:?}",
        t.unwrap()
    );
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
        let body = a
            .acme(
                Some(&fresh),
                "mutation($id: ID!, $r: [String!]!) { setUserRoles(id: $id, roles: $r) { id } }",
                json!({"id": id, "r": [role]}),
            )
            .await;
        assert!(code(&body).is_none(), "{body}");
        let t = within(WITHIN, || async {
            b.acme(Some(&token), ME, json!({})).await["data"]["me"]["roles"] == json!([role])
        })
        .await;
        delays.push(t.unwrap_or_else(|| panic!("change {i} not seen on B within 1 s")));
    }
    delays.sort();
    println!(
        "cluster propagation over 100 role changes: p50 {:?}, p99 {:?}, max {:?}",
        delays[49], delays[98], delays[99]
    );

    // Tenant deletion on A: B answers TENANT_NOT_FOUND and its JWKS is gone.
    let body = a
        .platform("mutation { deleteTenant(slug: \"acme\") }", json!({}))
        .await;
    assert_eq!(body["data"]["deleteTenant"], true, "{body}");
    let t = within(WITHIN, || async {
        code(&b.acme(Some(&token), ME, json!({})).await).as_deref() == Some("TENANT_NOT_FOUND")
    })
    .await;
    assert!(
        t.is_some(),
        "B answers TENANT_NOT_FOUND within 1 s: {}",
        b.acme(Some(&token), ME, json!({})).await
    );
    println!("cluster propagation: tenant deletion {:?}", t.unwrap());
    let status = b
        .http
        .get(format!("{}/t/acme/.well-known/jwks.json", b.base()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";

/// Mail queued through two nodes that both drain every outbox (and rescan it every second):
/// each mail is sent exactly once. Counted after both nodes have rescanned twice more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_queued_mail_is_sent_by_exactly_one_node() {
    let smtp = SmtpSink::start();
    let url = smtp.url();
    let vars = [
        ("SMTP_URL", url.as_str()),
        ("OUTBOX_CLAIM_SECONDS", "2"),
        (
            "RUST_LOG",
            "warn,latchkey=info,latchkey::actors::email=debug,audit=warn",
        ),
    ];
    let (_dir, _db, nodes, _) = cluster(2, &vars).await;
    for i in 0..20 {
        user_id(
            &nodes[i % 2]
                .register(&format!("m{i}@acme.example"), &format!("mailer{i}"))
                .await,
        );
    }
    for i in 0..20 {
        let body = nodes[(i + 1) % 2]
            .acme(None, RESET, json!({"e": format!("m{i}@acme.example")}))
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    }
    let resets = || {
        smtp.mails()
            .iter()
            .filter(|m| m.subject.contains("eset"))
            .count()
    };
    let all = within(Duration::from_secs(30), || async { resets() >= 20 }).await;
    assert!(
        all.is_some(),
        "{} of 20 reset mails in 30 s; the nodes logged:\n{}",
        resets(),
        nodes
            .iter()
            .flat_map(|n| n.server.lines())
            .filter(|l| l.contains("mail") || l.contains("outbox"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let scans = |n: &Node| {
        n.server
            .lines()
            .iter()
            .filter(|l| l.contains("outbox scan finished"))
            .count()
    };
    let before: Vec<usize> = nodes.iter().map(scans).collect();
    let rescanned = within(Duration::from_secs(30), || async {
        nodes.iter().zip(&before).all(|(n, b)| scans(n) >= b + 2)
    })
    .await;
    assert!(rescanned.is_some(), "both nodes rescanned their outboxes");
    for i in 0..20 {
        let to = format!("m{i}@acme.example");
        let n = smtp
            .mails()
            .iter()
            .filter(|m| m.to.contains(&to) && m.subject.contains("eset"))
            .count();
        assert_eq!(n, 1, "exactly one reset mail to {to}");
    }
    println!("cluster outbox: 20 mails queued over 2 nodes, 20 sent, none twice");
}

/// A node that dies holding a mail's claim (its SMTP server never answers) loses nothing: the
/// other node sends the mail once the claim lapses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mail_claimed_by_a_node_that_died_is_sent_by_another() {
    let smtp = SmtpSink::start();
    // An SMTP "server" that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("smtp://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for s in silent.incoming().flatten() {
                held.lock().unwrap().push(s);
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start(dir.path());
    let claim = [("OUTBOX_CLAIM_SECONDS", "2")];
    let mut doomed_vars = claim.to_vec();
    doomed_vars.push(("SMTP_URL", silent_url.as_str()));
    let doomed = Node::start(&db, &doomed_vars);
    let body = doomed
        .platform(
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
            json!({"i": {"slug": "acme", "displayName": "Acme",
                "admin": {"email": "admin@acme.example", "username": "admin", "password": PASSWORD}}}),
        )
        .await;
    assert_eq!(body["data"]["createTenant"]["slug"], "acme", "{body}");
    user_id(&doomed.register("lost@acme.example", "lost").await);
    let body = doomed
        .acme(None, RESET, json!({"e": "lost@acme.example"}))
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true);
    // The doomed node is in its SMTP conversation (it holds the claim) when it is killed.
    let connected = within(Duration::from_secs(10), || async {
        !held.lock().unwrap().is_empty()
    })
    .await;
    assert!(connected.is_some(), "the doomed node started sending");
    doomed.server.signal(libc::SIGKILL);
    let mut sink_vars = claim.to_vec();
    let url = smtp.url();
    sink_vars.push(("SMTP_URL", url.as_str()));
    let survivor = Node::start(&db, &sink_vars);
    let mail = smtp.wait_for("lost@acme.example", "eset").await;
    assert!(!mail.token().is_empty());
    println!("cluster outbox: the mail of a node killed mid-send was sent by the survivor");
    drop(survivor);
}

/// The SurrealDB server killed under a node: requests answer SERVICE_UNAVAILABLE (503 on
/// REST) within a second, /readyz is unready, nothing hangs; restarted, the node reconnects by
/// itself and every acknowledged registration is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_surrealdb_server_killed_and_restarted() {
    let (_dir, mut db, nodes, _) = cluster(1, &[]).await;
    let node = &nodes[0];
    for i in 0..20 {
        user_id(
            &node
                .register(&format!("k{i}@acme.example"), &format!("kept{i}"))
                .await,
        );
    }
    let (token, _) = node.tokens("kept0").await;
    assert!(code(&node.acme(Some(&token), ME, json!({})).await).is_none());
    assert_eq!(node.readyz().await, 200);

    db.kill();
    let killed = Instant::now();
    // Each kind of request fails closed, each within a second of asking.
    for (what, query, vars, bearer) in [
        ("me", ME, json!({}), Some(token.as_str())),
        (
            "login",
            LOGIN,
            json!({"input": {"identifier": "kept1", "password": PASSWORD}}),
            None,
        ),
        (
            "register",
            REGISTER,
            json!({"input": {"email": "new@acme.example", "username": "newbie", "password": PASSWORD}}),
            None,
        ),
    ] {
        let t = within(WITHIN, || async {
            let asked = Instant::now();
            let body = node.acme(bearer, query, vars.clone()).await;
            code(&body).as_deref() == Some("SERVICE_UNAVAILABLE") && asked.elapsed() < WITHIN
        })
        .await;
        assert!(
            t.is_some(),
            "{what} answers SERVICE_UNAVAILABLE within 1 s of the kill"
        );
    }
    let rest = node
        .http
        .post(format!("{}/api/auth/login", node.base()))
        .form(&[("username", "kept1"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(rest, 503, "REST answers 503");
    let t = within(WITHIN, || async { node.readyz().await == 503 }).await;
    assert!(t.is_some(), "/readyz unready");
    println!(
        "cluster fault: SurrealDB killed; SERVICE_UNAVAILABLE and /readyz 503 within {:?}",
        killed.elapsed()
    );

    db.restart();
    let back = within(Duration::from_secs(30), || async {
        node.readyz().await == 200
    })
    .await;
    assert!(back.is_some(), "the node reconnected by itself");
    println!(
        "cluster fault: ready again {:?} after the server restarted",
        back.unwrap()
    );
    for i in 0..20 {
        let body = node.login(&format!("kept{i}"), PASSWORD).await;
        assert!(
            code(&body).is_none(),
            "acknowledged user kept{i} survived: {body}"
        );
    }
    assert!(
        code(&node.acme(Some(&token), ME, json!({})).await).is_none(),
        "the session too"
    );
}

/// A server that is slow is waited for, one that hangs fails closed. Paused for one second
/// (SIGSTOP: the port still accepts connections), a registration asked meanwhile is answered
/// once it goes on and the node never declares the server lost; paused for good, requests
/// answer SERVICE_UNAVAILABLE after the watch's 2 s limit and the node recovers when it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_server_is_waited_for_and_a_hung_one_fails_closed() {
    let (_dir, db, nodes, _) = cluster(1, &[]).await;
    let node = &nodes[0];
    user_id(&node.register("before@acme.example", "before").await);
    let lost = |node: &Node| {
        node.server
            .lines()
            .iter()
            .filter(|l| l.contains("SurrealDB server unreachable"))
            .count()
    };
    assert_eq!(lost(node), 0);

    db.pause();
    let (body, ()) = tokio::join!(node.register("paused@acme.example", "paused"), async {
        // The length of the pause is the scenario (a server that stalls for a second), not a
        // wait for something to happen.
        tokio::time::sleep(Duration::from_secs(1)).await;
        db.resume();
    });
    user_id(&body);
    assert_eq!(lost(node), 0, "a one-second stall is not a lost server");
    assert_eq!(node.readyz().await, 200);

    db.pause();
    let paused = Instant::now();
    let t = within(Duration::from_secs(5), || async {
        let body = node
            .register(
                &format!("hung{}@acme.example", paused.elapsed().as_millis()),
                "hung",
            )
            .await;
        code(&body).as_deref() == Some("SERVICE_UNAVAILABLE")
    })
    .await;
    assert!(t.is_some(), "a hung server fails requests closed");
    let t = within(Duration::from_secs(5), || async {
        node.readyz().await == 503
    })
    .await;
    assert!(t.is_some(), "/readyz unready while the server hangs");
    println!(
        "cluster fault: SurrealDB paused; SERVICE_UNAVAILABLE and /readyz 503 after {:?}",
        paused.elapsed()
    );
    db.resume();
    let back = within(Duration::from_secs(30), || async {
        node.readyz().await == 200
    })
    .await;
    assert!(back.is_some(), "ready again once the server goes on");
    assert!(code(&node.login("paused", PASSWORD).await).is_none());
}

/// Registrations through two nodes while one is killed -9: the other carries on, and every
/// registration either node acknowledged can log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_load_loses_nothing_acknowledged() {
    let (_dir, _db, nodes, _) = cluster(2, &[]).await;
    let nodes = Arc::new(nodes);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (nodes, acked, stop) = (nodes.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let name = format!("w{w}n{i}");
                    let node = &nodes[(w + i) % 2];
                    let body = node
                        .try_gql_at("/t/acme/graphql", None, REGISTER, json!({"input": {"email": format!("{name}@acme.example"), "username": name, "password": PASSWORD}}))
                        .await;
                    if let Ok(b) = body
                        && b["errors"].is_null()
                        && !b["data"].is_null()
                    {
                        acked.lock().unwrap().push(name);
                    }
                }
            })
        })
        .collect();
    let enough = |n: usize| {
        let acked = acked.clone();
        async move { acked.lock().unwrap().len() >= n }
    };
    assert!(
        within(Duration::from_secs(60), || enough(30))
            .await
            .is_some()
    );
    nodes[0].server.signal(libc::SIGKILL);
    let at_kill = acked.lock().unwrap().len();
    assert!(
        within(Duration::from_secs(60), || enough(at_kill + 30))
            .await
            .is_some(),
        "the survivor carries on"
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let names = acked.lock().unwrap().clone();
    for name in &names {
        let body = nodes[1].login(name, PASSWORD).await;
        assert!(
            code(&body).is_none(),
            "acknowledged {name} can log in: {body}"
        );
    }
    println!(
        "cluster fault: node killed -9 under load; {} acknowledged registrations ({at_kill} before the kill), 0 lost",
        names.len()
    );
}
