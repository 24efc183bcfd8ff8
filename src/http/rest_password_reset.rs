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
#[derive(Deserialize)]
pub struct ResetRequest {
    email: String,
}

/// `{token, new_password}`.
#[derive(Deserialize)]
pub struct ResetConfirm {
    token: String,
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
