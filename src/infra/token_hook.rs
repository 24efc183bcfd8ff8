//! The token hook (issue 25): before an access token or id_token is signed, a tenant that set
//! `tokenHookUrl` is asked for extra claims — `plan: "pro"`, a customer id — so its apps need no
//! lookup per request (Supabase's custom access token hook, ZITADEL's Actions).
//!
//! The call: a POST through the outbound guard (HTTPS at a public address unless
//! `OUTBOUND_ALLOW_PRIVATE_NETWORKS`; no redirect followed), signed like webhook deliveries
//! (Standard Webhooks headers, the tenant's hook secret), body `{type: "token.issuing",
//! timestamp, data: {grant, user, session_id, client_id, claims}}` where `claims` are the ones
//! about to be signed. The answer `{"claims": {...}}` (4 KiB at most) is merged in; a reserved
//! claim in it ([`RESERVED`]: who, for whom, until when, how authenticated, with which roles)
//! makes it a failed call, logged. A failure (no answer within the tenant's budget, a non-2xx,
//! malformed or refused answer) refuses the token (`DENY`, the default: the claims may grant
//! something, and a token without them would be a different token) or, with
//! `ALLOW_WITHOUT_CLAIMS`, issues it without extra claims. It runs in the request's task, never
//! in a tenant actor's mailbox.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::Infra;
use crate::actors::Tenant;
use crate::domain::webhook_signature;
use crate::error::ServiceError;
use crate::store::users::UserRow;

/// Claims the hook may not set: the token's identity, audience, lifetime, session,
/// authentication and authorization facts are latchkey's.
pub const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "tid",
    "tenant",
    "sid",
    "amr",
    "acr",
    "scope",
    "client_id",
    "roles",
    "idp",
    "org_id",
    "org_roles",
    "azp",
    "nonce",
    "at_hash",
    "auth_time",
];
/// The largest set of extra claims accepted, serialized.
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// What the hook is told about the token.
pub struct HookInput<'a> {
    /// `login`, `refresh`, `authorization_code`, `client_credentials`, ...
    pub grant: &'a str,
    /// The user (none for a machine token).
    pub user: Option<&'a UserRow>,
    /// The session.
    pub session_id: Option<&'a str>,
    /// The OAuth client.
    pub client_id: Option<&'a str>,
    /// The claims about to be signed.
    pub claims: Value,
}

/// The hook's figures for `/metrics`: calls, failures, and their summed latency.
pub struct HookMetrics {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that failed (timeout, error, refused answer).
    pub failures: AtomicU64,
    /// Summed latency, microseconds.
    pub micros: AtomicU64,
}

/// The process's hook figures.
pub static METRICS: HookMetrics = HookMetrics {
    calls: AtomicU64::new(0),
    failures: AtomicU64::new(0),
    micros: AtomicU64::new(0),
};

/// The sealing context of a tenant's hook secret.
pub fn secret_context(tenant: &str) -> String {
    format!("token-hook:{tenant}")
}

impl Infra {
    /// The extra claims of `tenant`'s hook for a token about to be signed: none without a hook,
    /// or after a failure under `ALLOW_WITHOUT_CLAIMS`; `SERVICE_UNAVAILABLE` after a failure
    /// under `DENY`.
    pub async fn token_hook_claims(
        &self,
        tenant: &Tenant,
        input: HookInput<'_>,
    ) -> Result<Map<String, Value>, ServiceError> {
        let Some(hook) = self.settings(tenant).token_hook else {
            return Ok(Map::new());
        };
        let started = Instant::now();
        let result = self.call_hook(tenant, &hook, input).await;
        METRICS.calls.fetch_add(1, Ordering::Relaxed);
        METRICS
            .micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok(claims) => Ok(claims),
            Err(why) => {
                METRICS.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(tenant = %tenant.slug(), reason = %why, deny = hook.deny_on_failure, "token hook failed");
                if hook.deny_on_failure {
                    Err(ServiceError::Unavailable(format!("token hook: {why}")))
                } else {
                    Ok(Map::new())
                }
            }
        }
    }

    async fn call_hook(
        &self,
        tenant: &Tenant,
        hook: &super::settings::TokenHook,
        input: HookInput<'_>,
    ) -> Result<Map<String, Value>, String> {
        let slug = tenant.slug().as_str();
        let secret = hook
            .secret_sealed
            .as_deref()
            .and_then(|s| self.secrets.open(&secret_context(slug), s))
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or("the hook has no signing secret (rotateTokenHookSecret makes one)")?;
        let now = self.clock.now();
        let user = input.user.map(|u| {
            json!({"id": u.id, "email": u.email, "username": u.username,
                   "email_verified": u.email_verified, "roles": u.roles})
        });
        let body = serde_json::to_vec(&json!({
            "type": "token.issuing",
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": {
                "tenant": slug,
                "grant": input.grant,
                "user": user,
                "session_id": input.session_id,
                "client_id": input.client_id,
                "claims": input.claims,
            },
        }))
        .map_err(|e| e.to_string())?;
        let id = format!("msg_{}", uuid::Uuid::now_v7());
        let signature = webhook_signature::header(&[&secret], &id, now.timestamp(), &body)
            .map_err(|e| e.to_string())?;
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", now.timestamp().to_string()),
            ("webhook-signature", signature),
        ];
        let (status, answer) = self
            .outbound
            .post_hook(&hook.url, &headers, body, hook.timeout)
            .await
            .map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!("the hook answered {status}"));
        }
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|_| "the hook's answer is not JSON".to_string())?;
        let claims = match answer.get("claims") {
            None | Some(Value::Null) => return Ok(Map::new()),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("the hook's `claims` is not an object".into()),
        };
        if let Some(k) = claims.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return Err(format!("the hook may not set the reserved claim `{k}`"));
        }
        let size = serde_json::to_vec(&claims)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_CLAIMS_BYTES {
            return Err(format!(
                "the hook's claims are {size} bytes (at most {MAX_CLAIMS_BYTES})"
            ));
        }
        Ok(claims)
    }
}
