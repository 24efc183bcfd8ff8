//! Sessions at the GraphQL edge: the `AuthPayload` every sign-in answers with, and a user's
//! live sessions (`User.sessions`, for the user and for tenant admins).

use async_graphql::{Context, ID, Result, SimpleObject};

use super::service::{AuthTokens, SessionService};
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::edge::types::AuthPayload;
use crate::store::sessions::SessionInfo;

/// A live session: one sign-in and the refresh tokens rotated from it.
#[derive(SimpleObject)]
pub struct Session {
    /// Session id (the `sid` claim); `revokeSession` takes it.
    pub id: ID,
    /// When it started (the sign-in).
    pub created_at: DateTime,
    /// When it was last refreshed (to the minute).
    pub last_seen_at: Option<DateTime>,
    /// When it ends at the latest.
    pub expires_at: DateTime,
    /// The address it signed in from.
    pub ip: Option<String>,
    /// The browser or program it signed in with.
    pub user_agent: Option<String>,
    /// The OAuth client it was started for (none: the GraphQL or REST API).
    pub client_id: Option<String>,
    /// How it was authenticated (RFC 8176 `amr`: `pwd`, `otp`, `hwk`, `fed`, ...).
    pub amr: Vec<String>,
}

impl From<SessionInfo> for Session {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: ID(s.id),
            created_at: s.created_at.into(),
            last_seen_at: s.last_seen_at.map(Into::into),
            expires_at: s.expires_at.into(),
            ip: s.client_ip,
            user_agent: s.user_agent,
            client_id: s.client_id,
            amr: s.amr.unwrap_or_default(),
        }
    }
}

/// `User.sessions`: the user's live sessions, newest first (the user or a tenant admin).
pub async fn user_sessions(ctx: &Context<'_>, user_id: &str) -> Result<Vec<Session>> {
    let (s, req) = parts::<SessionService>(ctx);
    let rows = s
        .active_sessions(&req.tenant, req.bearer.as_deref(), user_id)
        .await
        .map_err(gql_err(req))?;
    Ok(rows.into_iter().map(Session::from).collect())
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
