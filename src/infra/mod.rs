//! Shared infrastructure every capability's service is built on, made once at start-up:
//! configuration, clock, the tenant registry, the argon2 pool, derived secrets, the platform
//! database, the mailer and the per-address limiters ([`Infra`]); with the pieces of it that
//! are more than a field: the hashing pool ([`passwords`]), throttles, mail templates, the
//! audit log writer and the tenant's settings view.

pub mod audit;
pub mod fair_queue;
pub mod mail;
pub mod outbound;
pub mod page;
pub mod passwords;
pub mod settings;
pub mod throttle;
pub mod token_hook;

use std::sync::Arc;

use crate::actors::{Mailer, Tenant, TenantRegistry};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::TenantSlug;
use crate::domain::secrets::Secrets;
use crate::error::ServiceError;
use crate::store::Db;
use crate::store::outbox::QueuedMail;
use crate::store::tenants::TenantRow;
use crate::store::users::{self, UserRow};
use audit::AuditInfo;
use mail::{MailContext, Template};
use passwords::Hasher;
use settings::Settings;

/// Gives a capability's service read access to the shared infrastructure it was built on
/// (`self.clock`, `self.registry`, `self.settings(tenant)`, ...): every service type holds an
/// `infra: Arc<Infra>` and says `built_on!(ItsType);` once, beside its definition.
#[macro_export]
#[doc(hidden)]
macro_rules! built_on {
    ($service:ty) => {
        impl std::ops::Deref for $service {
            type Target = $crate::infra::Infra;
            fn deref(&self) -> &Self::Target {
                &self.infra
            }
        }
    };
}
pub use built_on;

/// The shared infrastructure, built once at start-up; every capability's service holds it.
pub struct Infra {
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
    /// The one way to call URLs tenant admins configured (upstream providers), behind the
    /// guard against the operator's own network.
    pub outbound: outbound::Outbound,
}

/// Who is calling, as far as the network tells.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// Client address.
    pub ip: Option<String>,
    /// User agent, truncated.
    pub user_agent: Option<String>,
}

impl Infra {
    /// Resolves a tenant by slug text; malformed and unknown slugs are both `TenantNotFound`.
    pub async fn tenant(&self, slug: &str) -> Result<Tenant, ServiceError> {
        let slug = TenantSlug::parse(slug).map_err(|_| ServiceError::TenantNotFound)?;
        self.registry.get(&slug).await
    }

    /// The tenant's issuer URL (`iss` and `aud` of its tokens).
    pub fn issuer(&self, tenant: &TenantSlug) -> String {
        format!("{}/t/{}", self.config.public_url, tenant)
    }

    /// The settings in force for `tenant`.
    pub fn settings(&self, tenant: &Tenant) -> Settings {
        Settings::of(&tenant.row(), &self.config)
    }

    /// The settings a tenant record puts in force.
    pub fn settings_of(&self, row: &TenantRow) -> Settings {
        Settings::of(row, &self.config)
    }

    /// Counts a request of `client` against `limiter` (one of [`Infra::limits`]), for its
    /// address in `tenant`: every per-address limit is checked this way. A client whose
    /// address is unknown is not limited.
    pub(crate) fn throttle(
        &self,
        limiter: &throttle::WindowLimiter,
        tenant: &Tenant,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        match &client.ip {
            Some(ip) => limiter.hit(
                &throttle::address_key(tenant.slug().as_str(), ip),
                self.clock.now(),
            ),
            None => Ok(()),
        }
    }

    /// The account `id` an admin operation targets: `no such user` (on the `id` argument) when
    /// the tenant has none.
    pub(crate) async fn target_user(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<UserRow, ServiceError> {
        users::get(tenant.db(), id)
            .await?
            .ok_or_else(|| ServiceError::bad_input("id", "no such user"))
    }

    /// Appends an audit event to the tenant's log and to the process log. A failed write is
    /// logged, never turned into a failed request: the action already happened.
    pub async fn audit(&self, tenant: &Tenant, kind: &str, info: AuditInfo<'_>) {
        audit::record(tenant, self.clock.now(), kind, info).await;
    }

    /// [`Infra::audit`] of a user acting on their own account (sign-ins, factor changes): the
    /// commonest event, in one line at the call.
    pub(crate) async fn audit_own(
        &self,
        tenant: &Tenant,
        kind: &str,
        user: &str,
        client: &ClientInfo,
    ) {
        self.audit(tenant, kind, AuditInfo::own(user, client)).await;
    }

    /// The mail of `template` to `user`, in the tenant's words, with the link (if any) and
    /// how long it is valid.
    pub(crate) fn render(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        template: Template,
        link: Option<&str>,
    ) -> QueuedMail {
        let ttl = match template {
            Template::Reset => self.config.reset_token_ttl,
            _ => self.config.verify_token_ttl,
        };
        let ctx = MailContext {
            tenant_name: &tenant.row().display_name,
            username: &user.username,
            link,
            valid_for: &mail::duration_words(ttl),
        };
        mail::render(template, &user.email, &ctx, self.clock.now())
    }

    /// A notice to `user` without a link, and its outbox id: the mail is queued in the
    /// transaction of the change it reports, and the id wakes the mailer once that committed.
    pub(crate) fn notice(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        template: Template,
    ) -> (QueuedMail, String) {
        let mail = self.render(tenant, user, template, None);
        let id = mail.id.clone();
        (mail, id)
    }
}
