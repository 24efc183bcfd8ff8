//! The hosted account pages outside the authorization flow: password reset, email
//! verification and sign-up.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::OidcProvider;
use super::browser::{Ctx, Form, Page, ctx, unavailable};
use super::cookies::{Peer, form_token, with_cookie};
use super::pages;
use crate::edge::client::client_info;
use crate::error::ServiceError;

#[derive(serde::Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
    request: Option<String>,
}

/// A page's form with a fresh double-submit form token, and the cookie that carries it.
fn with_form_token(c: &Ctx, form: impl FnOnce(&str) -> Response) -> Response {
    let (csrf, cookie) = form_token(&c.st, &c.slug);
    with_cookie(form(csrf.as_str()), cookie)
}

/// The form of the reset mail's link: a new password.
fn new_password_form(c: &Ctx, token: &str, error: Option<&str>) -> Response {
    with_form_token(c, |csrf| {
        pages::form(
            &c.slug,
            &c.name,
            "Choose a new password",
            "reset",
            &[("new_password", "New password", "password", "new-password")],
            &[("csrf", csrf), ("token", token)],
            "Set password",
            error,
        )
    })
}

pub(super) async fn reset_page(Page(c, q): Page<TokenQuery>) -> Response {
    match &q.token {
        // The link from the reset mail.
        Some(token) => new_password_form(&c, token, None),
        None => with_form_token(&c, |csrf| {
            pages::form(
                &c.slug,
                &c.name,
                "Reset your password",
                "reset",
                &[("email", "Email address", "email", "email")],
                &[("csrf", csrf)],
                "Send me a link",
                None,
            )
        }),
    }
}

pub(super) async fn reset_submit(p: Form<Peer>) -> Result<Response, Response> {
    p.check_form_token()?;
    let (c, info) = (&p.c, p.info());
    if let Some(token) = p.f.get("token") {
        let reset =
            c.st.recovery
                .reset_password(&c.tenant, token, p.field("new_password"), &info)
                .await;
        let done = (
            "Password changed",
            "Your password was changed and every session signed out. Sign in with the new one.",
        );
        let expired = "This reset link is used up or expired; ask for a new one.";
        return Ok(match link_answer(c, reset, done, expired) {
            Ok(page) => page,
            Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
            Err(e) => new_password_form(c, token, Some(&e.to_string())),
        });
    }
    let requested =
        c.st.recovery
            .request_password_reset(&c.tenant, p.field("email"), &info)
            .await;
    Ok(match requested {
        Ok(_) => c.message(
            StatusCode::OK,
            "Check your mail",
            "If this address belongs to an account, a reset link is on its way.",
        ),
        Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
        Err(e) => c.message(
            StatusCode::BAD_REQUEST,
            "Reset your password",
            &e.to_string(),
        ),
    })
}

pub(super) async fn verify(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, Response> {
    let c = ctx(&st, &slug).await?;
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    let token = q.token.as_deref().unwrap_or("");
    let verified = st.recovery.verify_email(&c.tenant, token, &info).await;
    let done = (
        "Address confirmed",
        "Thank you: your email address is confirmed.",
    );
    let expired = "This link is used up or expired; ask for a new one from the application.";
    Ok(link_answer(&c, verified, done, expired).unwrap_or_else(unavailable))
}

/// What the page of a mailed link (reset, verification) says: `done` (title, text) once the
/// service took the link's token, "Link expired" with `expired` when the token was used up,
/// expired or unknown; any other error is the caller's to answer.
fn link_answer(
    c: &Ctx,
    taken: Result<bool, ServiceError>,
    (title, text): (&str, &str),
    expired: &str,
) -> Result<Response, ServiceError> {
    match taken {
        Ok(_) => Ok(c.message(StatusCode::OK, title, text)),
        Err(ServiceError::InvalidToken) => {
            Ok(c.message(StatusCode::BAD_REQUEST, "Link expired", expired))
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn register_page(Page(c, q): Page<TokenQuery>) -> Response {
    register_form(&c, &q.request.unwrap_or_default(), None)
}

fn register_form(c: &Ctx, request: &str, error: Option<&str>) -> Response {
    with_form_token(c, |csrf| {
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
    })
}

pub(super) async fn register_submit(p: Form<Peer>) -> Result<Response, Response> {
    p.check_form_token()?;
    let (c, request) = (&p.c, p.field("request"));
    let info = p.info();
    let registered =
        c.st.accounts
            .register_account(
                &c.tenant,
                p.field("email"),
                p.field("username"),
                p.field("password"),
                &info,
            )
            .await;
    Ok(match registered {
        Ok(_) => {
            // Back to the sign-in of the request the user came from, if any.
            if let Ok(Some(_)) = c.st.flow.request(&c.tenant, request).await {
                return Ok(c.to_login(request));
            }
            c.message(
                StatusCode::OK,
                "Account created",
                "Your account is ready; a confirmation link is on its way to your address.",
            )
        }
        Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => unavailable(e),
        Err(e) => register_form(c, request, Some(&e.to_string())),
    })
}
