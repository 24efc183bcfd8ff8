//! The seed's REST password-reset endpoints (`/api/auth/password-reset/request|confirm`),
//! over the same service functions as the GraphQL mutations.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::error::ServiceError;

/// `{email}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    /// The account's email address.
    #[schema(example = "ada@example.com")]
    email: String,
}

/// `{token, new_password}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetConfirm {
    /// The token from the reset mail.
    token: String,
    /// The new password (8 to 128 characters, or the tenant's minimum).
    new_password: String,
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({"detail": message}))).into_response()
}

fn service_error(e: ServiceError) -> Response {
    let status = match &e {
        // A bad reset token is a bad request, not a failed authentication.
        ServiceError::InvalidToken => StatusCode::BAD_REQUEST,
        other => other.status(),
    };
    if let ServiceError::Internal(d) | ServiceError::Unavailable(d) = &e {
        tracing::error!(detail = %d, "request failed");
    }
    let mut resp = detail(status, &e.to_string());
    if let ServiceError::RateLimited { retry_after } = e {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, retry_after.into());
    }
    resp
}

/// `POST /api/auth/password-reset/request` on the default tenant.
///
/// Mails a reset link if the address belongs to an account; the answer is the same either
/// way, so it cannot be used to find accounts.
#[utoipa::path(
    post,
    path = "/api/auth/password-reset/request",
    tag = "auth",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "Accepted, whether or not the account exists", body = super::rest::types::HttpError),
        (status = 404, description = "Unknown tenant", body = super::rest::types::HttpError),
        (status = 422, description = "Body is not the documented JSON", body = super::rest::types::HttpError),
        (status = 429, description = "Too many requests; see Retry-After", body = super::rest::types::HttpError),
        (status = 503, description = "Overloaded or database down; retry later", body = super::rest::types::HttpError),
    )
)]
pub async fn request_default(
    st: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Response {
    let slug = st.services.config.default_tenant.to_string();
    request(st, Path(slug), peer, headers, body).await
}

/// `POST /t/{tenant}/api/auth/password-reset/request`: 202 whether or not the account exists.
pub async fn request(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return detail(StatusCode::UNPROCESSABLE_ENTITY, &e.body_text()),
    };
    let tenant = match st.services.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return service_error(e),
    };
    match st.services.request_password_reset(&tenant, &body.email, &super::client::client_info(peer, &headers, &st.services.config.trusted_proxies)).await {
        Ok(_) => (StatusCode::ACCEPTED, Json(serde_json::json!({"detail": "if the address belongs to an account, a reset link was sent"}))).into_response(),
        Err(e) => service_error(e),
    }
}

/// `POST /api/auth/password-reset/confirm` on the default tenant.
///
/// Sets a new password with the token from the reset mail; the user's sessions end.
#[utoipa::path(
    post,
    path = "/api/auth/password-reset/confirm",
    tag = "auth",
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Token unknown, used or expired", body = super::rest::types::HttpError),
        (status = 404, description = "Unknown tenant", body = super::rest::types::HttpError),
        (status = 422, description = "Body is not the documented JSON, or the password is refused", body = super::rest::types::HttpError),
        (status = 503, description = "Overloaded or database down; retry later", body = super::rest::types::HttpError),
    )
)]
pub async fn confirm_default(
    st: State<AppState>,
    body: Result<Json<ResetConfirm>, JsonRejection>,
) -> Response {
    let slug = st.services.config.default_tenant.to_string();
    confirm(st, Path(slug), body).await
}

/// `POST /t/{tenant}/api/auth/password-reset/confirm`: 204 on success.
pub async fn confirm(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    body: Result<Json<ResetConfirm>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return detail(StatusCode::UNPROCESSABLE_ENTITY, &e.body_text()),
    };
    let tenant = match st.services.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return service_error(e),
    };
    match st
        .services
        .reset_password(&tenant, &body.token, &body.new_password)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => service_error(e),
    }
}
