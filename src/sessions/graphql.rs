//! Sessions at the GraphQL edge: the `AuthPayload` every sign-in answers with.

use super::service::AuthTokens;
use crate::edge::types::AuthPayload;

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
