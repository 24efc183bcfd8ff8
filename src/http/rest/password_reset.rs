//! `POST /api/auth/password-reset/request|confirm`: the same service functions as the GraphQL
//! `requestPasswordReset` and `resetPassword` mutations, with the REST API's body parsing and
//! FastAPI-shaped errors.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, RawPathParams, State};
use axum::http::{HeaderMap, StatusCode};

use super::body::{self, Fields};
use super::error::RestError;
use super::tenant;
use super::types::{HttpError, HttpValidationError, ResetConfirmIn, ResetRequestIn};
use crate::edge::client::client_info;
use crate::error::ServiceError;
use crate::http::AppState;

/// Request a password reset mail.
///
/// Mails a reset link if the address belongs to an account; the answer is the same either
/// way, so it cannot be used to find accounts.
#[utoipa::path(
    post,
    path = "/api/auth/password-reset/request",
    tag = "auth",
    request_body = ResetRequestIn,
    responses(
        (status = 202, description = "Accepted, whether or not the account exists", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
        (status = 413, description = "Body over 64 KiB", body = HttpError),
        (status = 422, description = "Missing, mistyped or invalid field", body = HttpValidationError),
        (status = 429, description = "Too many requests; see Retry-After", body = HttpError,
            headers(("Retry-After" = u64, description = "Seconds until a retry may succeed"))),
        (status = 503, description = "Overloaded or database down; retry later", body = HttpError),
    )
)]
pub async fn request(
    State(st): State<AppState>,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<HttpError>), RestError> {
    let t = tenant(&st, params).await?;
    let bytes = body::read(&headers, body).await?;
    let obj = body::json_object(&headers, &bytes)?;
    let mut f = Fields::new(&obj);
    let email = f.string("email");
    f.finish()?;
    let client = client_info(peer, &headers, &st.services.config.trusted_proxies);
    st.services
        .recovery
        .request_password_reset(&t, &email, &client)
        .await?;
    let detail = "if the address belongs to an account, a reset link was sent".to_string();
    Ok((StatusCode::ACCEPTED, Json(HttpError { detail })))
}

/// Set a new password with the token from the reset mail.
///
/// Every session of the account is signed out and a notice is mailed.
#[utoipa::path(
    post,
    path = "/api/auth/password-reset/confirm",
    tag = "auth",
    request_body = ResetConfirmIn,
    responses(
        (status = 204, description = "Password changed; all sessions signed out"),
        (status = 400, description = "Token unknown, used, superseded or expired", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
        (status = 413, description = "Body over 64 KiB", body = HttpError),
        (status = 422, description = "Missing, mistyped or invalid field (e.g. a weak password)", body = HttpValidationError),
        (status = 503, description = "Overloaded or database down; retry later", body = HttpError),
    )
)]
pub async fn confirm(
    State(st): State<AppState>,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, RestError> {
    let t = tenant(&st, params).await?;
    let bytes = body::read(&headers, body).await?;
    let obj = body::json_object(&headers, &bytes)?;
    let mut f = Fields::new(&obj);
    let (token, new_password) = (f.string("token"), f.string("new_password"));
    f.finish()?;
    let client = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .recovery
        .reset_password(&t, &token, &new_password, &client)
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        // A bad reset token is a bad request, not a failed authentication (no WWW-Authenticate).
        Err(ServiceError::InvalidToken) => Err(RestError::BadRequest("invalid or expired token")),
        Err(e) => Err(RestError::from(e).rename_field("newPassword", "new_password")),
    }
}
