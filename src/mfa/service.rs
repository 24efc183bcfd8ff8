//! The rules of multi-factor sign-in: enrolment and removal of factors, the second step of a
//! login, passkey sign-in, and the tenant policy.
//!
//! One [`MfaService`] over several files, one job a file. Here: the service, the status every
//! part reads, and what concerns all factors at once (the caller's password check before a
//! factor changes, an admin's reset). Beside it: the tokens of a second step or a ceremony
//! (`challenge`), the second-step policy (`policy`), the authenticator app (`totp_factor`),
//! recovery codes (`recovery_codes`) and passkeys (`passkey_factor`).

use super::store::{self as mfa_store, PasskeyRow};
use crate::actors::Tenant;
use crate::domain::candidate_password;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::mail::Template;
use crate::infra::{ClientInfo, Infra};
use crate::sessions::bruteforce::Account;
use crate::sessions::bruteforce::LoginGate;
use crate::sessions::service::SessionService;
use crate::store::users::UserRow;
use std::sync::Arc;

/// Longest factor input looked at (codes are 6 digits or 11 characters).
pub(super) const MAX_CODE_LEN: usize = 64;

/// A user's factors.
pub struct MfaStatus {
    /// An authenticator app is enrolled.
    pub totp: bool,
    /// Passkeys, oldest first.
    pub passkeys: Vec<PasskeyRow>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Whether the tenant's relying party can serve passkey ceremonies at all.
    pub passkeys_available: bool,
}

impl MfaStatus {
    /// Whether any factor is enrolled.
    pub fn any(&self) -> bool {
        self.totp || !self.passkeys.is_empty()
    }

    /// The methods a second step can use, as API.md names them.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.totp {
            m.push("totp");
        }
        if self.any() && self.recovery_codes_left > 0 {
            m.push("recovery_code");
        }
        if !self.passkeys.is_empty() && self.passkeys_available {
            m.push("passkey");
        }
        m
    }
}

/// Second factors: TOTP, recovery codes, passkeys, and the second step of a sign-in.
#[derive(Clone)]
pub struct MfaService {
    infra: Arc<Infra>,
    pub(super) sessions: SessionService,
    pub(super) gate: LoginGate,
}

crate::infra::built_on!(MfaService);

impl MfaService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService, gate: LoginGate) -> Self {
        Self {
            infra,
            sessions,
            gate,
        }
    }

    /// A user's factors.
    pub async fn mfa_status(&self, tenant: &Tenant, user: &str) -> Result<MfaStatus, ServiceError> {
        let db = tenant.db();
        let totp = mfa_store::totp(db, user)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        Ok(MfaStatus {
            totp,
            passkeys: mfa_store::passkeys(db, user).await?,
            recovery_codes_left: mfa_store::recovery_codes_left(db, user).await?,
            passkeys_available: self.relying_party(tenant).is_ok(),
        })
    }

    /// Checks the current password of a Bearer caller (removing or regenerating factors).
    pub(super) async fn caller_with_password(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        password: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let p = self.sessions.authenticate(tenant, bearer).await?;
        if password.is_empty() {
            return Err(ServiceError::bad_input("password", "is required"));
        }
        let verify = self.hasher.verify(
            tenant.slug().as_str(),
            candidate_password(password),
            Some(p.user.password_hash.clone()),
        );
        if !self
            .gate
            .guarded_verify(tenant, Account::User(&p.user.id), client, verify, true)
            .await?
        {
            return Err(ServiceError::InvalidCredentials);
        }
        Ok(p.user)
    }

    /// An admin removes every factor of a user and ends their sessions.
    pub async fn reset_user_mfa(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let user = self.target_user(tenant, id).await?;
        let removed = Template::FactorRemoved("Every second factor (by an administrator)");
        let (notice, notice_id) = self.notice(tenant, &user, removed);
        mfa_store::delete_all(tenant.db(), &user.id, notice).await?;
        let revoked = tenant
            .revoke_all(user.id.clone(), None, "mfa_reset", self.clock.now())
            .await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        let info = AuditInfo::by(&admin.user.id, client)
            .on(&user.id)
            .with_detail(format!("{revoked} sessions revoked"));
        self.audit(tenant, "mfa_reset", info).await;
        Ok(user)
    }
}
