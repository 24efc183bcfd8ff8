//! REST error responses in FastAPI's shape: `{"detail": "..."}`, or for 422 a list of
//! validation issues. The status of a service error comes from `ServiceError::status`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::types::{HttpError, HttpValidationError, LocItem, ValidationIssue};
use crate::error::ServiceError;

/// Why a REST request failed.
#[derive(Debug)]
pub enum RestError {
    /// The service refused.
    Service(ServiceError),
    /// The request did not have the documented shape.
    Invalid(Vec<ValidationIssue>),
    /// The body is over the REST limit.
    TooLarge,
    /// A well-formed request the service cannot act on (400 with this detail).
    BadRequest(&'static str),
}

impl From<ServiceError> for RestError {
    fn from(e: ServiceError) -> Self {
        RestError::Service(e)
    }
}

impl RestError {
    /// One validation issue at `body.<field>` (or `body` when `field` is empty).
    pub fn invalid(field: &str, kind: &str, msg: &str) -> Self {
        RestError::Invalid(vec![issue(field, kind, msg)])
    }

    /// Renames the service's (GraphQL) field name of a validation failure to the REST one.
    pub fn rename_field(self, from: &str, to: &'static str) -> Self {
        match self {
            RestError::Service(ServiceError::BadInput { field, message }) if field == from => {
                RestError::Service(ServiceError::BadInput { field: to, message })
            }
            other => other,
        }
    }
}

/// A validation issue at `body.<field>` (or `body` when `field` is empty).
pub fn issue(field: &str, kind: &str, msg: &str) -> ValidationIssue {
    let mut loc = vec![LocItem::Name("body".into())];
    if !field.is_empty() {
        loc.push(LocItem::Name(field.into()));
    }
    ValidationIssue {
        loc,
        msg: msg.into(),
        kind: kind.into(),
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        match self {
            RestError::Invalid(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(HttpValidationError { detail }),
            )
                .into_response(),
            RestError::TooLarge => detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
            RestError::BadRequest(message) => detail(StatusCode::BAD_REQUEST, message),
            // Service validation failures are 422 too, in the same list shape, so a client
            // handles every 422 alike.
            RestError::Service(ServiceError::BadInput { field, message }) => {
                RestError::invalid(field, "value_error", &format!("{field} {message}"))
                    .into_response()
            }
            RestError::Service(e) => service_error(e),
        }
    }
}

fn service_error(e: ServiceError) -> Response {
    if let ServiceError::Internal(d) | ServiceError::Unavailable(d) = &e {
        tracing::error!(code = e.code(), detail = %d, "REST request failed");
    }
    let status = e.status();
    let mut resp = match &e {
        // The second step's token and methods travel in the body, as over GraphQL.
        ServiceError::MfaRequired {
            mfa_token, methods, ..
        } => (
            status,
            Json(serde_json::json!({"detail": e.to_string(), "mfa_token": mfa_token, "methods": methods})),
        )
            .into_response(),
        ServiceError::MfaEnrollmentRequired { mfa_token } => (
            status,
            Json(serde_json::json!({"detail": e.to_string(), "mfa_token": mfa_token})),
        )
            .into_response(),
        _ => detail(status, &e.to_string()),
    };
    let headers = resp.headers_mut();
    match &e {
        // RFC 6750 §3: a 401 for a Bearer-protected resource names the scheme.
        _ if status == StatusCode::UNAUTHORIZED => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ServiceError::RateLimited { retry_after } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    resp
}

fn detail(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(HttpError {
            detail: message.into(),
        }),
    )
        .into_response()
}
