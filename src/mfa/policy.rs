//! The second step of a login: whether one is due (a factor enrolled, or a tenant that
//! requires one), which methods it offers, and completing it with exactly one factor.

use serde_json::Value;

use super::challenge::minutes;
use super::passkey_factor::parse_passkeys;
use super::service::{MAX_CODE_LEN, MfaService};
use super::store as mfa_store;
use crate::actors::Tenant;
use crate::domain::claims::AuthMethod;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::sessions::bruteforce::Account;
use crate::sessions::service::AuthTokens;
use crate::store::users::UserRow;

/// How long the second step of a login may take (API.md: 5 minutes).
const LOGIN_CHALLENGE_MINUTES: i64 = 5;
/// How long an enrolment-only token lives: long enough to install an authenticator app.
const ENROLL_CHALLENGE_MINUTES: i64 = 15;

/// The challenge kind of a second step after a password.
const LOGIN: &str = "login";
/// The challenge kind of a second step after a federated sign-in.
const LOGIN_FEDERATED: &str = "login_federated";

/// Exactly one factor of a second step.
#[derive(Clone, Copy)]
pub enum Factor<'a> {
    /// A TOTP code.
    Totp(&'a str),
    /// A recovery code.
    RecoveryCode(&'a str),
    /// A passkey assertion (the browser's JSON).
    Passkey(&'a Value),
}

impl MfaService {
    /// The methods the second step of a live login `mfa_token` offers.
    pub async fn second_step_methods(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
    ) -> Result<Vec<&'static str>, ServiceError> {
        let (_, row) = self
            .live_challenge(tenant, mfa_token, &[LOGIN, LOGIN_FEDERATED])
            .await?;
        let user = row.user.ok_or(ServiceError::InvalidToken)?;
        Ok(self.mfa_status(tenant, &user).await?.methods())
    }

    /// Whether a login of `user` may need a second step: a factor enrolled, or a tenant that
    /// requires one. One query, asked before the password is checked.
    pub(crate) async fn second_step_possible(
        &self,
        tenant: &Tenant,
        user: &str,
    ) -> Result<bool, ServiceError> {
        Ok(self.settings(tenant).mfa_required || mfa_store::has_factor(tenant.db(), user).await?)
    }

    /// After a right password: whether a second step is due. `Ok` means the login may finish
    /// with the password alone; otherwise `MFA_REQUIRED` (with its token, the methods and, for
    /// passkeys, the `navigator.credentials.get` options) or, when the tenant requires a
    /// factor the user has none of, `MFA_ENROLLMENT_REQUIRED` with an enrolment-only token.
    pub(crate) async fn second_step_due(
        &self,
        tenant: &Tenant,
        user: &UserRow,
    ) -> Result<(), ServiceError> {
        self.second_step_after(tenant, user, LOGIN, None).await
    }

    /// [`MfaService::second_step_due`] after a federated sign-in through provider `idp`: the
    /// same step, and the session it completes says `fed` instead of `pwd` in its `amr` and
    /// names the provider (`idp`).
    pub(crate) async fn second_step_after_federation(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        idp: &str,
    ) -> Result<(), ServiceError> {
        self.second_step_after(tenant, user, LOGIN_FEDERATED, Some(idp))
            .await
    }

    async fn second_step_after(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        kind: &str,
        idp: Option<&str>,
    ) -> Result<(), ServiceError> {
        let status = self.mfa_status(tenant, &user.id).await?;
        if status.any() {
            let (passkey_options, state) =
                if status.passkeys.is_empty() || !status.passkeys_available {
                    (None, None)
                } else {
                    let keys = parse_passkeys(&status.passkeys)?;
                    let (options, state) = self.relying_party(tenant)?.start_login(&keys)?;
                    (Some(options), Some(state))
                };
            let mfa_token = self
                .challenge(
                    tenant,
                    kind,
                    Some(&user.id),
                    state,
                    minutes(LOGIN_CHALLENGE_MINUTES),
                    idp,
                )
                .await?;
            return Err(ServiceError::MfaRequired {
                mfa_token,
                methods: status.methods(),
                passkey_options,
            });
        }
        if self.settings(tenant).mfa_required {
            let mfa_token = self
                .challenge(
                    tenant,
                    "enroll",
                    Some(&user.id),
                    None,
                    minutes(ENROLL_CHALLENGE_MINUTES),
                    None,
                )
                .await?;
            return Err(ServiceError::MfaEnrollmentRequired { mfa_token });
        }
        Ok(())
    }

    /// Completes a login's second step with one factor. Wrong codes count toward the account
    /// lockout like wrong passwords, and the token dies after five.
    pub async fn verify_mfa(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        factor: Factor<'_>,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let (user, method, idp) = self.complete_mfa(tenant, mfa_token, factor, client).await?;
        match idp {
            Some(idp) => {
                self.sessions
                    .start_federated_session(tenant, user, client, method, &idp, None)
                    .await
            }
            None => {
                self.sessions
                    .start_session(tenant, user, client, method)
                    .await
            }
        }
    }

    /// Everything [`Infra::verify_mfa`] checks, without starting an API session: the user
    /// and how they authenticated (the hosted sign-in starts a browser session instead).
    pub async fn complete_mfa(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        factor: Factor<'_>,
        client: &ClientInfo,
    ) -> Result<(UserRow, AuthMethod, Option<String>), ServiceError> {
        let (hash, row) = self
            .live_challenge(tenant, mfa_token, &[LOGIN, LOGIN_FEDERATED])
            .await?;
        let user_id = row.user.clone().ok_or(ServiceError::InvalidToken)?;
        let user = tenant
            .user(&user_id)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        let now = self.clock.now();
        let (ok, method) = match factor {
            Factor::Totp(code) => {
                let check = self.check_totp(tenant, &user.id, code, now);
                (
                    self.gate
                        .guarded_verify(tenant, Account::User(&user.id), client, check, true)
                        .await?,
                    AuthMethod::PasswordAndOtp,
                )
            }
            Factor::RecoveryCode(code) => {
                // Only checked here; spent below, after the mfaToken: requests racing on one
                // token must not burn the codes they bring.
                let check = async {
                    if code.len() > MAX_CODE_LEN {
                        return Ok(false);
                    }
                    let hashes = self.recovery_hashes(tenant, &user.id, code);
                    Ok(mfa_store::has_recovery_code(tenant.db(), &user.id, &hashes).await?)
                };
                (
                    self.gate
                        .guarded_verify(tenant, Account::User(&user.id), client, check, true)
                        .await?,
                    AuthMethod::PasswordAndOtp,
                )
            }
            Factor::Passkey(credential) => {
                let state = row.state.clone().ok_or(ServiceError::bad_input(
                    "passkey",
                    "this account has no passkey",
                ))?;
                let ok = match self
                    .check_passkey(tenant, &state, Some(&user.id), credential)
                    .await
                {
                    Ok(_) => true,
                    Err(ServiceError::InvalidCredentials) => false,
                    Err(e) => return Err(e),
                };
                (ok, AuthMethod::PasswordAndPasskey)
            }
        };
        let method = if row.kind == LOGIN_FEDERATED {
            AuthMethod::FederatedAndOtp
        } else {
            method
        };
        if !ok {
            mfa_store::fail_challenge(tenant.db(), &hash).await?;
            let info = AuditInfo::about(Some(&user.id), client);
            self.audit(tenant, "mfa_failure", info).await;
            return Err(ServiceError::InvalidCredentials);
        }
        // Single use: of two right answers at once, one wins.
        self.spend(tenant, &hash).await?;
        // The code itself is single use too: another login (another token) may have spent it
        // since it was checked.
        if let Factor::RecoveryCode(code) = factor {
            let hashes = self.recovery_hashes(tenant, &user.id, code);
            if !mfa_store::use_recovery_code(tenant.db(), &user.id, &hashes, now).await? {
                return Err(ServiceError::InvalidCredentials);
            }
        }
        self.after_authentication(tenant, &user)?;
        self.audit_own(tenant, "mfa_success", &user.id, client)
            .await;
        Ok((user, method, row.idp))
    }

    /// The checks every completed authentication passes before a session starts.
    pub(super) fn after_authentication(
        &self,
        tenant: &Tenant,
        user: &UserRow,
    ) -> Result<(), ServiceError> {
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        if self.settings(tenant).require_verified_email && !user.email_verified {
            return Err(ServiceError::AccountNotVerified);
        }
        Ok(())
    }
}
