//! SCIM 2.0's HTTP endpoints under `/t/{tenant}/scim/v2/` (RFC 7644): thin handlers that
//! authenticate the token, call the service and answer in SCIM's shape (`application/scim+json`,
//! errors as `urn:ietf:params:scim:api:messages:2.0:Error`). So far the service provider's
//! configuration; the resources follow (issue 27).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::ScimService;
use super::service::ScimAuthError;
use crate::actors::Tenant;
use crate::edge::client::bearer;
use crate::error::ServiceError;

/// SCIM's media type (RFC 7644 §3.1).
const SCIM_JSON: &str = "application/scim+json";

/// The routes.
pub fn routes() -> Router<ScimService> {
    Router::new().route(
        "/t/{tenant}/scim/v2/ServiceProviderConfig",
        get(service_provider_config),
    )
}

/// A SCIM answer: `body` as `application/scim+json` with `status`.
fn scim(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// An error in SCIM's shape (RFC 7644 §3.12).
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut r = scim(status, body);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    r
}

/// A service error as SCIM says it; never a 500 for what a client can cause.
fn from_service(e: ServiceError) -> Response {
    match e {
        ServiceError::TenantNotFound => scim_error(StatusCode::NOT_FOUND, None, "no such tenant"),
        ServiceError::Unavailable(_) => scim_error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "service unavailable, retry later",
        ),
        other => {
            let status = other.status();
            scim_error(status, None, &other.to_string())
        }
    }
}

/// The tenant and the token's caller, or the answer that refuses them.
async fn caller(s: &ScimService, slug: &str, headers: &HeaderMap) -> Result<Tenant, Response> {
    let tenant = s.tenant(slug).await.map_err(from_service)?;
    match s.authenticate(&tenant, bearer(headers).as_deref()).await {
        Ok(_) => Ok(tenant),
        Err(ScimAuthError::Unauthenticated) => Err(scim_error(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM token is required (Authorization: Bearer scim_...)",
        )),
        Err(ScimAuthError::Service(e)) => Err(from_service(e)),
    }
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5): what this server supports. Only what is built
/// is advertised, so a client (and scim2-tester) tries nothing else.
async fn service_provider_config(
    State(s): State<ScimService>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = caller(&s, &slug, &headers).await {
        return r;
    }
    let base = format!("{}/t/{slug}/scim/v2", s.config.public_url);
    scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": false},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": false, "maxResults": 0},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "A bearer token a tenant admin makes with createScimToken (shown once).",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
        }),
    )
}
