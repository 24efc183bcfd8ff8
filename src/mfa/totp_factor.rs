//! The authenticator app (TOTP) as a factor: enrolment, its confirmation, removal, and the
//! check of a code in a second step. The RFC 6238 arithmetic is in `totp`.

use chrono::{DateTime, Utc};

use super::service::{MAX_CODE_LEN, MfaService};
use super::store as mfa_store;
use super::totp;
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::mail::Template;

/// A new TOTP enrolment: what the authenticator app needs.
pub struct TotpEnrollment {
    /// The secret, base32.
    pub secret: String,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG).
    pub qr_code_svg: String,
}

/// What a user's TOTP secret is sealed to (tenant and user), so a sealed secret copied to
/// another row does not open; `keys rekey` re-seals under the same context.
pub fn totp_context(tenant: &str, user: &str) -> String {
    format!("totp/{tenant}/{user}")
}

impl MfaService {
    fn totp_context(tenant: &Tenant, user: &str) -> String {
        totp_context(tenant.slug().as_str(), user)
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
        let secret = crate::domain::secrets::random_bytes(totp::SECRET_BYTES);
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
            self.audit_own(tenant, "totp_enrollment_failed", &user.id, client)
                .await;
            return Err(ServiceError::bad_input(
                "code",
                "is not the authenticator's current code",
            ));
        };
        let (codes, hashes) = self.recovery_codes(tenant, &user.id);
        let (notice, notice_id) =
            self.notice(tenant, &user, Template::FactorAdded("An authenticator app"));
        if !mfa_store::confirm_totp(tenant.db(), &user.id, step, &hashes, notice, now).await? {
            return Err(ServiceError::bad_input("code", "start an enrolment first"));
        }
        if let Some(hash) = enroll_hash {
            let _ = self.spend(tenant, &hash).await;
        }
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit_own(tenant, "totp_enrolled", &user.id, client)
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
        let (notice, notice_id) = self.notice(
            tenant,
            &user,
            Template::FactorRemoved("An authenticator app"),
        );
        mfa_store::delete_totp(tenant.db(), &user.id, notice).await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit_own(tenant, "totp_removed", &user.id, client)
            .await;
        Ok(true)
    }

    pub(super) async fn check_totp(
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
}
