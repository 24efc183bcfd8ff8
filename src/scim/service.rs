//! `ScimService`: a tenant's SCIM provisioning tokens (made, listed and revoked by tenant
//! admins, audited) and the authentication of a SCIM request by one.
//!
//! Why a token of its own rather than an admin's access token: a customer's directory (Entra
//! ID, Okta) is configured once with a long-lived secret and calls unattended; it must be
//! confined (to the tenant's users, or to one organization's) and revocable on its own, like
//! Okta's and Entra's own provisioning tokens, and it must not be able to do what a tenant
//! admin can (keys, clients, settings).

use std::sync::Arc;

use super::store::{self, TokenRow};
use crate::accounts::service::AccountService;
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::{ClientInfo, Infra};
use crate::organizations::service::OrganizationService;
use crate::sessions::service::SessionService;

/// Active tokens a tenant may have at once.
pub const MAX_ACTIVE_TOKENS: usize = 20;
/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;
/// What every token starts with, so a leaked one is recognised (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "scim_";
/// Longest token name.
const MAX_NAME: usize = 100;

/// Who a SCIM request acts as: the token, and the organization it is confined to.
#[derive(Clone, Debug)]
pub struct ScimCaller {
    /// The token's id (the actor of audit rows).
    pub token_id: String,
    /// The organization the token is confined to; `None`: the whole tenant.
    pub org: Option<String>,
}

/// Why a SCIM request was not authenticated.
#[derive(Debug)]
pub enum ScimAuthError {
    /// No token, an unknown one or a revoked one.
    Unauthenticated,
    /// A dependency failed (the store).
    Service(ServiceError),
}

/// SCIM provisioning of a tenant.
#[derive(Clone)]
pub struct ScimService {
    infra: Arc<Infra>,
    sessions: SessionService,
    /// Makes the accounts of provisioned users.
    pub(super) accounts: AccountService,
    /// Groups are organizations.
    pub(super) organizations: OrganizationService,
}

crate::infra::built_on!(ScimService);

impl ScimService {
    /// The service over the shared infrastructure.
    pub fn new(
        infra: Arc<Infra>,
        sessions: SessionService,
        accounts: AccountService,
        organizations: OrganizationService,
    ) -> Self {
        Self {
            infra,
            sessions,
            accounts,
            organizations,
        }
    }

    /// Makes a token (tenant admin); its value is answered this once.
    pub async fn create_token(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        name: &str,
        org: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(TokenRow, String), ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(ServiceError::bad_input(
                "name",
                &format!("must be 1..={MAX_NAME} printable characters"),
            ));
        }
        if let Some(org) = org {
            let found = match org.len() {
                1..=64 => crate::organizations::store::get(tenant.db(), org).await?,
                _ => None,
            };
            if found.is_none() {
                return Err(ServiceError::bad_input(
                    "organizationId",
                    "no such organization",
                ));
            }
        }
        if store::active_count(tenant.db()).await? >= MAX_ACTIVE_TOKENS {
            return Err(ServiceError::bad_input(
                "name",
                &format!("a tenant has at most {MAX_ACTIVE_TOKENS} active SCIM tokens: revoke one"),
            ));
        }
        let value = format!(
            "{TOKEN_PREFIX}{}",
            crate::domain::secrets::random_token(TOKEN_BYTES)
        );
        let row = TokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_string(),
            org: org.map(str::to_string),
            created_by: admin.user.id.clone(),
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        store::create(tenant.db(), &row, &self.secrets.hash_token(&value)).await?;
        let scope = row
            .org
            .as_deref()
            .map_or("the tenant".to_string(), |o| format!("organization {o}"));
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("SCIM token {} ({}) for {scope}", row.id, row.name));
        self.audit(tenant, "scim_token_created", info).await;
        Ok((row, value))
    }

    /// The tenant's tokens, revoked ones included (tenant admin).
    pub async fn tokens(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<Vec<TokenRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        Ok(store::list(tenant.db()).await?)
    }

    /// Revokes a token: the next request with it is refused (tenant admin); false when there
    /// is no such token not revoked yet.
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if id.is_empty() || id.len() > 64 {
            return Ok(false);
        }
        let Some(row) = store::revoke(tenant.db(), id, self.clock.now()).await? else {
            return Ok(false);
        };
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("SCIM token {} ({})", row.id, row.name));
        self.audit(tenant, "scim_token_revoked", info).await;
        Ok(true)
    }

    /// The caller of a SCIM request, from its `Authorization: Bearer` value. Read from the
    /// database on every request, so a revocation holds at once on every node.
    pub async fn authenticate(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<ScimCaller, ScimAuthError> {
        let Some(value) = bearer.filter(|b| b.starts_with(TOKEN_PREFIX) && b.len() <= 200) else {
            return Err(ScimAuthError::Unauthenticated);
        };
        let row = store::by_hash(tenant.db(), &self.secrets.hash_token(value))
            .await
            .map_err(|e| ScimAuthError::Service(e.into()))?
            .ok_or(ScimAuthError::Unauthenticated)?;
        let now = self.clock.now();
        // The last use, to the minute: a directory syncing every 40 s writes once a minute.
        if row
            .last_used_at
            .is_none_or(|t| now - t >= chrono::Duration::minutes(1))
        {
            store::touch(tenant.db(), &row.id, now)
                .await
                .map_err(|e| ScimAuthError::Service(e.into()))?;
        }
        Ok(ScimCaller {
            token_id: row.id,
            org: row.org,
        })
    }
}
