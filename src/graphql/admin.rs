//! Tenant administration (role `admin` of this tenant).

use async_graphql::{Context, ID, Object, Result};

use super::types::{
    AuditEventConnection, CreateUserInput, TenantSettings, TenantSettingsInput, User,
    UserConnection,
};
use super::{gql_err, parts};
use crate::service::admin::CreateUser;

/// Admin queries.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Users, oldest first; `search` matches the start of email or username.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<UserConnection> {
        let (s, req) = parts(ctx);
        let page = s.list_users(
            &req.tenant,
            req.bearer.as_deref(),
            // An explicit null means the default page, as an omitted argument does.
            first.unwrap_or(20),
            after.as_deref(),
            search.as_deref(),
        );
        Ok(page.await.map_err(gql_err(req))?.into())
    }

    /// One user by id.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let (s, req) = parts(ctx);
        let u = s
            .get_user(&req.tenant, req.bearer.as_deref(), &id)
            .await
            .map_err(gql_err(req))?;
        Ok(u.map(User::from))
    }

    /// The audit log, newest first, optionally about one user.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        user_id: Option<ID>,
    ) -> Result<AuditEventConnection> {
        let (s, req) = parts(ctx);
        let page = s.audit_events(
            &req.tenant,
            req.bearer.as_deref(),
            first.unwrap_or(50),
            after.as_deref(),
            user_id.as_ref().map(|i| i.as_str()),
        );
        Ok(page.await.map_err(gql_err(req))?.into())
    }

    /// The settings in force.
    async fn tenant_settings(&self, ctx: &Context<'_>) -> Result<TenantSettings> {
        let (s, req) = parts(ctx);
        Ok(s.tenant_settings(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?
            .into())
    }
}

/// Admin mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an account (no session is started).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let (s, req) = parts(ctx);
        let input = CreateUser {
            email: &input.email,
            username: &input.username,
            password: &input.password,
            roles: input.roles.unwrap_or_default(),
            email_verified: input.email_verified.unwrap_or(false),
        };
        let u = s
            .admin_create_user(&req.tenant, req.bearer.as_deref(), input, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Disables a user and revokes its sessions; login then answers ACCOUNT_DISABLED.
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let (s, req) = parts(ctx);
        let u = s
            .set_user_disabled(&req.tenant, req.bearer.as_deref(), &id, true, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Enables a disabled user.
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let (s, req) = parts(ctx);
        let u = s
            .set_user_disabled(&req.tenant, req.bearer.as_deref(), &id, false, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Deletes a user with its sessions and tokens.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts(ctx);
        s.admin_delete_user(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Replaces a user's roles.
    async fn set_user_roles(&self, ctx: &Context<'_>, id: ID, roles: Vec<String>) -> Result<User> {
        let (s, req) = parts(ctx);
        let u = s
            .set_user_roles(&req.tenant, req.bearer.as_deref(), &id, &roles, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Revokes every session of a user; returns how many were active.
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> Result<i32> {
        let (s, req) = parts(ctx);
        let n = s
            .revoke_user_sessions(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(n as i32)
    }

    /// Changes tenant settings; a field set to null returns to the server default.
    async fn update_tenant_settings(
        &self,
        ctx: &Context<'_>,
        input: TenantSettingsInput,
    ) -> Result<TenantSettings> {
        let (s, req) = parts(ctx);
        let r = s
            .update_tenant_settings(
                &req.tenant,
                req.bearer.as_deref(),
                input.into(),
                &req.client,
            )
            .await;
        Ok(r.map_err(gql_err(req))?.into())
    }

    /// Rotates the signing key; returns the new kid. The new key is published in the JWKS at
    /// once and signs after the JWKS cache time (6 minutes), so verifiers holding a cached
    /// JWKS never meet an unknown key; earlier keys keep verifying their tokens until they
    /// expire. `emergency: true` (a leaked key) signs with the new key at once and revokes the
    /// earlier ones: their tokens stop verifying immediately.
    async fn rotate_signing_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] emergency: bool,
    ) -> Result<String> {
        let (s, req) = parts(ctx);
        s.rotate_signing_key(&req.tenant, req.bearer.as_deref(), emergency, &req.client)
            .await
            .map_err(gql_err(req))
    }
}
