//! Userinfo (OpenID Connect Core §5.3), revocation (RFC 7009), introspection (RFC 7662) and
//! the checks of RP-initiated logout.

use serde_json::{Value, json};

use super::flow::words;
use super::store::ClientRow;
use super::token::TokenEndpoint;
use crate::actors::Tenant;
use crate::domain::claims::AccessClaims;
use crate::error::ServiceError;
use crate::infra::Infra;
use crate::store::sessions;
use std::sync::Arc;

/// Where an RP-initiated logout may go afterwards.
pub struct LogoutTarget {
    /// The id_token_hint was ours and names the client.
    pub hint_valid: bool,
    /// The registered post-logout URI to go to, if one was asked for.
    pub redirect: Option<String>,
}

/// Userinfo, revocation, introspection and RP-initiated logout.
#[derive(Clone)]
pub struct OidcEndpoints {
    infra: Arc<Infra>,
    tokens: TokenEndpoint,
}

crate::infra::built_on!(OidcEndpoints);

impl OidcEndpoints {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, tokens: TokenEndpoint) -> Self {
        Self { infra, tokens }
    }

    /// Verifies an access token of this tenant whose session (if it has one) is live.
    async fn live_access(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<AccessClaims, ServiceError> {
        let now = self.clock.now();
        let claims = tenant.keys().verify(
            token,
            &self.issuer(tenant.slug()),
            tenant.slug().as_str(),
            now.timestamp(),
        )?;
        if !claims.sid.is_empty() {
            match tenant.session(&claims.sid).await? {
                Some(s) if s.revoked_at.is_none() && s.expires_at > now && s.user == claims.sub => {
                }
                _ => return Err(ServiceError::Unauthenticated("session revoked or expired")),
            }
        }
        Ok(claims)
    }

    /// The claims of the user an access token names, by its scopes; `Forbidden` without the
    /// `openid` scope, `Unauthenticated` for a bad or revoked token.
    pub async fn userinfo(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<Value, ServiceError> {
        let token = bearer
            .filter(|t| !t.is_empty())
            .ok_or(ServiceError::Unauthenticated("token required"))?;
        let claims = self.live_access(tenant, token).await?;
        let scope: Vec<String> = words(claims.scope.as_deref()).map(str::to_string).collect();
        if !scope.iter().any(|s| s == "openid") || claims.sid.is_empty() {
            return Err(ServiceError::Forbidden);
        }
        let user = tenant
            .user(&claims.sub)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(ServiceError::Unauthenticated("the account is gone"))?;
        let mut answer = self.tokens.scoped_claims(&user, &scope);
        answer.extend(
            self.tokens
                .org_claims(tenant, &user, &scope, Some(&claims))
                .await?,
        );
        Ok(Value::Object(answer))
    }

    /// Revokes a token of `client`: a refresh token ends its session; an access token ends
    /// the session it belongs to (so it, too, stops working at once). Tokens of other clients
    /// and unknown ones are left alone, answered the same.
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        client: &ClientRow,
        token: &str,
    ) -> Result<(), ServiceError> {
        if token.is_empty() || token.len() > 8192 {
            return Ok(());
        }
        let now = self.clock.now();
        if token.contains('.') {
            if let Ok(claims) = self.live_access(tenant, token).await
                && claims.client_id.as_deref() == Some(client.id.as_str())
                && !claims.sid.is_empty()
            {
                tenant
                    .revoke_session(claims.sid, "revoked_by_client", now)
                    .await?;
            }
            return Ok(());
        }
        if let Some(row) =
            sessions::find_refresh(tenant.db(), &self.secrets.hash_token(token)).await?
            && let Some(session) = tenant.session(&row.session).await?
            && session.client_id.as_deref() == Some(client.id.as_str())
        {
            tenant
                .revoke_session(row.session, "revoked_by_client", now)
                .await?;
        }
        Ok(())
    }

    /// What RFC 7662 says of a token: `active` and its claims, or `{"active": false}`.
    pub async fn introspect(&self, tenant: &Tenant, token: &str) -> Result<Value, ServiceError> {
        let inactive = json!({"active": false});
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive);
        }
        let now = self.clock.now();
        if token.contains('.') {
            return Ok(match self.live_access(tenant, token).await {
                Ok(c) => {
                    let mut v = json!({
                        "active": true,
                        "token_type": "Bearer",
                        "sub": c.sub,
                        "iss": c.iss,
                        "aud": c.aud,
                        "exp": c.exp,
                        "iat": c.iat,
                        "scope": c.scope.unwrap_or_default(),
                    });
                    if let Some(id) = c.client_id {
                        v["client_id"] = json!(id);
                    }
                    if !c.sid.is_empty()
                        && let Some(u) = tenant.user(&c.sub).await?
                    {
                        v["username"] = json!(u.username);
                    }
                    v
                }
                Err(ServiceError::Unauthenticated(_)) => inactive,
                Err(e) => return Err(e),
            });
        }
        let Some(row) =
            sessions::find_refresh(tenant.db(), &self.secrets.hash_token(token)).await?
        else {
            return Ok(inactive);
        };
        let Some(session) = tenant.session(&row.session).await? else {
            return Ok(inactive);
        };
        if row.used_at.is_some()
            || row.expires_at <= now
            || session.revoked_at.is_some()
            || session.expires_at <= now
        {
            return Ok(inactive);
        }
        Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "sub": row.user,
            "exp": row.expires_at.timestamp(),
            "client_id": session.client_id,
            "scope": session.scope.unwrap_or_default().join(" "),
            "iss": self.issuer(tenant.slug()),
        }))
    }

    /// Checks an RP-initiated logout: the hint must be an id_token of ours (any age), the
    /// post-logout URI one that the hinted (or named) client registered.
    pub async fn logout_target(
        &self,
        tenant: &Tenant,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<LogoutTarget, String> {
        let issuer = self.issuer(tenant.slug());
        let hinted: Option<String> = match id_token_hint {
            Some(h) => {
                let claims = tenant.keys().verify_issued(h, &issuer).ok_or(
                    "The sign-out request carries an id_token this service did not issue.",
                )?;
                claims["aud"].as_str().map(str::to_string)
            }
            None => None,
        };
        if let (Some(h), Some(c)) = (&hinted, client_id)
            && h != c
        {
            return Err("The sign-out request names two different applications.".into());
        }
        let client_id = hinted.clone().or(client_id.map(str::to_string));
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let Some(id) = &client_id else {
                    return Err(
                        "A return address needs the application's id_token_hint or client_id."
                            .into(),
                    );
                };
                let client = super::builtin::client(tenant, &self.config.public_url, id)
                    .await
                    .map_err(|_| "The service is unavailable.".to_string())?
                    .ok_or("The application is not registered here.")?;
                if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                    return Err(
                        "The application asked to return to an address it has not registered."
                            .into(),
                    );
                }
                Some(uri.to_string())
            }
        };
        Ok(LogoutTarget {
            hint_valid: hinted.is_some(),
            redirect,
        })
    }
}
