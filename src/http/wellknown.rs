//! `/.well-known/jwks.json` and `/.well-known/openid-configuration` per tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::ServiceError;
use crate::service::tokens::JWKS_MAX_AGE_SECONDS;

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

/// Discovery document.
pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Response {
    match state.services.tenant(&tenant).await {
        Ok(t) => {
            let issuer = state.services.issuer(t.slug());
            (
                [(header::CACHE_CONTROL, public_cache())],
                Json(serde_json::json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                "graphql_endpoint": format!("{issuer}/graphql"),
                "id_token_signing_alg_values_supported": [t.keys().algorithm().as_str()],
                "token_endpoint_auth_methods_supported": ["none"],
                "grant_types_supported": ["password", "refresh_token"],
                })),
            )
                .into_response()
        }
        Err(e) => rest_error(e),
    }
}
