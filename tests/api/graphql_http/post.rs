//! GraphQL over POST: the JSON content type, and bounded batches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::post_raw;
use crate::helpers::*;

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
