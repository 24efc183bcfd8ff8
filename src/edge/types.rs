//! The GraphQL object types several capabilities answer with (names fixed by API.md): the
//! user, the tokens of a sign-in, Relay page information. Fields that a capability adds to
//! `User` are resolved in `graphql/user.rs`, where the schema is composed.

use async_graphql::{ID, SimpleObject};

use super::scalars::DateTime;
use crate::store::users::UserRow;

/// An account of the tenant.
#[derive(SimpleObject)]
#[graphql(complex)]
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
    pub created_at: DateTime,
    /// Last successful login.
    pub last_login_at: Option<DateTime>,
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
            created_at: u.created_at.into(),
            last_login_at: u.last_login_at.map(Into::into),
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
