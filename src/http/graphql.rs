//! GraphQL over HTTP for `/graphql` (default tenant) and `/t/{tenant}/graphql`.
//!
//! The body is parsed here rather than by an extractor so every malformed request gets a
//! GraphQL-shaped error with a code, and so mutations over GET and oversized or empty batches
//! are refused before execution.
//!
//! Answers follow the GraphQL-over-HTTP specification: a client that accepts
//! `application/graphql-response+json` gets that media type, and a request that fails before
//! execution (unparsable body or document, validation, variables that do not coerce) is a
//! 4xx; under `application/json` (what older clients such as Apollo expect) such a request
//! is 200 with the errors. Under both, `data` is absent when execution never started.

use std::net::SocketAddr;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues, Request, Variables};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, REQUEST_ID};
use crate::edge::client::bearer;
use crate::edge::gql::PlatformCtx;
use crate::edge::gql::RequestCtx;
use crate::error::ServiceError;
use crate::graphql::guard::{MAX_NESTING, MAX_QUERY_BYTES, nesting_depth};

/// Operations allowed in one batched request.
pub const MAX_BATCH: usize = 10;

/// POST on the default tenant (`/graphql`) or a named one (`/t/{tenant}/graphql`).
pub async fn post_tenant(
    State(st): State<AppState>,
    tenant: Option<Path<String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let slug = tenant_slug(&st, tenant);
    let (batch, media) = accept(&headers, |media| read_post(&headers, body, media))?;
    Ok(execute(st, slug, peer, headers, batch, media).await)
}

/// The tenant the path names, or the default tenant on `/graphql` (a route without
/// parameters, where the path extracts to `None`), so one handler serves both routes.
fn tenant_slug(st: &AppState, tenant: Option<Path<String>>) -> String {
    match tenant {
        Some(Path(slug)) => slug,
        None => st.services.config.default_tenant.to_string(),
    }
}

/// The answer's media type and the request `read` parses under it, or the response refusing
/// them: every endpoint negotiates first, so a 406 comes before any complaint about the body.
fn accept(
    headers: &HeaderMap,
    read: impl FnOnce(Media) -> Result<BatchRequest, Response>,
) -> Result<(BatchRequest, Media), Response> {
    let media = Media::negotiate(headers)?;
    Ok((read(media)?, media))
}

/// The media type of an answer, chosen from the request's `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Media {
    /// `application/graphql-response+json`: status codes say whether the request was valid.
    GraphqlResponse,
    /// `application/json` (also for `*/*` or no `Accept`): always 200 once parsed.
    Json,
}

impl Media {
    /// Reads `Accept`: `application/graphql-response+json` when the client accepts it at
    /// least as much as `application/json`; `application/json` for `application/json`,
    /// `*/*`, `application/*` or no header; 406 for anything else.
    pub(super) fn negotiate(headers: &HeaderMap) -> Result<Media, Response> {
        let Some(accept) = headers.get(header::ACCEPT) else {
            return Ok(Media::Json);
        };
        let accept = accept.to_str().unwrap_or("").to_ascii_lowercase();
        let (mut gql, mut json) = (0.0f32, 0.0f32);
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let media = bits.next().unwrap_or("").trim();
            let q = bits
                .filter_map(|b| b.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media {
                GRAPHQL_RESPONSE => gql = gql.max(q),
                "application/json" | "*/*" | "application/*" => json = json.max(q),
                _ => {}
            }
        }
        if gql > 0.0 && gql >= json {
            Ok(Media::GraphqlResponse)
        } else if json > 0.0 {
            Ok(Media::Json)
        } else {
            Err(error_response(
                StatusCode::NOT_ACCEPTABLE,
                "accept application/graphql-response+json or application/json",
                Media::Json,
            ))
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }

    /// The status of a request that failed before execution: 4xx under the new media type,
    /// 200 under `application/json` (clients that predate the specification read the body
    /// only on 200).
    fn request_error(self, status: StatusCode) -> StatusCode {
        match self {
            Media::GraphqlResponse => status,
            Media::Json => StatusCode::OK,
        }
    }
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Checks and parses a GraphQL POST body.
pub(super) fn read_post(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    media: Media,
) -> Result<BatchRequest, Response> {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(super::too_large()),
        Err(e) => return Err(error_response(e.status(), &e.body_text(), media)),
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
            media,
        ));
    }
    // A body that is not a GraphQL request is not a GraphQL request under either media type:
    // 400 (the specification's "SHOULD" for JSON that does not parse or has the wrong shape).
    parse_body(&body).map_err(|message| error_response(StatusCode::BAD_REQUEST, &message, media))
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

/// GET on the default tenant or a named one (queries only; GraphiQL for browsers).
pub async fn get_tenant(
    State(st): State<AppState>,
    tenant: Option<Path<String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let slug = tenant_slug(&st, tenant);
    if wants_html(&headers) {
        if let Err(e) = st.services.tenant(&slug).await {
            return Err(service_error_response(e, &headers, Media::GraphqlResponse));
        }
        return Ok(super::playground::page_for(uri.path()));
    }
    let (batch, media) = accept(&headers, |media| read_get(&uri, media))?;
    Ok(execute(st, slug, peer, headers, batch, media).await)
}

/// Parses a GraphQL GET request (queries only).
pub(super) fn read_get(uri: &axum::http::Uri, media: Media) -> Result<BatchRequest, Response> {
    let params: GetParams = match serde_urlencoded::from_str(uri.query().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                &format!("malformed GraphQL GET request: {e}"),
                media,
            ));
        }
    };
    let Some(query) = params.query else {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "missing `query` parameter",
            media,
        ));
    };
    // Checked before parsing here too: this handler parses to find mutations.
    if query.len() > MAX_QUERY_BYTES || nesting_depth(&query) > MAX_NESTING {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "query too large or too deeply nested",
            media,
        ));
    }
    if let Ok(doc) = async_graphql::parser::parse_query(&query)
        && doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
    {
        // GET must be safe: a link or an <img> must never change state.
        let mut resp = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
            media,
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Err(resp);
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
                    media,
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
    media: Media,
) -> Response {
    let tenant = match st.services.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return service_error_response(e, &headers, media),
    };
    let ctx = RequestCtx {
        tenant,
        bearer: bearer(&headers),
        client: crate::edge::client::client_info(
            peer,
            &headers,
            &st.services.config.trusted_proxies,
        ),
        request_id: request_id(&headers),
    };
    let batch = batch.data(std::sync::Arc::new(ctx));
    finish(st.schema.execute_batch(batch).await, media)
}

/// Writes the engine's answer: codes on every error, `data` left out where execution never
/// started, the status the media type calls for.
fn finish(resp: BatchResponse, media: Media) -> Response {
    let (status, body) = match resp {
        BatchResponse::Single(r) => {
            let (started, body) = response_json(r);
            let status = if started {
                StatusCode::OK
            } else {
                media.request_error(StatusCode::BAD_REQUEST)
            };
            (status, body)
        }
        // Batching is outside the specification: every answer in it is 200.
        BatchResponse::Batch(rs) => (
            StatusCode::OK,
            serde_json::Value::Array(rs.into_iter().map(|r| response_json(r).1).collect()),
        ),
    };
    reply(status, &body, media)
}

/// One answer as JSON, and whether its execution started. An answer whose data is null and
/// whose errors carry no path failed before execution (parse, validation, variables, guard):
/// every error raised while executing names the field it came from.
fn response_json(mut r: async_graphql::Response) -> (bool, serde_json::Value) {
    ensure_codes(&mut r);
    let started = !(r.data == async_graphql::Value::Null
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| e.path.is_empty()));
    let mut body = serde_json::to_value(&r).unwrap_or_default();
    if !started && let Some(obj) = body.as_object_mut() {
        obj.remove("data");
    }
    (started, body)
}

fn reply(status: StatusCode, body: &serde_json::Value, media: Media) -> Response {
    let mut resp = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    resp
}

/// POST on the platform API.
pub async fn post_platform(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (batch, media) = accept(&headers, |media| read_post(&headers, body, media))?;
    Ok(execute_platform(st, headers, batch, media).await)
}

/// GET on the platform API (queries only; GraphiQL for browsers).
pub async fn get_platform(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    if wants_html(&headers) {
        return Ok(super::playground::page_with(
            uri.path(),
            super::playground::PLATFORM_QUERY,
        ));
    }
    let (batch, media) = accept(&headers, |media| read_get(&uri, media))?;
    Ok(execute_platform(st, headers, batch, media).await)
}

async fn execute_platform(
    st: AppState,
    headers: HeaderMap,
    batch: BatchRequest,
    media: Media,
) -> Response {
    let bearer = bearer(&headers);
    // Every platform operation needs the key, introspection included: the schema of the
    // operator's API is not for anonymous callers.
    if let Err(e) = st
        .services
        .tenants
        .require_platform_admin(bearer.as_deref())
    {
        return service_error_response(e, &headers, media);
    }
    let ctx = PlatformCtx {
        bearer,
        request_id: request_id(&headers),
    };
    finish(
        st.platform_schema
            .execute_batch(batch.data(std::sync::Arc::new(ctx)))
            .await,
        media,
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

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// A request refused before it reached the engine. Its status stands under both media types
/// (the request is not a GraphQL request at all: 400, 405, 406, 415, 413).
fn error_response(status: StatusCode, message: &str, media: Media) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]});
    reply(status, &body, media)
}

/// A request refused by the service before execution (unknown tenant, missing platform key,
/// store down). Under `application/json` an unknown tenant or a refused key is 200 with the
/// coded error, so clients such as Apollo hand the code to the application instead of raising
/// a transport error; an outage is 503 under both.
fn service_error_response(e: ServiceError, headers: &HeaderMap, media: Media) -> Response {
    let status = match &e {
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        other => media.request_error(other.status()),
    };
    let err = e.into_graphql(Some(&request_id(headers)));
    let body =
        serde_json::json!({"errors": [{"message": err.message, "extensions": err.extensions}]});
    reply(status, &body, media)
}
