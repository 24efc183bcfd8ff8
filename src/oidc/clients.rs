//! OAuth clients: what a tenant admin registers (redirect URIs matched exactly, a secret shown
//! once and kept as a keyed hash), and how a client proves itself at the token endpoint.

use secrecy::ExposeSecret;

use super::store::{self as oidc_store, ClientRow};
use crate::actors::Tenant;
use crate::domain::Algorithm;
use crate::domain::secrets::random_token;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::page::{Page, decode_key, page_size};
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::SessionService;
use std::sync::Arc;

/// Grant types a client may be allowed.
pub const GRANTS: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];
/// Scopes of OpenID Connect every client may ask for.
pub const STANDARD_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    // The user's organizations (`organizations`), and with the `organization` parameter the
    // one the tokens are scoped to (`org_id`, `org_roles`), as Keycloak's and Logto's scopes.
    "organization",
];
/// Most redirect URIs (and post-logout URIs) per client.
const MAX_URIS: usize = 20;

/// What an admin sets on a client.
#[derive(Default)]
pub struct ClientSpec {
    /// Name on the consent page.
    pub name: Option<String>,
    /// `PUBLIC` or `CONFIDENTIAL`.
    pub confidential: Option<bool>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Skips consent.
    pub first_party: Option<bool>,
    /// id_token algorithm (`RS256`, or the tenant's `EdDSA`/`ES256`).
    pub id_token_alg: Option<String>,
}

/// A client with its secret, when one was just made (shown once).
pub struct CreatedClient {
    /// The client.
    pub client: ClientRow,
    /// The secret (confidential clients), only now.
    pub secret: Option<String>,
}

/// A redirect URI is an absolute URL without a fragment; plain http only for loopback
/// (RFC 8252 §7.3 native apps; RFC 9700 §2.6 wants TLS elsewhere). Compared exactly.
fn check_uri(field: &'static str, uri: &str) -> Result<(), ServiceError> {
    let bad = |why: &str| ServiceError::bad_input(field, &format!("`{uri}`: {why}"));
    let u = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
    if u.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    if uri.len() > 2000 {
        return Err(bad("is too long"));
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if loopback {
                Ok(())
            } else {
                Err(bad("plain http is allowed for localhost only"))
            }
        }
        // A native app's private-use scheme (RFC 8252 §7.1), e.g. com.example.app:/cb.
        s if s.contains('.') => Ok(()),
        _ => Err(bad(
            "must be https (http for localhost, or an app's reverse-domain scheme)",
        )),
    }
}

fn check_uris(field: &'static str, uris: &[String]) -> Result<(), ServiceError> {
    if uris.len() > MAX_URIS {
        return Err(ServiceError::bad_input(
            field,
            &format!("at most {MAX_URIS}"),
        ));
    }
    uris.iter().try_for_each(|u| check_uri(field, u))
}

/// What a client secret's hash is taken of: bound to the tenant and the client.
fn secret_material(tenant: &Tenant, client_id: &str, secret: &str) -> String {
    format!("client-secret/{}/{client_id}/{secret}", tenant.slug())
}

/// The tenant's OAuth clients: registration by admins, and client authentication at the token endpoint.
#[derive(Clone)]
pub struct OidcClients {
    infra: Arc<Infra>,
    sessions: SessionService,
}

crate::infra::built_on!(OidcClients);

impl OidcClients {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService) -> Self {
        Self { infra, sessions }
    }

    fn secret_hash(&self, tenant: &Tenant, client_id: &str, secret: &str) -> String {
        self.secrets
            .hash_token(&secret_material(tenant, client_id, secret))
    }

    /// Applies `spec` to `c`, validating every field.
    fn apply_spec(
        &self,
        tenant: &Tenant,
        c: &mut ClientRow,
        spec: ClientSpec,
    ) -> Result<(), ServiceError> {
        if let Some(name) = spec.name {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                return Err(ServiceError::bad_input(
                    "name",
                    "must be 1 to 200 characters",
                ));
            }
            c.name = name;
        }
        if let Some(conf) = spec.confidential {
            c.kind = if conf { "confidential" } else { "public" }.into();
        }
        if let Some(uris) = spec.redirect_uris {
            check_uris("redirectUris", &uris)?;
            c.redirect_uris = uris;
        }
        if let Some(uris) = spec.post_logout_redirect_uris {
            check_uris("postLogoutRedirectUris", &uris)?;
            c.post_logout_redirect_uris = uris;
        }
        if let Some(grants) = spec.grant_types {
            if let Some(g) = grants.iter().find(|g| !GRANTS.contains(&g.as_str())) {
                return Err(ServiceError::bad_input(
                    "grantTypes",
                    &format!("`{g}` is not one of {}", GRANTS.join(", ")),
                ));
            }
            c.grant_types = grants;
        }
        if let Some(scopes) = spec.scopes {
            if scopes.len() > 50
                || scopes.iter().any(|s| {
                    s.is_empty()
                        || s.len() > 100
                        || !s
                            .bytes()
                            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
                })
            {
                return Err(ServiceError::bad_input(
                    "scopes",
                    "must be at most 50 scope tokens",
                ));
            }
            c.scopes = scopes;
        }
        if let Some(f) = spec.first_party {
            c.first_party = f;
        }
        if let Some(alg) = spec.id_token_alg {
            let ours = tenant.keys().algorithm().as_str();
            if alg != "RS256" && alg != ours {
                return Err(ServiceError::bad_input(
                    "idTokenSignedResponseAlg",
                    &format!("must be RS256 or the tenant's {ours}"),
                ));
            }
            c.id_token_alg = alg;
        }
        if c.kind == "public" && c.allows("client_credentials") {
            return Err(ServiceError::bad_input(
                "grantTypes",
                "a public client cannot use client_credentials (it has no secret)",
            ));
        }
        if c.allows("authorization_code") && c.redirect_uris.is_empty() {
            return Err(ServiceError::bad_input(
                "redirectUris",
                "authorization_code needs at least one redirect URI",
            ));
        }
        Ok(())
    }

    /// Registers a client (tenant admin). A confidential one gets a secret, shown once.
    pub async fn create_client(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        spec: ClientSpec,
        client: &ClientInfo,
    ) -> Result<CreatedClient, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if spec.name.is_none() {
            return Err(ServiceError::bad_input("name", "is required"));
        }
        let now = self.clock.now();
        let mut c = ClientRow {
            id: random_token(16),
            name: String::new(),
            kind: "public".into(),
            secret_hash: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: Vec::new(),
            first_party: false,
            id_token_alg: "RS256".into(),
            created_at: now,
        };
        self.apply_spec(tenant, &mut c, spec)?;
        signing_key_for(tenant, &c).await?;
        let secret = c.is_confidential().then(|| random_token(32));
        c.secret_hash = secret
            .as_deref()
            .map(|s| self.secret_hash(tenant, &c.id, s));
        oidc_store::put_client(tenant.db(), &c, now).await?;
        let detail = format!("client {} ({})", c.id, c.name);
        let info = AuditInfo::by(&admin.user.id, client).with_detail(detail);
        self.audit(tenant, "client_created", info).await;
        Ok(CreatedClient { client: c, secret })
    }

    /// Changes a client (tenant admin); omitted fields stay.
    pub async fn update_client(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        spec: ClientSpec,
        client: &ClientInfo,
    ) -> Result<ClientRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut c = oidc_store::client(tenant.db(), id)
            .await?
            .ok_or_else(|| ServiceError::bad_input("id", "no such client"))?;
        let was_confidential = c.is_confidential();
        self.apply_spec(tenant, &mut c, spec)?;
        signing_key_for(tenant, &c).await?;
        if !c.is_confidential() {
            c.secret_hash = None;
        } else if !was_confidential {
            return Err(ServiceError::bad_input(
                "type",
                "a public client cannot become confidential: create a new client",
            ));
        }
        oidc_store::put_client(tenant.db(), &c, self.clock.now()).await?;
        let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("client {id}"));
        self.audit(tenant, "client_updated", info).await;
        Ok(c)
    }

    /// Deletes a client, its consents and codes, and revokes its sessions (tenant admin).
    pub async fn delete_client(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let revoked = oidc_store::delete_client(tenant.db(), id, self.clock.now()).await?;
        if let Some(sessions) = &revoked {
            // Written outside the tenant actor: drop them from the auth cache here.
            tenant.forget_sessions(sessions);
            let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("client {id}"));
            self.audit(tenant, "client_deleted", info).await;
        }
        Ok(revoked.is_some())
    }

    /// A new secret for a confidential client (tenant admin); the old one stops working.
    pub async fn rotate_client_secret(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<CreatedClient, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut c = oidc_store::client(tenant.db(), id)
            .await?
            .ok_or_else(|| ServiceError::bad_input("id", "no such client"))?;
        if !c.is_confidential() {
            return Err(ServiceError::bad_input(
                "id",
                "a public client has no secret",
            ));
        }
        let secret = random_token(32);
        c.secret_hash = Some(self.secret_hash(tenant, &c.id, &secret));
        oidc_store::put_client(tenant.db(), &c, self.clock.now()).await?;
        let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("client {id}"));
        self.audit(tenant, "client_secret_rotated", info).await;
        Ok(CreatedClient {
            client: c,
            secret: Some(secret),
        })
    }

    /// One client (tenant admin).
    pub async fn get_client(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<Option<ClientRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        Ok(oidc_store::client(tenant.db(), id).await?)
    }

    /// Clients, by id (tenant admin).
    pub async fn list_clients(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
    ) -> Result<Page<ClientRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = after.map(|c| decode_key("after", c)).transpose()?;
        let rows = oidc_store::clients(tenant.db(), limit + 1, after.as_deref()).await?;
        let total = oidc_store::count_clients(tenant.db()).await?;
        Ok(Page::of(rows, limit, total, |c| c.id.as_str()))
    }

    /// Authenticates a client at the token, revocation or introspection endpoint:
    /// `client_secret_basic`, `client_secret_post`, or for a public client its id alone
    /// (`none`). A confidential client must present its secret.
    pub async fn authenticate_client(
        &self,
        tenant: &Tenant,
        presented: &ClientCredentials,
    ) -> Result<ClientRow, super::token::OAuthError> {
        use super::token::OAuthError;
        let id = presented.id.as_deref().ok_or(OAuthError::invalid_client(
            "client authentication is required",
        ))?;
        if id.len() > 200 {
            return Err(OAuthError::invalid_client("unknown client"));
        }
        let c = super::builtin::client(tenant, &self.config.public_url, id)
            .await
            .map_err(OAuthError::from_service)?
            .ok_or(OAuthError::invalid_client("unknown client"))?;
        match (&c.secret_hash, &presented.secret) {
            (Some(expected), Some(secret)) => {
                // Under the current key, or a retired one for a secret issued before
                // `keys rekey` (only its hash is kept, so it cannot be re-hashed).
                let candidates = self.secrets.hash_candidates(&secret_material(
                    tenant,
                    &c.id,
                    secret.expose_secret(),
                ));
                let matches = candidates.iter().any(|given| {
                    aws_lc_rs::constant_time::verify_slices_are_equal(
                        given.as_bytes(),
                        expected.as_bytes(),
                    )
                    .is_ok()
                });
                if !matches {
                    return Err(OAuthError::invalid_client("wrong client secret"));
                }
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_client(
                    "this client must authenticate with its secret",
                ));
            }
            (None, _) if c.is_confidential() => {
                return Err(OAuthError::invalid_client("this client has no secret set"));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_client("a public client has no secret"));
            }
            (None, None) => {}
        }
        Ok(c)
    }
}

/// What a request presented as client credentials.
#[derive(Default)]
pub struct ClientCredentials {
    /// client_id.
    pub id: Option<String>,
    /// client_secret.
    pub secret: Option<secrecy::SecretString>,
    /// Whether they came in the Authorization header (client_secret_basic).
    pub basic: bool,
}

/// Makes the key that will sign `c`'s id_tokens before the client exists: a relying party (or a
/// resource server) that reads the tenant's JWKS once the client is registered then finds the
/// `kid` of the first id_token in it, instead of an unknown `kid` until its cache expires.
async fn signing_key_for(tenant: &Tenant, c: &ClientRow) -> Result<(), ServiceError> {
    let alg = Algorithm::parse(&c.id_token_alg).unwrap_or(Algorithm::RS256);
    tenant.ensure_key(alg).await.map(drop)
}
