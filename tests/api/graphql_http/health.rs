//! Health endpoints and the fallback; request ids and the headers every response carries.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use super::{header, post_raw};
use crate::helpers::*;

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
