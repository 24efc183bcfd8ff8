//! The hosted sign-in pages: the browser session's cookie, the forms' defences, and the second
//! step.

use std::time::Duration;

use serde_json::json;

use super::{Browser, REDIRECT, VERIFIER, field, query_of, setup};
use crate::helpers::*;

/// The browser session's cookie and the hosted forms' defences.
#[tokio::test]
async fn hosted_pages_cookies_and_forms_are_locked_down() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let a = b
        .get(&s.authorize_url(&spa, &[("login_hint", "ada@acme.example")]))
        .await;
    let login = b.get(a.location.as_deref().unwrap()).await;
    let csp = login
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://app.example"),
        "{csp}"
    );
    assert!(
        login.body.contains("value=\"ada@acme.example\""),
        "login_hint prefilled"
    );
    assert!(login.body.contains("<label for=\"password\">"));
    // Wrong password: the page again, with a message; no cookie.
    let wrong = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("role=\"alert\""));
    assert!(!b.cookies.contains_key("latchkey_sso"));
    // A form without its token, or from another site, is refused.
    let forged = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", "nope"),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 400);
    let cross = s
        .app
        .client
        .post(format!("{}/t/acme/login", s.app.base))
        .header("origin", "https://evil.example")
        .form(&[
            ("request", field(&login.body, "request")),
            ("csrf", field(&login.body, "csrf")),
            ("identifier", "ada".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 400);
    // `Origin: null` (what a sandboxed frame of another site sends too) passes only with the
    // browser saying same-origin.
    let form = [
        ("request", field(&login.body, "request")),
        ("csrf", field(&login.body, "csrf")),
        ("identifier", "ada".to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for headers in [
        &[("origin", "null")][..],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")][..],
        &[("origin", "null"), ("sec-fetch-site", "same-site")][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let refused = b.post_from("/t/acme/login", &form, headers).await;
        assert_eq!(refused.status, 400, "{headers:?}");
        assert!(refused.body.contains("another site"), "{}", refused.body);
    }
    // The right one: a cookie that scripts cannot read, sent on top-level navigation only.
    let ok = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let c = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("latchkey_sso="))
        .expect("a session cookie");
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/t/acme/"),
        "{c}"
    );
    assert!(!c.contains("Secure"), "not over plain http: {c}");
    s.app.shutdown().await;
}

/// An account with an authenticator app signs in on the hosted page in two steps, and its
/// id_token says so.
#[tokio::test]
async fn the_hosted_sign_in_has_the_second_step() {
    let s = setup().await;
    let spa = s.public_client().await;
    let access = s.app.login_at("acme", "ada", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let start = s
        .app
        .gql_tenant(
            "acme",
            Some(&access),
            "mutation { startTotpEnrollment { secret } }",
            json!({}),
        )
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let otp = |unix: i64| {
        totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap(),
        )
        .generate(unix as u64)
    };
    let confirmed = s
        .app
        .gql_tenant(
            "acme",
            Some(&access),
            "mutation($c: String!) { confirmTotpEnrollment(code: $c) { codes } }",
            json!({"c": otp(s.app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    s.app.clock.advance(Duration::from_secs(30));

    let mut b = Browser::new(&s.app);
    let a = b.get(&s.authorize_url(&spa, &[])).await;
    let login = b.get(a.location.as_deref().unwrap()).await;
    let step = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    assert!(
        step.body.contains("One more step") && step.body.contains("authenticator app"),
        "{}",
        step.body
    );
    let done = b
        .post(
            "/t/acme/login/mfa",
            &[
                ("request", &field(&step.body, "request")),
                ("csrf", &field(&step.body, "csrf")),
                ("mfa_token", &field(&step.body, "mfa_token")),
                ("totp", &otp(s.app.clock.now().timestamp())),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let back = query_of(done.location.as_deref().unwrap());
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
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "aal2");
    s.app.shutdown().await;
}
