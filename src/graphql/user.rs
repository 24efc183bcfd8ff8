//! `User`'s fields that capabilities contribute: each resolves through its capability's own
//! resolver function, so `edge::types::User` stays below the capabilities. A capability that
//! adds a field to `User` adds one delegation here.

use async_graphql::{ComplexObject, Context, Result};

use crate::edge::types::User;

#[ComplexObject]
impl User {
    /// Second factors (visible to the user and to tenant admins).
    async fn mfa(&self, ctx: &Context<'_>) -> Result<crate::mfa::graphql::MfaStatus> {
        crate::mfa::graphql::user_mfa(ctx, &self.id).await
    }

    /// Upstream identities linked to the account (visible to the user and to tenant admins).
    async fn identities(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::federation::graphql::LinkedIdentity>> {
        crate::federation::graphql::user_identities(ctx, &self.id).await
    }

    /// The organizations the user is a member of, with their org roles (visible to the user
    /// and to tenant admins).
    async fn organizations(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::organizations::graphql::OrganizationMembership>> {
        crate::organizations::graphql::user_organizations(ctx, &self.id).await
    }

    /// Live sessions, newest first (visible to the user and to tenant admins).
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<crate::sessions::graphql::Session>> {
        crate::sessions::graphql::user_sessions(ctx, &self.id).await
    }
}
