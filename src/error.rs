//! The service error enum and its one mapping to GraphQL codes and HTTP statuses.
//!
//! Infra return [`ServiceError`]; only this file knows that `InvalidCredentials` is
//! `INVALID_CREDENTIALS` on GraphQL and 401 on REST.

use axum::http::StatusCode;

use crate::domain::InvalidInput;
use crate::domain::keys::{KeyError, TokenError};
use crate::store::StoreError;

/// Why a service call failed, in terms a client may see.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input failed validation; `field` names the input field.
    #[error("{field} {message}")]
    BadInput {
        /// The input field's name, as in the GraphQL schema.
        field: &'static str,
        /// What is wrong, in words a person can act on.
        message: String,
    },
    /// Missing, malformed, expired or revoked access token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated but lacking the role.
    #[error("not allowed")]
    Forbidden,
    /// The organization requires a second factor and the session was signed in with one
    /// factor.
    #[error(
        "this organization requires a second factor: sign in with one, then switchOrganization"
    )]
    OrganizationRequiresMfa,
    /// `acceptInvitation` by a user whose address is not the invited one.
    #[error("this invitation was sent to another address: sign in with the address it was sent to")]
    InvitationForAnotherAddress,
    /// `acceptInvitation` by the invited address before it is confirmed: an invitation is
    /// proof of nothing until the address is shown to be the user's.
    #[error("confirm your email address, then accept the invitation")]
    InvitationNeedsVerifiedAddress,
    /// A password sign-in by an address of an organization whose members must sign in through
    /// its identity provider.
    #[error("members of {organization} sign in through {provider_name}")]
    OrganizationSsoRequired {
        /// The organization's name.
        organization: String,
        /// The provider's id (`startFederatedSignIn(provider:)`).
        provider: String,
        /// The provider's display name.
        provider_name: String,
    },
    /// Unknown user or wrong password: one message for both.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Register conflict on email.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Register conflict on username.
    #[error("this username is taken")]
    UsernameTaken,
    /// Refresh, reset or verification token unknown, used, expired or revoked.
    #[error("invalid or expired token")]
    InvalidToken,
    /// Correct password, disabled account.
    #[error("this account is disabled")]
    AccountDisabled,
    /// Correct password, but the tenant requires a confirmed email address first.
    #[error("confirm your email address before signing in")]
    AccountNotVerified,
    /// `register` created the account, but the tenant requires a confirmed address before any
    /// session: the verification link is on its way.
    #[error("account created: confirm your email address with the link we sent, then sign in")]
    AccountCreatedUnverified {
        /// The new account.
        user_id: String,
    },
    /// Password right, a second factor is due: `verifyMfa` with the token completes it.
    #[error("a second factor is required")]
    MfaRequired {
        /// Opaque, single use, 5 minutes, bound to the user and this attempt.
        mfa_token: String,
        /// What the account can answer with: `totp`, `recovery_code`, `passkey`.
        methods: Vec<&'static str>,
        /// The options for `navigator.credentials.get`, when a passkey can answer.
        passkey_options: Option<serde_json::Value>,
    },
    /// The tenant requires a factor the user has none of: the token allows enrolment only.
    #[error("this tenant requires a second factor: enrol one, then sign in")]
    MfaEnrollmentRequired {
        /// Opaque enrolment-only token.
        mfa_token: String,
    },
    /// Throttled.
    #[error("too many attempts; retry in {retry_after} seconds")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// Unknown tenant.
    #[error("tenant not found")]
    TenantNotFound,
    /// A dependency (database, hashing pool) is down or saturated.
    #[error("service unavailable, retry later")]
    Unavailable(String),
    /// A bug; the detail goes to the log, never to the client.
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    /// A validation failure on `field`.
    pub fn bad_input(field: &'static str, message: &str) -> Self {
        ServiceError::BadInput {
            field,
            message: message.to_string(),
        }
    }

    /// The `extensions.code` of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadInput { .. } => "BAD_USER_INPUT",
            ServiceError::Unauthenticated(_) => "UNAUTHENTICATED",
            ServiceError::Forbidden
            | ServiceError::OrganizationRequiresMfa
            | ServiceError::InvitationForAnotherAddress
            | ServiceError::OrganizationSsoRequired { .. } => "FORBIDDEN",
            ServiceError::InvalidCredentials => "INVALID_CREDENTIALS",
            ServiceError::EmailTaken => "EMAIL_TAKEN",
            ServiceError::UsernameTaken => "USERNAME_TAKEN",
            ServiceError::InvalidToken => "INVALID_TOKEN",
            ServiceError::AccountDisabled => "ACCOUNT_DISABLED",
            ServiceError::AccountNotVerified
            | ServiceError::AccountCreatedUnverified { .. }
            | ServiceError::InvitationNeedsVerifiedAddress => "ACCOUNT_NOT_VERIFIED",
            ServiceError::MfaRequired { .. } => "MFA_REQUIRED",
            ServiceError::MfaEnrollmentRequired { .. } => "MFA_ENROLLMENT_REQUIRED",
            ServiceError::RateLimited { .. } => "RATE_LIMITED",
            ServiceError::TenantNotFound => "TENANT_NOT_FOUND",
            ServiceError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ServiceError::Internal(_) => "INTERNAL",
        }
    }

    /// The REST status of API.md.
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::BadInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unauthenticated(_)
            | ServiceError::InvalidCredentials
            | ServiceError::InvalidToken
            | ServiceError::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            ServiceError::MfaEnrollmentRequired { .. } => StatusCode::FORBIDDEN,
            ServiceError::Forbidden
            | ServiceError::OrganizationRequiresMfa
            | ServiceError::InvitationForAnotherAddress
            | ServiceError::InvitationNeedsVerifiedAddress
            | ServiceError::OrganizationSsoRequired { .. }
            | ServiceError::AccountDisabled
            | ServiceError::AccountNotVerified
            | ServiceError::AccountCreatedUnverified { .. } => StatusCode::FORBIDDEN,
            ServiceError::EmailTaken | ServiceError::UsernameTaken => StatusCode::CONFLICT,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::TenantNotFound => StatusCode::NOT_FOUND,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Converts to a GraphQL error with `extensions.code` (and `field`, `retryAfter`,
    /// `requestId` where they apply). Internal details are logged here, not returned.
    pub fn into_graphql(self, request_id: Option<&str>) -> async_graphql::Error {
        match &self {
            ServiceError::Internal(detail) | ServiceError::Unavailable(detail) => {
                tracing::error!(request_id = request_id.unwrap_or("-"), code = self.code(), %detail, "request failed");
            }
            _ => {}
        }
        let code = self.code();
        let mut err = async_graphql::Error::new(self.to_string());
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        match &self {
            ServiceError::BadInput { field, .. } => ext.set("field", *field),
            ServiceError::RateLimited { retry_after } => ext.set("retryAfter", *retry_after),
            ServiceError::AccountCreatedUnverified { user_id } => {
                ext.set("userId", user_id.as_str())
            }
            ServiceError::MfaRequired {
                mfa_token,
                methods,
                passkey_options,
            } => {
                ext.set("mfaToken", mfa_token.as_str());
                ext.set("methods", methods.clone());
                if let Some(o) = passkey_options {
                    ext.set(
                        "passkeyOptions",
                        async_graphql::Value::from_json(o.clone()).unwrap_or_default(),
                    );
                }
            }
            ServiceError::MfaEnrollmentRequired { mfa_token } => {
                ext.set("mfaToken", mfa_token.as_str())
            }
            ServiceError::OrganizationSsoRequired { provider, .. } => {
                ext.set("identityProviderId", provider.as_str())
            }
            ServiceError::Internal(_) | ServiceError::Unavailable(_) => {
                if let Some(id) = request_id {
                    ext.set("requestId", id);
                }
            }
            _ => {}
        }
        err.extensions = Some(ext);
        err
    }
}

impl From<InvalidInput> for ServiceError {
    fn from(e: InvalidInput) -> Self {
        ServiceError::BadInput {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<TokenError> for ServiceError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Rejected(why) => ServiceError::Unauthenticated(why),
            TokenError::Broken(detail) => ServiceError::Internal(detail),
        }
    }
}

impl From<KeyError> for ServiceError {
    fn from(e: KeyError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(d) | StoreError::Io(d) => ServiceError::Unavailable(d),
            // Conflicts are retried where they happen; one that keeps losing is load, not a bug.
            StoreError::Busy(d) => ServiceError::Unavailable(d),
            // The tenant's database was removed while this request held its session.
            StoreError::Missing(_) => ServiceError::TenantNotFound,
            StoreError::Conflict(index) if index.contains("email") => ServiceError::EmailTaken,
            StoreError::Conflict(index) if index.contains("username") => {
                ServiceError::UsernameTaken
            }
            other => ServiceError::Internal(other.to_string()),
        }
    }
}
