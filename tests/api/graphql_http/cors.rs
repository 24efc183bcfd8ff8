//! CORS: only the configured origins, closed by default, and a tenant's own origins.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use super::header;
use crate::helpers::*;

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
