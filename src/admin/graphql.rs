//! Tenant administration (role `admin` of this tenant).

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use crate::admin::service::{AdminService, CreateUser, SettingsUpdate};
use crate::domain::keys::KeyRow;
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::edge::types::User;
use crate::infra::settings::Settings;
use crate::mfa::passkeys::RelyingParty;
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::tenants::TenantRow;

/// Admin queries.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Users, oldest first; `search` matches the start of email or username.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<UserConnection> {
        let (s, req) = parts::<AdminService>(ctx);
        let page = s.list_users(
            &req.tenant,
            req.bearer.as_deref(),
            // An explicit null means the default page, as an omitted argument does.
            first.unwrap_or(20),
            after.as_deref(),
            search.as_deref(),
        );
        Ok(page.await.map_err(gql_err(req))?.into())
    }

    /// One user by id.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let (s, req) = parts::<AdminService>(ctx);
        let u = s
            .get_user(&req.tenant, req.bearer.as_deref(), &id)
            .await
            .map_err(gql_err(req))?;
        Ok(u.map(User::from))
    }

    /// The audit log, newest first: optionally only events done by or concerning one user,
    /// of one `kind`, at or after `since` and before `until`.
    #[allow(clippy::too_many_arguments)]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        user_id: Option<ID>,
        kind: Option<String>,
        since: Option<DateTime>,
        until: Option<DateTime>,
    ) -> Result<AuditEventConnection> {
        let (s, req) = parts::<AdminService>(ctx);
        let filter = AuditFilter {
            user: user_id.map(|i| i.0),
            kind: kind.filter(|k| !k.is_empty()),
            since: since.map(|d| d.0),
            until: until.map(|d| d.0),
        };
        let page = s.audit_events(
            &req.tenant,
            req.bearer.as_deref(),
            first.unwrap_or(50),
            after.as_deref(),
            filter,
        );
        Ok(page.await.map_err(gql_err(req))?.into())
    }

    /// The tenant's signing keys, newest first (public facts only: no key material).
    async fn signing_keys(&self, ctx: &Context<'_>) -> Result<Vec<SigningKey>> {
        let (s, req) = parts::<AdminService>(ctx);
        let (keys, now) = s
            .signing_keys(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?;
        Ok(keys.into_iter().map(|k| SigningKey::of(k, now)).collect())
    }

    /// The settings in force.
    async fn tenant_settings(&self, ctx: &Context<'_>) -> Result<TenantSettings> {
        let (s, req) = parts::<AdminService>(ctx);
        Ok(s.tenant_settings(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?
            .into())
    }
}

/// Admin mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an account (no session is started).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let (s, req) = parts::<AdminService>(ctx);
        let input = CreateUser {
            email: &input.email,
            username: &input.username,
            password: &input.password,
            roles: input.roles.unwrap_or_default(),
            email_verified: input.email_verified.unwrap_or(false),
        };
        let u = s
            .admin_create_user(&req.tenant, req.bearer.as_deref(), input, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Disables a user and revokes its sessions; login then answers ACCOUNT_DISABLED.
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        set_disabled(ctx, &id, true).await
    }

    /// Enables a disabled user.
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        set_disabled(ctx, &id, false).await
    }

    /// Deletes a user with its sessions and tokens.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<AdminService>(ctx);
        s.admin_delete_user(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Replaces a user's roles.
    async fn set_user_roles(&self, ctx: &Context<'_>, id: ID, roles: Vec<String>) -> Result<User> {
        let (s, req) = parts::<AdminService>(ctx);
        let u = s
            .set_user_roles(&req.tenant, req.bearer.as_deref(), &id, &roles, &req.client)
            .await;
        Ok(u.map_err(gql_err(req))?.into())
    }

    /// Revokes every session of a user; returns how many were active.
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> Result<i32> {
        let (s, req) = parts::<AdminService>(ctx);
        let n = s
            .revoke_user_sessions(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(n as i32)
    }

    /// A new signing secret for the token hook (Standard Webhooks `whsec_...`), shown this
    /// once; calls are signed with it from now on.
    async fn rotate_token_hook_secret(&self, ctx: &Context<'_>) -> Result<String> {
        let (s, req) = parts::<AdminService>(ctx);
        s.rotate_token_hook_secret(&req.tenant, req.bearer.as_deref(), &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Revokes one session (of any user of the tenant); false when it was not live.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<AdminService>(ctx);
        s.revoke_session(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Changes tenant settings; a field set to null returns to the server default.
    async fn update_tenant_settings(
        &self,
        ctx: &Context<'_>,
        input: TenantSettingsInput,
    ) -> Result<TenantSettings> {
        let (s, req) = parts::<AdminService>(ctx);
        let r = s
            .update_tenant_settings(
                &req.tenant,
                req.bearer.as_deref(),
                input.into(),
                &req.client,
            )
            .await;
        Ok(r.map_err(gql_err(req))?.into())
    }

    /// Rotates the signing key; returns the new kid. The new key is published in the JWKS at
    /// once and signs after the JWKS cache time (6 minutes), so verifiers holding a cached
    /// JWKS never meet an unknown key; earlier keys keep verifying their tokens until they
    /// expire. `emergency: true` (a leaked key) signs with the new key at once and revokes the
    /// earlier ones: their tokens stop verifying immediately.
    async fn rotate_signing_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] emergency: bool,
    ) -> Result<String> {
        let (s, req) = parts::<AdminService>(ctx);
        s.rotate_signing_key(&req.tenant, req.bearer.as_deref(), emergency, &req.client)
            .await
            .map_err(gql_err(req))
    }
}

/// `disableUser` and `enableUser`: one operation, either way.
async fn set_disabled(ctx: &Context<'_>, id: &str, disabled: bool) -> Result<User> {
    let (s, req) = parts::<AdminService>(ctx);
    let u = s.set_user_disabled(
        &req.tenant,
        req.bearer.as_deref(),
        id,
        disabled,
        &req.client,
    );
    Ok(u.await.map_err(gql_err(req))?.into())
}

crate::relay_connection!(
    UserConnection,
    UserEdge,
    User,
    "A page of users.",
    "The users.",
    "Users matching, on all pages.",
    "A user in a list.",
    "The user."
);

/// A security or admin event.
#[derive(SimpleObject)]
pub struct AuditEvent {
    /// Event id.
    pub id: ID,
    /// When.
    pub at: DateTime,
    /// What (`login_failure`, `user_disabled`, `signing_key_rotated`, ...).
    pub kind: String,
    /// Who acted (user id).
    pub actor_id: Option<ID>,
    /// Whom it concerns (user id).
    pub user_id: Option<ID>,
    /// Client address.
    pub ip: Option<String>,
    /// Detail.
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(e: AuditRow) -> Self {
        Self {
            id: ID(e.id),
            at: e.at.into(),
            kind: e.kind,
            actor_id: e.actor.map(ID),
            user_id: e.subject.map(ID),
            ip: e.ip,
            detail: e.detail,
        }
    }
}

crate::relay_connection!(
    AuditEventConnection,
    AuditEventEdge,
    AuditEvent,
    "A page of events.",
    "The events.",
    "Events matching, on all pages.",
    "An event in a list.",
    "The event."
);

/// Where a signing key is in its life.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum SigningKeyStatus {
    /// Published in the JWKS, signing from `activatesAt` (a normal rotation's waiting time).
    Published,
    /// Signs new tokens.
    Signing,
    /// No longer signs; verifies the tokens it signed until they expire.
    Retired,
    /// Revoked by an emergency rotation: neither signs nor verifies.
    Revoked,
}

/// A signing key's public facts (its material never leaves the server).
#[derive(SimpleObject)]
pub struct SigningKey {
    /// The JWT `kid`.
    pub kid: String,
    /// JOSE algorithm (`RS256`, `ES256`, `EdDSA`, `HS256`).
    pub algorithm: String,
    /// Where it is in its life.
    pub status: SigningKeyStatus,
    /// Creation time.
    pub created_at: DateTime,
    /// When it starts (or started) signing.
    pub activates_at: DateTime,
    /// When it stopped signing.
    pub retired_at: Option<DateTime>,
    /// When an emergency rotation revoked it.
    pub revoked_at: Option<DateTime>,
}

impl SigningKey {
    fn of(k: KeyRow, now: chrono::DateTime<chrono::Utc>) -> Self {
        let activates = k.activates_at.unwrap_or(k.created_at);
        let status = if k.revoked_at.is_some() {
            SigningKeyStatus::Revoked
        } else if k.retired_at.is_some_and(|r| r <= now) {
            SigningKeyStatus::Retired
        } else if activates > now {
            SigningKeyStatus::Published
        } else {
            SigningKeyStatus::Signing
        };
        Self {
            kid: k.kid,
            algorithm: k.alg,
            status,
            created_at: k.created_at.into(),
            activates_at: activates.into(),
            retired_at: k.retired_at.map(Into::into),
            revoked_at: k.revoked_at.map(Into::into),
        }
    }
}

/// An account created by an admin.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Email address.
    pub email: String,
    /// Username.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Roles (e.g. `admin`).
    pub roles: Option<Vec<String>>,
    /// Treat the address as confirmed (no verification mail).
    pub email_verified: Option<bool>,
}

/// The settings in force for the tenant.
#[derive(SimpleObject)]
pub struct TenantSettings {
    /// Name in mail and discovery.
    pub display_name: String,
    /// Access token lifetime (minutes).
    pub access_token_minutes: i64,
    /// Refresh token lifetime (days).
    pub refresh_token_days: i64,
    /// Minimum password length.
    pub password_min_length: i64,
    /// Login waits for a confirmed address.
    pub require_verified_email: bool,
    /// Reset link template.
    pub reset_url_template: String,
    /// Verification link template.
    pub verify_url_template: String,
    /// Organization invitation link template: the app page that signs the invitee in and
    /// calls `acceptInvitation(token:)`. Null: invitations cannot be sent until it is set.
    pub invitation_url_template: Option<String>,
    /// Browser origins allowed.
    pub cors_origins: Vec<String>,
    /// Whether every user must have a second factor.
    pub mfa: MfaPolicy,
    /// Passkeys' relying party id (default: PUBLIC_URL's host).
    pub passkey_rp_id: String,
    /// The origin passkey ceremonies come from (default: PUBLIC_URL's origin).
    pub passkey_origin: String,
    /// Whether passkeys can be used: false while `passkeyRpId` cannot serve `passkeyOrigin`
    /// (e.g. an IP address as `PUBLIC_URL`'s host: WebAuthn needs a domain name).
    pub passkeys_available: bool,
    /// The token hook's URL; null: no hook.
    pub token_hook_url: Option<String>,
    /// The hook's time budget in milliseconds.
    pub token_hook_timeout_ms: i64,
    /// What a failed hook does to the token.
    pub token_hook_failure: TokenHookFailure,
    /// What a SCIM DELETE does to the account.
    pub scim_deprovision: ScimDeprovision,
}

/// What deprovisioning a user over SCIM (DELETE /Users/{id}) does to the account.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum ScimDeprovision {
    /// The account, its sessions and memberships are deleted (the default).
    Delete,
    /// The account is disabled (every session revoked) and kept, for audit; an admin may
    /// delete it later.
    Disable,
}

/// What a token hook that fails (no answer in time, an error, a refused answer) does.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum TokenHookFailure {
    /// The sign-in or refresh fails with SERVICE_UNAVAILABLE.
    Deny,
    /// The token is issued without the hook's claims.
    AllowWithoutClaims,
}

/// A tenant's multi-factor policy.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum MfaPolicy {
    /// Users may add a second factor.
    Optional,
    /// Every user must enrol one before signing in.
    Required,
}

impl From<(TenantRow, Settings)> for TenantSettings {
    fn from((_, s): (TenantRow, Settings)) -> Self {
        let passkeys_available =
            RelyingParty::new(&s.passkey_rp_id, &s.passkey_origin, &s.display_name).is_ok();
        Self {
            display_name: s.display_name,
            access_token_minutes: (s.access_token_ttl.as_secs() / 60) as i64,
            refresh_token_days: (s.refresh_token_ttl.as_secs() / 86_400) as i64,
            password_min_length: s.password_min_length as i64,
            require_verified_email: s.require_verified_email,
            reset_url_template: s.reset_url_template,
            verify_url_template: s.verify_url_template,
            invitation_url_template: s.invitation_url_template,
            cors_origins: s.cors_origins,
            mfa: if s.mfa_required {
                MfaPolicy::Required
            } else {
                MfaPolicy::Optional
            },
            passkey_rp_id: s.passkey_rp_id,
            passkey_origin: s.passkey_origin,
            passkeys_available,
            token_hook_url: s.token_hook.as_ref().map(|h| h.url.clone()),
            token_hook_timeout_ms: s
                .token_hook
                .as_ref()
                .map_or(crate::infra::settings::TOKEN_HOOK_TIMEOUT_MS, |h| {
                    h.timeout.as_millis() as i64
                }),
            token_hook_failure: if s.token_hook.as_ref().is_none_or(|h| h.deny_on_failure) {
                TokenHookFailure::Deny
            } else {
                TokenHookFailure::AllowWithoutClaims
            },
            scim_deprovision: if s.scim_deprovision_disables {
                ScimDeprovision::Disable
            } else {
                ScimDeprovision::Delete
            },
        }
    }
}

/// Changes to tenant settings: omitted fields stay; `null` returns a field to the server default.
#[derive(InputObject)]
pub struct TenantSettingsInput {
    /// Display name.
    pub display_name: Option<String>,
    /// Access token lifetime (minutes, 1..1440).
    pub access_token_minutes: MaybeUndefined<i64>,
    /// Refresh token lifetime (days, 1..365).
    pub refresh_token_days: MaybeUndefined<i64>,
    /// Minimum password length (8..64; NIST SP 800-63B-4 asks 15 where the password is the only factor).
    pub password_min_length: MaybeUndefined<i64>,
    /// Require a confirmed address before login.
    pub require_verified_email: MaybeUndefined<bool>,
    /// Reset link template with `{token}` (and `{tenant}`, `{public_url}`).
    pub reset_url_template: MaybeUndefined<String>,
    /// Verification link template.
    pub verify_url_template: MaybeUndefined<String>,
    /// Organization invitation link template with `{token}` (and `{tenant}`, `{public_url}`):
    /// your app's page that signs the invitee in (or up) and calls `acceptInvitation`.
    pub invitation_url_template: MaybeUndefined<String>,
    /// Allowed browser origins.
    pub cors_origins: MaybeUndefined<Vec<String>>,
    /// Multi-factor policy.
    pub mfa: MaybeUndefined<MfaPolicy>,
    /// Passkeys' relying party id (a domain: the origin's host or a parent of it).
    pub passkey_rp_id: MaybeUndefined<String>,
    /// The origin passkey ceremonies come from.
    pub passkey_origin: MaybeUndefined<String>,
    /// The token hook's URL, called before each access token and id_token is signed (null: no
    /// hook). HTTPS at a public address unless OUTBOUND_ALLOW_PRIVATE_NETWORKS.
    pub token_hook_url: MaybeUndefined<String>,
    /// The hook's time budget in milliseconds (100..10000; default 2000).
    pub token_hook_timeout_ms: MaybeUndefined<i64>,
    /// What a failed hook does to the token (default DENY).
    pub token_hook_failure: MaybeUndefined<TokenHookFailure>,
    /// What a SCIM DELETE does to the account (default DELETE).
    pub scim_deprovision: MaybeUndefined<ScimDeprovision>,
}

impl From<TenantSettingsInput> for SettingsUpdate {
    fn from(i: TenantSettingsInput) -> Self {
        Self {
            display_name: i.display_name,
            access_token_minutes: change(i.access_token_minutes),
            refresh_token_days: change(i.refresh_token_days),
            password_min_length: change(i.password_min_length),
            require_verified_email: change(i.require_verified_email),
            reset_url_template: change(i.reset_url_template),
            verify_url_template: change(i.verify_url_template),
            invitation_url_template: change(i.invitation_url_template),
            cors_origins: change(i.cors_origins),
            mfa_required: change(i.mfa).map(|m| m.map(|p| p == MfaPolicy::Required)),
            passkey_rp_id: change(i.passkey_rp_id),
            passkey_origin: change(i.passkey_origin),
            token_hook_url: change(i.token_hook_url),
            token_hook_timeout_ms: change(i.token_hook_timeout_ms),
            token_hook_deny: change(i.token_hook_failure)
                .map(|f| f.map(|f| f == TokenHookFailure::Deny)),
            scim_deprovision_disables: change(i.scim_deprovision)
                .map(|d| d.map(|d| d == ScimDeprovision::Disable)),
        }
    }
}

fn change<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(x) => Some(Some(x)),
    }
}
