//! The token endpoint's grants (RFC 6749 §4.1.3, §6, §4.4) and their errors (§5.2): codes
//! exchanged once with PKCE, refresh tokens rotated with reuse detection, machine tokens for
//! confidential clients; id_tokens (OpenID Connect Core §2) beside the access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Utc;
use serde_json::{Value, json};

use super::store::{self as oidc_store, ClientRow, CodeRow};
use crate::actors::Tenant;
use crate::domain::Algorithm;
use crate::domain::claims::{AccessClaims, AuthMethod};
use crate::error::ServiceError;
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::OAuthGrant;
use crate::sessions::service::SessionService;
use crate::store::StoreError;
use crate::store::users::UserRow;
use std::sync::Arc;

/// An error of the OAuth endpoints, answered as RFC 6749 §5.2 JSON.
#[derive(Debug)]
pub struct OAuthError {
    /// The `error` code.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
    /// HTTP status (400, or 401 for `invalid_client`, 503 when the store is down).
    pub status: u16,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status: 400,
        }
    }
    /// `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    /// `invalid_client` (401).
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self {
            status: 401,
            ..Self::new("invalid_client", d)
        }
    }
    /// `invalid_grant`.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    /// `unauthorized_client`.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", d)
    }
    /// `invalid_scope`.
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", d)
    }
    /// `unsupported_grant_type`.
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", d)
    }
    /// A store failure: 503 `temporarily_unavailable`; anything else 500 `server_error`.
    pub fn from_store(e: StoreError) -> Self {
        Self::from_service(e.into())
    }
    /// Maps a service error met inside a grant.
    pub fn from_service(e: ServiceError) -> Self {
        match e {
            ServiceError::Unavailable(d) => {
                tracing::error!(detail = %d, "token endpoint: store unavailable");
                Self {
                    status: 503,
                    ..Self::new("temporarily_unavailable", "retry later")
                }
            }
            ServiceError::InvalidToken
            | ServiceError::AccountDisabled
            | ServiceError::AccountNotVerified => {
                Self::invalid_grant("the grant is invalid, expired or revoked")
            }
            ServiceError::TenantNotFound => Self {
                status: 404,
                ..Self::invalid_request("unknown tenant")
            },
            ServiceError::RateLimited { retry_after } => Self {
                status: 429,
                ..Self::invalid_request(format!("too many attempts; retry in {retry_after} s"))
            },
            ServiceError::BadInput { field, message } => {
                Self::invalid_request(format!("{field} {message}"))
            }
            other => {
                tracing::error!(error = %other, "token endpoint failed");
                Self {
                    status: 500,
                    ..Self::new("server_error", "internal error")
                }
            }
        }
    }
}

/// A token response (RFC 6749 §5.1) as JSON.
pub fn token_response(
    access: &str,
    expires_in: i64,
    refresh: Option<&str>,
    id_token: Option<&str>,
    scope: &[String],
) -> Value {
    let mut v = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope.join(" "),
    });
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    if let Some(i) = id_token {
        v["id_token"] = json!(i);
    }
    v
}

/// PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) == challenge, in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    // RFC 7636 §4.1: 43..128 characters of the unreserved set.
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = B64.encode(digest.as_ref());
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .is_ok()
}

/// The left half of the access token's hash (OpenID Connect Core §3.1.3.6), with the hash of
/// the id_token's algorithm: SHA-256 for RS256/ES256, SHA-512 for EdDSA (Ed25519).
fn at_hash(access: &str, alg: Algorithm) -> String {
    let algorithm = match alg {
        Algorithm::EdDSA => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    let d = aws_lc_rs::digest::digest(algorithm, access.as_bytes());
    let bytes = d.as_ref();
    B64.encode(&bytes[..bytes.len() / 2])
}

/// What goes into an id_token beyond the fixed claims.
pub struct IdTokenInput<'a> {
    /// The user.
    pub user: &'a UserRow,
    /// The client (audience).
    pub client: &'a ClientRow,
    /// Granted scopes.
    pub scope: &'a [String],
    /// From the authorization request.
    pub nonce: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: chrono::DateTime<Utc>,
    /// How.
    pub amr: &'a [String],
    /// The browser session's public id.
    pub sid: &'a str,
    /// The access token issued with it.
    pub access_token: &'a str,
}

/// Who asks the token endpoint for a grant: the tenant, the client it authenticated, and
/// where the request came from (the three every grant is given).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The authenticated client.
    pub client: &'a ClientRow,
    /// The caller's address and agent.
    pub info: &'a ClientInfo,
}

/// `unauthorized_client`: the client may not use `grant`.
fn may_not_use(grant: &str) -> OAuthError {
    OAuthError::unauthorized_client(format!("this client may not use {grant}"))
}

/// The token endpoint's grants and the id_token.
#[derive(Clone)]
pub struct TokenEndpoint {
    infra: Arc<Infra>,
    sessions: SessionService,
}

crate::infra::built_on!(TokenEndpoint);

impl TokenEndpoint {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService) -> Self {
        Self { infra, sessions }
    }

    /// The standard claims a scope unlocks (OpenID Connect Core §5.4), for id_tokens and
    /// userinfo.
    pub fn scoped_claims(
        &self,
        user: &UserRow,
        scope: &[String],
    ) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("sub".into(), json!(user.id));
        if scope.iter().any(|s| s == "email") {
            m.insert("email".into(), json!(user.email));
            m.insert("email_verified".into(), json!(user.email_verified));
        }
        if scope.iter().any(|s| s == "profile") {
            m.insert("preferred_username".into(), json!(user.username));
            m.insert("name".into(), json!(user.username));
        }
        m
    }

    /// What the `organization` scope unlocks, for id_tokens and userinfo: `organizations`,
    /// the ids of the user's organizations, and for a session scoped to one (`access`, the
    /// access token's claims) its `org_id` and `org_roles`.
    pub async fn org_claims(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        scope: &[String],
        access: Option<&AccessClaims>,
    ) -> Result<serde_json::Map<String, Value>, ServiceError> {
        let mut m = serde_json::Map::new();
        if !scope.iter().any(|s| s == "organization") {
            return Ok(m);
        }
        let orgs: Vec<String> = crate::organizations::store::memberships_of(tenant.db(), &user.id)
            .await?
            .into_iter()
            .map(|r| r.org)
            .collect();
        m.insert("organizations".into(), json!(orgs));
        if let Some(c) = access
            && let Some(org) = &c.org_id
        {
            m.insert("org_id".into(), json!(org));
            m.insert(
                "org_roles".into(),
                json!(c.org_roles.clone().unwrap_or_default()),
            );
        }
        Ok(m)
    }

    /// Signs an id_token for `input` with the client's algorithm.
    pub async fn id_token(
        &self,
        tenant: &Tenant,
        input: IdTokenInput<'_>,
    ) -> Result<String, ServiceError> {
        let alg = Algorithm::parse(&input.client.id_token_alg).unwrap_or(Algorithm::RS256);
        let keys = tenant.ensure_key(alg).await?;
        let now = self.clock.now();
        let ttl = self.settings(tenant).access_token_ttl.as_secs() as i64;
        let mut claims = self.scoped_claims(input.user, input.scope);
        let issuer = self.issuer(tenant.slug());
        let method = AuthMethod::from_amr(input.amr);
        for (k, v) in [
            ("iss", json!(issuer)),
            ("aud", json!(input.client.id)),
            ("azp", json!(input.client.id)),
            ("exp", json!(now.timestamp() + ttl)),
            ("iat", json!(now.timestamp())),
            ("auth_time", json!(input.auth_time.timestamp())),
            ("amr", json!(input.amr)),
            ("acr", json!(method.acr())),
            ("sid", json!(input.sid)),
            ("at_hash", json!(at_hash(input.access_token, alg))),
        ] {
            claims.insert(k.into(), v);
        }
        let access = claims_of(input.access_token);
        for (k, v) in self
            .org_claims(tenant, input.user, input.scope, access.as_ref())
            .await?
        {
            claims.insert(k, v);
        }
        // The token hook's claims, as the access token issued with this id_token carries them
        // (one hook call per exchange); the id_token's own claims win.
        for (k, v) in access.map(|c| c.extra).unwrap_or_default() {
            claims.entry(k).or_insert(v);
        }
        if let Some(n) = input.nonce {
            claims.insert("nonce".into(), json!(n));
        }
        Ok(keys.sign_with(alg, &Value::Object(claims), now)?)
    }

    /// `grant_type=authorization_code`: the code once, from the client it was issued to, with
    /// the same redirect URI and the PKCE verifier. A code presented a second time revokes
    /// the tokens its first exchange issued (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        by: Caller<'_>,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let (tenant, client, info) = (by.tenant, by.client, by.info);
        if !client.allows("authorization_code") {
            return Err(may_not_use("authorization_code"));
        }
        if code.is_empty() || code.len() > 512 {
            return Err(OAuthError::invalid_grant("unknown or expired code"));
        }
        let hash = self.secrets.hash_token(code);
        let db = tenant.db();
        let row: CodeRow = oidc_store::code(db, &hash)
            .await
            .map_err(OAuthError::from_store)?
            .ok_or_else(|| OAuthError::invalid_grant("unknown or expired code"))?;
        let now = self.clock.now();
        if row.used_at.is_some() {
            // Replayed: someone else may hold the tokens of the first exchange.
            if let Some(sid) = &row.session {
                let _ = tenant.revoke_session(sid.clone(), "code_reuse", now).await;
            }
            self.audit(
                tenant,
                "authorization_code_reuse",
                crate::infra::audit::AuditInfo {
                    subject: Some(&row.user),
                    client: Some(info),
                    detail: Some(format!("client {}", row.client_id)),
                    ..Default::default()
                },
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "this code was used already; its tokens are revoked",
            ));
        }
        if row.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if row.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code expired"));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&row.code_challenge, verifier) {
            (Some(challenge), Some(v)) if pkce_matches(v, challenge) => {}
            (Some(_), _) => {
                return Err(OAuthError::invalid_grant(
                    "the PKCE code_verifier does not match",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "no code_challenge was sent for this code",
                ));
            }
            (None, None) => {}
        }
        if !oidc_store::spend_code(db, &hash, now)
            .await
            .map_err(OAuthError::from_store)?
        {
            return Err(OAuthError::invalid_grant("this code was used already"));
        }
        let user = tenant
            .user(&row.user)
            .await
            .map_err(OAuthError::from_store)?
            .filter(|u| !u.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("the account is gone or disabled"))?;
        let method = AuthMethod::from_amr(&row.amr);
        // Checked again at the exchange: the membership may have ended since the code.
        let org = match &row.org {
            Some(org) => {
                let scope = self
                    .sessions
                    .org_scope(tenant, org, &user.id)
                    .await
                    .map_err(|e| match e {
                        ServiceError::Forbidden => OAuthError::invalid_grant(
                            "the user is not a member of the organization",
                        ),
                        e => OAuthError::from_service(e),
                    })?;
                scope.admits(method).map_err(|_| {
                    OAuthError::invalid_grant(
                        "the organization requires a sign-in with a second factor",
                    )
                })?;
                Some(scope)
            }
            None => None,
        };
        let grant = OAuthGrant {
            client_id: client.id.clone(),
            scope: row.scope.clone(),
            sso: row.sso.clone(),
            idp: row.idp.clone(),
        };
        let (tokens, session) = self
            .sessions
            .start_session_for(
                tenant,
                user.clone(),
                info,
                method,
                Some(&grant),
                org.as_ref(),
            )
            .await
            .map_err(OAuthError::from_service)?;
        // Without this record a replayed code could not revoke what it issued: fail closed.
        oidc_store::code_issued(db, &hash, &session)
            .await
            .map_err(OAuthError::from_store)?;
        let offline =
            row.scope.iter().any(|s| s == "offline_access") && client.allows("refresh_token");
        let id_token = if row.scope.iter().any(|s| s == "openid") {
            Some(
                self.id_token(
                    tenant,
                    IdTokenInput {
                        user: &user,
                        client,
                        scope: &row.scope,
                        nonce: row.nonce.as_deref(),
                        auth_time: row.auth_time,
                        amr: &row.amr,
                        sid: &row.sso,
                        access_token: &tokens.access_token,
                    },
                )
                .await
                .map_err(OAuthError::from_service)?,
            )
        } else {
            None
        };
        Ok(token_response(
            &tokens.access_token,
            tokens.expires_in,
            offline.then_some(tokens.refresh_token.as_str()),
            id_token.as_deref(),
            &row.scope,
        ))
    }

    /// `grant_type=refresh_token`: rotation with reuse detection, as for API sessions; the
    /// token belongs to the client it was issued to; `scope` may narrow, never widen.
    pub async fn refresh_grant(
        &self,
        by: Caller<'_>,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let (tenant, client, info) = (by.tenant, by.client, by.info);
        if !client.allows("refresh_token") {
            return Err(may_not_use("refresh_token"));
        }
        let (tokens, session) = self
            .sessions
            .refresh_for(tenant, refresh_token, info, Some(&client.id))
            .await
            .map_err(OAuthError::from_service)?;
        let granted = session.scope.clone().unwrap_or_default();
        let scope: Vec<String> = match scope.map(str::split_whitespace) {
            Some(asked) => {
                let asked: Vec<String> = asked.map(str::to_string).collect();
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::invalid_scope(format!(
                        "`{extra}` was not granted"
                    )));
                }
                asked
            }
            None => granted,
        };
        Ok(token_response(
            &tokens.access_token,
            tokens.expires_in,
            Some(&tokens.refresh_token),
            None,
            &scope,
        ))
    }

    /// `grant_type=client_credentials` (confidential clients): a machine token whose `sub` is
    /// the client, for the scopes it asks among those it may have; no refresh token.
    pub async fn client_credentials_grant(
        &self,
        by: Caller<'_>,
        scope: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let (tenant, client) = (by.tenant, by.client);
        if !client.is_confidential() || !client.allows("client_credentials") {
            return Err(may_not_use("client_credentials"));
        }
        let asked: Vec<String> = match scope {
            Some(s) => s.split_whitespace().map(str::to_string).collect(),
            None => client.scopes.clone(),
        };
        if let Some(extra) = asked.iter().find(|s| !client.scopes.contains(s)) {
            return Err(OAuthError::invalid_scope(format!(
                "`{extra}` is not allowed for this client"
            )));
        }
        let now = self.clock.now();
        let ttl = self.settings(tenant).access_token_ttl.as_secs() as i64;
        let issuer = self.issuer(tenant.slug());
        let claims = AccessClaims {
            aud: issuer.clone(),
            iss: issuer,
            sub: client.id.clone(),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            // No user and no session: a machine token does not sign anyone in.
            sid: String::new(),
            tenant: tenant.slug().to_string(),
            roles: Vec::new(),
            amr: Vec::new(),
            acr: None,
            client_id: Some(client.id.clone()),
            scope: Some(asked.join(" ")),
            idp: None,
            org_id: None,
            org_roles: None,
            extra: Default::default(),
        };
        let extra = self
            .token_hook_claims(
                tenant,
                crate::infra::token_hook::HookInput {
                    grant: "client_credentials",
                    user: None,
                    session_id: None,
                    client_id: Some(&client.id),
                    claims: serde_json::to_value(&claims).unwrap_or_default(),
                },
            )
            .await
            .map_err(OAuthError::from_service)?;
        let claims = AccessClaims { extra, ..claims };
        let token = tenant
            .keys()
            .sign(&claims, now)
            .map_err(|e| OAuthError::from_service(e.into()))?;
        Ok(token_response(&token, ttl, None, None, &asked))
    }
}

/// The claims of an access token latchkey has just signed (its `extra`: the token hook's).
fn claims_of(access_token: &str) -> Option<AccessClaims> {
    use base64::Engine;
    access_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<AccessClaims>(&b).ok())
}
