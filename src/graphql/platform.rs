//! The platform schema (`/admin/graphql`): tenants, for operators holding `ADMIN_API_KEY`.

use std::sync::Arc;

use super::scalars::DateTime;
use async_graphql::{
    Context, EmptySubscription, InputObject, Object, Result, Schema, SimpleObject,
};

use super::guard::Guard;
use super::types::PageInfo;
use super::{MAX_COMPLEXITY, MAX_DEPTH};
use crate::service::Services;
use crate::service::admin::Page;
use crate::service::platform::FirstAdmin;
use crate::store::tenants::TenantRow;

/// The platform schema type.
pub type PlatformSchema = Schema<PlatformQuery, PlatformMutation, EmptySubscription>;

/// Per-request data of the platform API.
pub struct PlatformCtx {
    /// Bearer token (the platform key).
    pub bearer: Option<String>,
    /// Request id.
    pub request_id: String,
}

/// Builds the platform schema.
pub fn platform_schema(services: Option<Arc<Services>>, introspection: bool) -> PlatformSchema {
    let mut b = Schema::build(PlatformQuery, PlatformMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(10)
        .disable_suggestions()
        .extension(Guard::new(introspection))
        .extension(super::describe::Describe(DESCRIPTION));
    if !introspection {
        b = b.disable_introspection();
    }
    if let Some(s) = services {
        b = b.data(s);
    }
    b.finish()
}

/// The SDL of the platform schema, as checked into `schema/platform.graphql`.
pub fn platform_sdl() -> String {
    super::describe::sdl(
        platform_schema(None, true).sdl_with_options(super::describe::sdl_options()),
        DESCRIPTION,
    )
}

/// The platform schema's description, in introspection and in `schema/platform.graphql`.
pub const DESCRIPTION: &str = "latchkey's platform API: create, change and delete tenants. Every request needs Authorization: Bearer <ADMIN_API_KEY>.";

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

/// A tenant in a list.
#[derive(SimpleObject)]
pub struct TenantEdge {
    /// Opaque cursor.
    pub cursor: String,
    /// The tenant.
    pub node: Tenant,
}

/// A page of tenants.
#[derive(SimpleObject)]
pub struct TenantConnection {
    /// The tenants.
    pub edges: Vec<TenantEdge>,
    /// Paging.
    pub page_info: PageInfo,
    /// All tenants.
    pub total_count: i64,
}

impl From<Page<TenantRow>> for TenantConnection {
    fn from(p: Page<TenantRow>) -> Self {
        let end_cursor = p.items.last().map(|(c, _)| c.clone());
        Self {
            edges: p
                .items
                .into_iter()
                .map(|(cursor, t)| TenantEdge {
                    cursor,
                    node: t.into(),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: p.has_next,
                end_cursor,
            },
            total_count: p.total as i64,
        }
    }
}

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

fn parts<'a>(ctx: &'a Context<'_>) -> Result<(&'a Arc<Services>, &'a PlatformCtx)> {
    let s = ctx.data_unchecked::<Arc<Services>>();
    let req = ctx.data_unchecked::<Arc<PlatformCtx>>();
    s.require_platform_admin(req.bearer.as_deref())
        .map_err(|e| e.into_graphql(Some(&req.request_id)))?;
    Ok((s, req))
}

/// Platform queries.
pub struct PlatformQuery;

#[Object]
impl PlatformQuery {
    /// Tenants by slug.
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<TenantConnection> {
        let (s, req) = parts(ctx)?;
        let page = s
            .list_tenants(first.unwrap_or(20), after.as_deref())
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
