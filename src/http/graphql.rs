//! GraphQL over HTTP for `/graphql` (default tenant) and `/t/{tenant}/graphql`.
//!
//! The body is parsed here rather than by an extractor so every malformed request gets a
//! GraphQL-shaped error with a code, and so mutations over GET and oversized or empty batches
//! are refused before execution.

use std::net::SocketAddr;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues, Request, Variables};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, REQUEST_ID};
use crate::error::ServiceError;
use crate::graphql::RequestCtx;
use crate::graphql::guard::{MAX_NESTING, MAX_QUERY_BYTES, nesting_depth};
use crate::graphql::platform::PlatformCtx;

/// Operations allowed in one batched request.
pub const MAX_BATCH: usize = 10;

/// POST on the default tenant.
pub async fn post_default(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
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
    body: Result<Bytes, BytesRejection>,
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match read_post(&headers, body) {
        Ok(batch) => execute(st, slug, peer, headers, batch).await,
        Err(resp) => resp,
    }
}

/// Checks and parses a GraphQL POST body.
pub(super) fn read_post(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchRequest, Response> {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(super::too_large()),
        Err(e) => return Err(error_response(e.status(), &e.body_text())),
    };
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
        return Err(error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    parse_body(&body).map_err(|message| error_response(StatusCode::BAD_REQUEST, &message))
}

/// A JSON array is a batch, anything else one request. (async-graphql's own untagged
/// parsing reads `[]` as a single empty request.)
fn parse_body(body: &[u8]) -> Result<BatchRequest, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let requests: Vec<Request> =
            serde_json::from_slice(body).map_err(|e| format!("malformed GraphQL batch: {e}"))?;
        if requests.is_empty() {
            return Err("empty batch".into());
        }
        if requests.len() > MAX_BATCH {
            return Err(format!("at most {MAX_BATCH} operations per batch"));
        }
        Ok(BatchRequest::Batch(requests))
    } else {
        serde_json::from_slice::<Request>(body)
            .map(BatchRequest::Single)
            .map_err(|e| format!("malformed GraphQL request body: {e}"))
    }
}

/// GraphQL-over-HTTP GET parameters.
#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn get(
    st: AppState,
    slug: String,
    peer: SocketAddr,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if wants_html(&headers) {
        if let Err(e) = st.services.tenant(&slug).await {
            return service_error_response(e, &headers);
        }
        return super::playground::page_for(uri.path());
    }
    match read_get(&uri) {
        Ok(batch) => execute(st, slug, peer, headers, batch).await,
        Err(resp) => resp,
    }
}

/// Parses a GraphQL GET request (queries only).
pub(super) fn read_get(uri: &axum::http::Uri) -> Result<BatchRequest, Response> {
    let params: GetParams = match serde_urlencoded::from_str(uri.query().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                &format!("malformed GraphQL GET request: {e}"),
            ));
        }
    };
    let Some(query) = params.query else {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "missing `query` parameter",
        ));
    };
    // Checked before parsing here too: this handler parses to find mutations.
    if query.len() > MAX_QUERY_BYTES || nesting_depth(&query) > MAX_NESTING {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "query too large or too deeply nested",
        ));
    }
    if let Ok(doc) = async_graphql::parser::parse_query(&query)
        && doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
    {
        // GET must be safe: a link or an <img> must never change state.
        return Err(error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
        ));
    }
    let mut request = Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        match serde_json::from_str::<serde_json::Value>(&vars) {
            Ok(v) => request = request.variables(Variables::from_json(v)),
            Err(e) => {
                return Err(error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("malformed `variables`: {e}"),
                ));
            }
        }
    }
    Ok(BatchRequest::Single(request))
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
        client: super::client::client_info(peer, &headers, &st.services.config.trusted_proxies),
        request_id: request_id(&headers),
    };
    let batch = batch.data(std::sync::Arc::new(ctx));
    finish(st.schema.execute_batch(batch).await)
}

fn finish(mut resp: BatchResponse) -> Response {
    match &mut resp {
        BatchResponse::Single(r) => ensure_codes(r),
        BatchResponse::Batch(rs) => rs.iter_mut().for_each(ensure_codes),
    }
    Json(resp).into_response()
}

/// POST on the platform API.
pub async fn post_platform(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match read_post(&headers, body) {
        Ok(batch) => execute_platform(st, headers, batch).await,
        Err(resp) => resp,
    }
}

/// GET on the platform API (queries only; GraphiQL for browsers).
pub async fn get_platform(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if wants_html(&headers) {
        return super::playground::page_with(uri.path(), super::playground::PLATFORM_QUERY);
    }
    match read_get(&uri) {
        Ok(batch) => execute_platform(st, headers, batch).await,
        Err(resp) => resp,
    }
}

async fn execute_platform(st: AppState, headers: HeaderMap, batch: BatchRequest) -> Response {
    let ctx = PlatformCtx {
        bearer: bearer(&headers),
        request_id: request_id(&headers),
    };
    finish(
        st.platform_schema
            .execute_batch(batch.data(std::sync::Arc::new(ctx)))
            .await,
    )
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
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
