//! The provider's HTTP endpoints under `/t/{tenant}/` (API.md "OpenID Connect provider"):
//! thin handlers that parse, call the service and answer as the RFCs say.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::clients::ClientCredentials;
use super::flow::{AuthorizeParams, Next, SSO_HOURS};
use super::pages::{self, LoginPage};
use super::store::{ClientRow, RequestRow, SsoRow};
use super::token::OAuthError;
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::http::AppState;
use crate::http::client::client_info;
use crate::mfa::service::Factor;
use crate::service::ClientInfo;
use crate::service::tokens::AuthMethod;

/// The browser session cookie (one per tenant: its path is the tenant's).
const SSO_COOKIE: &str = "latchkey_sso";
/// The double-submit form token of pages without an authorization request.
const CSRF_COOKIE: &str = "latchkey_csrf";

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/authorize", get(authorize))
        .route("/t/{tenant}/login", get(login_page).post(login_submit))
        .route("/t/{tenant}/login/mfa", post(mfa_submit))
        .route("/t/{tenant}/login/passkey/start", post(passkey_start))
        .route("/t/{tenant}/login/passkey", post(passkey_submit))
        .route(
            "/t/{tenant}/consent",
            get(consent_page).post(consent_submit),
        )
        .route("/t/{tenant}/oauth/token", post(token))
        .route("/t/{tenant}/oauth/revoke", post(revoke))
        .route("/t/{tenant}/oauth/introspect", post(introspect))
        .route("/t/{tenant}/userinfo", get(userinfo).post(userinfo))
        .route("/t/{tenant}/logout", get(logout).post(logout_submit))
        .route("/t/{tenant}/reset", get(reset_page).post(reset_submit))
        .route("/t/{tenant}/verify", get(verify))
        .route(
            "/t/{tenant}/register",
            get(register_page).post(register_submit),
        )
        .route(
            "/t/{tenant}/.well-known/openid-configuration",
            get(super::discovery::openid_configuration),
        )
        .route(
            "/t/{tenant}/.well-known/oauth-authorization-server",
            get(super::discovery::openid_configuration),
        )
        // RFC 8414 §3.1: for an issuer with a path, the well-known part goes first.
        .route(
            "/.well-known/oauth-authorization-server/t/{tenant}",
            get(super::discovery::openid_configuration),
        )
        .route(
            "/.well-known/openid-configuration/t/{tenant}",
            get(super::discovery::openid_configuration),
        )
}

// ---- helpers ---------------------------------------------------------------------------

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn https(st: &AppState) -> bool {
    st.services.config.public_url.starts_with("https://")
}

/// `Set-Cookie` for a tenant's cookie: HttpOnly, SameSite=Lax (a redirect back from another
/// site still carries it; a cross-site POST does not), Secure over https, scoped to the tenant.
fn set_cookie(st: &AppState, slug: &str, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if https(st) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/t/{slug}/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with_cookie(mut resp: Response, value: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, value);
    resp
}

fn form(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// A cross-site form post is refused whatever it carries (the form tokens are the first
/// defence; this is the second, OWASP CSRF cheat sheet "verifying origin").
fn same_origin(st: &AppState, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Our own pages are served with `Referrer-Policy: no-referrer`, under which browsers
        // send `Origin: null` even for a same-origin form post (Fetch standard, "serializing
        // a request origin"). A sandboxed frame of another site sends `null` too, so `null`
        // is accepted only with the browser's own word that the request is same-origin.
        Some("null") => fetch_site == Some("same-origin"),
        Some(origin) => {
            let ours = url::Url::parse(&st.services.config.public_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            origin == ours
        }
        // No Origin (not a browser, or a very old one): the CSRF token decides.
        None => !matches!(fetch_site, Some("cross-site" | "same-site")),
    }
}

fn tokens_equal(a: &str, b: &str) -> bool {
    !a.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

fn origin_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// Redirects the browser (303 after a form, so it GETs the target).
fn go(to: String) -> Response {
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

struct Ctx {
    st: AppState,
    tenant: Tenant,
    slug: String,
    name: String,
}

async fn ctx(st: &AppState, slug: &str) -> Result<Ctx, Response> {
    match st.services.tenant(slug).await {
        Ok(t) => {
            let name = st.services.settings(&t).display_name;
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
    st: &AppState,
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

fn unavailable(e: ServiceError) -> Response {
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
        self.st.services.issuer(self.tenant.slug())
    }

    async fn sso(&self, headers: &HeaderMap) -> Result<Option<SsoRow>, Response> {
        self.st
            .services
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
            .services
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
        let (cookie, sso) = match self.st.services.start_sso(&self.tenant, user, method).await {
            Ok(x) => x,
            Err(e) => return unavailable(e),
        };
        let next = match self
            .st
            .services
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

async fn authorize(
    State(st): State<AppState>,
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
    match st.services.authorize(&c.tenant, params, sso.as_ref()).await {
        Ok(next) => c.next(next),
        Err(e) => unavailable(e),
    }
}

#[derive(serde::Deserialize)]
struct RequestQuery {
    request: Option<String>,
}

async fn login_page(
    State(st): State<AppState>,
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

async fn login_submit(
    State(st): State<AppState>,
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
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .check_login(&c.tenant, identifier, password, &info)
        .await
    {
        Ok(user) => c.signed_in(&r, &client, &user, AuthMethod::Password).await,
        Err(e) => c.step_failed(&r, identifier, e),
    }
}

async fn mfa_submit(
    State(st): State<AppState>,
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
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .complete_mfa(&c.tenant, &mfa_token, factor, &info)
        .await
    {
        Ok((user, method)) => c.signed_in(&r, &client, &user, method).await,
        Err(ServiceError::InvalidCredentials) => {
            // The same second step again, with the message (the token counted the failure);
            // a code field only: a passkey answer that failed starts the sign-in over.
            let methods: Vec<&str> = st
                .services
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

async fn passkey_start(
    State(st): State<AppState>,
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
    match st.services.start_passkey_login(&c.tenant, None).await {
        Ok((id, options)) => {
            axum::Json(json!({"challengeId": id, "options": options})).into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn passkey_submit(
    State(st): State<AppState>,
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
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .complete_passkey_login(&c.tenant, &challenge, &credential, &info)
        .await
    {
        Ok(user) => c.signed_in(&r, &client, &user, AuthMethod::Passkey).await,
        Err(e) => c.step_failed(&r, "", e),
    }
}

async fn consent_page(
    State(st): State<AppState>,
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

async fn consent_submit(
    State(st): State<AppState>,
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
        .services
        .answer_consent(&c.tenant, &r, &client, &sso, allow)
        .await
    {
        Ok(next) => c.next(next),
        Err(e) => unavailable(e),
    }
}

// ---- the token endpoint and friends ----------------------------------------------------

fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = oauth_json(
        status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    resp
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded id and
/// secret) or the body.
fn credentials(
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
        let raw = String::from_utf8(raw)
            .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = raw
            .split_once(':')
            .ok_or(OAuthError::invalid_client("malformed Basic credentials"))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))
        };
        if f.contains_key("client_secret") {
            return Err(OAuthError::invalid_request(
                "use one client authentication method",
            ));
        }
        return Ok(ClientCredentials {
            id: Some(decode(id)?),
            secret: Some(secrecy::SecretString::from(decode(secret)?)),
            basic: true,
        });
    }
    Ok(ClientCredentials {
        id: f.get("client_id").cloned(),
        secret: f
            .get("client_secret")
            .map(|s| secrecy::SecretString::from(s.clone())),
        basic: false,
    })
}

/// `application/x-www-form-urlencoded` bodies only (RFC 6749 §3.2), each parameter once.
fn oauth_form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("malformed form body"))?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(OAuthError::invalid_request(format!("`{k}` appears twice")));
        }
    }
    Ok(map)
}

async fn oauth_tenant(st: &AppState, slug: &str) -> Result<Tenant, OAuthError> {
    st.services
        .tenant(slug)
        .await
        .map_err(OAuthError::from_service)
}

async fn token(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let creds = credentials(&headers, &f)?;
        let client = st.services.authenticate_client(&tenant, &creds).await?;
        let info: ClientInfo = client_info(peer, &headers, &st.services.config.trusted_proxies);
        let get = |k: &str| f.get(k).map(String::as_str);
        match get("grant_type") {
            Some("authorization_code") => {
                let code = get("code").ok_or(OAuthError::invalid_request("code is required"))?;
                st.services
                    .exchange_code(
                        &tenant,
                        &client,
                        code,
                        get("redirect_uri"),
                        get("code_verifier"),
                        &info,
                    )
                    .await
            }
            Some("refresh_token") => {
                let rt = get("refresh_token")
                    .ok_or(OAuthError::invalid_request("refresh_token is required"))?;
                st.services
                    .refresh_grant(&tenant, &client, rt, get("scope"), &info)
                    .await
            }
            Some("client_credentials") => {
                st.services
                    .client_credentials_grant(&tenant, &client, get("scope"))
                    .await
            }
            Some(other) => Err(OAuthError::unsupported_grant_type(format!(
                "`{other}` is not supported"
            ))),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    };
    match run.await {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(e) => oauth_error(e),
    }
}

async fn revoke(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let client = st
            .services
            .authenticate_client(&tenant, &credentials(&headers, &f)?)
            .await?;
        let token = f
            .get("token")
            .ok_or(OAuthError::invalid_request("token is required"))?;
        st.services
            .revoke_token(&tenant, &client, token)
            .await
            .map_err(OAuthError::from_service)
    };
    match run.await {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => oauth_json(StatusCode::OK, json!({})),
        Err(e) => oauth_error(e),
    }
}

async fn introspect(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let client = st
            .services
            .authenticate_client(&tenant, &credentials(&headers, &f)?)
            .await?;
        if !client.is_confidential() {
            return Err(OAuthError::unauthorized_client(
                "introspection is for confidential clients",
            ));
        }
        let token = f
            .get("token")
            .ok_or(OAuthError::invalid_request("token is required"))?;
        st.services
            .introspect(&tenant, token)
            .await
            .map_err(OAuthError::from_service)
    };
    match run.await {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(e) => oauth_error(e),
    }
}

async fn userinfo(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer =
        crate::http::graphql::bearer(&headers).or_else(|| form(&body).get("access_token").cloned());
    let challenge = |error: &str| {
        let mut resp = oauth_json(StatusCode::UNAUTHORIZED, json!({"error": error}));
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\"")) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let tenant = match st.services.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_error(OAuthError::from_service(e)),
    };
    match st.services.userinfo(&tenant, bearer.as_deref()).await {
        Ok(claims) => oauth_json(StatusCode::OK, claims),
        Err(ServiceError::Forbidden) => {
            let mut resp = oauth_json(
                StatusCode::FORBIDDEN,
                json!({"error": "insufficient_scope"}),
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
            );
            resp
        }
        Err(ServiceError::Unauthenticated(_)) => challenge("invalid_token"),
        Err(e) => oauth_error(OAuthError::from_service(e)),
    }
}

#[derive(serde::Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): with a valid id_token_hint
/// the browser session ends at once; without one the user confirms. The post-logout URI must
/// be one the client registered.
async fn logout(
    State(st): State<AppState>,
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
        .services
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
    let csrf = crate::service::secrets::random_token(24);
    let fields = format!(
        "<input type=\"hidden\" name=\"query\" value=\"{}\">",
        crate::http::assets::escape(raw.as_deref().unwrap_or(""))
    );
    with_cookie(
        pages::logout_confirm(&c.slug, &c.name, &csrf, &fields),
        set_cookie(&st, &c.slug, CSRF_COOKIE, &csrf, 600),
    )
}

async fn logout_submit(
    State(st): State<AppState>,
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
        .services
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
            && let Err(e) = self.st.services.end_sso(&self.tenant, &cookie_value).await
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

// ---- reset, verification and sign-up pages ---------------------------------------------

/// A page form's token: double-submit, the cookie set when the form was shown.
fn form_token(st: &AppState, slug: &str) -> (String, HeaderValue) {
    let t = crate::service::secrets::random_token(24);
    let c = set_cookie(st, slug, CSRF_COOKIE, &t, 3600);
    (t, c)
}

fn form_token_ok(st: &AppState, headers: &HeaderMap, f: &HashMap<String, String>) -> bool {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    same_origin(st, headers)
        && tokens_equal(f.get("csrf").map(String::as_str).unwrap_or(""), &expected)
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
    request: Option<String>,
}

async fn reset_page(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (csrf, cookie) = form_token(&st, &c.slug);
    let page = match &q.token {
        // The link from the reset mail.
        Some(token) => pages::form(
            &c.slug,
            &c.name,
            "Choose a new password",
            "reset",
            &[("new_password", "New password", "password", "new-password")],
            &[("csrf", &csrf), ("token", token)],
            "Set password",
            None,
        ),
        None => pages::form(
            &c.slug,
            &c.name,
            "Reset your password",
            "reset",
            &[("email", "Email address", "email", "email")],
            &[("csrf", &csrf)],
            "Send me a link",
            None,
        ),
    };
    with_cookie(page, cookie)
}

async fn reset_submit(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let f = form(&body);
    if !form_token_ok(&st, &headers, &f) {
        return pages::error(
            &c.name,
            "The form was not sent by this page (bad form token).",
        );
    }
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if let Some(token) = f.get("token") {
        return match st
            .services
            .reset_password(&c.tenant, token, get("new_password"), &info)
            .await
        {
            Ok(_) => pages::message(
                StatusCode::OK,
                &c.name,
                "Password changed",
                "Your password was changed and every session signed out. Sign in with the new one.",
            ),
            Err(ServiceError::InvalidToken) => pages::message(
                StatusCode::BAD_REQUEST,
                &c.name,
                "Link expired",
                "This reset link is used up or expired; ask for a new one.",
            ),
            Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
            Err(e) => {
                let (csrf, cookie) = form_token(&st, &c.slug);
                with_cookie(
                    pages::form(
                        &c.slug,
                        &c.name,
                        "Choose a new password",
                        "reset",
                        &[("new_password", "New password", "password", "new-password")],
                        &[("csrf", &csrf), ("token", token)],
                        "Set password",
                        Some(&e.to_string()),
                    ),
                    cookie,
                )
            }
        };
    }
    match st
        .services
        .request_password_reset(&c.tenant, get("email"), &info)
        .await
    {
        Ok(_) => pages::message(
            StatusCode::OK,
            &c.name,
            "Check your mail",
            "If this address belongs to an account, a reset link is on its way.",
        ),
        Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
        Err(e) => pages::message(
            StatusCode::BAD_REQUEST,
            &c.name,
            "Reset your password",
            &e.to_string(),
        ),
    }
}

async fn verify(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .verify_email(&c.tenant, q.token.as_deref().unwrap_or(""), &info)
        .await
    {
        Ok(_) => pages::message(
            StatusCode::OK,
            &c.name,
            "Address confirmed",
            "Thank you: your email address is confirmed.",
        ),
        Err(ServiceError::InvalidToken) => pages::message(
            StatusCode::BAD_REQUEST,
            &c.name,
            "Link expired",
            "This link is used up or expired; ask for a new one from the application.",
        ),
        Err(e) => unavailable(e),
    }
}

async fn register_page(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (csrf, cookie) = form_token(&st, &c.slug);
    let request = q.request.unwrap_or_default();
    with_cookie(register_form(&c, &csrf, &request, None), cookie)
}

fn register_form(c: &Ctx, csrf: &str, request: &str, error: Option<&str>) -> Response {
    pages::form(
        &c.slug,
        &c.name,
        &format!("Create your {} account", c.name),
        "register",
        &[
            ("email", "Email address", "email", "email"),
            ("username", "Username", "text", "username"),
            ("password", "Password", "password", "new-password"),
        ],
        &[("csrf", csrf), ("request", request)],
        "Create account",
        error,
    )
}

async fn register_submit(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let f = form(&body);
    if !form_token_ok(&st, &headers, &f) {
        return pages::error(
            &c.name,
            "The form was not sent by this page (bad form token).",
        );
    }
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let info = client_info(peer, &headers, &st.services.config.trusted_proxies);
    match st
        .services
        .register_account(
            &c.tenant,
            get("email"),
            get("username"),
            get("password"),
            &info,
        )
        .await
    {
        Ok(_) => {
            // Back to the sign-in of the request the user came from, if any.
            if let Ok(Some(_)) = st.services.request(&c.tenant, get("request")).await {
                return go(format!("/t/{}/login?request={}", c.slug, get("request")));
            }
            pages::message(
                StatusCode::OK,
                &c.name,
                "Account created",
                "Your account is ready; a confirmation link is on its way to your address.",
            )
        }
        Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
        Err(e) => {
            let (csrf, cookie) = form_token(&st, &c.slug);
            with_cookie(
                register_form(&c, &csrf, get("request"), Some(&e.to_string())),
                cookie,
            )
        }
    }
}
