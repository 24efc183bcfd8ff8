//! The platform schema (`/admin/graphql`), composed from the tenants capability's resolvers.

use async_graphql::{EmptySubscription, Schema};

use super::guard::Guard;
use super::{MAX_COMPLEXITY, MAX_DEPTH};
use crate::app::Services;
use crate::tenants::graphql::{PlatformMutation, PlatformQuery};

/// The platform schema type.
pub type PlatformSchema = Schema<PlatformQuery, PlatformMutation, EmptySubscription>;

/// Builds the platform schema.
pub fn platform_schema(services: Option<&Services>, introspection: bool) -> PlatformSchema {
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
        b = b.data(s.tenants.clone());
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
