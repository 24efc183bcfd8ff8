//! `me`.

use async_graphql::{Context, Object, Result};

use crate::edge::gql::{gql_err, parts};
use crate::edge::types::User;
use crate::sessions::service::SessionService;

/// Queries about the caller.
#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The authenticated user (Bearer access token required).
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let (s, req) = parts::<SessionService>(ctx);
        let p = s
            .authenticate(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?;
        Ok(p.user.into())
    }
}
