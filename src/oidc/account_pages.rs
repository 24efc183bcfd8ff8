//! The hosted account pages outside the authorization flow: password reset, email
//! verification and sign-up.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::OidcProvider;
use super::browser::{Ctx, ctx, go, unavailable};
use super::cookies::{form, form_token, form_token_ok, with_cookie};
use super::pages;
use crate::edge::client::client_info;
use crate::error::ServiceError;

#[derive(serde::Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
    request: Option<String>,
}

pub(super) async fn reset_page(
    State(st): State<OidcProvider>,
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

pub(super) async fn reset_submit(
    State(st): State<OidcProvider>,
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
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if let Some(token) = f.get("token") {
        return match st
            .recovery
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
        .recovery
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

pub(super) async fn verify(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let c = match ctx(&st, &slug).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    match st
        .recovery
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

pub(super) async fn register_page(
    State(st): State<OidcProvider>,
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

pub(super) async fn register_submit(
    State(st): State<OidcProvider>,
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
    let info = client_info(peer, &headers, &st.config.trusted_proxies);
    match st
        .accounts
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
            if let Ok(Some(_)) = st.flow.request(&c.tenant, get("request")).await {
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
