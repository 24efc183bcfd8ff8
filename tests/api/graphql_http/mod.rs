//! GraphQL over HTTP: GraphiQL, GET requests, content types, batches, tenant routing,
//! health endpoints, request ids, security headers, CORS and the engine's abuse limits.

mod cors;
mod get;
mod health;
mod limits;
mod post;
mod tenants;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::Value;

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
