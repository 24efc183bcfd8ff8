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

/// Fields of `AuthPayload` the tests read.
pub const AUTH_FIELDS: &str = "accessToken refreshToken tokenType expiresIn user { id email username emailVerified roles disabled createdAt lastLoginAt }";

/// `register` mutation.
pub const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken tokenType expiresIn user { id email username emailVerified roles disabled createdAt lastLoginAt } } }";
/// `login` mutation.
pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken tokenType expiresIn user { id email username emailVerified roles disabled createdAt lastLoginAt } } }";
/// `me` query.
pub const ME: &str =
    "{ me { id email username emailVerified roles disabled createdAt lastLoginAt } }";
/// `refresh` mutation.
pub const REFRESH: &str = "mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken tokenType expiresIn user { id } } }";
