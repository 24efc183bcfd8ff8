//! The provider's HTTP endpoints under `/t/{tenant}/` (API.md "OpenID Connect provider"):
//! thin handlers that parse, call the service and answer as the RFCs say.

use axum::Router;
use axum::routing::{get, post};

use super::OidcProvider;
use super::account_pages::{register_page, register_submit, reset_page, reset_submit, verify};
use super::backchannel::{introspect, revoke, token, userinfo};
use super::browser::{
    authorize, consent_page, consent_submit, login_page, login_submit, logout, logout_submit,
    mfa_submit, passkey_start, passkey_submit,
};

/// The routes.
pub fn routes() -> Router<OidcProvider> {
    let mut router = Router::new()
        .route("/t/{tenant}/authorize", get(authorize))
        .route("/t/{tenant}/login", get(login_page).post(login_submit))
        .route("/t/{tenant}/login/mfa", post(mfa_submit))
        .route(
            "/t/{tenant}/federation/{provider}/start",
            get(super::federated::start),
        )
        .route(
            "/t/{tenant}/federation/{provider}/callback",
            get(super::federated::callback).post(super::federated::callback_posted),
        )
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
        );
    // Discovery under both well-known names, each also where RFC 8414 §3.1 puts it: for an
    // issuer with a path, the well-known part goes first.
    for path in [
        "/t/{tenant}/.well-known/openid-configuration",
        "/t/{tenant}/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/t/{tenant}",
        "/.well-known/openid-configuration/t/{tenant}",
    ] {
        router = router.route(path, get(super::discovery::openid_configuration));
    }
    router
}
