//! The JSON and form shapes of the seed's REST API, as Rust types so the OpenAPI document is
//! generated from the same definitions the handlers answer with.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::sessions::service::AuthTokens;
use crate::store::users::UserRow;

/// An account, as the seed returned it (`is_active` is the negation of `disabled`).
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    /// Stable id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Username.
    pub username: String,
    /// False once an admin disabled the account.
    pub is_active: bool,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Creation time (RFC 3339).
    pub created_at: DateTime<Utc>,
    /// Role names.
    pub roles: Vec<String>,
    /// Last successful login (RFC 3339), if any.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for UserOut {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            is_active: !u.disabled,
            email_verified: u.email_verified,
            created_at: u.created_at,
            roles: u.roles,
            last_login_at: u.last_login_at,
        }
    }
}

/// A token pair (OAuth 2.0 token response, RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use token for `POST /api/auth/refresh`.
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<AuthTokens> for TokenOut {
    fn from(t: AuthTokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            // Lower case, as FastAPI's OAuth2 examples and so the seed's clients expect.
            token_type: "bearer",
            expires_in: t.expires_in,
        }
    }
}

/// Sign-up data (JSON).
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only: the handler parses fields itself for FastAPI-like 422s.
pub struct RegisterIn {
    /// Email address.
    #[schema(example = "ada@example.com", format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`.
    #[schema(
        example = "ada",
        pattern = r"^[A-Za-z0-9_.-]{3,32}$",
        min_length = 3,
        max_length = 32
    )]
    pub username: String,
    /// 8 to 128 characters (a tenant may require more). Common passwords and passwords
    /// containing the username or the address's local part are refused with 422.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
}

/// Password reset request (JSON).
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only: the handler parses fields itself for FastAPI-like 422s.
pub struct ResetRequestIn {
    /// The account's email address.
    #[schema(example = "ada@example.com", format = Email, min_length = 3, max_length = 254)]
    pub email: String,
}

/// Password reset confirmation (JSON).
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only.
pub struct ResetConfirmIn {
    /// The token from the reset mail.
    #[schema(min_length = 1, max_length = 512)]
    pub token: String,
    /// The new password (8 to 128 characters, or the tenant's minimum).
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Sign-in form (`application/x-www-form-urlencoded`), FastAPI's `OAuth2PasswordRequestForm`.
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only, as RegisterIn.
pub struct LoginForm {
    /// Optional; if sent it must be `password`. (Form fields are absent or text, never
    /// null: the optional ones are not nullable.)
    #[schema(nullable = false)]
    pub grant_type: Option<GrantType>,
    /// Email address or username (not only spaces).
    #[schema(example = "ada", min_length = 1, max_length = 254, pattern = r"\S")]
    pub username: String,
    /// Password.
    #[schema(example = "correct horse battery", min_length = 1, max_length = 1024)]
    pub password: String,
    /// Ignored (accepted for OAuth 2.0 clients).
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// Ignored (accepted for OAuth 2.0 clients).
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// Ignored (accepted for OAuth 2.0 clients).
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
}

/// The one grant the seed's login form takes.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)] // Documentation only; the value is `password`.
pub enum GrantType {
    /// Resource owner password credentials.
    password,
}

/// Optional logout body: also end the session of this refresh token.
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only, as RegisterIn.
pub struct LogoutIn {
    /// A refresh token of the same user.
    pub refresh_token: Option<String>,
}

/// An error (FastAPI's `HTTPException` shape).
#[derive(Serialize, ToSchema)]
pub struct HttpError {
    /// What went wrong.
    pub detail: String,
}

/// One step of the path to an invalid value: a field name or an array index.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[serde(untagged)]
pub enum LocItem {
    /// A field name, or `body`.
    Name(String),
    /// A position.
    Index(u64),
}

/// One validation failure (FastAPI's / pydantic's `ValidationError` shape).
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ValidationIssue {
    /// Where: `["body", "email"]`.
    pub loc: Vec<LocItem>,
    /// What is wrong, for people.
    pub msg: String,
    /// What is wrong, for programs: `missing`, `string_type`, `json_invalid`, `value_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

/// Request validation failed (status 422), as FastAPI answers.
#[derive(Serialize, ToSchema)]
pub struct HttpValidationError {
    /// Every problem found.
    pub detail: Vec<ValidationIssue>,
}
