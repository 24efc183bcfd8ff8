//! The client every tenant has built in: the tenant console (`/t/{tenant}/console`), a
//! first-party public client with PKCE, as Keycloak's `security-admin-console` is in every
//! realm. It is not a row: its redirect URI follows `PUBLIC_URL`, no admin can loosen it (its
//! redirect URIs, grants or secret), and deleting every client cannot lock admins out of the
//! console. The provider looks clients up here, never in the store directly.

use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::oidc::store::{self as oidc_store, ClientRow};

/// The console's client_id; `createClient` ids are random tokens, so none can take it.
pub const CONSOLE_CLIENT_ID: &str = "latchkey-console";

/// The console's address in a tenant: its redirect and post-logout URI.
pub fn console_url(public_url: &str, tenant: &Tenant) -> String {
    format!("{public_url}/t/{}/console", tenant.slug().as_str())
}

/// The built-in console client of `tenant`.
fn console_client(public_url: &str, tenant: &Tenant) -> ClientRow {
    let url = console_url(public_url, tenant);
    ClientRow {
        id: CONSOLE_CLIENT_ID.into(),
        name: "latchkey console".into(),
        kind: "public".into(),
        secret_hash: None,
        redirect_uris: vec![url.clone()],
        post_logout_redirect_uris: vec![url],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: Vec::new(),
        // latchkey's own page: no consent screen, as for any first-party client.
        first_party: true,
        id_token_alg: "RS256".into(),
        created_at: tenant.row().created_at,
    }
}

/// A client of `tenant` by id: the built-in console, or a registered one.
pub async fn client(
    tenant: &Tenant,
    public_url: &str,
    id: &str,
) -> Result<Option<ClientRow>, ServiceError> {
    if id == CONSOLE_CLIENT_ID {
        // Its id_tokens are RS256 like every client's by default; the token endpoint makes the
        // key when it first signs one (after a sign-in), never on an anonymous lookup.
        return Ok(Some(console_client(public_url, tenant)));
    }
    Ok(oidc_store::client(tenant.db(), id).await?)
}
