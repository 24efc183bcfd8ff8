//! The capabilities' services, built once from the shared [`Infra`] in the order they depend
//! on each other: sessions (and the login gate) first; second factors and recovery on
//! sessions; accounts on those; the OpenID provider, the tenant admin and the platform's
//! tenants on top. The GraphQL schemas and the HTTP router take their parts from here.

use std::sync::Arc;

use crate::accounts::recovery::RecoveryService;
use crate::accounts::service::AccountService;
use crate::admin::service::AdminService;
use crate::federation::FederationService;
use crate::infra::Infra;
use crate::mfa::service::MfaService;
use crate::oidc::OidcProvider;
use crate::organizations::OrganizationService;
use crate::scim::ScimService;
use crate::sessions::bruteforce::LoginGate;
use crate::sessions::service::SessionService;
use crate::tenants::service::TenantService;
use crate::webhooks::WebhookService;
use crate::webhooks::delivery::Deliveries;

/// One service per capability, over one [`Infra`].
#[derive(Clone)]
pub struct Services {
    /// The shared infrastructure (configuration, clock, registry, hasher, secrets, ...).
    pub infra: Arc<Infra>,
    /// Sessions and their tokens.
    pub sessions: SessionService,
    /// Lockout and throttling of credential checks.
    pub gate: LoginGate,
    /// Second factors.
    pub mfa: MfaService,
    /// Password reset and email verification.
    pub recovery: RecoveryService,
    /// Accounts: register, sign in, change password.
    pub accounts: AccountService,
    /// Sign-in through upstream identity providers.
    pub federation: FederationService,
    /// Organizations inside the tenant.
    pub organizations: OrganizationService,
    /// The OpenID Connect provider.
    pub oidc: OidcProvider,
    /// The tenant admin's operations.
    pub admin: AdminService,
    /// The platform's tenants.
    pub tenants: TenantService,
    /// Webhooks: endpoints, deliveries.
    pub webhooks: WebhookService,
    /// SCIM provisioning.
    pub scim: ScimService,
}

crate::infra::built_on!(Services);

impl Services {
    /// Builds every service over `infra`.
    pub fn new(infra: Arc<Infra>, deliveries: Deliveries) -> Self {
        let sessions = SessionService::new(infra.clone());
        let gate = LoginGate::new(infra.clone());
        let mfa = MfaService::new(infra.clone(), sessions.clone(), gate.clone());
        let recovery = RecoveryService::new(infra.clone(), sessions.clone(), gate.clone());
        let accounts = AccountService::new(
            infra.clone(),
            sessions.clone(),
            mfa.clone(),
            gate.clone(),
            recovery.clone(),
        );
        let federation = FederationService::new(
            infra.clone(),
            sessions.clone(),
            mfa.clone(),
            accounts.clone(),
        );
        let organizations = OrganizationService::new(infra.clone(), sessions.clone());
        let oidc = OidcProvider::new(
            infra.clone(),
            sessions.clone(),
            accounts.clone(),
            recovery.clone(),
            mfa.clone(),
            federation.clone(),
        );
        let admin = AdminService::new(infra.clone(), sessions.clone(), accounts.clone());
        let tenants = TenantService::new(infra.clone(), accounts.clone());
        let webhooks = WebhookService::new(infra.clone(), sessions.clone(), deliveries);
        let scim = ScimService::new(
            infra.clone(),
            sessions.clone(),
            accounts.clone(),
            organizations.clone(),
        );
        Self {
            infra,
            sessions,
            gate,
            mfa,
            recovery,
            accounts,
            federation,
            organizations,
            oidc,
            admin,
            tenants,
            webhooks,
            scim,
        }
    }
}
