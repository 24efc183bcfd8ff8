//! The tenant GraphQL schema, composed here from each capability's resolver parts; the
//! guard (depth, cost, aliases, batches) and the description extension apply to all of them.
//!
//! A new capability adds its `Query`/`Mutation` parts to the two lists below: one line each.

pub mod describe;
pub mod guard;
pub mod platform;
pub mod user;

use async_graphql::{EmptySubscription, MergedObject, Schema};

use crate::app::Services;

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(
    crate::accounts::me_graphql::MeQuery,
    crate::admin::graphql::AdminQuery,
    crate::oidc::graphql::ClientQuery,
    crate::federation::graphql::FederationQuery,
    crate::organizations::graphql::OrganizationQuery,
    crate::webhooks::graphql::WebhookQuery,
    crate::scim::graphql::ScimQuery,
);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    crate::accounts::graphql::AuthMutation,
    crate::accounts::recovery_graphql::RecoveryMutation,
    crate::mfa::graphql::MfaMutation,
    crate::admin::graphql::AdminMutation,
    crate::oidc::graphql::ClientMutation,
    crate::federation::graphql::FederationMutation,
    crate::organizations::graphql::OrganizationMutation,
    crate::webhooks::graphql::WebhookMutation,
    crate::scim::graphql::ScimMutation,
);

/// The tenant schema type.
pub type TenantSchema = Schema<Query, Mutation, EmptySubscription>;

/// Query nesting allowed (OWASP GraphQL cheat sheet: bound depth and cost).
pub const MAX_DEPTH: usize = 15;
/// Cost bound: each field costs 1 by default.
pub const MAX_COMPLEXITY: usize = 500;

/// Builds the tenant schema with its abuse limits.
pub fn tenant_schema(services: Option<&Services>, introspection: bool) -> TenantSchema {
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
    // Each capability's resolvers take their own service from the schema's data
    // (`edge::gql::parts::<ItsService>`).
    if let Some(s) = services {
        b = b
            .data(s.sessions.clone())
            .data(s.accounts.clone())
            .data(s.recovery.clone())
            .data(s.mfa.clone())
            .data(s.oidc.clients.clone())
            .data(s.admin.clone())
            .data(s.federation.clone())
            .data(s.organizations.clone())
            .data(s.webhooks.clone())
            .data(s.scim.clone());
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
