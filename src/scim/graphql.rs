//! SCIM tokens over GraphQL (names fixed by API.md "Third round"): `createScimToken`,
//! `scimTokens`, `revokeScimToken` (tenant admin).

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::ScimService;
use super::store::TokenRow;
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;

/// A SCIM provisioning token (its value is shown only when it is made).
#[derive(SimpleObject)]
pub struct ScimToken {
    /// Its id (for `revokeScimToken`).
    pub id: ID,
    /// What it is for.
    pub name: String,
    /// The organization it is confined to; null: the whole tenant.
    pub organization_id: Option<ID>,
    /// Whether it is accepted (not revoked).
    pub active: bool,
    /// When it was made.
    pub created_at: DateTime,
    /// Its last accepted request (to the minute).
    pub last_used_at: Option<DateTime>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime>,
}

impl From<TokenRow> for ScimToken {
    fn from(t: TokenRow) -> Self {
        Self {
            id: ID(t.id),
            name: t.name,
            organization_id: t.org.map(ID),
            active: t.revoked_at.is_none(),
            created_at: t.created_at.into(),
            last_used_at: t.last_used_at.map(Into::into),
            revoked_at: t.revoked_at.map(Into::into),
        }
    }
}

/// A new token and its value, shown this once.
#[derive(SimpleObject)]
pub struct CreatedScimToken {
    /// The token.
    pub scim_token: ScimToken,
    /// Its value (`scim_...`): the bearer token the directory sends. Only a keyed hash is
    /// kept, so it cannot be shown again.
    pub token: String,
}

/// A new SCIM token.
#[derive(InputObject)]
pub struct CreateScimTokenInput {
    /// What it is for ("Entra ID provisioning").
    pub name: String,
    /// Confine it to one organization (its users and groups); omitted: the whole tenant.
    pub organization_id: Option<ID>,
}

/// SCIM token queries.
#[derive(Default)]
pub struct ScimQuery;

#[Object]
impl ScimQuery {
    /// The tenant's SCIM tokens, newest first, revoked ones included (tenant admin).
    async fn scim_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ScimToken>> {
        let (s, req) = parts::<ScimService>(ctx);
        let rows = s
            .tokens(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// SCIM token mutations.
#[derive(Default)]
pub struct ScimMutation;

#[Object]
impl ScimMutation {
    /// Makes a SCIM token for a customer's directory; its value is answered this once
    /// (tenant admin; at most 20 active).
    async fn create_scim_token(
        &self,
        ctx: &Context<'_>,
        input: CreateScimTokenInput,
    ) -> Result<CreatedScimToken> {
        let (s, req) = parts::<ScimService>(ctx);
        let (row, token) = s
            .create_token(
                &req.tenant,
                req.bearer.as_deref(),
                &input.name,
                input.organization_id.as_ref().map(|o| o.as_str()),
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(CreatedScimToken {
            scim_token: row.into(),
            token,
        })
    }

    /// Revokes a SCIM token: its next request is refused, on every node (tenant admin).
    async fn revoke_scim_token(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<ScimService>(ctx);
        s.revoke_token(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }
}
