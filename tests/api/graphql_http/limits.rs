//! The engine's limits: query depth, and introspection switched off.

use reqwest::StatusCode;
use serde_json::json;

use super::get_json;
use crate::helpers::*;

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
