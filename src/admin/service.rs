//! Tenant administration: users, roles, sessions, settings, signing keys, audit log.
//! Every operation requires a live session of a user holding the `admin` role *now* (the
//! stored roles, not the token's copy, so a demoted admin loses power at once).

use crate::accounts::service::AccountService;
use crate::accounts::service::NewAccount;
use crate::actors::Tenant;
use crate::domain::ADMIN_ROLE;
use crate::domain::Algorithm;
use crate::domain::keygen::generate_key;
use crate::domain::keys::KEY_PUBLISH_AHEAD_SECONDS;
use crate::domain::keys::KeyRow;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::page::{Page, decode_cursor, page_size};
use crate::infra::settings::Settings;
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::SessionService;
use crate::store::audit::{self, AuditFilter, AuditRow};
use crate::store::tenants::{self, TenantRow};
use crate::store::users::{self, UserRow};
use std::sync::Arc;

/// Roles one user may hold.
const MAX_ROLES: usize = 32;

/// An admin's changes to a user account.
pub struct CreateUser<'a> {
    /// Address.
    pub email: &'a str,
    /// Username.
    pub username: &'a str,
    /// Initial password.
    pub password: &'a str,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the address counts as confirmed already.
    pub email_verified: bool,
}

/// Changes to tenant settings; `None` leaves a value as it is, `Some(None)` returns it to the
/// server default.
#[derive(Default)]
pub struct SettingsUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Access token lifetime in minutes.
    pub access_token_minutes: Option<Option<i64>>,
    /// Refresh token lifetime in days.
    pub refresh_token_days: Option<Option<i64>>,
    /// Minimum password length.
    pub password_min_length: Option<Option<i64>>,
    /// Require a confirmed address before login.
    pub require_verified_email: Option<Option<bool>>,
    /// Reset link template.
    pub reset_url_template: Option<Option<String>>,
    /// Verification link template.
    pub verify_url_template: Option<Option<String>>,
    /// Organization invitation link template.
    pub invitation_url_template: Option<Option<String>>,
    /// Allowed browser origins.
    pub cors_origins: Option<Option<Vec<String>>>,
    /// Whether every user must enrol a second factor.
    pub mfa_required: Option<Option<bool>>,
    /// Passkeys' relying party id.
    pub passkey_rp_id: Option<Option<String>>,
    /// Passkeys' origin.
    pub passkey_origin: Option<Option<String>>,
    /// The token hook's URL (`None` inside: no hook).
    pub token_hook_url: Option<Option<String>>,
    /// The hook's time budget (ms).
    pub token_hook_timeout_ms: Option<Option<i64>>,
    /// Whether a failed hook refuses the token (`Some(false)`: issue it without claims).
    pub token_hook_deny: Option<Option<bool>>,
    /// Whether a SCIM DELETE disables and keeps the account instead of deleting it.
    pub scim_deprovision_disables: Option<Option<bool>>,
}

fn check_roles(roles: &[String]) -> Result<Vec<String>, ServiceError> {
    if roles.len() > MAX_ROLES {
        return Err(ServiceError::bad_input(
            "roles",
            &format!("at most {MAX_ROLES} roles"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for r in roles {
        let r = r.trim();
        if !(1..=64).contains(&r.len())
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
        {
            return Err(ServiceError::bad_input(
                "roles",
                "each role is 1 to 64 of letters, digits, '_', '-', ':' and '.'",
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}

fn no_such_user() -> ServiceError {
    ServiceError::bad_input("id", "no such user")
}

/// The tenant admin's operations.
#[derive(Clone)]
pub struct AdminService {
    infra: Arc<Infra>,
    sessions: SessionService,
    accounts: AccountService,
}

crate::infra::built_on!(AdminService);

impl AdminService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService, accounts: AccountService) -> Self {
        Self {
            infra,
            sessions,
            accounts,
        }
    }

    /// Users, oldest first, optionally by email/username prefix.
    pub async fn list_users(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<UserRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let search = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > 254) {
            return Err(ServiceError::bad_input(
                "search",
                "is longer than 254 characters",
            ));
        }
        let rows = users::list(tenant.db(), limit + 1, after.as_deref(), search.as_deref()).await?;
        let total = users::count(tenant.db(), search.as_deref()).await?;
        Ok(Page::of(rows, limit, total, |u| u.id.as_str()))
    }

    /// One user.
    pub async fn get_user(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<Option<UserRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        if id.len() > 64 {
            return Ok(None);
        }
        Ok(users::get(tenant.db(), id).await?)
    }

    /// Creates an account (no session is started).
    pub async fn admin_create_user(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        input: CreateUser<'_>,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let roles = check_roles(&input.roles)?;
        let account = NewAccount::parse(
            self,
            tenant,
            input.email,
            input.username,
            input.password,
            "password",
        )?;
        let user = self
            .accounts
            .create_account(tenant, account, roles, input.email_verified)
            .await?;
        let info = AuditInfo::by(&admin.user.id, client).on(&user.id);
        self.audit(tenant, "user_created", info).await;
        Ok(user)
    }

    /// Disables (revoking every session) or enables a user.
    pub async fn set_user_disabled(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        disabled: bool,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if disabled && admin.user.id == id {
            return Err(ServiceError::bad_input(
                "id",
                "you cannot disable your own account",
            ));
        }
        self.target_user(tenant, id).await?;
        let user = tenant
            .set_disabled(id.to_string(), disabled, self.clock.now())
            .await?
            .ok_or_else(no_such_user)?;
        let kind = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        let info = AuditInfo::by(&admin.user.id, client).on(id);
        self.audit(tenant, kind, info).await;
        Ok(user)
    }

    /// Deletes a user with its sessions and tokens.
    pub async fn admin_delete_user(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if admin.user.id == id {
            return Err(ServiceError::bad_input(
                "id",
                "you cannot delete your own account",
            ));
        }
        self.target_user(tenant, id).await?;
        let deleted = tenant.delete_user(id.to_string()).await?;
        let info = AuditInfo::by(&admin.user.id, client).on(id);
        self.audit(tenant, "user_deleted", info).await;
        Ok(deleted)
    }

    /// Replaces a user's roles.
    pub async fn set_user_roles(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        roles: &[String],
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let roles = check_roles(roles)?;
        if admin.user.id == id && !roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(ServiceError::bad_input(
                "roles",
                "you cannot remove your own admin role",
            ));
        }
        self.target_user(tenant, id).await?;
        let detail = format!("roles = [{}]", roles.join(", "));
        let user = tenant
            .set_roles(id.to_string(), roles, self.clock.now())
            .await?
            .ok_or_else(no_such_user)?;
        let info = AuditInfo::by(&admin.user.id, client)
            .on(id)
            .with_detail(detail);
        self.audit(tenant, "roles_changed", info).await;
        Ok(user)
    }

    /// Revokes every session of a user; returns how many were active.
    pub async fn revoke_user_sessions(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<usize, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        self.target_user(tenant, id).await?;
        let n = tenant
            .revoke_all(id.to_string(), None, "revoked_by_admin", self.clock.now())
            .await?;
        let detail = format!("{n} sessions");
        let info = AuditInfo::by(&admin.user.id, client)
            .on(id)
            .with_detail(detail);
        self.audit(tenant, "sessions_revoked", info).await;
        Ok(n)
    }

    /// The tenant's settings in force.
    pub async fn tenant_settings(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<(TenantRow, Settings), ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        Ok(((*tenant.row()).clone(), self.settings(tenant)))
    }

    /// Changes the tenant's settings.
    pub async fn update_tenant_settings(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        u: SettingsUpdate,
        client: &ClientInfo,
    ) -> Result<(TenantRow, Settings), ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut row = (*tenant.row()).clone();
        if let Some(name) = u.display_name {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                return Err(ServiceError::bad_input(
                    "displayName",
                    "must be 1 to 200 characters without control characters",
                ));
            }
            row.display_name = name;
        }
        let ranged = |field: &'static str, v: Option<i64>, lo: i64, hi: i64| match v {
            Some(n) if !(lo..=hi).contains(&n) => Err(ServiceError::bad_input(
                field,
                &format!("must be between {lo} and {hi}"),
            )),
            other => Ok(other),
        };
        if let Some(v) = u.access_token_minutes {
            row.access_token_minutes = ranged("accessTokenMinutes", v, 1, 1440)?;
        }
        if let Some(v) = u.refresh_token_days {
            row.refresh_token_days = ranged("refreshTokenDays", v, 1, 365)?;
        }
        if let Some(v) = u.password_min_length {
            row.password_min_length = ranged("passwordMinLength", v, 8, 64)?;
        }
        if let Some(v) = u.require_verified_email {
            row.require_verified_email = v;
        }
        for (field, update, slot) in [
            (
                "resetUrlTemplate",
                u.reset_url_template,
                &mut row.reset_url_template,
            ),
            (
                "verifyUrlTemplate",
                u.verify_url_template,
                &mut row.verify_url_template,
            ),
            (
                "invitationUrlTemplate",
                u.invitation_url_template,
                &mut row.invitation_url_template,
            ),
        ] {
            if let Some(v) = update {
                if let Some(t) = &v {
                    let example = t
                        .replace("{public_url}", "https://x.test")
                        .replace("{PUBLIC_URL}", "https://x.test");
                    let ok = t.contains("{token}")
                        && t.len() <= 500
                        && url::Url::parse(
                            &example.replace("{tenant}", "t").replace("{token}", "x"),
                        )
                        .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !ok {
                        return Err(ServiceError::bad_input(
                            field,
                            "must be an http(s) URL template containing {token}",
                        ));
                    }
                }
                *slot = v;
            }
        }
        if let Some(v) = u.cors_origins {
            if let Some(list) = &v {
                if list.len() > 50 || list.iter().any(|o| o != "*" && url::Url::parse(o).is_err()) {
                    return Err(ServiceError::bad_input(
                        "corsOrigins",
                        "must be at most 50 origins like https://app.example.com",
                    ));
                }
            }
            row.cors_origins = v;
        }
        if let Some(v) = u.mfa_required {
            row.mfa_policy = v.map(|r| if r { "required" } else { "optional" }.to_string());
        }
        if let Some(v) = u.token_hook_url {
            if let Some(url) = &v {
                if url.len() > 2000 {
                    return Err(ServiceError::bad_input(
                        "tokenHookUrl",
                        "is longer than 2000 characters",
                    ));
                }
                self.outbound
                    .check(url)
                    .map_err(|e| ServiceError::bad_input("tokenHookUrl", &e.to_string()))?;
                // A hook signs with its own secret: made with the first URL, replaced by
                // rotateTokenHookSecret (which shows it).
                if row.token_hook_secret_sealed.is_none() {
                    let secret = crate::domain::webhook_signature::new_secret();
                    row.token_hook_secret_sealed = Some(self.secrets.seal(
                        &crate::infra::token_hook::secret_context(tenant.slug().as_str()),
                        secret.as_bytes(),
                    ));
                }
            }
            row.token_hook_url = v;
        }
        if let Some(v) = u.token_hook_timeout_ms {
            row.token_hook_timeout_ms = ranged("tokenHookTimeoutMs", v, 100, 10_000)?;
        }
        if let Some(v) = u.scim_deprovision_disables {
            row.scim_deprovision =
                v.map(|keep| if keep { "disable" } else { "delete" }.to_string());
        }
        if let Some(v) = u.token_hook_deny {
            row.token_hook_failure =
                v.map(|deny| if deny { "deny" } else { "allow_without_claims" }.to_string());
        }
        let passkey_change = u.passkey_rp_id.is_some() || u.passkey_origin.is_some();
        if let Some(v) = u.passkey_rp_id {
            if let Some(id) = &v
                && (id.is_empty()
                    || id.len() > 253
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
            {
                return Err(ServiceError::bad_input(
                    "passkeyRpId",
                    "must be a domain name",
                ));
            }
            row.passkey_rp_id = v;
        }
        if let Some(v) = u.passkey_origin {
            if let Some(o) = &v
                && !url::Url::parse(o).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
                })
            {
                return Err(ServiceError::bad_input(
                    "passkeyOrigin",
                    "must be an origin like https://app.example.com",
                ));
            }
            row.passkey_origin = v;
        }
        // A change of the passkey fields must give a relying party that can serve the origin
        // (its id is the origin's host or a parent domain of it), or every passkey ceremony
        // would fail. Other changes save whatever the passkey pair is: with an IP address as
        // PUBLIC_URL's host the default pair cannot work (passkeys are unavailable, and
        // `passkeysAvailable` says so), which must not lock every other setting.
        let s = self.settings_of(&row);
        if passkey_change
            && crate::mfa::passkeys::RelyingParty::new(
                &s.passkey_rp_id,
                &s.passkey_origin,
                &s.display_name,
            )
            .is_err()
        {
            return Err(ServiceError::bad_input(
                "passkeyRpId",
                "must be the passkey origin's host or a parent domain of it",
            ));
        }
        tenants::update(&self.platform, row.clone()).await?;
        tenant.replace_row(row.clone());
        let info = AuditInfo::by(&admin.user.id, client);
        self.audit(tenant, "settings_updated", info).await;
        // The settings live in the platform's database: the event follows the change rather
        // than sharing its transaction (schema/events/README.md says so). The settings are
        // public facts of the tenant (no secret among them).
        let data = serde_json::json!({ "settings": settings_event_data(&self.settings_of(&row)) });
        if let Err(e) = crate::store::events::emit_after(
            tenant.db(),
            crate::domain::events::EventKind::TenantSettingsUpdated,
            data,
            self.clock.now(),
        )
        .await
        {
            tracing::error!(tenant = %tenant.slug(), error = %e, "tenant.settings_updated not emitted");
        }
        Ok((row, self.settings(tenant)))
    }

    /// A new signing secret for the tenant's token hook, in the answer only; the previous one
    /// stops signing at once (the hook is the tenant's own service: it deploys the new one).
    pub async fn rotate_token_hook_secret(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        client: &ClientInfo,
    ) -> Result<String, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut row = (*tenant.row()).clone();
        let secret = crate::domain::webhook_signature::new_secret();
        row.token_hook_secret_sealed = Some(self.secrets.seal(
            &crate::infra::token_hook::secret_context(tenant.slug().as_str()),
            secret.as_bytes(),
        ));
        tenants::update(&self.platform, row.clone()).await?;
        tenant.replace_row(row);
        let info = AuditInfo::by(&admin.user.id, client);
        self.audit(tenant, "token_hook_secret_rotated", info).await;
        Ok(secret)
    }

    /// Starts signing with a new key; tokens signed by the previous key stay valid until they
    /// expire (the JWKS keeps serving it).
    pub async fn rotate_signing_key(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        emergency: bool,
        client: &ClientInfo,
    ) -> Result<String, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let now = self.clock.now();
        // A normal rotation publishes the key first and signs with it once every verifier's
        // cached JWKS has it; an emergency one (the key leaked) switches and revokes at once,
        // accepting that verifiers refetch.
        let activates =
            (!emergency).then(|| now + chrono::Duration::seconds(KEY_PUBLISH_AHEAD_SECONDS));
        // The tenant's own algorithm and, once it has one, its RSA key (id_tokens) rotate
        // together.
        let mut algs = vec![tenant.keys().algorithm()];
        if algs[0] != Algorithm::RS256 && tenant.keys().has_signer(Algorithm::RS256) {
            algs.push(Algorithm::RS256);
        }
        let keys: Vec<KeyRow> = algs
            .iter()
            .map(|alg| generate_key(*alg, tenant.slug().as_str(), &self.secrets, now, activates))
            .collect();
        let kid = tenant.rotate_keys(keys, emergency).await?;
        let detail = match activates {
            Some(at) => format!("kid {kid}, signs from {}", at.to_rfc3339()),
            None => format!("kid {kid}, emergency: signs now, earlier keys revoked"),
        };
        let info = AuditInfo::by(&admin.user.id, client).with_detail(detail);
        self.audit(tenant, "signing_key_rotated", info).await;
        Ok(kid)
    }

    /// The audit log, newest first, the events `filter` wants.
    pub async fn audit_events(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
        filter: AuditFilter,
    ) -> Result<Page<AuditRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        if filter.kind.as_ref().is_some_and(|k| k.len() > 64) {
            return Err(ServiceError::bad_input(
                "kind",
                "is longer than 64 characters",
            ));
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && until < since
        {
            return Err(ServiceError::bad_input("until", "is before since"));
        }
        let rows = audit::list(tenant.db(), limit + 1, after.as_deref(), &filter).await?;
        let total = audit::count(tenant.db(), &filter).await?;
        Ok(Page::of(rows, limit, total, |e| e.id.as_str()))
    }

    /// The tenant's signing keys, newest first: the ones that sign, the ones published ahead
    /// of signing, the retired ones that still verify, the revoked ones; and now (their status
    /// depends on it).
    pub async fn signing_keys(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<(Vec<KeyRow>, chrono::DateTime<chrono::Utc>), ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let keys = crate::store::keys::list(tenant.db()).await?;
        Ok((keys, self.clock.now()))
    }

    /// Revokes one session of any user (the sessions list's "revoke"); false when it was
    /// not live.
    pub async fn revoke_session(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if id.len() > 64 {
            return Ok(false);
        }
        let Some(session) = crate::store::sessions::get(tenant.db(), id).await? else {
            return Ok(false);
        };
        let revoked = tenant
            .revoke_session(id.to_string(), "revoked_by_admin", self.clock.now())
            .await?;
        if revoked {
            let info = AuditInfo::by(&admin.user.id, client)
                .on(&session.user)
                .with_detail(format!("session {id}"));
            self.audit(tenant, "session_revoked", info).await;
        }
        Ok(revoked)
    }
}

/// `tenant.settings_updated`'s data: the settings in force after the change.
fn settings_event_data(s: &Settings) -> serde_json::Value {
    serde_json::json!({
        "display_name": s.display_name,
        "access_token_minutes": s.access_token_ttl.as_secs() / 60,
        "refresh_token_days": s.refresh_token_ttl.as_secs() / 86_400,
        "password_min_length": s.password_min_length,
        "require_verified_email": s.require_verified_email,
        "cors_origins": s.cors_origins,
        "mfa_required": s.mfa_required,
    })
}
