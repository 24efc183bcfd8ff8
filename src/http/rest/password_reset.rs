//! `POST /api/auth/password-reset/request|confirm`: the same service functions as the GraphQL
//! `requestPasswordReset` and `resetPassword` mutations, with the REST API's body parsing and
//! FastAPI-shaped errors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::Caller;
use super::body::Fields;
use super::error::RestError;
use super::types::{HttpError, HttpValidationError, ResetConfirmIn, ResetRequestIn};
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
    Caller { tenant, client }: Caller,
    mut f: Fields,
) -> Result<(StatusCode, Json<HttpError>), RestError> {
    let email = f.string("email");
    f.finish()?;
    st.services
        .recovery
        .request_password_reset(&tenant, &email, &client)
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
    Caller { tenant, client }: Caller,
    mut f: Fields,
) -> Result<StatusCode, RestError> {
    let (token, new_password) = (f.string("token"), f.string("new_password"));
    f.finish()?;
    match st
        .services
        .recovery
        .reset_password(&tenant, &token, &new_password, &client)
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        // A bad reset token is a bad request, not a failed authentication (no WWW-Authenticate).
        Err(ServiceError::InvalidToken) => Err(RestError::BadRequest("invalid or expired token")),
        Err(e) => Err(RestError::from(e).rename_field("newPassword", "new_password")),
    }
}
