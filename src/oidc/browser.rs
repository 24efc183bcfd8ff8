//! The browser-facing pages of the authorization flow: authorize, sign-in (password, second
//! factor, passkey), consent and logout, and the page context they share.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::OidcProvider;
use super::cookies::{
    CSRF_COOKIE, SSO_COOKIE, cookie, form, same_origin, set_cookie, tokens_equal, with_cookie,
};
use super::flow::{AuthorizeParams, Next, SSO_HOURS};
use super::pages::{self, LoginPage};
use super::store::{ClientRow, RequestRow, SsoRow};
use crate::actors::Tenant;
use crate::domain::claims::AuthMethod;
use crate::edge::client::client_info;
use crate::error::ServiceError;
use crate::mfa::policy::Factor;

fn origin_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// Redirects the browser (303 after a form, so it GETs the target).
pub(super) fn go(to: String) -> Response {
    Redirect::to(&to).into_response()
}

fn with_query(base: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut u = match url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_string(),
    };
    // Only when something is added: `query_pairs_mut` alone leaves an empty `?` behind, and
    // a registered redirect URI must come back exactly as registered.
    if params.iter().any(|(_, v)| v.is_some()) {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    u.to_string()
}

pub(super) struct Ctx {
    st: OidcProvider,
    pub(super) tenant: Tenant,
    pub(super) slug: String,
    pub(super) name: String,
}

pub(super) async fn ctx(st: &OidcProvider, slug: &str) -> Result<Ctx, Response> {
    match st.tenant(slug).await {
        Ok(t) => {
            let name = st.settings(&t).display_name;
            Ok(Ctx {
                st: st.clone(),
                slug: t.slug().to_string(),
                tenant: t,
                name,
            })
        }
        Err(ServiceError::TenantNotFound) => Err(pages::message(
            StatusCode::NOT_FOUND,
            "latchkey",
            "Not found",
            "There is no such sign-in here.",
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// What every form of the hosted pages checks first: the tenant, that the form was posted from
/// our own pages, and its authorization request with the CSRF token; then the fields.
async fn posted_form(
    st: &OidcProvider,
    slug: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Ctx, HashMap<String, String>, RequestRow, ClientRow), Response> {
    let c = ctx(st, slug).await?;
    if !same_origin(st, headers) {
        return Err(pages::error(
            &c.name,
            "The form was sent from another site.",
        ));
    }
    let f = form(body);
    let (r, client) = c
        .request(
            f.get("request"),
            Some(f.get("csrf").unwrap_or(&String::new())),
        )
        .await?;
    Ok((c, f, r, client))
}

pub(super) fn unavailable(e: ServiceError) -> Response {
    tracing::error!(error = %e, "hosted page failed");
    let (status, text) = match e {
        ServiceError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is unavailable; try again in a moment.",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        ),
    };
    pages::message(status, "latchkey", "Unavailable", text)
}

impl Ctx {
    fn issuer(&self) -> String {
        self.st.issuer(self.tenant.slug())
    }

    async fn sso(&self, headers: &HeaderMap) -> Result<Option<SsoRow>, Response> {
        self.st
            .flow
            .sso(&self.tenant, cookie(headers, SSO_COOKIE).as_deref())
            .await
            .map_err(unavailable)
    }

    /// Answers where the flow goes next.
    fn next(&self, next: Next) -> Response {
        match next {
            Next::ErrorPage(m) => pages::error(&self.name, &m),
            Next::ClientError {
                redirect_uri,
                error,
                description,
                state,
            } => go(with_query(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(&description)),
                    ("state", state.as_deref()),
                    ("iss", Some(&self.issuer())),
                ],
            )),
            Next::Code {
                redirect_uri,
                code,
                state,
            } => go(with_query(
                &redirect_uri,
                &[
                    ("code", Some(&code)),
                    ("state", state.as_deref()),
                    ("iss", Some(&self.issuer())),
                ],
            )),
            Next::Login(id) => go(format!("/t/{}/login?request={id}", self.slug)),
            Next::Consent(id) => go(format!("/t/{}/consent?request={id}", self.slug)),
        }
    }

    /// The live request of a form or query, checked against its form token when `csrf`.
    async fn request(
        &self,
        id: Option<&String>,
        csrf: Option<&String>,
    ) -> Result<(RequestRow, ClientRow), Response> {
        let gone = || {
            pages::error(
                &self.name,
                "This sign-in has expired or was finished; start again from the application.",
            )
        };
        let Some(id) = id else { return Err(gone()) };
        let found = self
            .st
            .flow
            .request(&self.tenant, id)
            .await
            .map_err(unavailable)?;
        let Some((r, c)) = found else {
            return Err(gone());
        };
        if let Some(token) = csrf
            && !tokens_equal(token, &r.csrf)
        {
            return Err(pages::error(
                &self.name,
                "The form was not sent by this page (bad form token).",
            ));
        }
        Ok((r, c))
    }

    fn login_page(&self, r: &RequestRow, identifier: &str, error: Option<&str>) -> Response {
        pages::login(&LoginPage {
            slug: &self.slug,
            tenant: &self.name,
            request: &r.id,
            csrf: &r.csrf,
            identifier,
            error,
            form_to: origin_of(&r.redirect_uri).as_deref(),
        })
    }

    /// A browser session for `user`, then on with the request.
    async fn signed_in(
        &self,
        r: &RequestRow,
        c: &ClientRow,
        user: &crate::store::users::UserRow,
        method: AuthMethod,
    ) -> Response {
        let (cookie, sso) = match self.st.flow.start_sso(&self.tenant, user, method).await {
            Ok(x) => x,
            Err(e) => return unavailable(e),
        };
        let next = match self
            .st
            .flow
            .continue_request(&self.tenant, r, c, Some(&sso), true)
            .await
        {
            Ok(n) => n,
            Err(e) => return unavailable(e),
        };
        with_cookie(
            self.next(next),
            set_cookie(&self.st, &self.slug, SSO_COOKIE, &cookie, SSO_HOURS * 3600),
        )
    }

    /// What a failed sign-in step shows.
    fn step_failed(&self, r: &RequestRow, identifier: &str, e: ServiceError) -> Response {
        match e {
            ServiceError::MfaRequired {
                mfa_token,
                methods,
                passkey_options,
            } => pages::second_step(
                &self.slug,
                &self.name,
                &r.id,
                &r.csrf,
                &mfa_token,
                &methods,
                passkey_options.map(|o| o.to_string()).as_deref(),
                None,
                origin_of(&r.redirect_uri).as_deref(),
            ),
            ServiceError::MfaEnrollmentRequired { .. } => self.login_page(
                r,
                identifier,
                Some("This account needs a second factor first: set one up in the application, then sign in here."),
            ),
            ServiceError::Unavailable(_) | ServiceError::Internal(_) => unavailable(e),
            other => {
                let text = match other {
                    ServiceError::InvalidCredentials => "Wrong email, username or password.".to_string(),
                    other => other.to_string(),
                };
                self.login_page(r, identifier, Some(&text))
            }
        }
    }
}

// ---- the authorization flow ------------------------------------------------------------

pub(super) async fn authorize(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    Query(params): Query<AuthorizeParams>,
    headers: HeaderMap,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sso = match c.sso(&headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match st.flow.authorize(&c.tenant, params, sso.as_ref()).await {
        Ok(next) => c.next(next),
        Err(e) => unavailable(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct RequestQuery {
    request: Option<String>,
}

pub(super) async fn login_page(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    Query(q): Query<RequestQuery>,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match c.request(q.request.as_ref(), None).await {
        Ok((r, _)) => c.login_page(&r, r.login_hint.as_deref().unwrap_or(""), None),
        Err(resp) => resp,
    }
}

pub(super) async fn login_submit(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, f, r, client) = match posted_form(&st, &slug, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let identifier = f.get("identifier").map(String::as_str).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    match st
        .accounts
        .check_login(&c.tenant, identifier, password, &info)
        .await
    {
        Ok(user) => c.signed_in(&r, &client, &user, AuthMethod::Password).await,
        Err(e) => c.step_failed(&r, identifier, e),
    }
}

pub(super) async fn mfa_submit(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, f, r, client) = match posted_form(&st, &slug, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let mfa_token = f.get("mfa_token").cloned().unwrap_or_default();
    let passkey: Option<Value> = f.get("passkey").and_then(|p| serde_json::from_str(p).ok());
    let factor = match (f.get("totp"), f.get("recovery_code"), &passkey) {
        (Some(t), _, _) => Factor::Totp(t),
        (None, Some(rc), _) => Factor::RecoveryCode(rc),
        (None, None, Some(p)) => Factor::Passkey(p),
        _ => {
            return c.login_page(
                &r,
                "",
                Some("Give a code, a recovery code or your passkey."),
            );
        }
    };
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    match st
        .mfa
        .complete_mfa(&c.tenant, &mfa_token, factor, &info)
        .await
    {
        Ok((user, method)) => c.signed_in(&r, &client, &user, method).await,
        Err(ServiceError::InvalidCredentials) => {
            // The same second step again, with the message (the token counted the failure);
            // a code field only: a passkey answer that failed starts the sign-in over.
            let methods: Vec<&str> = st
                .mfa
                .second_step_methods(&c.tenant, &mfa_token)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|m| *m != "passkey")
                .collect();
            if methods.is_empty() {
                return c.login_page(&r, "", Some("That did not work; sign in again."));
            }
            pages::second_step(
                &c.slug,
                &c.name,
                &r.id,
                &r.csrf,
                &mfa_token,
                &methods,
                None,
                Some("That code did not work."),
                origin_of(&r.redirect_uri).as_deref(),
            )
        }
        Err(ServiceError::InvalidToken) => {
            c.login_page(&r, "", Some("The second step expired; sign in again."))
        }
        Err(e) => c.step_failed(&r, "", e),
    }
}

pub(super) async fn passkey_start(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !same_origin(&st, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let f = form(&body);
    if c.request(
        f.get("request"),
        Some(f.get("csrf").unwrap_or(&String::new())),
    )
    .await
    .is_err()
    {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match st.mfa.start_passkey_login(&c.tenant, None).await {
        Ok((id, options)) => {
            axum::Json(json!({"challengeId": id, "options": options})).into_response()
        }
        Err(e) => unavailable(e),
    }
}

pub(super) async fn passkey_submit(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, f, r, client) = match posted_form(&st, &slug, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let challenge = f.get("challenge").cloned().unwrap_or_default();
    let Some(credential) = f
        .get("credential")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    else {
        return c.login_page(&r, "", Some("The passkey gave no answer."));
    };
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    match st
        .mfa
        .complete_passkey_login(&c.tenant, &challenge, &credential, &info)
        .await
    {
        Ok(user) => c.signed_in(&r, &client, &user, AuthMethod::Passkey).await,
        Err(e) => c.step_failed(&r, "", e),
    }
}

pub(super) async fn consent_page(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    Query(q): Query<RequestQuery>,
    headers: HeaderMap,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (r, client) = match c.request(q.request.as_ref(), None).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match c.sso(&headers).await {
        Ok(Some(_)) => pages::consent(
            &c.slug,
            &c.name,
            &client.name,
            &r.scope,
            &r.id,
            &r.csrf,
            origin_of(&r.redirect_uri).as_deref(),
        ),
        Ok(None) => go(format!("/t/{}/login?request={}", c.slug, r.id)),
        Err(resp) => resp,
    }
}

pub(super) async fn consent_submit(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, f, r, client) = match posted_form(&st, &slug, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let sso = match c.sso(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return go(format!("/t/{}/login?request={}", c.slug, r.id)),
        Err(resp) => return resp,
    };
    let allow = f.get("decision").map(String::as_str) == Some("allow");
    match st
        .flow
        .answer_consent(&c.tenant, &r, &client, &sso, allow)
        .await
    {
        Ok(next) => c.next(next),
        Err(e) => unavailable(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): with a valid id_token_hint
/// the browser session ends at once; without one the user confirms. The post-logout URI must
/// be one the client registered.
pub(super) async fn logout(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    Query(p): Query<LogoutParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let target = match st
        .endpoints
        .logout_target(
            &c.tenant,
            p.id_token_hint.as_deref(),
            p.client_id.as_deref(),
            p.post_logout_redirect_uri.as_deref(),
        )
        .await
    {
        Ok(t) => t,
        Err(message) => return pages::error(&c.name, &message),
    };
    if target.hint_valid {
        return c
            .end_and_leave(&headers, target.redirect.as_deref(), p.state.as_deref())
            .await;
    }
    // No proof the client may sign the user out: ask, with a double-submit form token.
    let csrf = crate::domain::secrets::random_token(24);
    let fields = format!(
        "<input type=\"hidden\" name=\"query\" value=\"{}\">",
        crate::edge::assets::escape(raw.as_deref().unwrap_or(""))
    );
    with_cookie(
        pages::logout_confirm(&c.slug, &c.name, &csrf, &fields),
        set_cookie(&st, &c.slug, CSRF_COOKIE, &csrf, 600),
    )
}

pub(super) async fn logout_submit(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let f = form(&body);
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if !same_origin(&st, &headers)
        || !tokens_equal(f.get("csrf").map(String::as_str).unwrap_or(""), &expected)
    {
        return pages::error(
            &c.name,
            "The form was not sent by this page (bad form token).",
        );
    }
    let p: LogoutParams = serde_urlencoded::from_str(
        f.get("query").map(String::as_str).unwrap_or(""),
    )
    .unwrap_or(LogoutParams {
        id_token_hint: None,
        post_logout_redirect_uri: None,
        state: None,
        client_id: None,
    });
    let target = match st
        .endpoints
        .logout_target(
            &c.tenant,
            None,
            p.client_id.as_deref(),
            p.post_logout_redirect_uri.as_deref(),
        )
        .await
    {
        Ok(t) => t,
        Err(message) => return pages::error(&c.name, &message),
    };
    c.end_and_leave(&headers, target.redirect.as_deref(), p.state.as_deref())
        .await
}

impl Ctx {
    async fn end_and_leave(
        &self,
        headers: &HeaderMap,
        redirect: Option<&str>,
        state: Option<&str>,
    ) -> Response {
        if let Some(cookie_value) = cookie(headers, SSO_COOKIE)
            && let Err(e) = self.st.flow.end_sso(&self.tenant, &cookie_value).await
        {
            return unavailable(e);
        }
        let clear = set_cookie(&self.st, &self.slug, SSO_COOKIE, "", 0);
        let resp = match redirect {
            Some(uri) => go(with_query(uri, &[("state", state)])),
            None => pages::message(
                StatusCode::OK,
                &self.name,
                "Signed out",
                "You are signed out.",
            ),
        };
        with_cookie(resp, clear)
    }
}
