//! The tenant admin's GraphQL operations on OAuth clients (names fixed by API.md "OpenID
//! Connect provider").

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::clients::{ClientSpec, CreatedClient as Created};
use super::store::ClientRow;
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::oidc::clients::OidcClients;

/// Whether a client keeps a secret.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// A browser or native app: no secret, PKCE required.
    Public,
    /// A server-side app: authenticates with its secret.
    Confidential,
}

/// A client application that signs users in through this tenant.
#[derive(SimpleObject)]
pub struct Client {
    /// The client_id.
    pub id: ID,
    /// Name shown on the consent page.
    pub name: String,
    /// Public or confidential.
    #[graphql(name = "type")]
    pub kind: ClientType,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// OAuth grant types: `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// Custom scopes it may ask for (besides openid, profile, email, offline_access).
    pub scopes: Vec<String>,
    /// Skips the consent page.
    pub first_party: bool,
    /// The algorithm of its id_tokens (RS256 or the tenant's own).
    pub id_token_signed_response_alg: String,
    /// Registration time.
    pub created_at: DateTime,
}

impl From<ClientRow> for Client {
    fn from(c: ClientRow) -> Self {
        Self {
            id: ID(c.id),
            name: c.name,
            kind: if c.kind == "confidential" {
                ClientType::Confidential
            } else {
                ClientType::Public
            },
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: c.grant_types,
            scopes: c.scopes,
            first_party: c.first_party,
            id_token_signed_response_alg: c.id_token_alg,
            created_at: c.created_at.into(),
        }
    }
}

/// A client and, right after it was made, its secret (shown once).
#[derive(SimpleObject)]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The secret of a confidential client; only in this answer.
    pub client_secret: Option<String>,
}

impl From<Created> for CreatedClient {
    fn from(c: Created) -> Self {
        Self {
            client: c.client.into(),
            client_secret: c.secret,
        }
    }
}

crate::relay_connection!(
    ClientConnection,
    ClientEdge,
    Client,
    "A page of clients.",
    "The clients.",
    "Clients in all.",
    "A client in a list.",
    "The client."
);

/// A new client.
#[derive(InputObject)]
pub struct CreateClientInput {
    /// Name on the consent page.
    pub name: String,
    /// Public or confidential.
    #[graphql(name = "type")]
    pub kind: ClientType,
    /// Redirect URIs (https; http for localhost; an app's reverse-domain scheme).
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types (default: authorization_code, refresh_token).
    pub grant_types: Option<Vec<String>>,
    /// Custom scopes it may ask for.
    pub scopes: Option<Vec<String>>,
    /// Skip the consent page (your own apps).
    pub first_party: Option<bool>,
    /// id_token algorithm: RS256 (default) or the tenant's own.
    pub id_token_signed_response_alg: Option<String>,
}

/// Changes to a client; omitted fields stay.
#[derive(InputObject)]
pub struct UpdateClientInput {
    /// Name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Custom scopes.
    pub scopes: Option<Vec<String>>,
    /// Skip the consent page.
    pub first_party: Option<bool>,
    /// id_token algorithm.
    pub id_token_signed_response_alg: Option<String>,
}

/// Client queries (tenant admin).
#[derive(Default)]
pub struct ClientQuery;

#[Object]
impl ClientQuery {
    /// Registered clients.
    async fn clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ClientConnection> {
        let (s, req) = parts::<OidcClients>(ctx);
        let page = s.list_clients(
            &req.tenant,
            req.bearer.as_deref(),
            first.unwrap_or(20),
            after.as_deref(),
        );
        Ok(page.await.map_err(gql_err(req))?.into())
    }

    /// One client.
    async fn client(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Client>> {
        let (s, req) = parts::<OidcClients>(ctx);
        let c = s.get_client(&req.tenant, req.bearer.as_deref(), &id);
        Ok(c.await.map_err(gql_err(req))?.map(Client::from))
    }
}

/// Client mutations (tenant admin).
#[derive(Default)]
pub struct ClientMutation;

#[Object]
impl ClientMutation {
    /// Registers a client; a confidential one's secret is in the answer, only there.
    async fn create_client(
        &self,
        ctx: &Context<'_>,
        input: CreateClientInput,
    ) -> Result<CreatedClient> {
        let (s, req) = parts::<OidcClients>(ctx);
        let spec = ClientSpec {
            name: Some(input.name),
            confidential: Some(input.kind == ClientType::Confidential),
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            grant_types: input.grant_types,
            scopes: input.scopes,
            first_party: input.first_party,
            id_token_alg: input.id_token_signed_response_alg,
        };
        let c = s.create_client(&req.tenant, req.bearer.as_deref(), spec, &req.client);
        Ok(c.await.map_err(gql_err(req))?.into())
    }

    /// Changes a client.
    async fn update_client(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateClientInput,
    ) -> Result<Client> {
        let (s, req) = parts::<OidcClients>(ctx);
        let spec = ClientSpec {
            name: input.name,
            confidential: None,
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            grant_types: input.grant_types,
            scopes: input.scopes,
            first_party: input.first_party,
            id_token_alg: input.id_token_signed_response_alg,
        };
        let c = s.update_client(&req.tenant, req.bearer.as_deref(), &id, spec, &req.client);
        Ok(c.await.map_err(gql_err(req))?.into())
    }

    /// Deletes a client; its sessions end.
    async fn delete_client(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<OidcClients>(ctx);
        s.delete_client(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// A new secret for a confidential client (in the answer, only there); the old one stops
    /// working.
    async fn rotate_client_secret(&self, ctx: &Context<'_>, id: ID) -> Result<CreatedClient> {
        let (s, req) = parts::<OidcClients>(ctx);
        let c = s.rotate_client_secret(&req.tenant, req.bearer.as_deref(), &id, &req.client);
        Ok(c.await.map_err(gql_err(req))?.into())
    }
}
