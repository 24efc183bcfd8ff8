//! Password reset and email verification by mailed single-use links.

use crate::actors::Tenant;
use crate::domain::password_policy;
use crate::domain::{Email, NewPassword};
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::mail::{self, Template};
use crate::infra::{ClientInfo, Infra};
use crate::sessions::bruteforce::LoginGate;
use crate::sessions::service::Principal;
use crate::sessions::service::SessionService;
use crate::store::one_time_tokens::{self, Kind, NewToken};
use crate::store::outbox::QueuedMail;
use crate::store::users::UserRow;
use crate::store::{StoreError, users};
use std::sync::Arc;

/// Reset and verification tokens carry 256 random bits (API.md asks for at least 128).
const ONE_TIME_TOKEN_BYTES: usize = 32;
/// At most this many reset mails per account per window (mailbox flooding).
pub const RESET_MAILS_PER_ACCOUNT: usize = 3;
/// The per-account window, in minutes.
pub const RESET_WINDOW_MINUTES: i64 = 15;

/// Password reset and email verification: single-use mailed tokens.
#[derive(Clone)]
pub struct RecoveryService {
    infra: Arc<Infra>,
    sessions: SessionService,
    gate: LoginGate,
}

crate::infra::built_on!(RecoveryService);

impl RecoveryService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService, gate: LoginGate) -> Self {
        Self {
            infra,
            sessions,
            gate,
        }
    }

    /// Mails a reset link when the address belongs to an enabled account. Always `true`, after
    /// the same work either way: the mail is queued, never sent inline, so neither the answer
    /// nor its timing tells whether the account exists.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug()))]
    pub async fn request_password_reset(
        &self,
        tenant: &Tenant,
        email: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let email = Email::parse("email", email)?;
        self.throttle(&self.limits.password_reset, tenant, client)?;
        let Some(user) = users::find_by_login(tenant.db(), true, email.normalized()).await? else {
            return Ok(true);
        };
        if user.disabled {
            return Ok(true);
        }
        if !self.send_link(tenant, &user, Kind::Reset).await? {
            tracing::info!(user = %user.id, "reset mail suppressed: per-account limit reached");
            return Ok(true);
        }
        let info = AuditInfo::about(Some(&user.id), client);
        self.audit(tenant, "password_reset_requested", info).await;
        Ok(true)
    }

    /// Sets a new password with a reset token; revokes every session of the user and mails a
    /// notice. Unknown, used, superseded or expired tokens are `INVALID_TOKEN`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug()))]
    pub async fn reset_password(
        &self,
        tenant: &Tenant,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let row = self.live_token(tenant, token, Kind::Reset).await?;
        let min = self.settings(tenant).password_min_length;
        let password = NewPassword::parse("newPassword", new_password, min)?;
        let user = users::get(tenant.db(), &row.user)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        password_policy::check("newPassword", &password, &user.username, &user.email)?;
        let hash = self
            .hasher
            .hash(tenant.slug().as_str(), password.secret().clone())
            .await?;
        let (notice, notice_id) = self.notice(tenant, &user, Template::PasswordChanged);
        match tenant
            .consume_reset(row.id, user.id.clone(), hash, notice, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Precondition(_)) => return Err(ServiceError::InvalidToken),
            Err(e) => return Err(e.into()),
        }
        self.gate.clear_login_failures(tenant, &user.id).await;
        let mut info = AuditInfo::about(Some(&user.id), client);
        if !user.email_verified {
            info = info.with_detail(
                "the address was never verified: its linked identities were removed".into(),
            );
        }
        self.audit(tenant, "password_reset", info).await;
        self.mailer.notify(tenant.slug(), &notice_id);
        Ok(true)
    }

    /// Confirms an address with a verification token.
    pub async fn verify_email(
        &self,
        tenant: &Tenant,
        token: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let row = self.live_token(tenant, token, Kind::Verify).await?;
        match tenant
            .consume_verify(row.id, row.user.clone(), self.clock.now())
            .await
        {
            Ok(()) => {
                let info = AuditInfo::about(Some(&row.user), client);
                self.audit(tenant, "email_verified", info).await;
                // A confirmed address in an organization's verified domain joins it. The
                // confirmation stands either way: a join that fails is logged, not answered.
                match users::get(tenant.db(), &row.user).await {
                    Ok(Some(user)) => {
                        if let Err(e) = self
                            .sessions
                            .join_by_domain(tenant, &user, client, None)
                            .await
                        {
                            tracing::warn!(tenant = %tenant.slug(), error = %e, "joining by domain after confirmation failed");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(tenant = %tenant.slug(), error = %e, "joining by domain after confirmation failed");
                    }
                }
                Ok(true)
            }
            Err(StoreError::Precondition(_)) => Err(ServiceError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }

    /// Mails a fresh verification link (earlier links stop working): to the caller (Bearer),
    /// or, without a token, to the account of `email` (for a tenant that requires a verified
    /// address before any session, where an unverified user has no token). Already verified:
    /// nothing is sent. The email form always answers `true`, like a reset request, so it
    /// never tells whether an account exists.
    pub async fn resend_verification(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        email: Option<&str>,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let (user, by_email) = match (bearer, email) {
            (None, Some(email)) => {
                let email = Email::parse("email", email)?;
                self.throttle(&self.limits.password_reset, tenant, client)?;
                match users::find_by_login(tenant.db(), true, email.normalized()).await? {
                    Some(u) if !u.disabled => (u, true),
                    _ => return Ok(true),
                }
            }
            _ => {
                let Principal { user, .. } = self.sessions.authenticate(tenant, bearer).await?;
                (user, false)
            }
        };
        if user.email_verified {
            return Ok(true);
        }
        if !self.send_link(tenant, &user, Kind::Verify).await? && !by_email {
            // Over the per-account limit: a signed-in caller learns it, the email form does not.
            let retry_after = (RESET_WINDOW_MINUTES * 60) as u64;
            return Err(ServiceError::RateLimited { retry_after });
        }
        Ok(true)
    }

    /// Mails `user` a fresh link of `kind` (its earlier ones stop working), unless the account
    /// was sent [`RESET_MAILS_PER_ACCOUNT`] of them in the last [`RESET_WINDOW_MINUTES`]
    /// already (mailbox flooding): `false` then, and nothing is sent.
    async fn send_link(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        kind: Kind,
    ) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let since = now - chrono::Duration::minutes(RESET_WINDOW_MINUTES);
        if one_time_tokens::issued_since(tenant.db(), &user.id, kind, since).await?
            >= RESET_MAILS_PER_ACCOUNT
        {
            return Ok(false);
        }
        let (token, mail) = self.token_mail(tenant, user, kind);
        let mail_id = mail.id.clone();
        tenant
            .issue_token(user.id.clone(), token, mail, now)
            .await?;
        self.mailer.notify(tenant.slug(), &mail_id);
        Ok(true)
    }

    /// A new token of `kind` for `user` and the mail carrying its link.
    pub(crate) fn token_mail(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        kind: Kind,
    ) -> (NewToken, QueuedMail) {
        let value = crate::domain::secrets::random_token(ONE_TIME_TOKEN_BYTES);
        let settings = self.settings(tenant);
        let (ttl, template, url_template) = match kind {
            Kind::Reset => (
                self.config.reset_token_ttl,
                Template::Reset,
                settings.reset_url_template,
            ),
            Kind::Verify => (
                self.config.verify_token_ttl,
                Template::Verify,
                settings.verify_url_template,
            ),
        };
        let link = mail::link(
            &url_template,
            &self.config.public_url,
            tenant.slug().as_str(),
            &value,
        );
        let mail = self.render(tenant, user, template, Some(&link));
        let token = NewToken {
            kind,
            hash: self.secrets.hash_token(&value),
            expires_at: self.clock.now()
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        };
        (token, mail)
    }

    async fn live_token(
        &self,
        tenant: &Tenant,
        token: &str,
        kind: Kind,
    ) -> Result<one_time_tokens::TokenRow, ServiceError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(ServiceError::InvalidToken);
        }
        let row = one_time_tokens::find(tenant.db(), &self.secrets.hash_token(token))
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if row.kind != kind.as_str() || row.used_at.is_some() || row.expires_at <= self.clock.now()
        {
            return Err(ServiceError::InvalidToken);
        }
        Ok(row)
    }
}
