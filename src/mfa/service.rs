//! The rules of multi-factor sign-in: enrolment and removal of factors, the second step of a
//! login, passkey sign-in, and the tenant policy.

use chrono::{DateTime, Utc};
use serde_json::Value;
use webauthn_rs::prelude::{Passkey, Uuid};

use super::passkeys::{RelyingParty, backup_flags, cred_id_text};
use super::store::{self as mfa_store, ChallengeRow, PasskeyRow};
use super::totp;
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::service::audit::AuditInfo;
use crate::service::auth::AuthTokens;
use crate::service::bruteforce::Account;
use crate::service::domain::candidate_password;
use crate::service::mail::Template;
use crate::service::secrets::random_token;
use crate::service::tokens::AuthMethod;
use crate::service::{ClientInfo, Services};
use crate::store::users::{self, UserRow};

/// How long the second step of a login may take (API.md: 5 minutes).
const LOGIN_CHALLENGE_MINUTES: i64 = 5;
/// How long an enrolment-only token lives: long enough to install an authenticator app.
const ENROLL_CHALLENGE_MINUTES: i64 = 15;
/// How long a passkey ceremony may take (WebAuthn's recommended timeout is 5 minutes).
const PASSKEY_CHALLENGE_MINUTES: i64 = 5;
/// Recovery codes handed out at once.
pub const RECOVERY_CODES: usize = 10;
/// Longest factor input looked at (codes are 6 digits or 11 characters).
const MAX_CODE_LEN: usize = 64;

/// A new TOTP enrolment: what the authenticator app needs.
pub struct TotpEnrollment {
    /// The secret, base32.
    pub secret: String,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG).
    pub qr_code_svg: String,
}

/// A user's factors.
pub struct MfaStatus {
    /// An authenticator app is enrolled.
    pub totp: bool,
    /// Passkeys, oldest first.
    pub passkeys: Vec<PasskeyRow>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
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
        if !self.passkeys.is_empty() {
            m.push("passkey");
        }
        m
    }
}

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

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// A recovery code: 10 characters of an unambiguous alphabet in two groups, ~50 bits.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = crate::service::secrets::random_bytes(10);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A recovery code as typed: case, spaces and the dash do not matter.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a recovery code's hash is taken of: bound to the tenant and the user.
fn recovery_material(tenant: &Tenant, user: &str, code: &str) -> String {
    format!("recovery/{}/{user}/{}", tenant.slug(), normalize_code(code))
}

/// What a user's TOTP secret is sealed to (tenant and user), so a sealed secret copied to
/// another row does not open; `keys rekey` re-seals under the same context.
pub fn totp_context(tenant: &str, user: &str) -> String {
    format!("totp/{tenant}/{user}")
}

impl Services {
    fn totp_context(tenant: &Tenant, user: &str) -> String {
        totp_context(tenant.slug().as_str(), user)
    }

    fn recovery_hash(&self, tenant: &Tenant, user: &str, code: &str) -> String {
        self.secrets
            .hash_token(&recovery_material(tenant, user, code))
    }

    /// What a presented recovery code may be stored as: its hash under the current key, or
    /// under a retired one for codes issued before `keys rekey`.
    fn recovery_hashes(&self, tenant: &Tenant, user: &str, code: &str) -> Vec<String> {
        self.secrets
            .hash_candidates(&recovery_material(tenant, user, code))
    }

    /// Fresh recovery codes and their stored hashes.
    fn recovery_codes(&self, tenant: &Tenant, user: &str) -> (Vec<String>, Vec<String>) {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes = codes
            .iter()
            .map(|c| self.recovery_hash(tenant, user, c))
            .collect();
        (codes, hashes)
    }

    /// The tenant's relying party for passkeys.
    pub fn relying_party(&self, tenant: &Tenant) -> Result<RelyingParty, ServiceError> {
        let s = self.settings(tenant);
        RelyingParty::new(&s.passkey_rp_id, &s.passkey_origin, &s.display_name)
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
        })
    }

    /// Issues a challenge token of `kind` and stores its hash.
    async fn challenge(
        &self,
        tenant: &Tenant,
        kind: &str,
        user: Option<&str>,
        state: Option<String>,
        ttl: chrono::Duration,
    ) -> Result<String, ServiceError> {
        let token = random_token(32);
        let now = self.clock.now();
        let row = ChallengeRow {
            kind: kind.to_string(),
            user: user.map(str::to_string),
            state,
            failures: 0,
            expires_at: now + ttl,
            used_at: None,
        };
        mfa_store::put_challenge(tenant.db(), &self.secrets.hash_token(&token), &row, now).await?;
        Ok(token)
    }

    async fn live_challenge(
        &self,
        tenant: &Tenant,
        token: &str,
        kinds: &[&str],
    ) -> Result<(String, ChallengeRow), ServiceError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(ServiceError::InvalidToken);
        }
        let hash = self.secrets.hash_token(token);
        let row = mfa_store::live_challenge(tenant.db(), &hash, kinds, self.clock.now())
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        Ok((hash, row))
    }

    async fn spend(&self, tenant: &Tenant, hash: &str) -> Result<(), ServiceError> {
        if mfa_store::spend_challenge(tenant.db(), hash, self.clock.now()).await? {
            Ok(())
        } else {
            Err(ServiceError::InvalidToken)
        }
    }

    /// The methods the second step of a live login `mfa_token` offers.
    pub async fn second_step_methods(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
    ) -> Result<Vec<&'static str>, ServiceError> {
        let (_, row) = self.live_challenge(tenant, mfa_token, &["login"]).await?;
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
        let status = self.mfa_status(tenant, &user.id).await?;
        if status.any() {
            let (passkey_options, state) = if status.passkeys.is_empty() {
                (None, None)
            } else {
                let keys = parse_passkeys(&status.passkeys)?;
                let (options, state) = self.relying_party(tenant)?.start_login(&keys)?;
                (Some(options), Some(state))
            };
            let mfa_token = self
                .challenge(
                    tenant,
                    "login",
                    Some(&user.id),
                    state,
                    minutes(LOGIN_CHALLENGE_MINUTES),
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
                )
                .await?;
            return Err(ServiceError::MfaEnrollmentRequired { mfa_token });
        }
        Ok(())
    }

    /// The user an enrolment acts for: the Bearer token's, or an enrolment-only token's.
    async fn enroller(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        mfa_token: Option<&str>,
    ) -> Result<(UserRow, Option<String>), ServiceError> {
        match mfa_token {
            Some(token) => {
                let (hash, row) = self.live_challenge(tenant, token, &["enroll"]).await?;
                let id = row.user.ok_or(ServiceError::InvalidToken)?;
                let user = tenant.user(&id).await?.ok_or(ServiceError::InvalidToken)?;
                if user.disabled {
                    return Err(ServiceError::InvalidToken);
                }
                Ok((user, Some(hash)))
            }
            None => Ok((self.authenticate(tenant, bearer).await?.user, None)),
        }
    }

    /// Checks the current password of a Bearer caller (removing or regenerating factors).
    async fn caller_with_password(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        password: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let p = self.authenticate(tenant, bearer).await?;
        if password.is_empty() {
            return Err(ServiceError::bad_input("password", "is required"));
        }
        let verify = self.hasher.verify(
            tenant.slug().as_str(),
            candidate_password(password),
            Some(p.user.password_hash.clone()),
        );
        if !self
            .guarded_verify(tenant, Account::User(&p.user.id), client, verify, true)
            .await?
        {
            return Err(ServiceError::InvalidCredentials);
        }
        Ok(p.user)
    }

    /// Starts a TOTP enrolment: a new secret, shown once; it becomes a factor when a code
    /// made with it is confirmed.
    pub async fn start_totp_enrollment(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        mfa_token: Option<&str>,
    ) -> Result<TotpEnrollment, ServiceError> {
        let (user, _) = self.enroller(tenant, bearer, mfa_token).await?;
        let secret = crate::service::secrets::random_bytes(totp::SECRET_BYTES);
        let sealed = self
            .secrets
            .seal(&Self::totp_context(tenant, &user.id), &secret);
        if !mfa_store::put_pending_totp(tenant.db(), &user.id, sealed, self.clock.now()).await? {
            return Err(ServiceError::bad_input(
                "totp",
                "an authenticator app is already enrolled: disable it first",
            ));
        }
        let issuer = self.settings(tenant).display_name;
        let uri = totp::otpauth_uri(&issuer, &user.email, &secret);
        Ok(TotpEnrollment {
            secret: totp::base32(&secret),
            qr_code_svg: totp::qr_svg(&uri).map_err(ServiceError::Internal)?,
            otpauth_uri: uri,
        })
    }

    /// Confirms a TOTP enrolment with a code; returns the recovery codes (shown once).
    pub async fn confirm_totp_enrollment(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        mfa_token: Option<&str>,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, ServiceError> {
        let (user, enroll_hash) = self.enroller(tenant, bearer, mfa_token).await?;
        let row = mfa_store::totp(tenant.db(), &user.id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
            .ok_or_else(|| ServiceError::bad_input("code", "start an enrolment first"))?;
        let secret = self
            .secrets
            .open(&Self::totp_context(tenant, &user.id), &row.secret_sealed)
            .ok_or_else(|| ServiceError::Internal("TOTP secret does not decrypt".into()))?;
        let now = self.clock.now();
        let Some(step) = totp::verify(&secret, code, now.timestamp(), None) else {
            self.audit(
                tenant,
                "totp_enrollment_failed",
                AuditInfo::own(&user.id, client),
            )
            .await;
            return Err(ServiceError::bad_input(
                "code",
                "is not the authenticator's current code",
            ));
        };
        let (codes, hashes) = self.recovery_codes(tenant, &user.id);
        let notice = self.render(
            tenant,
            &user,
            Template::FactorAdded("An authenticator app"),
            None,
        );
        let notice_id = notice.id.clone();
        if !mfa_store::confirm_totp(tenant.db(), &user.id, step, &hashes, notice, now).await? {
            return Err(ServiceError::bad_input("code", "start an enrolment first"));
        }
        if let Some(hash) = enroll_hash {
            let _ = self.spend(tenant, &hash).await;
        }
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit(tenant, "totp_enrolled", AuditInfo::own(&user.id, client))
            .await;
        Ok(codes)
    }

    /// Removes the caller's authenticator app (current password required).
    pub async fn disable_totp(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        password: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let user = self
            .caller_with_password(tenant, bearer, password, client)
            .await?;
        if mfa_store::totp(tenant.db(), &user.id).await?.is_none() {
            return Ok(false);
        }
        let notice = self.render(
            tenant,
            &user,
            Template::FactorRemoved("An authenticator app"),
            None,
        );
        let notice_id = notice.id.clone();
        mfa_store::delete_totp(tenant.db(), &user.id, notice).await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit(tenant, "totp_removed", AuditInfo::own(&user.id, client))
            .await;
        Ok(true)
    }

    /// New recovery codes for the caller (current password required); the old ones stop
    /// working.
    pub async fn regenerate_recovery_codes(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, ServiceError> {
        let user = self
            .caller_with_password(tenant, bearer, password, client)
            .await?;
        if !self.mfa_status(tenant, &user.id).await?.any() {
            return Err(ServiceError::bad_input(
                "password",
                "recovery codes need a second factor: enrol one first",
            ));
        }
        let (codes, hashes) = self.recovery_codes(tenant, &user.id);
        let notice = self.render(
            tenant,
            &user,
            Template::FactorAdded("A new set of recovery codes"),
            None,
        );
        let notice_id = notice.id.clone();
        mfa_store::replace_recovery_codes(tenant.db(), &user.id, &hashes, notice, self.clock.now())
            .await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit(
            tenant,
            "recovery_codes_regenerated",
            AuditInfo::own(&user.id, client),
        )
        .await;
        Ok(codes)
    }

    /// Starts registering a passkey: the options for `navigator.credentials.create`.
    pub async fn start_passkey_registration(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        mfa_token: Option<&str>,
    ) -> Result<(String, Value), ServiceError> {
        let (user, enroll_hash) = self.enroller(tenant, bearer, mfa_token).await?;
        let existing = mfa_store::passkeys(tenant.db(), &user.id).await?;
        let exclude = parse_passkeys(&existing)?
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let handle = user_handle(&user.id)?;
        let (options, state) = self.relying_party(tenant)?.start_registration(
            handle,
            &user.username,
            &user.email,
            exclude,
        )?;
        // The enrolment token travels with the ceremony, so finishing it spends the token.
        let state = serde_json::json!({"state": state, "enroll": enroll_hash}).to_string();
        let id = self
            .challenge(
                tenant,
                "passkey_registration",
                Some(&user.id),
                Some(state),
                minutes(PASSKEY_CHALLENGE_MINUTES),
            )
            .await?;
        Ok((id, options))
    }

    /// Finishes registering a passkey with the browser's answer.
    pub async fn finish_passkey_registration(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        credential: &Value,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyRow, ServiceError> {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("Passkey");
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServiceError::bad_input(
                "name",
                "must be at most 100 characters without control characters",
            ));
        }
        let (hash, row) = self
            .live_challenge(tenant, challenge_id, &["passkey_registration"])
            .await?;
        // One answer per ceremony, whatever it turns out to be.
        self.spend(tenant, &hash).await?;
        let user_id = row.user.ok_or(ServiceError::InvalidToken)?;
        let user = tenant
            .user(&user_id)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        let kept: Value =
            serde_json::from_str(row.state.as_deref().unwrap_or("{}")).unwrap_or_default();
        let state = kept["state"].as_str().unwrap_or_default();
        let passkey = match self
            .relying_party(tenant)?
            .finish_registration(credential, state)
        {
            Ok(p) => p,
            Err(e) => {
                self.audit(
                    tenant,
                    "passkey_registration_failed",
                    AuditInfo::own(&user.id, client),
                )
                .await;
                return Err(e);
            }
        };
        let (backup_eligible, backup_state) = backup_flags(&passkey);
        let now = self.clock.now();
        let stored = PasskeyRow {
            id: uuid::Uuid::now_v7().to_string(),
            user: user.id.clone(),
            name: name.to_string(),
            cred_id: cred_id_text(passkey.cred_id()),
            credential: serde_json::to_string(&passkey)
                .map_err(|e| ServiceError::Internal(format!("passkey: {e}")))?,
            sign_count: 0,
            backup_eligible,
            backup_state,
            created_at: now,
            last_used_at: None,
        };
        let notice = self.render(tenant, &user, Template::FactorAdded("A passkey"), None);
        let notice_id = notice.id.clone();
        match mfa_store::insert_passkey(tenant.db(), &stored, notice).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict(_)) => {
                return Err(ServiceError::bad_input(
                    "credential",
                    "this passkey is registered already",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(enroll) = kept["enroll"].as_str() {
            let _ = self.spend(tenant, enroll).await;
        }
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit(
            tenant,
            "passkey_added",
            AuditInfo {
                actor: Some(&user.id),
                subject: Some(&user.id),
                client: Some(client),
                detail: Some(format!("passkey {}", stored.id)),
            },
        )
        .await;
        Ok(stored)
    }

    /// Removes one of the caller's passkeys.
    pub async fn remove_passkey(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let user = self.authenticate(tenant, bearer).await?.user;
        let notice = self.render(tenant, &user, Template::FactorRemoved("A passkey"), None);
        let notice_id = notice.id.clone();
        if !mfa_store::delete_passkey(tenant.db(), &user.id, id, notice).await? {
            return Ok(false);
        }
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit(
            tenant,
            "passkey_removed",
            AuditInfo {
                actor: Some(&user.id),
                subject: Some(&user.id),
                client: Some(client),
                detail: Some(format!("passkey {id}")),
            },
        )
        .await;
        Ok(true)
    }

    /// Starts a passkey sign-in: for the account `identifier` names, or (without one, or for
    /// a name that matches nobody, so the answer does not tell which names exist) any
    /// discoverable passkey.
    pub async fn start_passkey_login(
        &self,
        tenant: &Tenant,
        identifier: Option<&str>,
    ) -> Result<(String, Value), ServiceError> {
        let user = match identifier.map(str::trim).filter(|i| !i.is_empty()) {
            Some(i) if i.len() <= 254 && !i.chars().any(char::is_control) => {
                let normalized = if i.contains('@') {
                    i.to_lowercase()
                } else {
                    i.to_ascii_lowercase()
                };
                users::find_by_login(tenant.db(), i.contains('@'), &normalized).await?
            }
            _ => None,
        };
        let keys = match &user {
            Some(u) => parse_passkeys(&mfa_store::passkeys(tenant.db(), &u.id).await?)?,
            None => Vec::new(),
        };
        let (options, state) = self.relying_party(tenant)?.start_login(&keys)?;
        let owner = (!keys.is_empty())
            .then(|| user.as_ref().map(|u| u.id.as_str()))
            .flatten();
        let id = self
            .challenge(
                tenant,
                "passkey_login",
                owner,
                Some(state),
                minutes(PASSKEY_CHALLENGE_MINUTES),
            )
            .await?;
        Ok((id, options))
    }

    /// Checks a passkey answer against a challenge's state and the tenant's stored passkey;
    /// returns the account. `owner`: the user the challenge was made for, when known.
    async fn check_passkey(
        &self,
        tenant: &Tenant,
        state: &str,
        owner: Option<&str>,
        credential: &Value,
    ) -> Result<UserRow, ServiceError> {
        let (cred_id, handle) = RelyingParty::identify(credential)?;
        let stored = mfa_store::passkey_by_cred(tenant.db(), &cred_id)
            .await?
            .ok_or(ServiceError::InvalidCredentials)?;
        // The credential must belong to the account the challenge (or the user handle) names:
        // webauthn-rs checks the signature, not whose key it is.
        if owner.is_some_and(|o| o != stored.user)
            || handle.is_some_and(|h| user_handle(&stored.user).is_ok_and(|u| u != h))
        {
            return Err(ServiceError::InvalidCredentials);
        }
        let passkey: Passkey = serde_json::from_str(&stored.credential)
            .map_err(|e| ServiceError::Internal(format!("stored passkey: {e}")))?;
        let verified = self
            .relying_party(tenant)?
            .finish_login(credential, state, &passkey)?;
        let credential_now = verified
            .updated
            .unwrap_or_else(|| stored.credential.clone());
        if !mfa_store::touch_passkey(
            tenant.db(),
            &stored.id,
            credential_now,
            i64::from(verified.counter),
            verified.backup_state,
            self.clock.now(),
        )
        .await?
        {
            // The counter went backwards: a cloned authenticator (WebAuthn §6.1.1).
            tracing::warn!(passkey = %stored.id, "passkey counter did not advance; refused");
            return Err(ServiceError::InvalidCredentials);
        }
        tenant
            .user(&stored.user)
            .await?
            .ok_or(ServiceError::InvalidCredentials)
    }

    /// Finishes a passkey sign-in: the session, with no second step (a passkey with user
    /// verification is two factors already).
    pub async fn finish_passkey_login(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        credential: &Value,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let user = self
            .complete_passkey_login(tenant, challenge_id, credential, client)
            .await?;
        self.start_session(tenant, user, client, AuthMethod::Passkey)
            .await
    }

    /// Everything [`Services::finish_passkey_login`] checks, without starting an API
    /// session (the hosted sign-in starts a browser session instead).
    pub async fn complete_passkey_login(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        credential: &Value,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let (hash, row) = self
            .live_challenge(tenant, challenge_id, &["passkey_login"])
            .await?;
        self.spend(tenant, &hash).await?;
        let state = row.state.unwrap_or_default();
        let user = match self
            .check_passkey(tenant, &state, row.user.as_deref(), credential)
            .await
        {
            Ok(u) => u,
            Err(e) => {
                self.audit(
                    tenant,
                    "passkey_login_failure",
                    AuditInfo {
                        subject: row.user.as_deref(),
                        client: Some(client),
                        ..Default::default()
                    },
                )
                .await;
                return Err(e);
            }
        };
        self.after_authentication(tenant, &user)?;
        self.audit(
            tenant,
            "passkey_login_success",
            AuditInfo::own(&user.id, client),
        )
        .await;
        Ok(user)
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
        let (user, method) = self.complete_mfa(tenant, mfa_token, factor, client).await?;
        self.start_session(tenant, user, client, method).await
    }

    /// Everything [`Services::verify_mfa`] checks, without starting an API session: the user
    /// and how they authenticated (the hosted sign-in starts a browser session instead).
    pub async fn complete_mfa(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        factor: Factor<'_>,
        client: &ClientInfo,
    ) -> Result<(UserRow, AuthMethod), ServiceError> {
        let (hash, row) = self.live_challenge(tenant, mfa_token, &["login"]).await?;
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
                    self.guarded_verify(tenant, Account::User(&user.id), client, check, true)
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
                    self.guarded_verify(tenant, Account::User(&user.id), client, check, true)
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
        if !ok {
            mfa_store::fail_challenge(tenant.db(), &hash).await?;
            self.audit(
                tenant,
                "mfa_failure",
                AuditInfo {
                    subject: Some(&user.id),
                    client: Some(client),
                    ..Default::default()
                },
            )
            .await;
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
        self.audit(tenant, "mfa_success", AuditInfo::own(&user.id, client))
            .await;
        Ok((user, method))
    }

    async fn check_totp(
        &self,
        tenant: &Tenant,
        user: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        if code.len() > MAX_CODE_LEN {
            return Ok(false);
        }
        let Some(row) = mfa_store::totp(tenant.db(), user)
            .await?
            .filter(|t| t.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        let secret = self
            .secrets
            .open(&Self::totp_context(tenant, user), &row.secret_sealed)
            .ok_or_else(|| ServiceError::Internal("TOTP secret does not decrypt".into()))?;
        match totp::verify(&secret, code, now.timestamp(), row.last_step) {
            // Recorded only if still later than the last accepted step: a code presented twice
            // at the same moment is accepted once.
            Some(step) => Ok(mfa_store::use_totp_step(tenant.db(), user, step).await?),
            None => Ok(false),
        }
    }

    /// The checks every completed authentication passes before a session starts.
    fn after_authentication(&self, tenant: &Tenant, user: &UserRow) -> Result<(), ServiceError> {
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        if self.settings(tenant).require_verified_email && !user.email_verified {
            return Err(ServiceError::AccountNotVerified);
        }
        Ok(())
    }

    /// An admin removes every factor of a user and ends their sessions.
    pub async fn reset_user_mfa(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let admin = self.require_admin(tenant, bearer).await?;
        let user = users::get(tenant.db(), id)
            .await?
            .ok_or_else(|| ServiceError::bad_input("id", "no such user"))?;
        let notice = self.render(
            tenant,
            &user,
            Template::FactorRemoved("Every second factor (by an administrator)"),
            None,
        );
        let notice_id = notice.id.clone();
        mfa_store::delete_all(tenant.db(), &user.id, notice).await?;
        let revoked = tenant
            .revoke_all(user.id.clone(), None, "mfa_reset", self.clock.now())
            .await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.admin_audit(
            tenant,
            "mfa_reset",
            &admin,
            Some(&user.id),
            client,
            Some(format!("{revoked} sessions revoked")),
        )
        .await;
        Ok(user)
    }
}

/// The WebAuthn user handle of an account: its id (a UUID), so discoverable sign-in finds the
/// account from the credential alone.
fn user_handle(user_id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(user_id).map_err(|e| ServiceError::Internal(format!("user id {user_id}: {e}")))
}

fn parse_passkeys(rows: &[PasskeyRow]) -> Result<Vec<Passkey>, ServiceError> {
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.credential)
                .map_err(|e| ServiceError::Internal(format!("stored passkey {}: {e}", r.id)))
        })
        .collect()
}
