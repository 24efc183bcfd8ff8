//! The seed's REST API: happy paths on the default tenant and a named one, and every error
//! status the API can reach today, each in FastAPI's shape.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// A REST response: status, `WWW-Authenticate`, body (JSON, or Null when empty).
struct Answer {
    status: StatusCode,
    www_authenticate: Option<String>,
    body: Value,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let www_authenticate = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
    };
    Answer {
        status,
        www_authenticate,
        body,
    }
}

impl TestApp {
    async fn rest_register(&self, prefix: &str, body: Value) -> Answer {
        let resp = self
            .client
            .post(format!("{}{prefix}/api/auth/register", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn rest_login(&self, prefix: &str, form: &[(&str, &str)]) -> Answer {
        let resp = self
            .client
            .post(format!("{}{prefix}/api/auth/login", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn rest_get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn rest_post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = self.client.post(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn raw_post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }
}

fn ada() -> Value {
    json!({"email": "ada@example.com", "username": "ada", "password": PASSWORD})
}

/// The `loc`s of a 422 body, as `"body.email"` strings.
fn locs(body: &Value) -> Vec<String> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("422 detail is a list: {body}"))
        .iter()
        .map(|d| {
            assert!(d["msg"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
            assert!(d["type"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
            d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

#[tokio::test]
async fn register_login_me_refresh_logout_on_the_default_tenant() {
    let app = TestApp::spawn().await;

    let r = app.rest_register("", ada()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let user = r.body;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["email_verified"], false);
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok(),
        "{user}"
    );
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    // The seed's login: a form whose `username` is the email address, or the username.
    let by_email = app
        .rest_login(
            "",
            &[("username", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(by_email.status, StatusCode::OK, "{}", by_email.body);
    let t = by_email.body;
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 900);
    assert_eq!(t["access_token"].as_str().unwrap().split('.').count(), 3);
    let by_name = app
        .rest_login(
            "",
            &[
                ("grant_type", "password"),
                ("username", "ADA"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.body);

    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let me = app.rest_get("/api/auth/me", Some(access)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user["id"]);
    assert_eq!(me.body["email"], "ada@example.com");
    assert!(me.body["last_login_at"].is_string(), "{}", me.body);

    // Refresh: the refresh token goes in the Authorization header; a new pair comes back.
    let fresh = app
        .rest_post("/api/auth/refresh", Some(refresh), None)
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["token_type"], "bearer");
    let access2 = fresh.body["access_token"].as_str().unwrap().to_string();
    let refresh2 = fresh.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(
        app.rest_get("/api/auth/me", Some(&access2)).await.status,
        StatusCode::OK
    );
    // The spent token is refused, and (reuse = theft) the session it belonged to is revoked.
    let reuse = app
        .rest_post("/api/auth/refresh", Some(refresh), None)
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reuse.www_authenticate.as_deref(), Some("Bearer"));
    assert_eq!(
        app.rest_get("/api/auth/me", Some(&access2)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Logout (the username login's session, with its refresh token in the body): 204, and
    // neither the access token nor the refresh token works afterwards.
    let access3 = by_name.body["access_token"].as_str().unwrap();
    let refresh3 = by_name.body["refresh_token"].as_str().unwrap();
    let out = app
        .rest_post(
            "/api/auth/logout",
            Some(access3),
            Some(json!({"refresh_token": refresh3})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(out.body, Value::Null);
    assert_eq!(
        app.rest_get("/api/auth/me", Some(access3)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.rest_post("/api/auth/refresh", Some(refresh3), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

#[tokio::test]
async fn logout_without_a_body_ends_the_bearer_session() {
    let app = TestApp::spawn().await;
    app.rest_register("", ada()).await;
    let t = app
        .rest_login("", &[("username", "ada"), ("password", PASSWORD)])
        .await
        .body;
    let access = t["access_token"].as_str().unwrap();
    let out = app.rest_post("/api/auth/logout", Some(access), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.rest_get("/api/auth/me", Some(access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

#[tokio::test]
async fn rest_and_graphql_share_one_set_of_accounts_and_rules() {
    let app = TestApp::spawn().await;
    // Registered over REST, logged in over GraphQL.
    assert_eq!(
        app.rest_register("", ada()).await.status,
        StatusCode::CREATED
    );
    let body = app.login("ada@example.com", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    // Registered over GraphQL, taken for REST.
    app.register("grace@example.com", "grace", PASSWORD).await;
    let again = app
        .rest_register(
            "",
            json!({"email": "GRACE@example.com", "username": "grace2", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // A GraphQL access token works for REST `me` and vice versa.
    let gql_access = body["data"]["login"]["accessToken"].as_str().unwrap();
    assert_eq!(
        app.rest_get("/api/auth/me", Some(gql_access)).await.body["username"],
        "ada"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn named_tenant_paths_and_unknown_tenants() {
    let app = TestApp::spawn().await;
    // The default tenant is also reachable by name, with the same accounts.
    let r = app.rest_register("/t/default", ada()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let t = app
        .rest_login("", &[("username", "ada"), ("password", PASSWORD)])
        .await;
    let access = t.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.rest_get("/t/default/api/auth/me", Some(access))
            .await
            .status,
        StatusCode::OK
    );

    // Unknown and malformed tenants: 404 with a detail, on every endpoint.
    for prefix in ["/t/no-such-tenant", "/t/Not_A_Slug", "/t/%FF%FE"] {
        let r = app.rest_register(prefix, ada()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{prefix}");
        assert_eq!(r.body, json!({"detail": "tenant not found"}));
        let r = app
            .rest_login(prefix, &[("username", "ada"), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{prefix}");
        for (path, token) in [("me", Some(access)), ("refresh", None), ("logout", None)] {
            let r = if path == "me" {
                app.rest_get(&format!("{prefix}/api/auth/{path}"), token)
                    .await
            } else {
                app.rest_post(&format!("{prefix}/api/auth/{path}"), token, None)
                    .await
            };
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{prefix} {path}");
            assert_eq!(r.body["detail"], "tenant not found");
        }
    }
    // Unknown paths under the prefix answer FastAPI's 404.
    let r = app.rest_get("/api/auth/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not Found"}));
    app.shutdown().await;
}

#[tokio::test]
async fn conflicts_are_409() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.rest_register("", ada()).await.status,
        StatusCode::CREATED
    );
    let email = app
        .rest_register(
            "",
            json!({"email": "Ada@Example.com", "username": "other", "password": PASSWORD}),
        )
        .await;
    assert_eq!(email.status, StatusCode::CONFLICT);
    assert_eq!(
        email.body,
        json!({"detail": "an account with this email already exists"})
    );
    let name = app
        .rest_register(
            "",
            json!({"email": "other@example.com", "username": "ADA", "password": PASSWORD}),
        )
        .await;
    assert_eq!(name.status, StatusCode::CONFLICT);
    assert_eq!(name.body, json!({"detail": "this username is taken"}));
    app.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_requests_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    app.rest_register("", ada()).await;

    let cases = [
        app.rest_login("", &[("username", "ada"), ("password", "wrong password")])
            .await,
        app.rest_login("", &[("username", "nobody"), ("password", PASSWORD)])
            .await,
        app.rest_get("/api/auth/me", None).await,
        app.rest_get("/api/auth/me", Some("not-a-jwt")).await,
        app.rest_get("/api/auth/me", Some("a.b.c")).await,
        app.rest_post("/api/auth/refresh", None, None).await,
        app.rest_post("/api/auth/refresh", Some("unknown-refresh-token"), None)
            .await,
        app.rest_post("/api/auth/logout", None, None).await,
        app.rest_post("/api/auth/logout", Some("not-a-jwt"), None)
            .await,
        app.rest_post(
            "/api/auth/logout",
            None,
            Some(json!({"refresh_token": "unknown"})),
        )
        .await,
    ];
    for (i, r) in cases.iter().enumerate() {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "case {i}: {}", r.body);
        assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"), "case {i}");
        assert!(r.body["detail"].is_string(), "case {i}: {}", r.body);
    }
    // Unknown user and wrong password read the same (no account enumeration).
    assert_eq!(cases[0].body, cases[1].body);
    assert_eq!(cases[0].body["detail"], "invalid credentials");

    // A non-Bearer scheme is not anonymous access.
    let basic = app
        .client
        .get(format!("{}/api/auth/me", app.base))
        .basic_auth("ada", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_422_in_fastapis_shape() {
    let app = TestApp::spawn().await;
    let reg = "/api/auth/register";

    // Every missing field is reported at once.
    let r = app.rest_register("", json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        locs(&r.body),
        ["body.email", "body.username", "body.password"]
    );
    assert_eq!(r.body["detail"][0]["type"], "missing");
    assert_eq!(r.body["detail"][0]["msg"], "Field required");

    // Wrong types.
    let r = app
        .rest_register("", json!({"email": 5, "username": null, "password": ["x"]}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        locs(&r.body),
        ["body.email", "body.username", "body.password"]
    );
    assert_eq!(r.body["detail"][0]["type"], "string_type");

    // Not an object, not JSON, not declared as JSON.
    for (ct, body) in [
        ("application/json", "[1, 2]"),
        ("application/json", "\"text\""),
        ("application/json", "{\"email\": "),
        ("application/json", ""),
        ("application/json", "\u{0}\u{1}binary"),
        (
            "text/plain",
            "{\"email\":\"a@example.com\",\"username\":\"ada\",\"password\":\"correct horse battery\"}",
        ),
        (
            "application/x-www-form-urlencoded",
            "email=a@example.com&username=ada&password=x",
        ),
    ] {
        let r = app.raw_post(reg, ct, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ct} {body:?}: {}",
            r.body
        );
        assert_eq!(locs(&r.body), ["body"], "{ct} {body:?}");
    }
    let r = app.raw_post(reg, "application/json", "{\"email\": ").await;
    assert_eq!(r.body["detail"][0]["type"], "json_invalid");

    // Values the service refuses: 422 naming the field, same list shape.
    for (body, field) in [
        (
            json!({"email": "not-an-email", "username": "ada", "password": PASSWORD}),
            "body.email",
        ),
        (
            json!({"email": "a@example.com", "username": "a", "password": PASSWORD}),
            "body.username",
        ),
        (
            json!({"email": "a@example.com", "username": "ada", "password": "short"}),
            "body.password",
        ),
        (
            json!({"email": "a@example.com", "username": "ada", "password": "x".repeat(129)}),
            "body.password",
        ),
    ] {
        let r = app.rest_register("", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(locs(&r.body), [field], "{body}");
        assert_eq!(r.body["detail"][0]["type"], "value_error");
    }

    // Login: a form with username and password; JSON is not a form.
    let r = app.rest_login("", &[("username", "ada")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(locs(&r.body), ["body.password"]);
    let r = app.rest_login("", &[]).await;
    assert_eq!(locs(&r.body), ["body.username", "body.password"]);
    let r = app
        .rest_login(
            "",
            &[
                ("grant_type", "client_credentials"),
                ("username", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(locs(&r.body), ["body.grant_type"]);
    let r = app
        .rest_login("", &[("username", "   "), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(locs(&r.body), ["body.username"]);
    let r = app
        .rest_post(
            "/api/auth/login",
            None,
            Some(json!({"username": "ada", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(locs(&r.body), ["body"]);

    // Logout: the optional body must still be the documented JSON.
    let r = app
        .raw_post(
            "/api/auth/logout",
            "application/json",
            "{\"refresh_token\": 7}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(locs(&r.body), ["body.refresh_token"]);
    let r = app
        .raw_post("/api/auth/logout", "text/plain", "refresh")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.shutdown().await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    let big = format!(
        "{{\"email\":\"a@example.com\",\"username\":\"ada\",\"password\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    for path in ["/api/auth/register", "/api/auth/logout"] {
        let r = app.raw_post(path, "application/json", big.clone()).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(r.body, json!({"detail": "Request body too large"}));
    }
    let form = format!("username=ada&password={}", "x".repeat(70 * 1024));
    let r = app
        .raw_post("/api/auth/login", "application/x-www-form-urlencoded", form)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Chunked, so no Content-Length announces the size: refused while reading.
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let chunk = "x".repeat(70 * 1024);
    let request = format!(
        "POST /api/auth/register HTTP/1.1\r\nHost: latchkey\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    // The server may answer and close before taking the whole body; that is the point.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("Request body too large"), "{response}");
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_a_detail() {
    let app = TestApp::spawn().await;
    let r = app.rest_get("/api/auth/login", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method Not Allowed"}));
    let r = app.rest_post("/t/default/api/auth/me", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    app.shutdown().await;
}

#[tokio::test]
async fn unverified_login_is_403_only_after_a_correct_password() {
    let app = TestApp::spawn_with(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    assert_eq!(
        app.rest_register("", ada()).await.status,
        StatusCode::CREATED
    );
    let r = app
        .rest_login("", &[("username", "ada"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body["detail"].is_string(), "{}", r.body);
    // A wrong password still reads as a plain 401: the 403 reveals nothing before the password.
    let r = app
        .rest_login("", &[("username", "ada"), ("password", "wrong password")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    app.shutdown().await;
}
