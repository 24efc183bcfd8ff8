//! Password guessing defence around every login verification: per-address failure budget,
//! per-account lockout with exponential back-off (see [`crate::domain::lockout`]), lockout audit.

use std::future::Future;

use crate::actors::Tenant;
use crate::actors::tenant::LoginVerdict;
use crate::domain::lockout::Admission;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::throttle::address_key;
use crate::infra::{ClientInfo, Infra};
use std::sync::Arc;

/// Which account a login attempt targets, for counting.
pub enum Account<'a> {
    /// An existing user (all of their identifiers share one counter).
    User(&'a str),
    /// An identifier that matches nobody, normalized. It is counted and locked exactly like a
    /// real account, so lockout behaviour cannot tell which names exist.
    Unknown(&'a str),
}

/// The gate every credential check passes: per-account lockout and per-address throttling.
#[derive(Clone)]
pub struct LoginGate {
    infra: Arc<Infra>,
}

crate::infra::built_on!(LoginGate);

impl LoginGate {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>) -> Self {
        Self { infra }
    }

    /// The counter key of an account: a keyed hash, so neither user ids nor mistyped
    /// identifiers (often a password typed into the wrong box) are stored in clear.
    fn account_key(&self, account: &Account<'_>) -> String {
        match account {
            Account::User(id) => self.secrets.hash_token(&format!("login/user/{id}")),
            Account::Unknown(name) => self.secrets.hash_token(&format!("login/name/{name}")),
        }
    }

    /// Runs `verify` (one password or code verification) only if the client address and the
    /// account may guess now, then records the verdict. `RateLimited` (with seconds to wait)
    /// while locked, even when the answer would have been right. A right answer clears the
    /// account's failures only when it `completes` the authentication: a right password
    /// followed by a second step must not wipe the wrong codes before it, or whoever has the
    /// password could try codes without ever being locked.
    pub(crate) async fn guarded_verify(
        &self,
        tenant: &Tenant,
        account: Account<'_>,
        client: &ClientInfo,
        verify: impl Future<Output = Result<bool, ServiceError>>,
        completes: bool,
    ) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let addr = client
            .ip
            .as_deref()
            .map(|ip| address_key(tenant.slug().as_str(), ip));
        if let Some(addr) = &addr {
            self.limits.login_failures.check(addr, now)?;
        }
        let policy = self.config.lockout;
        let key = self.account_key(&account);
        let user = match account {
            Account::User(id) => Some(id.to_string()),
            Account::Unknown(_) => None,
        };
        match tenant.login_admit(key.clone(), policy, now).await? {
            Admission::Admitted => {}
            Admission::Locked(retry_after) => {
                return Err(ServiceError::RateLimited { retry_after });
            }
            // The tenant actor queues busy attempts; one that comes back busy waited its turn
            // out.
            Admission::Busy => {
                return Err(ServiceError::RateLimited {
                    retry_after: policy.base.as_secs().max(1),
                });
            }
        }
        let ok = match verify.await {
            Ok(ok) => ok,
            Err(e) => {
                // No verdict: release the reservation so the account is not held locked.
                let _ = tenant
                    .login_verdict(key, user, LoginVerdict::Abandoned, policy, self.clock.now())
                    .await;
                return Err(e);
            }
        };
        let verdict = match (ok, completes) {
            (true, true) => LoginVerdict::Success,
            (true, false) => LoginVerdict::Abandoned,
            (false, _) => LoginVerdict::Failure,
        };
        let now = self.clock.now();
        let lock = tenant
            .login_verdict(key, user, verdict, policy, now)
            .await?;
        if !ok && let Some(addr) = &addr {
            // Over budget is reported on the next attempt, by `check` above.
            let _ = self.limits.login_failures.hit(addr, now);
        }
        if let Some((failures, duration)) = lock {
            let subject = match account {
                Account::User(id) => Some(id),
                Account::Unknown(_) => None,
            };
            let info = AuditInfo {
                subject,
                client: Some(client),
                detail: Some(format!(
                    "{failures} consecutive failed logins; locked for {} s",
                    duration.as_secs()
                )),
                ..Default::default()
            };
            self.audit(tenant, "login_lockout", info).await;
        }
        Ok(ok)
    }

    /// Clears an account's failures after a password reset, so the owner can sign in with the
    /// new password at once: lockout never blocks recovery.
    pub(crate) async fn clear_login_failures(&self, tenant: &Tenant, user_id: &str) {
        let key = self.account_key(&Account::User(user_id));
        let res = tenant
            .login_verdict(
                key,
                Some(user_id.to_string()),
                LoginVerdict::Reset,
                self.config.lockout,
                self.clock.now(),
            )
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "login failures not cleared after reset");
        }
    }
}
