//! The authorization code flow between `/authorize` and the code: checking the request
//! (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636; OpenID Connect Core §3.1.2), the browser session,
//! consent, and the redirect back with the code (and `iss`, RFC 9207).

use chrono::{DateTime, Utc};

use super::builtin;
use super::clients::STANDARD_SCOPES;
use super::store::{self as oidc_store, ClientRow, CodeRow, RequestRow, SsoRow};
use crate::actors::Tenant;
use crate::domain::claims::AuthMethod;
use crate::domain::secrets::random_token;
use crate::error::ServiceError;
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::SessionService;
use crate::store::memberships;
use crate::store::users::UserRow;
use std::sync::Arc;

/// How long the pages of one authorization request may take.
const REQUEST_MINUTES: i64 = 15;
/// An authorization code lives 60 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).
const CODE_SECONDS: i64 = 60;
/// A browser sign-in lasts this long (Keycloak's default SSO maximum is 10 hours).
pub const SSO_HOURS: i64 = 12;

/// The query of `GET /authorize`.
#[derive(Default, serde::Deserialize)]
pub struct AuthorizeParams {
    /// The client.
    pub client_id: Option<String>,
    /// Where to send the answer.
    pub redirect_uri: Option<String>,
    /// Must be `code`.
    pub response_type: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Echoed back.
    pub state: Option<String>,
    /// Put into the id_token.
    pub nonce: Option<String>,
    /// PKCE.
    pub code_challenge: Option<String>,
    /// PKCE method (S256 only).
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent` (space-separated).
    pub prompt: Option<String>,
    /// Seconds.
    pub max_age: Option<String>,
    /// The identifier to prefill.
    pub login_hint: Option<String>,
    /// Only `query` is supported.
    pub response_mode: Option<String>,
    /// A request object: not supported.
    pub request: Option<String>,
    /// A request object by reference: not supported.
    pub request_uri: Option<String>,
    /// An organization of the user's (its id) to scope the tokens to; needs the
    /// `organization` scope.
    pub organization: Option<String>,
}

/// Where `/authorize` (or a page after it) sends the browser.
pub enum Next {
    /// A page of ours that cannot redirect: an unknown client, a redirect URI not
    /// registered. Shown, never redirected (an open redirector otherwise).
    ErrorPage(String),
    /// Back to the client with `error` (RFC 6749 §4.1.2.1).
    ClientError {
        /// The checked redirect URI.
        redirect_uri: String,
        /// `error`.
        error: &'static str,
        /// `error_description`.
        description: String,
        /// `state`, as sent.
        state: Option<String>,
    },
    /// Back to the client with the code.
    Code {
        /// The checked redirect URI.
        redirect_uri: String,
        /// The code.
        code: String,
        /// `state`, as sent.
        state: Option<String>,
    },
    /// To our sign-in page for the request.
    Login(String),
    /// To our consent page for the request.
    Consent(String),
}

/// The words of a space-separated parameter (`scope`, `prompt`); none when it is absent.
pub(super) fn words(s: Option<&str>) -> std::str::SplitWhitespace<'_> {
    s.unwrap_or("").split_whitespace()
}

fn client_error(r: &RequestRow, error: &'static str, description: &str) -> Next {
    Next::ClientError {
        redirect_uri: r.redirect_uri.clone(),
        error,
        description: description.into(),
        state: r.state.clone(),
    }
}

/// The authorization endpoint's flow: requests, consent, codes and the browser's SSO session.
#[derive(Clone)]
pub struct AuthorizationFlow {
    infra: Arc<Infra>,
    sessions: SessionService,
}

crate::infra::built_on!(AuthorizationFlow);

impl AuthorizationFlow {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, sessions: SessionService) -> Self {
        Self { infra, sessions }
    }

    /// Checks an authorization request and records it; where to go next (the browser
    /// session `sso`, if any, may answer it at once).
    pub async fn authorize(
        &self,
        tenant: &Tenant,
        p: AuthorizeParams,
        sso: Option<&SsoRow>,
    ) -> Result<Next, ServiceError> {
        // Until the redirect URI is known to be the client's, nothing redirects.
        let Some(client_id) = p
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 200)
        else {
            return Ok(Next::ErrorPage(
                "The application did not say who it is (client_id is missing).".into(),
            ));
        };
        let Some(client) = builtin::client(tenant, &self.config.public_url, client_id).await?
        else {
            return Ok(Next::ErrorPage(
                "The application is not registered here (unknown client_id).".into(),
            ));
        };
        let Some(redirect_uri) = p.redirect_uri.clone() else {
            return Ok(Next::ErrorPage(
                "The application did not say where to return (redirect_uri is missing).".into(),
            ));
        };
        if !client.redirect_uris.iter().any(|u| *u == redirect_uri) {
            return Ok(Next::ErrorPage(
                "The application asked to return to an address it has not registered (redirect_uri mismatch).".into(),
            ));
        }
        let now = self.clock.now();
        let mut row = RequestRow {
            id: random_token(24),
            client_id: client.id.clone(),
            redirect_uri,
            scope: Vec::new(),
            state: p.state.clone().filter(|s| s.len() <= 2000),
            nonce: p.nonce.clone().filter(|s| s.len() <= 2000),
            code_challenge: None,
            prompt: p.prompt.clone(),
            max_age: None,
            login_hint: p.login_hint.clone().filter(|s| s.len() <= 254),
            organization: None,
            csrf: random_token(24),
            expires_at: now + chrono::Duration::minutes(REQUEST_MINUTES),
            used_at: None,
        };
        if p.request.is_some() {
            return Ok(client_error(
                &row,
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if p.request_uri.is_some() {
            return Ok(client_error(
                &row,
                "request_uri_not_supported",
                "request_uri is not supported",
            ));
        }
        if p.response_mode.as_deref().is_some_and(|m| m != "query") {
            return Ok(client_error(
                &row,
                "invalid_request",
                "only response_mode=query is supported",
            ));
        }
        match p.response_type.as_deref() {
            Some("code") => {}
            None => {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "response_type is required",
                ));
            }
            Some(_) => {
                return Ok(client_error(
                    &row,
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        if !client.allows("authorization_code") {
            return Ok(client_error(
                &row,
                "unauthorized_client",
                "this client may not use the authorization code flow",
            ));
        }
        // PKCE: required of public clients, accepted from all, S256 only (RFC 9700 §2.1.1).
        match (&p.code_challenge, p.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => {
                row.code_challenge = Some(c.clone())
            }
            (Some(_), Some("S256")) => {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters",
                ));
            }
            (Some(_), Some(_) | None) => {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "code_challenge_method must be S256 (plain is not accepted)",
                ));
            }
            (None, Some(_)) => {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                ));
            }
            (None, None) if !client.is_confidential() => {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "PKCE (code_challenge, S256) is required for public clients",
                ));
            }
            (None, None) => {}
        }
        if let Some(m) = &p.max_age {
            match m.parse::<i64>() {
                Ok(n) if n >= 0 => row.max_age = Some(n),
                _ => {
                    return Ok(client_error(
                        &row,
                        "invalid_request",
                        "max_age must be a whole number of seconds",
                    ));
                }
            }
        }
        let prompts: Vec<&str> = words(p.prompt.as_deref()).collect();
        if prompts
            .iter()
            .any(|x| !matches!(*x, "none" | "login" | "consent"))
        {
            return Ok(client_error(
                &row,
                "invalid_request",
                "prompt may be none, login or consent",
            ));
        }
        if prompts.contains(&"none") && prompts.len() > 1 {
            return Ok(client_error(
                &row,
                "invalid_request",
                "prompt=none cannot be combined",
            ));
        }
        // Scopes the client may have; unknown ones make the request invalid_scope.
        let asked: Vec<String> = words(p.scope.as_deref()).map(str::to_string).collect();
        if let Some(bad) = asked
            .iter()
            .find(|s| !STANDARD_SCOPES.contains(&s.as_str()) && !client.scopes.contains(s))
        {
            return Ok(client_error(
                &row,
                "invalid_scope",
                &format!("scope `{bad}` is not allowed for this client"),
            ));
        }
        let mut scope: Vec<String> = Vec::new();
        for s in asked {
            if !scope.contains(&s) {
                scope.push(s);
            }
        }
        row.scope = scope;
        if let Some(org) = &p.organization {
            if !row.scope.iter().any(|s| s == "organization") {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "the organization parameter needs the organization scope",
                ));
            }
            if org.is_empty() || org.len() > 64 {
                return Ok(client_error(
                    &row,
                    "invalid_request",
                    "organization must be an organization's id",
                ));
            }
            row.organization = Some(org.clone());
        }
        oidc_store::put_request(tenant.db(), &row, now).await?;
        self.continue_request(tenant, &row, &client, sso, false)
            .await
    }

    /// The live request `id` and its client.
    pub async fn request(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<(RequestRow, ClientRow)>, ServiceError> {
        if id.is_empty() || id.len() > 100 {
            return Ok(None);
        }
        let Some(r) = oidc_store::live_request(tenant.db(), id, self.clock.now()).await? else {
            return Ok(None);
        };
        Ok(
            builtin::client(tenant, &self.config.public_url, &r.client_id)
                .await?
                .map(|c| (r, c)),
        )
    }

    /// Where a request goes given the browser session: sign-in when there is none (or it is
    /// too old for `max_age`, or `prompt=login` and the user has not just signed in), consent
    /// when a third-party client lacks it, else the code. `fresh`: the session was made by
    /// this request's sign-in page.
    pub async fn continue_request(
        &self,
        tenant: &Tenant,
        r: &RequestRow,
        client: &ClientRow,
        sso: Option<&SsoRow>,
        fresh: bool,
    ) -> Result<Next, ServiceError> {
        let now = self.clock.now();
        let prompts: Vec<&str> = words(r.prompt.as_deref()).collect();
        let none = prompts.contains(&"none");
        let too_old = |s: &SsoRow| {
            r.max_age
                .is_some_and(|m| (now - s.auth_time).num_seconds() > m)
        };
        let sso = sso.filter(|s| !too_old(s) && (fresh || !prompts.contains(&"login")));
        let Some(sso) = sso else {
            if none {
                return self
                    .refuse(tenant, r, "login_required", "the user is not signed in")
                    .await;
            }
            return Ok(Next::Login(r.id.clone()));
        };
        let user = match tenant.user(&sso.user).await? {
            Some(u) if !u.disabled => u,
            _ => return Ok(Next::Login(r.id.clone())),
        };
        if !client.first_party {
            let given = oidc_store::consent(tenant.db(), &user.id, &client.id).await?;
            let covered = r.scope.iter().all(|s| given.contains(s));
            if !covered || prompts.contains(&"consent") {
                if none {
                    return self
                        .refuse(tenant, r, "consent_required", "the user has not consented")
                        .await;
                }
                return Ok(Next::Consent(r.id.clone()));
            }
        }
        self.issue_code(tenant, r, &user, sso).await
    }

    /// Ends the request and sends the browser back to the client with `error`.
    async fn refuse(
        &self,
        tenant: &Tenant,
        r: &RequestRow,
        error: &'static str,
        description: &str,
    ) -> Result<Next, ServiceError> {
        oidc_store::spend_request(tenant.db(), &r.id, self.clock.now()).await?;
        Ok(client_error(r, error, description))
    }

    /// Ends the request with a code for the signed-in user.
    async fn issue_code(
        &self,
        tenant: &Tenant,
        r: &RequestRow,
        user: &UserRow,
        sso: &SsoRow,
    ) -> Result<Next, ServiceError> {
        let now = self.clock.now();
        // The organization asked for must be the user's, and admit how they signed in; told
        // to the client as access_denied (RFC 6749 §4.1.2.1), before anything is issued.
        if let Some(org) = &r.organization {
            // A first sign-in makes the membership by domain it may be asking for.
            self.sessions
                .join_by_domain_at_first_sign_in(
                    tenant,
                    user,
                    &ClientInfo::default(),
                    sso.idp.as_deref(),
                )
                .await?;
            let refused = match memberships::membership(tenant.db(), org, &user.id).await? {
                None => Some("the user is not a member of this organization"),
                Some(m) if m.mfa_required && AuthMethod::from_amr(&sso.amr).acr() == "aal1" => {
                    Some("this organization requires a sign-in with a second factor")
                }
                Some(_) => None,
            };
            if let Some(why) = refused {
                oidc_store::spend_request(tenant.db(), &r.id, now).await?;
                return Ok(client_error(r, "access_denied", why));
            }
        }
        if !oidc_store::spend_request(tenant.db(), &r.id, now).await? {
            return Ok(Next::ErrorPage(
                "This sign-in was finished already; start again from the application.".into(),
            ));
        }
        let code = random_token(32);
        let row = CodeRow {
            client_id: r.client_id.clone(),
            user: user.id.clone(),
            redirect_uri: r.redirect_uri.clone(),
            scope: r.scope.clone(),
            nonce: r.nonce.clone(),
            code_challenge: r.code_challenge.clone(),
            auth_time: sso.auth_time,
            amr: sso.amr.clone(),
            sso: sso.sid.clone(),
            idp: sso.idp.clone(),
            org: r.organization.clone(),
            expires_at: now + chrono::Duration::seconds(CODE_SECONDS),
            used_at: None,
            session: None,
        };
        oidc_store::put_code(tenant.db(), &self.secrets.hash_token(&code), &row, now).await?;
        Ok(Next::Code {
            redirect_uri: r.redirect_uri.clone(),
            code,
            state: r.state.clone(),
        })
    }

    /// The consent page's answer: remembered and the request continues, or denied.
    pub async fn answer_consent(
        &self,
        tenant: &Tenant,
        r: &RequestRow,
        client: &ClientRow,
        sso: &SsoRow,
        allow: bool,
    ) -> Result<Next, ServiceError> {
        if !allow {
            return self
                .refuse(tenant, r, "access_denied", "the user denied the request")
                .await;
        }
        oidc_store::put_consent(
            tenant.db(),
            &sso.user,
            &client.id,
            &r.scope,
            self.clock.now(),
        )
        .await?;
        let user = tenant
            .user(&sso.user)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        self.issue_code(tenant, r, &user, sso).await
    }

    /// Starts a browser session for a user who just authenticated; the cookie value.
    pub async fn start_sso(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        method: AuthMethod,
        idp: Option<&str>,
    ) -> Result<(String, SsoRow), ServiceError> {
        let now = self.clock.now();
        let cookie = random_token(32);
        let row = SsoRow {
            sid: uuid::Uuid::new_v4().to_string(),
            user: user.id.clone(),
            auth_time: now,
            amr: method.amr().iter().map(|a| a.to_string()).collect(),
            idp: idp.map(str::to_string),
            expires_at: now + chrono::Duration::hours(SSO_HOURS),
            revoked_at: None,
        };
        oidc_store::put_sso(tenant.db(), &self.secrets.hash_token(&cookie), &row, now).await?;
        Ok((cookie, row))
    }

    /// The live browser session of a cookie value.
    pub async fn sso(
        &self,
        tenant: &Tenant,
        cookie: Option<&str>,
    ) -> Result<Option<SsoRow>, ServiceError> {
        let Some(c) = cookie.filter(|c| !c.is_empty() && c.len() <= 200) else {
            return Ok(None);
        };
        Ok(
            oidc_store::live_sso(tenant.db(), &self.secrets.hash_token(c), self.clock.now())
                .await?,
        )
    }

    /// Ends a browser session (and the client sessions it started).
    pub async fn end_sso(
        &self,
        tenant: &Tenant,
        cookie: &str,
    ) -> Result<Option<String>, ServiceError> {
        let ended = oidc_store::end_sso(
            tenant.db(),
            &self.secrets.hash_token(cookie),
            self.clock.now(),
        )
        .await?;
        Ok(ended.map(|(user, revoked)| {
            // Written outside the tenant actor: drop them from the auth cache here.
            tenant.forget_sessions(&revoked);
            user
        }))
    }

    /// Seconds since `t`.
    pub fn age(&self, t: DateTime<Utc>) -> i64 {
        (self.clock.now() - t).num_seconds()
    }
}
