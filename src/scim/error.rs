//! The SCIM layer's error: an HTTP status with SCIM's `scimType` (RFC 7644 §3.12), turned into
//! the Error resource at the edge (`routes.rs`). Never a 500 for what a client can cause.

use axum::http::StatusCode;

use crate::error::ServiceError;
use crate::store::StoreError;

/// A refused or failed SCIM request.
#[derive(Debug)]
pub struct ScimError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `invalidFilter`, `invalidValue`, `uniqueness`, `tooMany`, ... when one applies.
    pub scim_type: Option<&'static str>,
    /// A sentence for the directory's log.
    pub detail: String,
}

impl ScimError {
    /// 400 with `scim_type`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 404: no such resource (or not one this token may see: the same answer).
    pub fn not_found(what: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: format!("no such {what}"),
        }
    }

    /// 409 `uniqueness`.
    pub fn taken(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    /// 403: the token may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            scim_type: None,
            detail: detail.into(),
        }
    }
}

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadInput { field, message } => {
                ScimError::bad("invalidValue", format!("{field} {message}"))
            }
            ServiceError::EmailTaken => {
                ScimError::taken("an account with this address already exists")
            }
            ServiceError::UsernameTaken => ScimError::taken("this userName is taken"),
            ServiceError::TenantNotFound => ScimError::not_found("tenant"),
            ServiceError::Unavailable(_) => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                scim_type: None,
                detail: "service unavailable, retry later".into(),
            },
            other => {
                if matches!(other, ServiceError::Internal(_)) {
                    tracing::error!(error = %other, "SCIM request failed");
                }
                Self {
                    status: other.status(),
                    scim_type: None,
                    detail: other.to_string(),
                }
            }
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}
