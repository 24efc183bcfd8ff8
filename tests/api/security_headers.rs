//! HTTP security headers: on JSON answers, errors and the GraphiQL page; HSTS only for an
//! https PUBLIC_URL; no server banner.

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::helpers::*;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn assert_common(h: &HeaderMap, what: &str) {
    assert_eq!(
        header(h, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(header(h, "referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(header(h, "x-frame-options"), Some("DENY"), "{what}");
    assert!(h.get("server").is_none(), "{what}: no server banner");
    assert!(h.get("x-powered-by").is_none(), "{what}");
    assert!(h.get("x-request-id").is_some(), "{what}");
}

#[tokio::test]
async fn json_answers_carry_a_csp_that_allows_nothing_and_no_hsts_over_http() {
    let app = TestApp::spawn().await;
    let responses = [
        (
            "graphql POST",
            app.client
                .post(format!("{}/graphql", app.base))
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "healthz",
            app.client
                .get(format!("{}/healthz", app.base))
                .send()
                .await
                .unwrap(),
        ),
        (
            "404",
            app.client
                .get(format!("{}/nope", app.base))
                .send()
                .await
                .unwrap(),
        ),
        (
            "413",
            app.client
                .post(format!("{}/graphql", app.base))
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024])
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (what, resp) in responses {
        let h = resp.headers();
        assert_common(h, what);
        let csp = header(h, "content-security-policy").unwrap_or_default();
        assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{what}: no HSTS when PUBLIC_URL is http"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(&[("PUBLIC_URL", "https://id.example.com")]).await;
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    let hsts = header(resp.headers(), "strict-transport-security").unwrap_or_default();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_graphiql_page_runs_only_same_origin_scripts_and_no_inline_ones() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_common(resp.headers(), "graphiql");
    let csp = header(resp.headers(), "content-security-policy")
        .unwrap()
        .to_string();
    let html = resp.text().await.unwrap();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("script-src in {csp}"));
    assert_eq!(script_src, "script-src 'self'", "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // Every script the page loads is its own, and none is inline: the policy lets it run as
    // served and would stop anything injected.
    let mut external = 0;
    for part in html.split("<script").skip(1) {
        let (tag, rest) = part.split_once('>').unwrap();
        let body = &rest[..rest.find("</script>").unwrap()];
        // A data block (the default query) is never executed.
        if tag.contains("type=\"text/plain\"") || tag.contains("type=\"application/json\"") {
            continue;
        }
        assert!(tag.contains("src=\"/"), "same-origin script: <script{tag}>");
        assert!(body.trim().is_empty(), "no inline script: {body}");
        external += 1;
    }
    assert!(external >= 1, "the page loads its bundle");
    app.shutdown().await;
}

/// Answers that carry tokens must not be stored by any cache (RFC 6749 §5.1: `no-store` and
/// `Pragma: no-cache`): GraphQL register, login and refresh, and the REST login and refresh.
#[tokio::test]
async fn token_answers_are_never_cached() {
    let app = TestApp::spawn().await;
    let cached = |h: &HeaderMap| {
        (
            header(h, "cache-control").map(str::to_string),
            header(h, "pragma").map(str::to_string),
        )
    };
    let none = (Some("no-store".to_string()), Some("no-cache".to_string()));
    let gql = |query: &str, variables: serde_json::Value| {
        app.client
            .post(format!("{}/graphql", app.base))
            .json(&json!({"query": query, "variables": variables}))
            .send()
    };
    let resp = gql(
        "mutation($i: RegisterInput!) { register(input: $i) { refreshToken } }",
        json!({"i": {"email": "cache@example.com", "username": "cache", "password": PASSWORD}}),
    )
    .await
    .unwrap();
    assert_eq!(cached(resp.headers()), none, "GraphQL register");
    let resp = gql(
        "mutation($i: LoginInput!) { login(input: $i) { refreshToken } }",
        json!({"i": {"identifier": "cache", "password": PASSWORD}}),
    )
    .await
    .unwrap();
    assert_eq!(cached(resp.headers()), none, "GraphQL login");
    let body: serde_json::Value = resp.json().await.unwrap();
    let refresh = body["data"]["login"]["refreshToken"].as_str().unwrap();
    let resp = gql(
        "mutation($t: String!) { refresh(refreshToken: $t) { refreshToken } }",
        json!({"t": refresh}),
    )
    .await
    .unwrap();
    assert_eq!(cached(resp.headers()), none, "GraphQL refresh");

    let resp = app
        .client
        .post(format!("{}/api/auth/login", app.base))
        .form(&[("username", "cache"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(cached(resp.headers()), none, "REST login");
    let body: serde_json::Value = resp.json().await.unwrap();
    let resp = app
        .client
        .post(format!("{}/api/auth/refresh", app.base))
        .bearer_auth(body["refresh_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(cached(resp.headers()), none, "REST refresh");
    app.shutdown().await;
}
