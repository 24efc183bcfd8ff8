//! GraphQL over HTTP: GraphiQL, GET requests, content types, batches, tenant routing,
//! health endpoints, request ids, security headers, CORS and the engine's abuse limits.

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A GET on the GraphQL endpoint at `path` with the given query parameters, asking for JSON.
async fn get_json(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = app
        .client
        .get(format!("{}{}", app.base, path))
        .header(ACCEPT, "application/json")
        .query(params)
        .send()
        .await
        .expect("request sent");
    let status = resp.status();
    (status, resp.json::<Value>().await.expect("JSON response"))
}

/// POSTs `body` verbatim with `content_type` to `/graphql`.
async fn post_raw(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
    app.client
        .post(format!("{}/graphql", app.base))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

/// The value of header `name`, if present and ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Asserts the headers every response must carry.
fn assert_common_headers(headers: &HeaderMap, what: &str) {
    let id = header(headers, "x-request-id");
    assert!(
        id.is_some_and(|id| !id.is_empty()),
        "{what}: no x-request-id in {headers:?}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}: {headers:?}"
    );
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{what}: {headers:?}"
    );
}

#[tokio::test]
async fn graphiql_is_served_to_browsers() {
    let app = TestApp::spawn().await;

    let resp = app
        .client
        .get(format!("{}/graphql", app.base))
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = header(resp.headers(), "content-type")
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/html"), "content-type {ct}");
    let html = resp.text().await.unwrap();
    assert!(
        html.to_lowercase().contains("graphiql"),
        "not GraphiQL: {html}"
    );

    let resp = app
        .client
        .get(format!("{}/t/default/graphql", app.base))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );

    let resp = app
        .client
        .get(format!("{}/t/nope/graphql", app.base))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body).as_deref(), Some("TENANT_NOT_FOUND"), "{body}");

    app.shutdown().await;
}

#[tokio::test]
async fn get_runs_queries() {
    let app = TestApp::spawn().await;

    let (status, body) = get_json(&app, "/graphql", &[("query", "{__typename}")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));

    let (status, body) = get_json(&app, "/t/default/graphql", &[("query", "{ __typename }")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));

    // Variables travel as a JSON query parameter.
    let (status, body) = get_json(
        &app,
        "/graphql",
        &[
            ("query", "query($n: String!) { __type(name: $n) { name } }"),
            ("variables", r#"{"n": "User"}"#),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"data": {"__type": {"name": "User"}}}));

    // Malformed variables are the client's fault.
    let (status, body) = get_json(
        &app,
        "/graphql",
        &[("query", "{ __typename }"), ("variables", "{oops")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    // A GET without a query is a malformed request (GraphQL over HTTP), not a crash.
    let (status, body) = get_json(&app, "/graphql", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    app.shutdown().await;
}

#[tokio::test]
async fn get_refuses_mutations() {
    let app = TestApp::spawn().await;

    let (status, body) = get_json(&app, "/graphql", &[("query", "mutation{logout}")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "{body}");

    // The mutation cannot be smuggled through a named tenant, a comment or odd spacing either.
    for (path, query) in [
        ("/t/default/graphql", "mutation { logout }"),
        ("/graphql", "# hello\n  mutation { logout }"),
        (
            "/graphql",
            "mutation($t: String) { logout(refreshToken: $t) }",
        ),
    ] {
        let (status, body) = get_json(&app, path, &[("query", query)]).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path} {query:?}: {body}"
        );
        assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    }

    // A register over GET is refused and has no effect.
    let register = format!(
        "mutation {{ register(input: {{email: \"get@example.com\", username: \"getter\", password: \"{PASSWORD}\"}}) {{ accessToken }} }}"
    );
    let (status, body) = get_json(&app, "/graphql", &[("query", register.as_str())]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let login = app.login("getter", PASSWORD).await;
    assert_eq!(
        code(&login).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{login}"
    );

    app.shutdown().await;
}

#[tokio::test]
async fn get_refuses_a_named_mutation() {
    // A document with one *named* operation and no operationName is still a mutation.
    let app = TestApp::spawn().await;

    let register = format!(
        "mutation Sneaky {{ register(input: {{email: \"named@example.com\", username: \"named\", password: \"{PASSWORD}\"}}) {{ accessToken }} }}"
    );
    let (status, body) = get_json(&app, "/graphql", &[("query", register.as_str())]).await;
    let login = app.login("named", PASSWORD).await;
    assert_eq!(
        code(&login).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "mutation ran over GET ({status}): the account it registered can log in"
    );
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let (status, body) = get_json(&app, "/graphql", &[("query", "mutation Out { logout }")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    app.shutdown().await;
}

#[tokio::test]
async fn get_selects_the_operation_named_by_operation_name() {
    // GraphQL over HTTP names the GET parameter `operationName`, as in the POST body.
    let app = TestApp::spawn().await;

    let doc = "query A { a: __typename } query B { b: __typename }";
    let (status, body) =
        get_json(&app, "/graphql", &[("query", doc), ("operationName", "B")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"data": {"b": "Query"}}));

    app.shutdown().await;
}

#[tokio::test]
async fn get_refuses_a_mutation_selected_by_operation_name() {
    let app = TestApp::spawn().await;

    let register = format!(
        "query Q {{ __typename }} mutation M {{ register(input: {{email: \"op@example.com\", username: \"opname\", password: \"{PASSWORD}\"}}) {{ accessToken }} }}"
    );
    let (status, body) = get_json(
        &app,
        "/graphql",
        &[("query", register.as_str()), ("operationName", "M")],
    )
    .await;
    // Whatever the status, the mutation must not have run.
    let login = app.login("opname", PASSWORD).await;
    assert_eq!(
        code(&login).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "mutation ran over GET: {login}"
    );
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    let doc = "query Q { __typename } mutation M { logout }";
    let (status, body) =
        get_json(&app, "/graphql", &[("query", doc), ("operationName", "M")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    app.shutdown().await;
}

#[tokio::test]
async fn post_requires_json_content_type() {
    let app = TestApp::spawn().await;
    let valid = json!({"query": "{ __typename }"}).to_string();

    let resp = post_raw(&app, "text/plain", valid.clone()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    let resp = post_raw(
        &app,
        "application/x-www-form-urlencoded",
        "query=%7B__typename%7D",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let resp = post_raw(&app, "multipart/form-data; boundary=x", valid.clone()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // No content type at all.
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .body(valid.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The same body as JSON (with a charset parameter) works.
    let resp = post_raw(&app, "application/json; charset=utf-8", valid).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));

    app.shutdown().await;
}

#[tokio::test]
async fn batches_are_bounded() {
    let app = TestApp::spawn().await;
    let op = json!({"query": "{ __typename }"});

    let resp = post_raw(
        &app,
        "application/json",
        json!([op, {"query": "{ t: __typename }"}]).to_string(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"data": {"__typename": "Query"}}, {"data": {"t": "Query"}}])
    );

    let ten: Vec<Value> = (0..10).map(|_| op.clone()).collect();
    let resp = post_raw(&app, "application/json", Value::from(ten).to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(10), "{body}");

    let eleven: Vec<Value> = (0..11).map(|_| op.clone()).collect();
    let resp = post_raw(&app, "application/json", Value::from(eleven).to_string()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    app.shutdown().await;
}

#[tokio::test]
async fn empty_batch_is_rejected() {
    let app = TestApp::spawn().await;

    let resp = post_raw(&app, "application/json", "[]").await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    app.shutdown().await;
}

/// Unknown tenants answer `TENANT_NOT_FOUND`. Under `application/json` that is HTTP 200, so a
/// client such as Apollo hands the code to the application instead of raising a transport
/// error; a client accepting `application/graphql-response+json` gets 404.
#[tokio::test]
async fn unknown_and_malformed_tenants_are_not_found() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(100);
    let paths = [
        "/t/nope/graphql".to_string(),
        "/t/NOPE!/graphql".to_string(),
        "/t/Default/graphql".to_string(),
        "/t/-default/graphql".to_string(),
        "/t/a/graphql".to_string(),
        "/t/default%00/graphql".to_string(),
        format!("/t/{long}/graphql"),
    ];
    for path in &paths {
        let (status, body) = app.gql_at(path, None, "{ __typename }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
        assert_eq!(
            code(&body).as_deref(),
            Some("TENANT_NOT_FOUND"),
            "POST {path}: {body}"
        );
        assert!(body["data"].is_null(), "POST {path}: {body}");

        let (status, body) = get_json(&app, path, &[("query", "{ __typename }")]).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        assert_eq!(
            code(&body).as_deref(),
            Some("TENANT_NOT_FOUND"),
            "GET {path}: {body}"
        );

        let resp = app
            .client
            .post(format!("{}{}", app.base, path))
            .header(ACCEPT, "application/graphql-response+json")
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::NOT_FOUND,
            "POST {path} (graphql-response+json)"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(code(&body).as_deref(), Some("TENANT_NOT_FOUND"), "{body}");
        assert!(
            body.get("data").is_none(),
            "no data before execution: {body}"
        );
    }

    // A register attempt on an unknown tenant creates nothing anywhere.
    let vars =
        json!({"input": {"email": "ghost@example.com", "username": "ghost", "password": PASSWORD}});
    let (status, body) = app.gql_at("/t/nope/graphql", None, REGISTER, vars).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body).as_deref(), Some("TENANT_NOT_FOUND"), "{body}");
    let body = app.login("ghost", PASSWORD).await;
    assert_eq!(
        code(&body).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{body}"
    );

    app.shutdown().await;
}

#[tokio::test]
async fn default_tenant_path_is_the_same_tenant() {
    let app = TestApp::spawn().await;

    let vars =
        json!({"input": {"email": "dora@example.com", "username": "dora", "password": PASSWORD}});
    let (status, body) = app.gql_at("/t/default/graphql", None, REGISTER, vars).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["errors"].is_null(), "{body}");
    let token = body["data"]["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let me = app.me(&token).await;
    assert!(me["errors"].is_null(), "{me}");
    assert_eq!(me["data"]["me"]["username"], "dora");
    assert_eq!(me["data"]["me"]["email"], "dora@example.com");

    // And the other way round: a /graphql login works on /t/default/graphql.
    let login = app.login("dora", PASSWORD).await;
    assert!(login["errors"].is_null(), "{login}");
    let token = login["data"]["login"]["accessToken"].as_str().unwrap();
    let (status, me) = app
        .gql_at("/t/default/graphql", Some(token), ME, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["me"]["username"], "dora", "{me}");

    app.shutdown().await;
}

#[tokio::test]
async fn health_and_fallback() {
    let app = TestApp::spawn().await;

    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok");

    let resp = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    for path in [
        "/nope",
        "/graphql/extra",
        "/t/default",
        "/t/default/graphql/x",
        "/api/../etc/passwd",
    ] {
        let resp = app
            .client
            .get(format!("{}{}", app.base, path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        assert!(body["detail"].is_string(), "{path}: {body}");
    }

    // Wrong method on a known route: refused, never a 500.
    let resp = app
        .client
        .delete(format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    app.shutdown().await;
}

#[tokio::test]
async fn request_ids_and_security_headers() {
    let app = TestApp::spawn().await;

    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_common_headers(resp.headers(), "healthz");
    let first = header(resp.headers(), "x-request-id").unwrap().to_string();
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    let second = header(resp.headers(), "x-request-id").unwrap().to_string();
    assert_ne!(first, second, "request ids must differ per request");

    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-request-id", "client-chosen-id-42")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_common_headers(resp.headers(), "graphql");
    assert_eq!(
        header(resp.headers(), "x-request-id"),
        Some("client-chosen-id-42")
    );

    // Error responses carry them too.
    let resp = app
        .client
        .get(format!("{}/no-such-page", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_common_headers(resp.headers(), "404");

    let resp = post_raw(&app, "text/plain", "{}").await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_common_headers(resp.headers(), "415");

    let resp = post_raw(&app, "application/json", "not json").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_common_headers(resp.headers(), "400");

    let resp = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_common_headers(resp.headers(), "405");

    let resp = app
        .client
        .get(format!("{}/t/nope/graphql", app.base))
        .header("x-request-id", "tenant-miss")
        .header(ACCEPT, "application/graphql-response+json")
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_common_headers(resp.headers(), "tenant 404");
    assert_eq!(header(resp.headers(), "x-request-id"), Some("tenant-miss"));

    app.shutdown().await;
}

#[tokio::test]
async fn oversized_body_response_carries_request_id_and_headers() {
    let app = TestApp::spawn().await;
    let big =
        json!({"query": format!("{{ __typename }} # {}", "x".repeat(2 * 1024 * 1024))}).to_string();

    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header(CONTENT_TYPE, "application/json")
        .header("x-request-id", "too-big")
        .body(big)
        .send()
        .await
        .expect("a 413 response, not a dropped connection");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_common_headers(resp.headers(), "413");
    assert_eq!(header(resp.headers(), "x-request-id"), Some("too-big"));

    app.shutdown().await;
}

/// An OPTIONS preflight for a GraphQL POST from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, format!("{}/graphql", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", "https://app.example")]).await;

    let resp = preflight(&app, "https://app.example").await;
    assert!(
        resp.status().is_success(),
        "preflight status {}",
        resp.status()
    );
    let h = resp.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some("https://app.example"),
        "{h:?}"
    );
    let methods = header(h, "access-control-allow-methods")
        .unwrap_or("")
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{h:?}");
    let allowed = header(h, "access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("content-type") && allowed.contains("authorization"),
        "{h:?}"
    );

    let resp = preflight(&app, "https://evil.example").await;
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        resp.headers()
    );

    // A prefix or suffix trick is not the configured origin.
    let resp = preflight(&app, "https://app.example.evil.example").await;
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        resp.headers()
    );

    // The actual cross-origin request carries the header for the allowed origin only.
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("origin", "https://app.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("https://app.example")
    );
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("origin", "https://evil.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        resp.headers()
    );

    app.shutdown().await;
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let app = TestApp::spawn().await;

    for origin in ["https://app.example", "https://evil.example", "null"] {
        let resp = preflight(&app, origin).await;
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{origin}: {:?}",
            resp.headers()
        );
    }
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("origin", "https://app.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        resp.headers()
    );

    app.shutdown().await;
}

/// `{ __schema { types { fields { type { ofType { ... { name } } } } } } }` with `of_types`
/// nested `ofType` selections; its depth is `of_types + 5`.
fn deep_introspection(of_types: usize) -> String {
    format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(of_types),
        "} ".repeat(of_types)
    )
}

#[tokio::test]
async fn depth_limit_rejects_deep_queries() {
    let app = TestApp::spawn().await;

    // Within the limit: runs.
    let (status, body) = app
        .gql_at("/graphql", None, &deep_introspection(3), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["__schema"]["types"].is_array(), "{body}");

    for of_types in [12, 20, 30] {
        let (status, body) = app
            .gql_at("/graphql", None, &deep_introspection(of_types), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "depth {}: {body}", of_types + 5);
        assert_eq!(
            code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "depth {}: {body}",
            of_types + 5
        );
        assert!(body["data"].is_null(), "depth {}: {body}", of_types + 5);
    }

    // Far beyond the parser's recursion bound (64 selection sets): still a client error.
    let (status, body) = app
        .gql_at("/graphql", None, &deep_introspection(1_000), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "{body}");

    // The server is still serving.
    let (status, _) = app
        .gql_at("/graphql", None, "{ __typename }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    app.shutdown().await;
}

#[tokio::test]
async fn introspection_can_be_disabled() {
    let query = "{ __schema { queryType { name } } }";

    let app = TestApp::spawn().await;
    let body = app.gql(query, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    app.shutdown().await;

    let app = TestApp::spawn_with(&[("GRAPHQL_INTROSPECTION", "false")]).await;
    let body = app.gql(query, json!({})).await;
    assert!(body["data"]["__schema"].is_null(), "schema leaked: {body}");
    let body = app
        .gql("{ __type(name: \"User\") { fields { name } } }", json!({}))
        .await;
    assert!(body["data"]["__type"].is_null(), "type leaked: {body}");
    let (status, body) = get_json(&app, "/graphql", &[("query", query)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["data"]["__schema"].is_null(),
        "schema leaked over GET: {body}"
    );
    // Ordinary queries still work.
    let body = app.gql("{ __typename }", json!({})).await;
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));
    app.shutdown().await;
}

#[tokio::test]
async fn disabled_introspection_answers_with_an_error() {
    // `__schema: __Schema!` is non-null: refusing it must say so with an error, not a bare null.
    let app = TestApp::spawn_with(&[("GRAPHQL_INTROSPECTION", "false")]).await;

    let body = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(body["data"]["__schema"].is_null(), "schema leaked: {body}");
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "no error: {body}"
    );
    assert!(code(&body).is_some(), "{body}");

    app.shutdown().await;
}

/// A tenant's `corsOrigins` opens that tenant's paths, preflight and POST, to its origins,
/// and no other tenant's.
#[tokio::test]
async fn a_tenants_cors_origins_apply_to_its_own_paths_only() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("shop").await;
    app.create_tenant_with_admin("other").await;
    let body = app
        .gql_tenant(
            "shop",
            Some(&admin),
            "mutation { updateTenantSettings(input: {corsOrigins: [\"https://shop.example\"]}) { corsOrigins } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let preflight_at = |slug: &str| {
        app.client
            .request(Method::OPTIONS, format!("{}/t/{slug}/graphql", app.base))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let resp = preflight_at("shop").await.unwrap();
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("https://shop.example"),
        "{:?}",
        resp.headers()
    );
    let resp = app
        .client
        .post(format!("{}/t/shop/graphql", app.base))
        .header("origin", "https://shop.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("https://shop.example")
    );
    for slug in ["other", "default"] {
        let resp = preflight_at(slug).await.unwrap();
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{slug}: {:?}",
            resp.headers()
        );
    }
    // Nor the default tenant's unprefixed paths or the platform API.
    let resp = preflight(&app, "https://shop.example").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    app.shutdown().await;
}
