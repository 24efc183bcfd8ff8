//! Password reset and email verification.

use async_graphql::{Context, Object, Result};

use crate::accounts::recovery::RecoveryService;
use crate::edge::gql::{gql_err, parts};

/// Reset and verification mutations.
#[derive(Default)]
pub struct RecoveryMutation;

#[Object]
impl RecoveryMutation {
    /// Mails a reset link if the address belongs to an account. Always true: the answer never
    /// tells whether an account exists.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let (s, req) = parts::<RecoveryService>(ctx);
        s.request_password_reset(&req.tenant, &email, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Sets a new password with a mailed reset token; signs out every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        let (s, req) = parts::<RecoveryService>(ctx);
        s.reset_password(&req.tenant, &token, &new_password, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Confirms the email address with a mailed verification token.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let (s, req) = parts::<RecoveryService>(ctx);
        s.verify_email(&req.tenant, &token, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Mails a new verification link to the caller (Bearer), or without a token to the
    /// account of `email` if there is one (always true then: no account enumeration).
    async fn resend_verification_email(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> Result<bool> {
        let (s, req) = parts::<RecoveryService>(ctx);
        s.resend_verification(
            &req.tenant,
            req.bearer.as_deref(),
            email.as_deref(),
            &req.client,
        )
        .await
        .map_err(gql_err(req))
    }
}
