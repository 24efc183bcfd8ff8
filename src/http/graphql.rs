//! GraphQL over HTTP for `/graphql` (default tenant) and `/t/{tenant}/graphql`.
//!
//! The body is parsed here rather than by an extractor so every malformed request gets a
//! GraphQL-shaped error with a code, and so mutations over GET and oversized batches are
//! refused before execution.

use std::net::SocketAddr;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, REQUEST_ID};
use crate::error::ServiceError;
use crate::graphql::RequestCtx;
use crate::service::ClientInfo;

/// Operations allowed in one batched request.
pub const MAX_BATCH: usize = 10;
/// User agents are stored for session listings; nobody needs more than this.
const MAX_USER_AGENT: usize = 256;

/// POST on the default tenant.
pub async fn post_default(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slug = st.services.config.default_tenant.to_string();
    post(st, slug, peer, headers, body).await
}

/// POST on a named tenant.
pub async fn post_tenant(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post(st, tenant, peer, headers, body).await
}

/// GET on the default tenant.
pub async fn get_default(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let slug = st.services.config.default_tenant.to_string();
    get(st, slug, peer, uri, headers).await
}

/// GET on a named tenant.
pub async fn get_tenant(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    get(st, tenant, peer, uri, headers).await
}

async fn post(
    st: AppState,
    slug: String,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        // Only JSON bodies: a form or text/plain POST is what a cross-site page can send
        // without a CORS preflight.
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("malformed GraphQL request body: {e}"),
            );
        }
    };
    match &batch {
        BatchRequest::Batch(v) if v.is_empty() => {
            return error_response(StatusCode::BAD_REQUEST, "empty batch");
        }
        BatchRequest::Batch(v) if v.len() > MAX_BATCH => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("at most {MAX_BATCH} operations per batch"),
            );
        }
        _ => {}
    }
    execute(st, slug, peer, headers, batch).await
}

async fn get(
    st: AppState,
    slug: String,
    peer: SocketAddr,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        if let Err(e) = st.services.tenant(&slug).await {
            return service_error_response(e, &headers);
        }
        return super::playground::page_for(uri.path());
    }
    let request = match async_graphql::http::parse_query_string(uri.query().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("malformed GraphQL GET request: {e}"),
            );
        }
    };
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let is_mutation = match &doc.operations {
            DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
            DocumentOperations::Multiple(ops) => match &request.operation_name {
                Some(name) => ops
                    .get(name.as_str())
                    .is_some_and(|op| op.node.ty == OperationType::Mutation),
                None => false,
            },
        };
        if is_mutation {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "mutations are only accepted over POST",
            );
        }
    }
    execute(st, slug, peer, headers, BatchRequest::Single(request)).await
}

async fn execute(
    st: AppState,
    slug: String,
    peer: SocketAddr,
    headers: HeaderMap,
    batch: BatchRequest,
) -> Response {
    let tenant = match st.services.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return service_error_response(e, &headers),
    };
    let ctx = RequestCtx {
        tenant,
        bearer: bearer(&headers),
        client: client_info(peer, &headers),
        request_id: request_id(&headers),
    };
    let batch = batch.data(std::sync::Arc::new(ctx));
    let mut resp = st.schema.execute_batch(batch).await;
    match &mut resp {
        BatchResponse::Single(r) => ensure_codes(r),
        BatchResponse::Batch(rs) => rs.iter_mut().for_each(ensure_codes),
    }
    Json(resp).into_response()
}

/// Errors raised by the engine itself (parse, validation, limits) carry no code; they are the
/// client's doing, so they get `BAD_USER_INPUT`.
fn ensure_codes(resp: &mut async_graphql::Response) {
    for e in &mut resp.errors {
        let ext = e
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
    }
}

/// Client address and user agent (truncated) of a request; shared with the REST handlers.
pub(crate) fn client_info(peer: SocketAddr, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: Some(peer.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}

/// The Bearer token. A present but non-Bearer `Authorization` yields an empty token, so
/// protected operations answer `UNAUTHENTICATED` rather than acting anonymous.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = value.to_str().unwrap_or("");
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(token.trim().to_string())
        }
        _ => Some(String::new()),
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]});
    (status, Json(body)).into_response()
}

fn service_error_response(e: ServiceError, headers: &HeaderMap) -> Response {
    let status = match &e {
        ServiceError::TenantNotFound => StatusCode::NOT_FOUND,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    let err = e.into_graphql(Some(&request_id(headers)));
    let body =
        serde_json::json!({"errors": [{"message": err.message, "extensions": err.extensions}]});
    (status, Json(body)).into_response()
}
