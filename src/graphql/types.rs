//! GraphQL object and input types (names fixed by API.md).

use super::scalars::DateTime;
use async_graphql::{ID, InputObject, MaybeUndefined, SimpleObject};

use crate::service::admin::{Page, SettingsUpdate};
use crate::service::auth::AuthTokens;
use crate::service::settings::Settings;
use crate::store::audit::AuditRow;
use crate::store::tenants::TenantRow;
use crate::store::users::UserRow;

/// An account of the tenant.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    /// Stable id.
    pub id: ID,
    /// Email address.
    pub email: String,
    /// Username.
    pub username: String,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Disabled by an admin.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime,
    /// Last successful login.
    pub last_login_at: Option<DateTime>,
}

#[async_graphql::ComplexObject]
impl User {
    /// Second factors (visible to the user and to tenant admins).
    async fn mfa(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<crate::mfa::graphql::MfaStatus> {
        crate::mfa::graphql::user_mfa(ctx, &self.id).await
    }
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: ID(u.id),
            email: u.email,
            username: u.username,
            email_verified: u.email_verified,
            roles: u.roles,
            disabled: u.disabled,
            created_at: u.created_at.into(),
            last_login_at: u.last_login_at.map(Into::into),
        }
    }
}

/// Tokens and the signed-in user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token for `refresh`; single use.
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    pub user: User,
}

impl From<AuthTokens> for AuthPayload {
    fn from(t: AuthTokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

/// The outcome of `signUp`.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    /// The new account.
    pub user: User,
    /// True while the address must be confirmed before signing in (then `session` is null).
    pub verification_required: bool,
    /// The signed-in session, unless verification is required first.
    pub session: Option<AuthPayload>,
}

impl From<crate::service::auth::SignedUp> for SignUpPayload {
    fn from(s: crate::service::auth::SignedUp) -> Self {
        Self {
            verification_required: s.tokens.is_none(),
            session: s.tokens.map(AuthPayload::from),
            user: s.user.into(),
        }
    }
}

/// Sign-up data.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address.
    pub email: String,
    /// Username: 3..32 of [A-Za-z0-9_.-].
    pub username: String,
    /// Password: 8..128 characters.
    pub password: String,
}

/// Sign-in data.
#[derive(InputObject)]
pub struct LoginInput {
    /// Email or username.
    pub identifier: String,
    /// Password.
    pub password: String,
}

/// Relay page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow.
    pub has_next_page: bool,
    /// Cursor of the last item, to pass as `after`.
    pub end_cursor: Option<String>,
}

/// A user in a list.
#[derive(SimpleObject)]
pub struct UserEdge {
    /// Opaque cursor.
    pub cursor: String,
    /// The user.
    pub node: User,
}

/// A page of users.
#[derive(SimpleObject)]
pub struct UserConnection {
    /// The users.
    pub edges: Vec<UserEdge>,
    /// Paging.
    pub page_info: PageInfo,
    /// Users matching, on all pages.
    pub total_count: i64,
}

impl From<Page<UserRow>> for UserConnection {
    fn from(p: Page<UserRow>) -> Self {
        let end_cursor = p.items.last().map(|(c, _)| c.clone());
        Self {
            edges: p
                .items
                .into_iter()
                .map(|(cursor, u)| UserEdge {
                    cursor,
                    node: u.into(),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: p.has_next,
                end_cursor,
            },
            total_count: p.total as i64,
        }
    }
}

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

/// An event in a list.
#[derive(SimpleObject)]
pub struct AuditEventEdge {
    /// Opaque cursor.
    pub cursor: String,
    /// The event.
    pub node: AuditEvent,
}

/// A page of events.
#[derive(SimpleObject)]
pub struct AuditEventConnection {
    /// The events.
    pub edges: Vec<AuditEventEdge>,
    /// Paging.
    pub page_info: PageInfo,
    /// Events matching, on all pages.
    pub total_count: i64,
}

impl From<Page<AuditRow>> for AuditEventConnection {
    fn from(p: Page<AuditRow>) -> Self {
        let end_cursor = p.items.last().map(|(c, _)| c.clone());
        let edges = p
            .items
            .into_iter()
            .map(|(cursor, e)| AuditEventEdge {
                cursor,
                node: AuditEvent {
                    id: ID(e.id),
                    at: e.at.into(),
                    kind: e.kind,
                    actor_id: e.actor.map(ID),
                    user_id: e.subject.map(ID),
                    ip: e.ip,
                    detail: e.detail,
                },
            })
            .collect();
        Self {
            edges,
            page_info: PageInfo {
                has_next_page: p.has_next,
                end_cursor,
            },
            total_count: p.total as i64,
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
    /// Browser origins allowed.
    pub cors_origins: Vec<String>,
    /// Whether every user must have a second factor.
    pub mfa: MfaPolicy,
    /// Passkeys' relying party id (default: PUBLIC_URL's host).
    pub passkey_rp_id: String,
    /// The origin passkey ceremonies come from (default: PUBLIC_URL's origin).
    pub passkey_origin: String,
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
        Self {
            display_name: s.display_name,
            access_token_minutes: (s.access_token_ttl.as_secs() / 60) as i64,
            refresh_token_days: (s.refresh_token_ttl.as_secs() / 86_400) as i64,
            password_min_length: s.password_min_length as i64,
            require_verified_email: s.require_verified_email,
            reset_url_template: s.reset_url_template,
            verify_url_template: s.verify_url_template,
            cors_origins: s.cors_origins,
            mfa: if s.mfa_required {
                MfaPolicy::Required
            } else {
                MfaPolicy::Optional
            },
            passkey_rp_id: s.passkey_rp_id,
            passkey_origin: s.passkey_origin,
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
    /// Allowed browser origins.
    pub cors_origins: MaybeUndefined<Vec<String>>,
    /// Multi-factor policy.
    pub mfa: MaybeUndefined<MfaPolicy>,
    /// Passkeys' relying party id (a domain: the origin's host or a parent of it).
    pub passkey_rp_id: MaybeUndefined<String>,
    /// The origin passkey ceremonies come from.
    pub passkey_origin: MaybeUndefined<String>,
}

fn change<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(x) => Some(Some(x)),
    }
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
            cors_origins: change(i.cors_origins),
            mfa_required: change(i.mfa).map(|m| m.map(|p| p == MfaPolicy::Required)),
            passkey_rp_id: change(i.passkey_rp_id),
            passkey_origin: change(i.passkey_origin),
        }
    }
}
