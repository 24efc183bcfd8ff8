//! The service layer: the only place with business rules. Resolvers and REST handlers call
//! these functions and map their [`ServiceError`](crate::error::ServiceError)s at the edge.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod bruteforce;
pub mod domain;
pub mod fair_queue;
pub mod lockout;
pub mod mail;
pub mod master_secret;
pub mod password_policy;
pub mod passwords;
pub mod platform;
pub mod recovery;
pub mod secrets;
pub mod settings;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use crate::actors::{Mailer, Tenant, TenantRegistry};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ServiceError;
use crate::store::Db;
use domain::TenantSlug;
use passwords::Hasher;
use secrets::Secrets;

/// Everything a request handler needs, built once at start-up.
pub struct Services {
    /// The configuration.
    pub config: Arc<Config>,
    /// The clock (from the configuration).
    pub clock: Clock,
    /// Running tenants.
    pub registry: TenantRegistry,
    /// argon2 pool.
    pub hasher: Hasher,
    /// Derived secrets.
    pub secrets: Arc<Secrets>,
    /// The platform database session.
    pub platform: Db,
    /// Root connection (creating and removing tenant databases).
    pub root: Db,
    /// Wakes the email actor for queued mail.
    pub mailer: Mailer,
    /// Per-address request and failure limits.
    pub limits: throttle::Limiters,
}

/// Who is calling, as far as the network tells.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// Client address.
    pub ip: Option<String>,
    /// User agent, truncated.
    pub user_agent: Option<String>,
}

impl Services {
    /// Resolves a tenant by slug text; malformed and unknown slugs are both `TenantNotFound`.
    pub async fn tenant(&self, slug: &str) -> Result<Tenant, ServiceError> {
        let slug = TenantSlug::parse(slug).map_err(|_| ServiceError::TenantNotFound)?;
        self.registry.get(&slug).await
    }

    /// The tenant's issuer URL (`iss` and `aud` of its tokens).
    pub fn issuer(&self, tenant: &TenantSlug) -> String {
        format!("{}/t/{}", self.config.public_url, tenant)
    }
}
