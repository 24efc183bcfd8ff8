//! `/.well-known/jwks.json` and `/.well-known/openid-configuration` per tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::ServiceError;

fn rest_error(e: ServiceError) -> Response {
    (
        e.status(),
        Json(serde_json::json!({"detail": e.to_string()})),
    )
        .into_response()
}

/// The tenant's public signing keys.
pub async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    match state.services.tenant(&tenant).await {
        Ok(t) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "public, max-age=300")],
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
            Json(serde_json::json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                "graphql_endpoint": format!("{issuer}/graphql"),
                "id_token_signing_alg_values_supported": [t.keys().algorithm().as_str()],
                "token_endpoint_auth_methods_supported": ["none"],
                "grant_types_supported": ["password", "refresh_token"],
            }))
            .into_response()
        }
        Err(e) => rest_error(e),
    }
}
