//! The SCIM layer's error, one enum, turned into the Error resource with its HTTP status at the
//! edge (`routes.rs`, RFC 7644 §3.12). Never a 500 for what a client can cause.

use crate::error::ServiceError;
use crate::store::StoreError;

/// A refused or failed SCIM request.
#[derive(Debug)]
pub enum ScimError {
    /// 400 with SCIM's `scimType` (`invalidFilter`, `invalidValue`, `invalidSyntax`,
    /// `invalidPath`, `noTarget`, `tooMany`).
    Invalid(&'static str, String),
    /// 401: no live SCIM token.
    Unauthenticated,
    /// 403: the token may not do this.
    Forbidden(String),
    /// 404: no such resource (or none this token may see: the same answer).
    NotFound(String),
    /// 405: a read-only endpoint.
    MethodNotAllowed,
    /// 409 `uniqueness`.
    Taken(String),
    /// The body could not be read (too large: 413).
    Body(u16, String),
    /// 503: the store is unavailable, or a resource kept changing under this request.
    Unavailable(String),
    /// A bug: answered 500 with nothing of the detail, which is logged.
    Internal(String),
}

impl ScimError {
    /// 400 with `scim_type`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid(scim_type, detail.into())
    }

    /// 404 for `what`.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("no such {what}"))
    }

    /// 409 `uniqueness`.
    pub fn taken(detail: impl Into<String>) -> Self {
        Self::Taken(detail.into())
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(detail.into())
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
            ServiceError::Forbidden => ScimError::forbidden("not allowed"),
            ServiceError::Unavailable(d) => ScimError::Unavailable(d),
            ServiceError::Internal(d) => ScimError::Internal(d),
            // Sign-in outcomes (locked, disabled, needs MFA) cannot come from provisioning.
            other => ScimError::Internal(format!("unexpected: {other:?}")),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}
