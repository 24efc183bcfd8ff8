//! Passkeys (WebAuthn) as a factor and as a sign-in of their own: registration, removal,
//! passkey login, and the check of an assertion. The webauthn-rs wrapper is in `passkeys`.

use serde_json::Value;
use webauthn_rs::prelude::{Passkey, Uuid};

use super::challenge::minutes;
use super::passkeys::{RelyingParty, backup_flags, cred_id_text};
use super::service::MfaService;
use super::store::{self as mfa_store, PasskeyRow};
use crate::actors::Tenant;
use crate::domain::LoginIdentifier;
use crate::domain::claims::AuthMethod;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::infra::mail::Template;
use crate::sessions::service::AuthTokens;
use crate::store::users::{self, UserRow};

/// How long a passkey ceremony may take (WebAuthn's recommended timeout is 5 minutes).
const PASSKEY_CHALLENGE_MINUTES: i64 = 5;

impl MfaService {
    /// The tenant's relying party for passkeys.
    pub fn relying_party(&self, tenant: &Tenant) -> Result<RelyingParty, ServiceError> {
        let s = self.settings(tenant);
        RelyingParty::new(&s.passkey_rp_id, &s.passkey_origin, &s.display_name)
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
                None,
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
                self.audit_own(tenant, "passkey_registration_failed", &user.id, client)
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
        let (notice, notice_id) = self.notice(tenant, &user, Template::FactorAdded("A passkey"));
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
        let info = AuditInfo::own(&user.id, client).with_detail(format!("passkey {}", stored.id));
        self.audit(tenant, "passkey_added", info).await;
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
        let user = self.sessions.authenticate(tenant, bearer).await?.user;
        let (notice, notice_id) = self.notice(tenant, &user, Template::FactorRemoved("A passkey"));
        if !mfa_store::delete_passkey(tenant.db(), &user.id, id, notice).await? {
            return Ok(false);
        }
        self.mailer.notify(tenant.slug(), &notice_id);
        let info = AuditInfo::own(&user.id, client).with_detail(format!("passkey {id}"));
        self.audit(tenant, "passkey_removed", info).await;
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
        let user = match identifier.map(LoginIdentifier::parse) {
            Some(login) if login.searchable() => {
                users::find_by_login(tenant.db(), login.is_email(), login.normalized()).await?
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
                None,
            )
            .await?;
        Ok((id, options))
    }

    /// Checks a passkey answer against a challenge's state and the tenant's stored passkey;
    /// returns the account. `owner`: the user the challenge was made for, when known.
    pub(super) async fn check_passkey(
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
        self.sessions
            .start_session(tenant, user, client, AuthMethod::Passkey)
            .await
    }

    /// Everything [`Infra::finish_passkey_login`] checks, without starting an API
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
                let info = AuditInfo::about(row.user.as_deref(), client);
                self.audit(tenant, "passkey_login_failure", info).await;
                return Err(e);
            }
        };
        self.after_authentication(tenant, &user)?;
        self.audit_own(tenant, "passkey_login_success", &user.id, client)
            .await;
        Ok(user)
    }
}

/// The WebAuthn user handle of an account: its id (a UUID), so discoverable sign-in finds the
/// account from the credential alone.
fn user_handle(user_id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(user_id).map_err(|e| ServiceError::Internal(format!("user id {user_id}: {e}")))
}

pub(super) fn parse_passkeys(rows: &[PasskeyRow]) -> Result<Vec<Passkey>, ServiceError> {
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.credential)
                .map_err(|e| ServiceError::Internal(format!("stored passkey {}: {e}", r.id)))
        })
        .collect()
}
