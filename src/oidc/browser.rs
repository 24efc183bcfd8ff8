//! The browser-facing pages of the authorization flow: authorize, sign-in (password, second
//! factor, passkey), consent and logout, and the page context they share.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawQuery, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::OidcProvider;
use super::cookies::{
    CSRF_COOKIE, Peer, SSO_COOKIE, cookie, form, form_token_ok, posted, same_origin, set_cookie,
    tokens_equal, with_cookie,
};
use super::endpoints::LogoutTarget;
use super::flow::{AuthorizeParams, Next, SSO_HOURS};
use super::pages::{self, LoginPage};
use super::store::{ClientRow, RequestRow, SsoRow};
use crate::actors::Tenant;
use crate::domain::claims::AuthMethod;
use crate::edge::client::client_info;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
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
    pub(super) st: OidcProvider,
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

/// A hosted page's GET: its tenant (the "not found" page when there is none) and its query,
/// extracted as the handlers' own `Path` and `Query` arguments were, the tenant looked up last.
pub(super) struct Page<Q>(pub(super) Ctx, pub(super) Q);

impl<Q: DeserializeOwned + Send> FromRequestParts<OidcProvider> for Page<Q> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &OidcProvider) -> Result<Self, Response> {
        let (Path(slug), Query(q)) =
            <(Path<String>, Query<Q>) as FromRequestParts<OidcProvider>>::from_request_parts(
                parts, st,
            )
            .await?;
        Ok(Page(ctx(st, &slug).await?, q))
    }
}

/// A form posted to a hosted page: its tenant, the headers and the fields. What every form
/// handler did first, in the same order (the parts as `posted` takes them, then the tenant);
/// the checks of where the form came from are the handlers' first lines (`request`,
/// `check_form_token`).
pub(super) struct Form<P = ()> {
    pub(super) c: Ctx,
    pub(super) headers: HeaderMap,
    pub(super) f: HashMap<String, String>,
    peer: P,
}

impl<P: FromRequestParts<OidcProvider> + Send> FromRequest<OidcProvider> for Form<P> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &OidcProvider) -> Result<Self, Response> {
        let (slug, peer, headers, body) = posted(req, st).await?;
        Ok(Self {
            c: ctx(st, &slug).await?,
            f: form(&body),
            headers,
            peer,
        })
    }
}

impl<P> Form<P> {
    /// A field, empty when absent.
    pub(super) fn field(&self, name: &str) -> &str {
        self.f.get(name).map(String::as_str).unwrap_or("")
    }

    /// The form's authorization request, checked against the form token it carries.
    async fn csrf_request(&self) -> Result<(RequestRow, ClientRow), Response> {
        let csrf = self.f.get("csrf").cloned().unwrap_or_default();
        self.c.request(self.f.get("request"), Some(&csrf)).await
    }

    /// What the sign-in, second-step and consent forms check first: that the form was posted
    /// from our own pages, then its authorization request with the form token.
    async fn request(&self) -> Result<(RequestRow, ClientRow), Response> {
        if !same_origin(&self.c.st, &self.headers) {
            return Err(pages::error(
                &self.c.name,
                "The form was sent from another site.",
            ));
        }
        self.csrf_request().await
    }

    /// The double-submit check of the forms without an authorization request (sign-out,
    /// reset, sign-up): posted from our own pages, with the token of the form cookie.
    pub(super) fn check_form_token(&self) -> Result<(), Response> {
        if form_token_ok(&self.c.st, &self.headers, &self.f) {
            return Ok(());
        }
        Err(pages::error(
            &self.c.name,
            "The form was not sent by this page (bad form token).",
        ))
    }
}

impl Form<Peer> {
    /// The caller, for throttling and audit.
    pub(super) fn info(&self) -> ClientInfo {
        client_info(
            self.peer.0,
            &self.headers,
            &self.c.st.config.trusted_proxies,
        )
    }
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

    /// A plain message page under the tenant's name.
    pub(super) fn message(&self, status: StatusCode, title: &str, text: &str) -> Response {
        pages::message(status, &self.name, title, text)
    }

    /// To the sign-in page of the authorization request `request`.
    pub(super) fn to_login(&self, request: &str) -> Response {
        go(format!("/t/{}/login?request={request}", self.slug))
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
            Next::Login(id) => self.to_login(&id),
            Next::Consent(id) => go(format!("/t/{}/consent?request={id}", self.slug)),
        }
    }

    /// The live request of a form or query, checked against its form token when `csrf`.
    pub(super) async fn request(
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

    async fn login_page(&self, r: &RequestRow, identifier: &str, error: Option<&str>) -> Response {
        // A provider list that cannot be read leaves the password form working.
        let providers = self
            .st
            .federation
            .buttons(&self.tenant)
            .await
            .unwrap_or_default();
        pages::login(&LoginPage {
            slug: &self.slug,
            tenant: &self.name,
            request: &r.id,
            csrf: &r.csrf,
            identifier,
            error,
            form_to: origin_of(&r.redirect_uri).as_deref(),
            providers: &providers,
        })
    }

    /// The sign-in page again, empty, saying why: a second step that cannot go on starts over.
    pub(super) async fn again(&self, r: &RequestRow, why: &str) -> Response {
        self.login_page(r, "", Some(why)).await
    }

    /// The second step of sign-in for `r`: after the password, or again after a wrong code.
    fn second_step(
        &self,
        r: &RequestRow,
        mfa_token: &str,
        methods: &[&str],
        passkey_options: Option<&str>,
        error: Option<&str>,
    ) -> Response {
        pages::second_step(
            &self.slug,
            &self.name,
            &r.id,
            &r.csrf,
            mfa_token,
            methods,
            passkey_options,
            error,
            origin_of(&r.redirect_uri).as_deref(),
        )
    }

    /// A browser session for `user`, then on with the request.
    pub(super) async fn signed_in(
        &self,
        r: &RequestRow,
        c: &ClientRow,
        user: &crate::store::users::UserRow,
        method: AuthMethod,
        idp: Option<&str>,
    ) -> Response {
        let (cookie, sso) = match self
            .st
            .flow
            .start_sso(&self.tenant, user, method, idp)
            .await
        {
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
    pub(super) async fn step_failed(
        &self,
        r: &RequestRow,
        identifier: &str,
        e: ServiceError,
    ) -> Response {
        match e {
            ServiceError::MfaRequired {
                mfa_token,
                methods,
                passkey_options,
            } => self.second_step(
                r,
                &mfa_token,
                &methods,
                passkey_options.map(|o| o.to_string()).as_deref(),
                None,
            ),
            ServiceError::MfaEnrollmentRequired { .. } => self.login_page(
                r,
                identifier,
                Some("This account needs a second factor first: set one up in the application, then sign in here."),
            ).await,
            // Home-realm discovery: the organization signs its people in through its provider.
            ServiceError::OrganizationSsoRequired { provider, .. } => go(format!(
                "/t/{}/federation/{provider}/start?request={}",
                self.slug, r.id
            )),
            ServiceError::Unavailable(_) | ServiceError::Internal(_) => unavailable(e),
            other => {
                let text = match other {
                    ServiceError::InvalidCredentials => "Wrong email, username or password.".to_string(),
                    other => other.to_string(),
                };
                self.login_page(r, identifier, Some(&text)).await
            }
        }
    }
}

// ---- the authorization flow ------------------------------------------------------------

pub(super) async fn authorize(
    Page(c, params): Page<AuthorizeParams>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let sso = c.sso(&headers).await?;
    let next =
        c.st.flow
            .authorize(&c.tenant, params, sso.as_ref())
            .await
            .map_err(unavailable)?;
    Ok(c.next(next))
}

#[derive(serde::Deserialize)]
pub(super) struct RequestQuery {
    request: Option<String>,
}

pub(super) async fn login_page(Page(c, q): Page<RequestQuery>) -> Result<Response, Response> {
    let (r, _) = c.request(q.request.as_ref(), None).await?;
    Ok(
        c.login_page(&r, r.login_hint.as_deref().unwrap_or(""), None)
            .await,
    )
}

pub(super) async fn login_submit(p: Form<Peer>) -> Result<Response, Response> {
    let (r, client) = p.request().await?;
    let (identifier, password) = (p.field("identifier"), p.field("password"));
    let (c, info) = (&p.c, p.info());
    let checked =
        c.st.accounts
            .check_login(&c.tenant, identifier, password, &info)
            .await;
    Ok(match checked {
        Ok(user) => {
            c.signed_in(&r, &client, &user, AuthMethod::Password, None)
                .await
        }
        Err(e) => c.step_failed(&r, identifier, e).await,
    })
}

pub(super) async fn mfa_submit(p: Form<Peer>) -> Result<Response, Response> {
    let (r, client) = p.request().await?;
    let (c, f, mfa_token) = (&p.c, &p.f, p.field("mfa_token"));
    let passkey: Option<Value> = f.get("passkey").and_then(|p| serde_json::from_str(p).ok());
    let factor = match (f.get("totp"), f.get("recovery_code"), &passkey) {
        (Some(t), _, _) => Factor::Totp(t),
        (None, Some(rc), _) => Factor::RecoveryCode(rc),
        (None, None, Some(p)) => Factor::Passkey(p),
        _ => {
            return Ok(c
                .again(&r, "Give a code, a recovery code or your passkey.")
                .await);
        }
    };
    let info = p.info();
    let completed =
        c.st.mfa
            .complete_mfa(&c.tenant, mfa_token, factor, &info)
            .await;
    Ok(match completed {
        Ok((user, method, idp)) => {
            c.signed_in(&r, &client, &user, method, idp.as_deref())
                .await
        }
        Err(ServiceError::InvalidCredentials) => {
            // The same second step again, with the message (the token counted the failure);
            // a code field only: a passkey answer that failed starts the sign-in over.
            let methods: Vec<&str> =
                c.st.mfa
                    .second_step_methods(&c.tenant, mfa_token)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| *m != "passkey")
                    .collect();
            if methods.is_empty() {
                return Ok(c.again(&r, "That did not work; sign in again.").await);
            }
            let error = Some("That code did not work.");
            c.second_step(&r, mfa_token, &methods, None, error)
        }
        Err(ServiceError::InvalidToken) => {
            c.again(&r, "The second step expired; sign in again.").await
        }
        Err(e) => c.step_failed(&r, "", e).await,
    })
}

pub(super) async fn passkey_start(p: Form) -> Result<Response, Response> {
    if !same_origin(&p.c.st, &p.headers) {
        return Err(StatusCode::FORBIDDEN.into_response());
    }
    if p.csrf_request().await.is_err() {
        return Err(StatusCode::BAD_REQUEST.into_response());
    }
    let c = &p.c;
    let (id, options) =
        c.st.mfa
            .start_passkey_login(&c.tenant, None)
            .await
            .map_err(unavailable)?;
    Ok(axum::Json(json!({"challengeId": id, "options": options})).into_response())
}

pub(super) async fn passkey_submit(p: Form<Peer>) -> Result<Response, Response> {
    let (r, client) = p.request().await?;
    let (c, challenge) = (&p.c, p.field("challenge"));
    let credential = p.f.get("credential");
    let Some(credential) = credential.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Ok(c.again(&r, "The passkey gave no answer.").await);
    };
    let info = p.info();
    let completed =
        c.st.mfa
            .complete_passkey_login(&c.tenant, challenge, &credential, &info)
            .await;
    Ok(match completed {
        Ok(user) => {
            c.signed_in(&r, &client, &user, AuthMethod::Passkey, None)
                .await
        }
        Err(e) => c.step_failed(&r, "", e).await,
    })
}

pub(super) async fn consent_page(
    Page(c, q): Page<RequestQuery>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let (r, client) = c.request(q.request.as_ref(), None).await?;
    Ok(match c.sso(&headers).await? {
        Some(_) => pages::consent(
            &c.slug,
            &c.name,
            &client.name,
            &r.scope,
            &r.id,
            &r.csrf,
            origin_of(&r.redirect_uri).as_deref(),
        ),
        None => c.to_login(&r.id),
    })
}

pub(super) async fn consent_submit(p: Form) -> Result<Response, Response> {
    let (r, client) = p.request().await?;
    let c = &p.c;
    let Some(sso) = c.sso(&p.headers).await? else {
        return Ok(c.to_login(&r.id));
    };
    let allow = p.f.get("decision").map(String::as_str) == Some("allow");
    let next =
        c.st.flow
            .answer_consent(&c.tenant, &r, &client, &sso, allow)
            .await
            .map_err(unavailable)?;
    Ok(c.next(next))
}

#[derive(Default, serde::Deserialize)]
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
    Page(c, p): Page<LogoutParams>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let target = c.logout_target(p.id_token_hint.as_deref(), &p).await?;
    if target.hint_valid {
        return Ok(c
            .end_and_leave(&headers, target.redirect.as_deref(), p.state.as_deref())
            .await);
    }
    // No proof the client may sign the user out: ask, with a double-submit form token.
    let csrf = crate::domain::secrets::random_token(24);
    let fields = format!(
        "<input type=\"hidden\" name=\"query\" value=\"{}\">",
        crate::edge::assets::escape(raw.as_deref().unwrap_or(""))
    );
    Ok(with_cookie(
        pages::logout_confirm(&c.slug, &c.name, &csrf, &fields),
        set_cookie(&c.st, &c.slug, CSRF_COOKIE, &csrf, 600),
    ))
}

pub(super) async fn logout_submit(p: Form) -> Result<Response, Response> {
    p.check_form_token()?;
    let params: LogoutParams = serde_urlencoded::from_str(p.field("query")).unwrap_or_default();
    let target = p.c.logout_target(None, &params).await?;
    Ok(p.c
        .end_and_leave(
            &p.headers,
            target.redirect.as_deref(),
            params.state.as_deref(),
        )
        .await)
}

impl Ctx {
    /// The checked target of an RP-initiated logout, or the page saying what is wrong.
    async fn logout_target(
        &self,
        id_token_hint: Option<&str>,
        p: &LogoutParams,
    ) -> Result<LogoutTarget, Response> {
        self.st
            .endpoints
            .logout_target(
                &self.tenant,
                id_token_hint,
                p.client_id.as_deref(),
                p.post_logout_redirect_uri.as_deref(),
            )
            .await
            .map_err(|message| pages::error(&self.name, &message))
    }

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
            None => self.message(StatusCode::OK, "Signed out", "You are signed out."),
        };
        with_cookie(resp, clear)
    }
}
