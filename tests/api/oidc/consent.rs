//! Consent to a third-party client, single sign-on, and the max_age and prompt=login that ask
//! for the password again.

use std::time::Duration;

use super::{Browser, REDIRECT, VERIFIER, field, query_of, setup};
use crate::helpers::*;

/// A third-party client asks for consent once; denied is access_denied; a second client of
/// the same browser signs in without a password; prompt=none works with the session.
#[tokio::test]
async fn consent_and_single_sign_on() {
    let s = setup().await;
    let (third, _) = s.confidential_client(false).await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    // The first party signs in (SSO session made).
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    // The third party: straight to consent (already signed in), deny, then allow.
    let a = b.get(&s.authorize_url(&third, &[])).await;
    let consent_url = a
        .location
        .unwrap_or_else(|| panic!("{} {}", a.status, a.body));
    assert!(consent_url.contains("/t/acme/consent"), "{consent_url}");
    let page = b.get(&consent_url).await;
    assert!(
        page.body
            .contains("Allow Partner App to use your Tenant acme account?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("See your email address"));
    let denied = b
        .post(
            "/t/acme/consent",
            &[
                ("request", &field(&page.body, "request")),
                ("csrf", &field(&page.body, "csrf")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_of(denied.location.as_deref().unwrap())["error"],
        "access_denied"
    );
    let a = b.get(&s.authorize_url(&third, &[])).await;
    let page = b.get(a.location.as_deref().unwrap()).await;
    let allowed = b
        .post(
            "/t/acme/consent",
            &[
                ("request", &field(&page.body, "request")),
                ("csrf", &field(&page.body, "csrf")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(query_of(allowed.location.as_deref().unwrap()).contains_key("code"));
    // Remembered: silently now, also with prompt=none.
    let a = b.get(&s.authorize_url(&third, &[("prompt", "none")])).await;
    assert!(
        query_of(
            a.location
                .as_deref()
                .unwrap_or_else(|| panic!("{} {}", a.status, a.body))
        )
        .contains_key("code"),
        "{:?}",
        a.location
    );
    // prompt=consent asks again.
    let a = b
        .get(&s.authorize_url(&third, &[("prompt", "consent")]))
        .await;
    assert!(a.location.unwrap().contains("/consent"));
    s.app.shutdown().await;
}

/// max_age older than the sign-in, or prompt=login, asks for the password again.
#[tokio::test]
async fn max_age_and_prompt_login_force_a_new_sign_in() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let a = b.get(&s.authorize_url(&spa, &[("max_age", "600")])).await;
    assert!(
        query_of(a.location.as_deref().unwrap()).contains_key("code"),
        "recent enough"
    );
    s.app.clock.advance(Duration::from_secs(120));
    let a = b.get(&s.authorize_url(&spa, &[("max_age", "60")])).await;
    assert!(
        a.location.unwrap().contains("/t/acme/login"),
        "too old: sign in again"
    );
    let a = b.get(&s.authorize_url(&spa, &[("prompt", "login")])).await;
    assert!(a.location.unwrap().contains("/t/acme/login"));
    // A fresh sign-in carries the new auth_time.
    let back = s
        .sign_in(
            &mut b,
            &s.authorize_url(&spa, &[("max_age", "60")]),
            PASSWORD,
        )
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &spa),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &spa)
        .await;
    let now = s.app.clock.now().timestamp();
    assert!(now - claims["auth_time"].as_i64().unwrap() < 5, "{claims}");
    s.app.shutdown().await;
}
