//! `/.well-known/jwks.json` and `/.well-known/openid-configuration` per tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::keys::JWKS_MAX_AGE_SECONDS;
use crate::error::ServiceError;

fn rest_error(e: ServiceError) -> Response {
    (
        e.status(),
        Json(serde_json::json!({"detail": e.to_string()})),
    )
        .into_response()
}

/// Public documents may be cached as long as a new signing key is published ahead of use
/// (`KEY_PUBLISH_AHEAD_SECONDS` is longer than this).
fn public_cache() -> String {
    format!("public, max-age={JWKS_MAX_AGE_SECONDS}")
}

/// The tenant's public signing keys.
pub async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    match state.services.tenant(&tenant).await {
        Ok(t) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, public_cache())],
            Json(t.keys().jwks().clone()),
        )
            .into_response(),
        Err(e) => rest_error(e),
    }
}
