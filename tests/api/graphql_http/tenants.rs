//! Tenant routing: unknown and malformed tenants, and the default tenant's two paths.

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::{Value, json};

use super::get_json;
use crate::helpers::*;

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
