//! `me`.

use async_graphql::{Context, Object, Result};

use super::types::User;
use super::{gql_err, parts};

/// Queries about the caller.
#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The authenticated user (Bearer access token required).
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let (s, req) = parts(ctx);
        let p = s
            .authenticate(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?;
        Ok(p.user.into())
    }
}
