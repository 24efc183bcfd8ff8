//! The tenant GraphQL schema: thin resolvers over the service layer.

pub mod admin;
pub mod auth;
pub mod describe;
pub mod guard;
pub mod me;
pub mod platform;
pub mod recovery;
pub mod scalars;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};

use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::service::{ClientInfo, Services};

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(
    me::MeQuery,
    admin::AdminQuery,
    crate::oidc::graphql::ClientQuery,
);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    recovery::RecoveryMutation,
    crate::mfa::graphql::MfaMutation,
    admin::AdminMutation,
    crate::oidc::graphql::ClientMutation,
);

/// The tenant schema type.
pub type TenantSchema = Schema<Query, Mutation, EmptySubscription>;

/// Query nesting allowed (OWASP GraphQL cheat sheet: bound depth and cost).
pub const MAX_DEPTH: usize = 15;
/// Cost bound: each field costs 1 by default.
pub const MAX_COMPLEXITY: usize = 500;

/// Builds the tenant schema with its abuse limits.
pub fn tenant_schema(services: Option<Arc<Services>>, introspection: bool) -> TenantSchema {
    let mut b = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(10)
        .disable_suggestions()
        .extension(guard::Guard::new(introspection))
        .extension(describe::Describe(DESCRIPTION));
    if !introspection {
        b = b.disable_introspection();
    }
    if let Some(s) = services {
        b = b.data(s);
    }
    b.finish()
}

/// The tenant schema's description, in introspection and in `schema/tenant.graphql`.
pub const DESCRIPTION: &str = "latchkey, a tenant's identity API: sign-up, sign-in (password, then a second factor, or a passkey), sessions and tokens, password recovery, and the tenant admin's operations. Every error carries extensions.code.";

/// The SDL of the tenant schema, as checked into `schema/tenant.graphql`.
pub fn tenant_sdl() -> String {
    describe::sdl(
        tenant_schema(None, true).sdl_with_options(describe::sdl_options()),
        DESCRIPTION,
    )
}

/// Per-request data the HTTP layer attaches to every GraphQL request.
pub struct RequestCtx {
    /// The resolved tenant.
    pub tenant: Tenant,
    /// Raw Bearer token, if any.
    pub bearer: Option<String>,
    /// Client address and agent.
    pub client: ClientInfo,
    /// Request id (logs and INTERNAL errors).
    pub request_id: String,
}

/// Resolver helpers: the services, the request, and error mapping.
pub(crate) fn parts<'a>(ctx: &'a Context<'_>) -> (&'a Arc<Services>, &'a RequestCtx) {
    (
        ctx.data_unchecked::<Arc<Services>>(),
        ctx.data_unchecked::<Arc<RequestCtx>>(),
    )
}

/// Maps a service error to a GraphQL error carrying the request id.
pub(crate) fn gql_err(req: &RequestCtx) -> impl FnOnce(ServiceError) -> async_graphql::Error + '_ {
    move |e| e.into_graphql(Some(&req.request_id))
}
