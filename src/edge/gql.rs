//! What every capability's resolvers share: the per-request context, the way to reach a
//! service from a resolver, and the one mapping of service errors to GraphQL errors.

use std::sync::Arc;

use async_graphql::Context;

use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::infra::ClientInfo;

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

/// Per-request data of the platform API.
pub struct PlatformCtx {
    /// Bearer token (the platform key).
    pub bearer: Option<String>,
    /// Request id.
    pub request_id: String,
}

/// What a resolver works with: the capability's service `S` (the schema carries one of each,
/// see `graphql::tenant_schema`) and the request. Naming `S` at the call says which
/// capability the resolver calls: `parts::<AccountService>(ctx)`.
pub(crate) fn parts<'a, S: Send + Sync + 'static>(ctx: &'a Context<'_>) -> (&'a S, &'a RequestCtx) {
    (
        ctx.data_unchecked::<S>(),
        ctx.data_unchecked::<Arc<RequestCtx>>(),
    )
}

/// Maps a service error to a GraphQL error carrying the request id.
pub(crate) fn gql_err(req: &RequestCtx) -> impl FnOnce(ServiceError) -> async_graphql::Error + '_ {
    move |e| e.into_graphql(Some(&req.request_id))
}
