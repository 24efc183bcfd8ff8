//! Sign-up, sign-in, refresh, logout, password change.

use async_graphql::{Context, ID, Object, Result};

use async_graphql::{InputObject, SimpleObject};

use crate::accounts::service::{AccountService, SignedUp};
use crate::edge::gql::{gql_err, parts};
use crate::edge::types::{AuthPayload, User};
use crate::sessions::service::SessionService;

/// Authentication mutations.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and signs it in. When the tenant requires a verified email address,
    /// the account is created and the verification link mailed, and the answer is the error
    /// `ACCOUNT_NOT_VERIFIED` with `extensions.userId`: no tokens before the address is
    /// confirmed (`signUp` answers the same case without an error).
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let (_, req) = parts::<AccountService>(ctx);
        let tokens = input.sign_up(ctx).await?.into_tokens();
        Ok(tokens.map_err(gql_err(req))?.into())
    }

    /// Creates an account. `session` holds its tokens, or is null while the tenant requires
    /// the address to be confirmed first (`verificationRequired`).
    async fn sign_up(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<SignUpPayload> {
        Ok(input.sign_up(ctx).await?.into())
    }

    /// Signs in with email or username.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let (s, req) = parts::<AccountService>(ctx);
        let org = input.organization.as_deref().map(|o| o.as_str());
        let t = s.login(
            &req.tenant,
            &input.identifier,
            &input.password,
            org,
            &req.client,
        );
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// Exchanges a refresh token for a new pair (the old one is spent). With `organization`,
    /// the session is then scoped to it, as `switchOrganization` does (`FORBIDDEN` for a
    /// non-member).
    async fn refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
        organization: Option<ID>,
    ) -> Result<AuthPayload> {
        let (s, req) = parts::<SessionService>(ctx);
        Ok(s.refresh_into(
            &req.tenant,
            &refresh_token,
            &req.client,
            organization.as_ref().map(|o| o.as_str()),
        )
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
        let (s, req) = parts::<SessionService>(ctx);
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
        let (s, req) = parts::<AccountService>(ctx);
        s.change_password(
            &req.tenant,
            req.bearer.as_deref(),
            &current_password,
            &new_password,
            &req.client,
        )
        .await
        .map_err(gql_err(req))
    }
}

/// The outcome of `signUp`.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    /// The new account.
    pub user: User,
    /// True while the address must be confirmed before signing in (then `session` is null).
    pub verification_required: bool,
    /// The signed-in session, unless verification is required first.
    pub session: Option<AuthPayload>,
}

impl From<crate::accounts::service::SignedUp> for SignUpPayload {
    fn from(s: crate::accounts::service::SignedUp) -> Self {
        Self {
            verification_required: s.tokens.is_none(),
            session: s.tokens.map(AuthPayload::from),
            user: s.user.into(),
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

impl RegisterInput {
    /// Creates the account: `register` and `signUp` differ only in how they answer.
    async fn sign_up(self, ctx: &Context<'_>) -> Result<SignedUp> {
        let (s, req) = parts::<AccountService>(ctx);
        let t = s.sign_up(
            &req.tenant,
            &self.email,
            &self.username,
            &self.password,
            &req.client,
        );
        t.await.map_err(gql_err(req))
    }
}

/// Sign-in data.
#[derive(InputObject)]
pub struct LoginInput {
    /// Email or username.
    pub identifier: String,
    /// Password.
    pub password: String,
    /// Sign in to this organization (the user must be a member, else `FORBIDDEN`): the
    /// tokens carry `org_id` and `org_roles`. Applies when the sign-in completes in this
    /// step; after a second factor, `switchOrganization`.
    pub organization: Option<async_graphql::ID>,
}
