//! `TestApp`: a real latchkey server on an ephemeral port, with a fresh database.

#![allow(dead_code)]

use latchkey::{Clock, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A 32+ character secret for tests.
pub const SECRET: &str = "test-secret-key-0123456789abcdef0123456789";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery";

/// A running server and an HTTP client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Plain HTTP client.
    pub client: reqwest::Client,
    /// The server's clock; `advance` it to expire things without sleeping.
    pub clock: Clock,
    server: Option<latchkey::Server>,
}

/// The configuration every test starts from: in-memory database, fixed secret, port 0.
pub fn test_vars() -> Vec<(String, String)> {
    [
        ("DATABASE_URL", "mem://"),
        ("SECRET_KEY", SECRET),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("PUBLIC_URL", "http://latchkey.test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl TestApp {
    /// Starts a server on a fresh in-memory database.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a server with extra (or overriding) configuration variables.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let mut vars = test_vars();
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let config = Config::from_vars(vars).expect("test configuration is valid");
        Self::spawn_config(config).await
    }

    /// Starts a server from a ready configuration.
    pub async fn spawn_config(config: Config) -> Self {
        let clock = config.clock.clone();
        let server = latchkey::spawn(config).await.expect("server starts");
        Self {
            base: format!("http://{}", server.addr()),
            client: reqwest::Client::new(),
            clock,
            server: Some(server),
        }
    }

    /// Gracefully stops the server and releases its database.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }

    /// The server's services: for reading what is stored where the API shows nothing.
    pub fn services(&self) -> &std::sync::Arc<latchkey::Services> {
        self.server.as_ref().expect("server running").services()
    }

    /// The default tenant's handle (its `db()` reads the stored rows). Drop it before
    /// `shutdown`: a held handle keeps the store open, and shutdown waits for it.
    pub async fn default_tenant(&self) -> latchkey::actors::Tenant {
        self.services()
            .tenant("default")
            .await
            .expect("default tenant")
    }

    /// Tenant actors running now.
    pub fn running_tenants(&self) -> usize {
        self.server.as_ref().map_or(0, |s| s.running_tenants())
    }

    /// POSTs a GraphQL request to `path` with an optional Bearer token; returns status and body.
    pub async fn gql_at(
        &self,
        path: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}{}", self.base, path))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let body = resp.json::<Value>().await.expect("JSON response");
        (status, body)
    }

    /// GraphQL on the default tenant, anonymous.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_at("/graphql", None, query, variables).await.1
    }

    /// GraphQL on the default tenant with a Bearer token.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.gql_at("/graphql", Some(token), query, variables)
            .await
            .1
    }

    /// Registers a user; panics unless it succeeds. Returns the `AuthPayload`.
    pub async fn register(&self, email: &str, username: &str, password: &str) -> Value {
        let body = self
            .gql(
                REGISTER,
                json!({"input": {"email": email, "username": username, "password": password}}),
            )
            .await;
        assert!(body["errors"].is_null(), "register failed: {body}");
        body["data"]["register"].clone()
    }

    /// Logs in; returns the whole response body.
    pub async fn login(&self, identifier: &str, password: &str) -> Value {
        self.gql(
            LOGIN,
            json!({"input": {"identifier": identifier, "password": password}}),
        )
        .await
    }

    /// `me` with a token; returns the whole response body.
    pub async fn me(&self, token: &str) -> Value {
        self.gql_as(token, ME, json!({})).await
    }

    /// `refresh`; returns the whole response body.
    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.gql(REFRESH, json!({"t": refresh_token})).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked before `shutdown` still must not leak a serving task into the
        // next test's assertions; dropping the server handle stops accepting via its channel.
        self.server.take();
    }
}

/// Awaits all futures concurrently (spawned, so they really run in parallel), in order.
pub async fn join_all<F>(futs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// The `extensions.code` of the first error, if any.
pub fn code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

/// The `extensions.field` of the first error, if any.
pub fn field(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .map(str::to_string)
}

/// `register` mutation.
pub const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken tokenType expiresIn user { id email username emailVerified roles disabled createdAt lastLoginAt } } }";
/// `login` mutation.
pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken tokenType expiresIn user { id email username emailVerified roles disabled createdAt lastLoginAt } } }";
/// `me` query.
pub const ME: &str =
    "{ me { id email username emailVerified roles disabled createdAt lastLoginAt } }";
/// `refresh` mutation.
pub const REFRESH: &str = "mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken tokenType expiresIn user { id } } }";

/// A real SMTP server (mailin-embedded) on loopback that keeps every message it receives.
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct SinkHandler {
    buf: Vec<u8>,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl mailin_embedded::Handler for SinkHandler {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        self.buf.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let raw = String::from_utf8_lossy(&self.buf).into_owned();
        self.mails.lock().unwrap().push(raw);
        mailin_embedded::response::OK
    }
}

/// One received mail, decoded enough to read.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The raw message.
    pub raw: String,
    /// `To:` header value.
    pub to: String,
    /// `Subject:` header value.
    pub subject: String,
    /// Decoded text/plain part.
    pub text: String,
    /// Decoded text/html part.
    pub html: String,
}

impl Mail {
    /// The value of `token=` in the first link of the text body.
    pub fn token(&self) -> String {
        let start = self.text.find("token=").expect("mail has a token link") + "token=".len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

impl SmtpSink {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::serve(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A free port with nothing listening on it yet (the "SMTP server is down" case).
    pub fn reserve_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Self {
        Self::serve(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn serve(listener: std::net::TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut server = mailin_embedded::Server::new(SinkHandler {
            buf: Vec::new(),
            mails: mails.clone(),
        });
        // Real SMTP servers take many sessions at once; mailin's default of 4 threads is held by
        // the idle pooled connections of one node, and a second node's mail would wait forever.
        server
            .with_name("sink.test")
            .with_num_threads(32)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, mails }
    }

    /// `SMTP_URL` for this server.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// All mails so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .map(|r| parse_mail(r))
            .collect()
    }

    /// Waits (polling, up to 30 s) until a mail to `to` whose subject contains `subject` has
    /// arrived, and returns the newest such mail.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        self.wait_for_count(to, subject, 1).await.pop().unwrap()
    }

    /// Waits until `n` such mails have arrived; returns them oldest first.
    pub async fn wait_for_count(&self, to: &str, subject: &str, n: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found: Vec<Mail> = self
                .mails()
                .into_iter()
                .filter(|m| m.to.contains(to) && m.subject.contains(subject))
                .collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail {subject:?} to {to} within 30 s; have: {:?}",
                self.mails()
                    .iter()
                    .map(|m| (&m.to, &m.subject))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

/// `SMTP_URL` for a loopback port.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

fn header(head: &str, name: &str) -> String {
    // Unfold continuation lines (RFC 5322 folding) before matching.
    let unfolded = head
        .replace("\r\n", "\n")
        .replace("\n ", " ")
        .replace("\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .unwrap_or_default()
}

fn split_head(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""))
}

fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'=', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_part(part: &str) -> (String, String) {
    let (head, body) = split_head(part);
    let ctype = header(head, "Content-Type").to_ascii_lowercase();
    let cte = header(head, "Content-Transfer-Encoding").to_ascii_lowercase();
    let body = match cte.as_str() {
        "quoted-printable" => decode_qp(body),
        "base64" => {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_default(),
            )
            .into_owned()
        }
        _ => body.to_string(),
    };
    (ctype, body)
}

fn parse_mail(raw: &str) -> Mail {
    let (head, _) = split_head(raw);
    let mut text = String::new();
    let mut html = String::new();
    let ctype = header(head, "Content-Type");
    if let Some(b) = ctype.split("boundary=").nth(1) {
        let boundary = format!("--{}", b.trim_matches('"'));
        for part in raw.split(&boundary).skip(1) {
            let (ct, body) = decode_part(part.trim_start_matches(['\r', '\n']));
            if ct.starts_with("text/plain") {
                text = body;
            } else if ct.starts_with("text/html") {
                html = body;
            }
        }
    } else {
        text = decode_part(raw).1;
    }
    Mail {
        raw: raw.to_string(),
        to: header(head, "To"),
        subject: header(head, "Subject"),
        text,
        html,
    }
}

/// Platform key used by tests that need the platform API.
pub const ADMIN_KEY: &str = "platform-admin-key-for-tests-0123456789";

impl TestApp {
    /// Starts a server with the platform API enabled (and extra variables).
    pub async fn spawn_platform(extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![("ADMIN_API_KEY", ADMIN_KEY)];
        vars.extend_from_slice(extra);
        Self::spawn_with(&vars).await
    }

    /// Platform GraphQL with the platform key.
    pub async fn platform(&self, query: &str, variables: Value) -> Value {
        self.gql_at("/admin/graphql", Some(ADMIN_KEY), query, variables)
            .await
            .1
    }

    /// Creates a tenant with a first admin and returns the admin's access token.
    pub async fn create_tenant_with_admin(&self, slug: &str) -> String {
        let body = self
            .platform(
                "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
                json!({"i": {"slug": slug, "displayName": format!("Tenant {slug}"),
                    "admin": {"email": format!("admin@{slug}.example"), "username": "admin", "password": PASSWORD}}}),
            )
            .await;
        assert_eq!(body["data"]["createTenant"]["slug"], slug, "{body}");
        self.login_at(slug, "admin", PASSWORD).await["data"]["login"]["accessToken"]
            .as_str()
            .expect("admin logs in")
            .to_string()
    }

    /// GraphQL on a named tenant.
    pub async fn gql_tenant(
        &self,
        slug: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        self.gql_at(&format!("/t/{slug}/graphql"), token, query, variables)
            .await
            .1
    }

    /// Registers on a named tenant; returns the payload.
    pub async fn register_at(
        &self,
        slug: &str,
        email: &str,
        username: &str,
        password: &str,
    ) -> Value {
        let body = self
            .gql_tenant(
                slug,
                None,
                REGISTER,
                json!({"input": {"email": email, "username": username, "password": password}}),
            )
            .await;
        assert!(
            body["errors"].is_null(),
            "register at {slug} failed: {body}"
        );
        body["data"]["register"].clone()
    }

    /// Logs in on a named tenant; returns the whole body.
    pub async fn login_at(&self, slug: &str, identifier: &str, password: &str) -> Value {
        self.gql_tenant(
            slug,
            None,
            LOGIN,
            json!({"input": {"identifier": identifier, "password": password}}),
        )
        .await
    }

    /// The value of a metric from `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("metric {name} missing in {text}"))
    }
}
