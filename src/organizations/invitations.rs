//! Invitations to an organization: an organization's admins (or a tenant admin) invite an
//! address with org roles; the mail carries a single-use link to the tenant's app
//! (`invitationUrlTemplate`), whose page signs the person in (or up) and calls
//! `acceptInvitation(token:)`. Accepting needs a session of the invited address, confirmed:
//! the link alone proves nothing about who clicks it, and a forwarded or leaked link must not
//! let another account in. An invitation never makes an account.

use super::OrganizationService;
use super::invitation_store::{self as store, InvitationRow};
use super::service::member_view;
use super::store::MemberView;
use crate::actors::Tenant;
use crate::domain::values::{Email, LoginIdentifier};
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::infra::mail::{self, MailContext, Template};
use crate::infra::page::{Page, decode_cursor, page_size};
use crate::store::{memberships, users};

/// How long an invitation link works: a week, as Logto's and Auth0's defaults, long enough for
/// someone back from a few days away.
pub const INVITATION_TTL_DAYS: i64 = 7;
/// Invitations one organization may send per hour. An organization's admin is a customer's
/// person, not the tenant's: this bounds the mail one of them can make latchkey send.
pub const INVITATIONS_PER_HOUR: usize = 50;
/// Random bytes in an invitation token (256 bits, like reset and verification tokens).
const TOKEN_BYTES: usize = 32;

/// An invitation's state as admins see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationState {
    /// Sent, not yet accepted, revoked or expired.
    Pending,
    /// Accepted: the membership exists (or did).
    Accepted,
    /// Revoked by an admin, or superseded by a newer invitation of the same address.
    Revoked,
    /// Its link's time ran out.
    Expired,
}

/// An invitation with its state at the time it was read.
pub struct InvitationView {
    /// As stored.
    pub row: InvitationRow,
    /// Pending, accepted, revoked or expired.
    pub state: InvitationState,
}

impl InvitationRow {
    /// The state at `now`.
    pub fn state(&self, now: chrono::DateTime<chrono::Utc>) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

impl OrganizationService {
    /// Invites `email` to an organization with org roles and mails the link (its admins and
    /// tenant admins). A newer invitation of the same address supersedes an open one.
    pub async fn invite(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        email: &str,
        roles: Vec<String>,
        client: &ClientInfo,
    ) -> Result<InvitationView, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let inviter = self
            .standing(tenant, caller, org_id)
            .await?
            .principal()
            .user
            .clone();
        let org = self.existing(tenant, org_id).await?;
        let email = Email::parse("email", email)?;
        let roles = self.checked_roles(tenant, roles).await?;
        let settings = self.settings(tenant);
        let Some(template) = settings.invitation_url_template else {
            return Err(ServiceError::bad_input(
                "invitationUrlTemplate",
                "is not set for this tenant: set it (updateTenantSettings) to the page of your app that accepts invitations",
            ));
        };
        let normalized = email.normalized().to_string();
        if let Some(u) = users::find_by_login(tenant.db(), true, &normalized).await?
            && memberships::membership(tenant.db(), org_id, &u.id)
                .await?
                .is_some()
        {
            return Err(ServiceError::bad_input(
                "email",
                "is already a member of this organization",
            ));
        }
        let now = self.clock.now();
        if store::made_since(tenant.db(), org_id, now - chrono::Duration::hours(1)).await?
            >= INVITATIONS_PER_HOUR
        {
            return Err(ServiceError::RateLimited { retry_after: 3600 });
        }
        let token = crate::domain::secrets::random_token(TOKEN_BYTES);
        let link = mail::link(
            &template,
            &self.config.public_url,
            tenant.slug().as_str(),
            &token,
        );
        let ctx = MailContext {
            tenant_name: &settings.display_name,
            username: email.as_str(),
            link: Some(&link),
            valid_for: &format!("{INVITATION_TTL_DAYS} days"),
        };
        let queued = mail::render(
            Template::Invitation {
                organization: &org.name,
            },
            email.as_str(),
            &ctx,
            now,
        );
        let mail_id = queued.id.clone();
        let inv = InvitationRow {
            id: uuid::Uuid::now_v7().to_string(),
            org: org.id.clone(),
            email: normalized,
            roles,
            invited_by: inviter.id.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::days(INVITATION_TTL_DAYS),
            accepted_at: None,
            accepted_by: None,
            revoked_at: None,
        };
        store::create(tenant.db(), &inv, &self.secrets.hash_token(&token), queued).await?;
        self.mailer.notify(tenant.slug(), &mail_id);
        let info = AuditInfo::by(&inviter.id, client).with_detail(format!(
            "organization {org_id}; invitation {} to {}; roles {}",
            inv.id,
            inv.email,
            inv.roles.join(",")
        ));
        self.audit(tenant, "organization_invitation_created", info)
            .await;
        Ok(InvitationView {
            row: inv,
            state: InvitationState::Pending,
        })
    }

    /// Revokes an open invitation (the organization's admins and tenant admins); false for an
    /// unknown one, one the caller may not administer, or one no longer open.
    pub async fn revoke_invitation(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let Some(inv) = self.invitation(tenant, id).await? else {
            return Ok(false);
        };
        // Another organization's invitation answers as an unknown one.
        let standing = match self.standing(tenant, caller, &inv.org).await {
            Err(ServiceError::Forbidden) => return Ok(false),
            s => s?,
        };
        if !store::revoke(tenant.db(), id, self.clock.now()).await? {
            return Ok(false);
        }
        let info = AuditInfo::by(&standing.principal().user.id, client).with_detail(format!(
            "organization {}; invitation {id} to {}",
            inv.org, inv.email
        ));
        self.audit(tenant, "organization_invitation_revoked", info)
            .await;
        Ok(true)
    }

    /// A page of an organization's invitations in every state (its admins and tenant admins).
    pub async fn invitations(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        first: i32,
        after: Option<&str>,
    ) -> Result<Page<InvitationView>, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        self.standing(tenant, caller, org_id).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let rows = store::list(tenant.db(), org_id, limit + 1, after.as_deref()).await?;
        let total = store::count(tenant.db(), org_id).await?;
        let now = self.clock.now();
        let rows = rows
            .into_iter()
            .map(|row| InvitationView {
                state: row.state(now),
                row,
            })
            .collect();
        Ok(Page::of(rows, limit, total, |i| i.row.id.as_str()))
    }

    /// Accepts an invitation for the signed-in user, whose confirmed address must be the
    /// invited one; the membership is made with the invitation's roles.
    pub async fn accept_invitation(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        token: &str,
        client: &ClientInfo,
    ) -> Result<MemberView, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(ServiceError::InvalidToken);
        }
        let now = self.clock.now();
        let inv = store::by_token(tenant.db(), &self.secrets.hash_token(token))
            .await?
            .filter(|i| i.state(now) == InvitationState::Pending)
            .ok_or(ServiceError::InvalidToken)?;
        let user = caller.user;
        // Compared as the unique index compares addresses: the whole address, lower-cased.
        if LoginIdentifier::parse(&user.email).normalized() != inv.email {
            return Err(ServiceError::InvitationForAnotherAddress);
        }
        if !user.email_verified {
            return Err(ServiceError::InvitationNeedsVerifiedAddress);
        }
        let m = store::accept(tenant.db(), &inv, &user.id, now)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        let info = AuditInfo::own(&user.id, client).with_detail(format!(
            "organization {}; invitation {}; roles {}",
            inv.org,
            inv.id,
            m.roles.join(",")
        ));
        self.audit(tenant, "organization_invitation_accepted", info)
            .await;
        Ok(member_view(user, m))
    }

    async fn invitation(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<InvitationRow>, ServiceError> {
        Ok(match id.len() {
            1..=64 => store::get(tenant.db(), id).await?,
            _ => None,
        })
    }
}
