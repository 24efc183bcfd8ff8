//! The platform API's resolvers (`/admin/graphql`): tenants, for operators holding `ADMIN_API_KEY`.

use crate::edge::scalars::DateTime;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use crate::edge::gql::PlatformCtx;
use crate::store::tenants::TenantRow;
use crate::tenants::service::FirstAdmin;
use crate::tenants::service::TenantService;
use std::sync::Arc;

/// A tenant.
#[derive(SimpleObject)]
pub struct Tenant {
    /// URL slug: `/t/{slug}/graphql`.
    pub slug: String,
    /// Human name.
    pub display_name: String,
    /// Signing algorithm of its keys.
    pub algorithm: String,
    /// A disabled tenant answers TENANT_NOT_FOUND.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime,
}

impl From<TenantRow> for Tenant {
    fn from(t: TenantRow) -> Self {
        Self {
            slug: t.slug,
            display_name: t.display_name,
            algorithm: t.algorithm,
            disabled: t.disabled,
            created_at: t.created_at.into(),
        }
    }
}

crate::relay_connection!(
    TenantConnection,
    TenantEdge,
    Tenant,
    "A page of tenants.",
    "The tenants.",
    "All tenants.",
    "A tenant in a list.",
    "The tenant."
);

/// The first admin of a new tenant.
#[derive(InputObject)]
pub struct TenantAdminInput {
    /// Email address.
    pub email: String,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A new tenant.
#[derive(InputObject)]
pub struct CreateTenantInput {
    /// Slug: `^[a-z0-9][a-z0-9-]{1,62}$`.
    pub slug: String,
    /// Human name.
    pub display_name: String,
    /// Optional first admin (role `admin`, address counted as confirmed).
    pub admin: Option<TenantAdminInput>,
}

/// Changes to a tenant.
#[derive(InputObject)]
pub struct UpdateTenantInput {
    /// New name.
    pub display_name: Option<String>,
    /// Disable (answers TENANT_NOT_FOUND) or enable.
    pub disabled: Option<bool>,
}

/// The tenant service and the request, once the platform key checked out.
fn parts<'a>(ctx: &'a Context<'_>) -> Result<(&'a TenantService, &'a PlatformCtx)> {
    let s = ctx.data_unchecked::<TenantService>();
    let req = ctx.data_unchecked::<Arc<PlatformCtx>>();
    s.require_platform_admin(req.bearer.as_deref())
        .map_err(|e| e.into_graphql(Some(&req.request_id)))?;
    Ok((s, req))
}

/// Platform queries.
pub struct PlatformQuery;

#[Object]
impl PlatformQuery {
    /// Tenants by slug; `search` matches the start of the slug or any part of the display
    /// name (case-insensitive).
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<TenantConnection> {
        let (s, req) = parts(ctx)?;
        let page = s
            .list_tenants(first.unwrap_or(20), after.as_deref(), search.as_deref())
            .await
            .map_err(|e| e.into_graphql(Some(&req.request_id)))?;
        Ok(page.into())
    }

    /// One tenant.
    async fn tenant(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Tenant>> {
        let (s, req) = parts(ctx)?;
        let t = s
            .get_tenant(&slug)
            .await
            .map_err(|e| e.into_graphql(Some(&req.request_id)))?;
        Ok(t.map(Tenant::from))
    }
}

/// Platform mutations.
pub struct PlatformMutation;

#[Object]
impl PlatformMutation {
    /// Creates a tenant, optionally with its first admin.
    async fn create_tenant(&self, ctx: &Context<'_>, input: CreateTenantInput) -> Result<Tenant> {
        let (s, req) = parts(ctx)?;
        let admin = input.admin.as_ref().map(|a| FirstAdmin {
            email: &a.email,
            username: &a.username,
            password: &a.password,
        });
        let t = s
            .create_tenant(&input.slug, &input.display_name, admin)
            .await;
        Ok(t.map_err(|e| e.into_graphql(Some(&req.request_id)))?.into())
    }

    /// Renames, disables or enables a tenant.
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        slug: String,
        input: UpdateTenantInput,
    ) -> Result<Tenant> {
        let (s, req) = parts(ctx)?;
        let t = s
            .update_tenant(&slug, input.display_name.as_deref(), input.disabled)
            .await;
        Ok(t.map_err(|e| e.into_graphql(Some(&req.request_id)))?.into())
    }

    /// Deletes a tenant and all its data; its tokens stop working at once.
    async fn delete_tenant(&self, ctx: &Context<'_>, slug: String) -> Result<bool> {
        let (s, req) = parts(ctx)?;
        s.delete_tenant(&slug)
            .await
            .map_err(|e| e.into_graphql(Some(&req.request_id)))
    }
}
