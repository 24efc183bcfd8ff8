//! GraphQL object and input types (names fixed by API.md).

use async_graphql::{ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::service::auth::AuthTokens;
use crate::store::users::UserRow;

/// An account of the tenant.
#[derive(SimpleObject)]
pub struct User {
    /// Stable id.
    pub id: ID,
    /// Email address.
    pub email: String,
    /// Username.
    pub username: String,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Disabled by an admin.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: ID(u.id),
            email: u.email,
            username: u.username,
            email_verified: u.email_verified,
            roles: u.roles,
            disabled: u.disabled,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// Tokens and the signed-in user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token for `refresh`; single use.
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    pub user: User,
}

impl From<AuthTokens> for AuthPayload {
    fn from(t: AuthTokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

/// Sign-up data.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address.
    pub email: String,
    /// Username: 3..32 of [A-Za-z0-9_.-].
    pub username: String,
    /// Password: 8..128 characters.
    pub password: String,
}

/// Sign-in data.
#[derive(InputObject)]
pub struct LoginInput {
    /// Email or username.
    pub identifier: String,
    /// Password.
    pub password: String,
}
