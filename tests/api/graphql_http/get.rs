//! GraphiQL for browsers, and GraphQL over GET: queries run, mutations are refused however they
//! are named or selected.

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::{Value, json};

use super::{get_json, header};
use crate::helpers::*;

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
