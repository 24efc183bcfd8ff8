//! Sign-up, sign-in, refresh, logout, password change.

use async_graphql::{Context, Object, Result};

use super::types::{AuthPayload, LoginInput, RegisterInput};
use super::{gql_err, parts};

/// Authentication mutations.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and signs it in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let (s, req) = parts(ctx);
        let t = s.register(
            &req.tenant,
            &input.email,
            &input.username,
            &input.password,
            &req.client,
        );
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// Signs in with email or username.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let (s, req) = parts(ctx);
        let t = s.login(&req.tenant, &input.identifier, &input.password, &req.client);
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// Exchanges a refresh token for a new pair (the old one is spent).
    async fn refresh(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let (s, req) = parts(ctx);
        Ok(s.refresh(&req.tenant, &refresh_token)
            .await
            .map_err(gql_err(req))?
            .into())
    }

    /// Ends this session (Bearer), the session of `refreshToken`, or with `allSessions` every
    /// session of the user.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
        #[graphql(default_with = "Some(false)")] all_sessions: Option<bool>,
    ) -> Result<bool> {
        let (s, req) = parts(ctx);
        s.logout(
            &req.tenant,
            req.bearer.as_deref(),
            refresh_token.as_deref(),
            all_sessions.unwrap_or(false),
        )
        .await
        .map_err(gql_err(req))
    }

    /// Changes the caller's password; other sessions are revoked.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let (s, req) = parts(ctx);
        s.change_password(
            &req.tenant,
            req.bearer.as_deref(),
            &current_password,
            &new_password,
        )
        .await
        .map_err(gql_err(req))
    }
}
