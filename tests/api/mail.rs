//! E-mail: verification on register, password reset by link, the outbox surviving SMTP
//! outages and restarts. Mail goes over real SMTP to a server on loopback.

use serde_json::{Value, json};

use crate::helpers::*;

const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str =
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) }";
const RESEND: &str = "mutation { resendVerificationEmail }";
const SIGN_UP: &str = "mutation($input: RegisterInput!) { signUp(input: $input) { verificationRequired user { id username } session { accessToken } } }";
const NEW_PASSWORD: &str = "a completely new passphrase";

async fn app_with_smtp(sink: &SmtpSink) -> TestApp {
    TestApp::spawn_with(&[
        ("SMTP_URL", &sink.url()),
        ("MAIL_FROM", "Latchkey Test <no-reply@latchkey.test>"),
    ])
    .await
}

fn ok(body: &Value, field: &str) {
    assert!(body["errors"].is_null(), "{field}: {body}");
    assert_eq!(body["data"][field], true, "{body}");
}

#[tokio::test]
async fn reset_mail_resets_the_password_once_and_revokes_sessions() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    let reg = app
        .register("reset@example.com", "resetter", PASSWORD)
        .await;
    let old_access = reg["accessToken"].as_str().unwrap().to_string();
    let old_refresh = reg["refreshToken"].as_str().unwrap().to_string();

    ok(
        &app.gql(REQUEST_RESET, json!({"e": "Reset@Example.com"}))
            .await,
        "requestPasswordReset",
    );
    let mail = sink.wait_for("reset@example.com", "Reset your").await;
    assert!(mail.raw.contains("Message-ID: <"), "{}", mail.raw);
    assert!(
        mail.raw
            .contains("From: \"Latchkey Test\" <no-reply@latchkey.test>")
            || mail
                .raw
                .contains("From: Latchkey Test <no-reply@latchkey.test>"),
        "{}",
        mail.raw
    );
    assert!(mail.text.contains("Hello resetter"), "{}", mail.text);
    // The link is built from PUBLIC_URL and the tenant, never from the request's Host.
    assert!(
        mail.text
            .contains("http://latchkey.test/t/default/reset?token="),
        "{}",
        mail.text
    );
    let token = mail.token();
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert!(
        mail.html.contains(&format!(
            "href=\"http://latchkey.test/t/default/reset?token={token}\""
        )),
        "{}",
        mail.html
    );

    ok(
        &app.gql(RESET, json!({"t": token, "p": NEW_PASSWORD})).await,
        "resetPassword",
    );
    assert_eq!(
        code(&app.login("resetter", PASSWORD).await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    assert!(app.login("resetter", NEW_PASSWORD).await["errors"].is_null());
    // Single use.
    let again = app
        .gql(RESET, json!({"t": token, "p": "yet another passphrase"}))
        .await;
    assert_eq!(code(&again).as_deref(), Some("INVALID_TOKEN"));
    // Every earlier session is gone.
    assert_eq!(
        code(&app.me(&old_access).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&app.refresh(&old_refresh).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    // And the owner is told.
    let notice = sink
        .wait_for("reset@example.com", "password was changed")
        .await;
    assert!(notice.text.contains("signed out"), "{}", notice.text);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_email_gets_the_same_answer_and_no_mail() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    app.register("known@example.com", "knownuser", PASSWORD)
        .await;
    let unknown = app
        .gql(REQUEST_RESET, json!({"e": "unknown@example.com"}))
        .await;
    let known = app
        .gql(REQUEST_RESET, json!({"e": "known@example.com"}))
        .await;
    assert_eq!(unknown, known, "identical answers");
    ok(&unknown, "requestPasswordReset");
    // The known address's mail was queued after the unknown request; once it is here, a mail
    // for the unknown address would have been too.
    sink.wait_for("known@example.com", "Reset your").await;
    assert!(
        sink.mails()
            .iter()
            .all(|m| !m.to.contains("unknown@example.com"))
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_reset_tokens_and_passwords() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    app.register("tok@example.com", "tokenuser", PASSWORD).await;
    for t in ["", "garbage", &"x".repeat(10_000)] {
        let body = app.gql(RESET, json!({"t": t, "p": NEW_PASSWORD})).await;
        assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");
    }
    ok(
        &app.gql(REQUEST_RESET, json!({"e": "tok@example.com"}))
            .await,
        "requestPasswordReset",
    );
    let first = sink.wait_for("tok@example.com", "Reset your").await.token();
    // A weak password is refused without spending the token.
    let weak = app.gql(RESET, json!({"t": first, "p": "short"})).await;
    assert_eq!(code(&weak).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(field(&weak).as_deref(), Some("newPassword"));
    // A newer request supersedes the first link.
    ok(
        &app.gql(REQUEST_RESET, json!({"e": "tok@example.com"}))
            .await,
        "requestPasswordReset",
    );
    let second = sink
        .wait_for_count("tok@example.com", "Reset your", 2)
        .await[1]
        .token();
    assert_ne!(first, second);
    assert_eq!(
        code(&app.gql(RESET, json!({"t": first, "p": NEW_PASSWORD})).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    // A verification token is not a reset token.
    let verify = sink
        .wait_for("tok@example.com", "Confirm your email")
        .await
        .token();
    assert_eq!(
        code(
            &app.gql(RESET, json!({"t": verify, "p": NEW_PASSWORD}))
                .await
        )
        .as_deref(),
        Some("INVALID_TOKEN")
    );
    // The reset link expires after 30 minutes.
    app.clock
        .advance(std::time::Duration::from_secs(30 * 60 + 1));
    assert_eq!(
        code(
            &app.gql(RESET, json!({"t": second, "p": NEW_PASSWORD}))
                .await
        )
        .as_deref(),
        Some("INVALID_TOKEN")
    );
    assert!(
        app.login("tokenuser", PASSWORD).await["errors"].is_null(),
        "password unchanged"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_reset_requests_are_refused_without_mail() {
    let app = TestApp::spawn().await;
    for e in [
        "",
        "not-an-email",
        "victim@example.com\r\nBcc: all@evil.example",
        &format!("{}@example.com", "a".repeat(300)),
    ] {
        let body = app.gql(REQUEST_RESET, json!({"e": e})).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{e:?}: {body}"
        );
        assert_eq!(field(&body).as_deref(), Some("email"));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn verification_mail_confirms_the_address() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    let reg = app
        .register("verify@example.com", "verifier", PASSWORD)
        .await;
    assert_eq!(reg["user"]["emailVerified"], false);
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let first = sink
        .wait_for("verify@example.com", "Confirm your email")
        .await;
    assert!(
        first
            .text
            .contains("http://latchkey.test/t/default/verify?token="),
        "{}",
        first.text
    );

    // Asking again sends a new link and retires the first.
    ok(
        &app.gql_as(&access, RESEND, json!({})).await,
        "resendVerificationEmail",
    );
    let second = sink
        .wait_for_count("verify@example.com", "Confirm your email", 2)
        .await[1]
        .token();
    assert_eq!(
        code(&app.gql(VERIFY, json!({"t": first.token()})).await).as_deref(),
        Some("INVALID_TOKEN")
    );

    ok(&app.gql(VERIFY, json!({"t": second})).await, "verifyEmail");
    assert_eq!(app.me(&access).await["data"]["me"]["emailVerified"], true);
    assert_eq!(
        code(&app.gql(VERIFY, json!({"t": second})).await).as_deref(),
        Some("INVALID_TOKEN"),
        "single use"
    );
    // Without a Bearer token there is nobody to resend to.
    assert_eq!(
        code(&app.gql(RESEND, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_tenant_can_require_a_verified_address_before_login() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &sink.url()),
        ("REQUIRE_VERIFIED_EMAIL", "true"),
    ])
    .await;
    // register creates the account and mails the link, but starts no session.
    let body = app
        .gql(
            REGISTER,
            json!({"input": {"email": "strict@example.com", "username": "strict", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("ACCOUNT_NOT_VERIFIED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["extensions"]["userId"].is_string(),
        "{body}"
    );
    assert!(body["data"].is_null(), "no tokens: {body}");
    assert_eq!(
        code(&app.login("strict", PASSWORD).await).as_deref(),
        Some("ACCOUNT_NOT_VERIFIED")
    );
    // A wrong password still says only INVALID_CREDENTIALS.
    assert_eq!(
        code(&app.login("strict", "wrong password!").await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    // signUp answers the same case without an error: the user, and no session.
    let body = app
        .gql(
            SIGN_UP,
            json!({"input": {"email": "second@example.com", "username": "second", "password": PASSWORD}}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["signUp"]["verificationRequired"], true,
        "{body}"
    );
    assert!(body["data"]["signUp"]["session"].is_null(), "{body}");
    assert_eq!(body["data"]["signUp"]["user"]["username"], "second");

    // Without a token, a new link can be asked for by address (always true).
    sink.wait_for("strict@example.com", "Confirm your email")
        .await;
    let body = app
        .gql(
            "mutation($e: String) { resendVerificationEmail(email: $e) }",
            json!({"e": "strict@example.com"}),
        )
        .await;
    ok(&body, "resendVerificationEmail");
    let body = app
        .gql(
            "mutation($e: String) { resendVerificationEmail(email: $e) }",
            json!({"e": "nobody@example.com"}),
        )
        .await;
    ok(&body, "resendVerificationEmail");
    let links = sink
        .wait_for_count("strict@example.com", "Confirm your email", 2)
        .await;
    let token = links.last().unwrap().token();
    ok(&app.gql(VERIFY, json!({"t": token})).await, "verifyEmail");
    assert!(app.login("strict", PASSWORD).await["errors"].is_null());
    app.shutdown().await;
}

/// Sessions that began before a tenant turned the requirement on cannot be refreshed until
/// the address is confirmed.
#[tokio::test]
async fn turning_the_requirement_on_stops_refreshing_unverified_sessions() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("strict").await;
    let user = app
        .register_at("strict", "early@example.com", "early", PASSWORD)
        .await;
    let refresh = user["refreshToken"].as_str().unwrap().to_string();
    let body = app
        .gql_tenant(
            "strict",
            Some(&admin),
            "mutation { updateTenantSettings(input: {requireVerifiedEmail: true}) { requireVerifiedEmail } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .gql_tenant("strict", None, REFRESH, json!({"t": refresh}))
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("ACCOUNT_NOT_VERIFIED"),
        "{body}"
    );
    let rest = app
        .client
        .post(format!("{}/t/strict/api/auth/refresh", app.base))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), reqwest::StatusCode::FORBIDDEN);
    app.shutdown().await;
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_is_delivered_when_it_comes_up() {
    let port = SmtpSink::reserve_port();
    let app = TestApp::spawn_with(&[("SMTP_URL", &smtp_url(port))]).await;
    app.register("outage@example.com", "outage", PASSWORD).await;
    ok(
        &app.gql(REQUEST_RESET, json!({"e": "outage@example.com"}))
            .await,
        "requestPasswordReset",
    );
    let sink = SmtpSink::start_on(port);
    let mail = sink.wait_for("outage@example.com", "Reset your").await;
    ok(
        &app.gql(RESET, json!({"t": mail.token(), "p": NEW_PASSWORD}))
            .await,
        "resetPassword",
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_restart_between_request_and_delivery_still_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let port = SmtpSink::reserve_port();
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url), ("SMTP_URL", &smtp_url(port))]).await;
    app.register("restart@example.com", "restarter", PASSWORD)
        .await;
    ok(
        &app.gql(REQUEST_RESET, json!({"e": "restart@example.com"}))
            .await,
        "requestPasswordReset",
    );
    app.shutdown().await;

    let sink = SmtpSink::start_on(port);
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url), ("SMTP_URL", &smtp_url(port))]).await;
    let mail = sink.wait_for("restart@example.com", "Reset your").await;
    sink.wait_for("restart@example.com", "Confirm your email")
        .await;
    ok(
        &app.gql(RESET, json!({"t": mail.token(), "p": NEW_PASSWORD}))
            .await,
        "resetPassword",
    );
    app.shutdown().await;
}

#[tokio::test]
async fn markup_never_reaches_the_html_body_unescaped() {
    // Usernames cannot carry markup at all...
    let app = TestApp::spawn().await;
    let body = app.gql(REGISTER, json!({"input": {"email": "x@example.com", "username": "<script>", "password": PASSWORD}})).await;
    assert_eq!(field(&body).as_deref(), Some("username"));
    app.shutdown().await;
    // ...and every value a template interpolates is escaped in the HTML body.
    use latchkey::infra::mail::{MailContext, Template, render};
    let ctx = MailContext {
        tenant_name: "Acme <b>\"&'",
        username: "<img src=x onerror=alert(1)>",
        link: Some("https://x.test/r?token=a&b=<c>"),
        valid_for: "30 minutes",
    };
    let m = render(Template::Reset, "v@example.com", &ctx, chrono::Utc::now()).mail;
    assert!(!m.html.contains("<img"), "{}", m.html);
    assert!(!m.html.contains("<b>"), "{}", m.html);
    assert!(
        m.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        m.html
    );
    assert!(
        m.html.contains("Acme &lt;b&gt;&quot;&amp;&#39;"),
        "{}",
        m.html
    );
    assert!(
        m.html
            .contains("href=\"https://x.test/r?token=a&amp;b=&lt;c&gt;\""),
        "{}",
        m.html
    );
    // The text body is plain text: no escaping needed, none applied.
    assert!(m.text.contains("Hello <img src=x onerror=alert(1)>"));
}

#[tokio::test]
async fn rest_password_reset_endpoints() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    app.register("rest@example.com", "restuser", PASSWORD).await;
    let post = |path: &str, body: Value| {
        app.client
            .post(format!("{}{}", app.base, path))
            .json(&body)
            .send()
    };
    let r = post(
        "/api/auth/password-reset/request",
        json!({"email": "nobody@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let r = post(
        "/api/auth/password-reset/request",
        json!({"email": "rest@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let token = sink
        .wait_for("rest@example.com", "Reset your")
        .await
        .token();
    let r = post(
        "/api/auth/password-reset/confirm",
        json!({"token": "bogus", "new_password": NEW_PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    let r = post("/api/auth/password-reset/confirm", json!({"token": token}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "missing new_password");
    let detail = r.json::<Value>().await.unwrap()["detail"].clone();
    assert_eq!(
        detail[0]["loc"],
        json!(["body", "new_password"]),
        "{detail}"
    );
    // A weak password is a 422 naming the REST field, and the token is not spent.
    let r = post(
        "/api/auth/password-reset/confirm",
        json!({"token": token, "new_password": "short"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let detail = r.json::<Value>().await.unwrap()["detail"].clone();
    assert_eq!(
        detail[0]["loc"],
        json!(["body", "new_password"]),
        "{detail}"
    );
    let r = post(
        "/api/auth/password-reset/confirm",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert!(app.login("restuser", NEW_PASSWORD).await["errors"].is_null());
    let r = post(
        "/t/nope/api/auth/password-reset/request",
        json!({"email": "rest@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn markup_in_the_tenant_name_is_escaped_in_the_mailed_html() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_platform(&[("SMTP_URL", &sink.url())]).await;
    let admin = app.create_tenant_with_admin("inject").await;
    // An admin-chosen display name is the one interpolated value that may hold markup.
    let name = "<script>alert(1)</script> & \"Co\"";
    let b = app
        .gql_tenant("inject", Some(&admin), "mutation($i: TenantSettingsInput!) { updateTenantSettings(input: $i) { displayName } }", json!({"i": {"displayName": name}}))
        .await;
    assert_eq!(
        b["data"]["updateTenantSettings"]["displayName"], name,
        "{b}"
    );
    app.register_at("inject", "victim@inject.example", "victim", PASSWORD)
        .await;
    let mail = sink
        .wait_for("victim@inject.example", "Confirm your email")
        .await;
    assert!(!mail.html.contains("<script>"), "{}", mail.html);
    assert!(
        mail.html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"),
        "{}",
        mail.html
    );
    assert!(
        mail.text.contains(name),
        "the text body is plain text: {}",
        mail.text
    );
    app.shutdown().await;
}

/// One reset token presented by ten clients at once: one password change, nine
/// INVALID_TOKEN, never INTERNAL (the losers' transactions used to surface as "failed
/// transaction"). The same for twenty verifications of one link.
#[tokio::test]
async fn one_reset_or_verification_token_used_in_parallel_works_once() {
    let sink = SmtpSink::start();
    let app = std::sync::Arc::new(app_with_smtp(&sink).await);
    app.register("race@example.com", "racer", PASSWORD).await;
    let verify = sink
        .wait_for("race@example.com", "Confirm your email")
        .await
        .token();
    ok(
        &app.gql(REQUEST_RESET, json!({"e": "race@example.com"}))
            .await,
        "requestPasswordReset",
    );
    let reset = sink
        .wait_for("race@example.com", "Reset your")
        .await
        .token();

    let answers = join_all(
        (0..10)
            .map(|i| {
                let (app, t) = (app.clone(), reset.clone());
                async move {
                    app.gql(RESET, json!({"t": t, "p": format!("{NEW_PASSWORD} {i}")}))
                        .await
                }
            })
            .collect(),
    )
    .await;
    let mut codes: Vec<Option<String>> = answers.iter().map(code).collect();
    codes.sort();
    let winners = codes.iter().filter(|c| c.is_none()).count();
    assert_eq!(winners, 1, "one reset: {answers:?}");
    assert!(
        codes.iter().flatten().all(|c| c == "INVALID_TOKEN"),
        "the others are INVALID_TOKEN: {codes:?}"
    );

    let answers = join_all(
        (0..20)
            .map(|_| {
                let (app, t) = (app.clone(), verify.clone());
                async move { app.gql(VERIFY, json!({"t": t})).await }
            })
            .collect(),
    )
    .await;
    let codes: Vec<Option<String>> = answers.iter().map(code).collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "{answers:?}"
    );
    assert!(
        codes.iter().flatten().all(|c| c == "INVALID_TOKEN"),
        "{codes:?}"
    );
    std::sync::Arc::try_unwrap(app)
        .ok()
        .unwrap()
        .shutdown()
        .await;
}

/// Adding or removing a sign-in factor mails the account's owner (whoever holds a stolen
/// session and adds their own authenticator is reported at once), with the tenant's name.
#[tokio::test]
async fn adding_and_removing_a_factor_mails_the_owner() {
    let sink = SmtpSink::start();
    let app = app_with_smtp(&sink).await;
    let (access, _, _) = crate::mfa::with_totp(&app, "guarded").await;
    let added = sink
        .wait_for("guarded@example.com", "A sign-in factor was added")
        .await;
    assert!(
        added.text.contains("An authenticator app was just added"),
        "{}",
        added.text
    );
    let body = app
        .gql_as(&access, crate::mfa::DISABLE_TOTP, json!({"p": PASSWORD}))
        .await;
    assert_eq!(body["data"]["disableTotp"], true, "{body}");
    let removed = sink
        .wait_for("guarded@example.com", "A sign-in factor was removed")
        .await;
    assert!(
        removed
            .text
            .contains("An authenticator app was just removed"),
        "{}",
        removed.text
    );
    app.shutdown().await;
}
