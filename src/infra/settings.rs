//! A tenant's effective settings: its own values where set, the server's defaults otherwise.

use std::time::Duration;

use crate::config::Config;
use crate::domain::PASSWORD_MIN;
use crate::infra::mail::{DEFAULT_RESET_TEMPLATE, DEFAULT_VERIFY_TEMPLATE};
use crate::store::tenants::TenantRow;

/// Settings in force for one tenant.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Name shown in mail and discovery.
    pub display_name: String,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Sliding refresh token lifetime.
    pub refresh_token_ttl: Duration,
    /// Minimum password length.
    pub password_min_length: usize,
    /// Refuse login until the address is confirmed.
    pub require_verified_email: bool,
    /// Reset link template.
    pub reset_url_template: String,
    /// Verification link template.
    pub verify_url_template: String,
    /// Organization invitation link template; `None`: the tenant has not said where its app
    /// accepts invitations, so none can be sent.
    pub invitation_url_template: Option<String>,
    /// Browser origins allowed to call this tenant.
    pub cors_origins: Vec<String>,
    /// Every user must have a second factor.
    pub mfa_required: bool,
    /// Passkeys' relying party id (a domain).
    pub passkey_rp_id: String,
    /// The origin passkey ceremonies must come from.
    pub passkey_origin: String,
    /// The token hook: URL, time budget, whether a failure refuses the token.
    pub token_hook: Option<TokenHook>,
    /// A SCIM DELETE disables the account and keeps it (for audit) instead of deleting it.
    pub scim_deprovision_disables: bool,
}

/// A tenant's token hook, as in force.
#[derive(Clone, Debug)]
pub struct TokenHook {
    /// Where it is called.
    pub url: String,
    /// How long an answer may take.
    pub timeout: Duration,
    /// A failed hook refuses the token (`SERVICE_UNAVAILABLE`); otherwise the token is issued
    /// without extra claims.
    pub deny_on_failure: bool,
    /// Its signing secret, sealed (`None`: not made yet; calls then fail).
    pub secret_sealed: Option<String>,
}

/// The hook's time budget when the tenant sets none.
pub const TOKEN_HOOK_TIMEOUT_MS: i64 = 2000;

impl Settings {
    /// The settings a tenant record puts in force under the server's configuration.
    pub fn of(row: &TenantRow, c: &Config) -> Settings {
        // PUBLIC_URL was checked to be a URL when the configuration was read.
        let public = url::Url::parse(&c.public_url)
            .unwrap_or_else(|_| url::Url::parse("http://localhost").expect("a URL"));
        Settings {
            display_name: row.display_name.clone(),
            access_token_ttl: row.access_token_minutes.map_or(c.access_token_ttl, |m| {
                Duration::from_secs(m.max(1) as u64 * 60)
            }),
            refresh_token_ttl: row.refresh_token_days.map_or(c.refresh_token_ttl, |d| {
                Duration::from_secs(d.max(1) as u64 * 86_400)
            }),
            password_min_length: row
                .password_min_length
                .map_or(PASSWORD_MIN, |n| n.max(PASSWORD_MIN as i64) as usize),
            require_verified_email: row
                .require_verified_email
                .unwrap_or(c.require_verified_email),
            reset_url_template: row
                .reset_url_template
                .clone()
                .unwrap_or_else(|| DEFAULT_RESET_TEMPLATE.into()),
            verify_url_template: row
                .verify_url_template
                .clone()
                .unwrap_or_else(|| DEFAULT_VERIFY_TEMPLATE.into()),
            invitation_url_template: row.invitation_url_template.clone(),
            cors_origins: row
                .cors_origins
                .clone()
                .unwrap_or_else(|| c.cors_origins.clone()),
            mfa_required: row.mfa_policy.as_deref() == Some("required"),
            passkey_rp_id: row
                .passkey_rp_id
                .clone()
                .unwrap_or_else(|| public.host_str().unwrap_or("localhost").to_string()),
            passkey_origin: row
                .passkey_origin
                .clone()
                .unwrap_or_else(|| public.origin().ascii_serialization()),
            token_hook: row.token_hook_url.clone().map(|url| TokenHook {
                url,
                timeout: Duration::from_millis(
                    row.token_hook_timeout_ms
                        .unwrap_or(TOKEN_HOOK_TIMEOUT_MS)
                        .max(1) as u64,
                ),
                deny_on_failure: row.token_hook_failure.as_deref() != Some("allow_without_claims"),
                secret_sealed: row.token_hook_secret_sealed.clone(),
            }),
            scim_deprovision_disables: row.scim_deprovision.as_deref() == Some("disable"),
        }
    }
}
