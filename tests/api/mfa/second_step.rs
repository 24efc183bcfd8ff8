//! The second step of login: its token's expiry, limit and binding, the lockout, the REST
//! answer, and one factor spent by parallel requests.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    MFA_STATUS, VERIFY_RECOVERY, VERIFY_TOTP, code_at, mfa_token, password_step, with_totp,
};
use crate::helpers::*;

#[tokio::test]
async fn the_mfa_token_expires_dies_after_five_wrong_codes_and_is_bound_to_its_user() {
    let app = TestApp::spawn_with(&[("LOGIN_LOCKOUT_THRESHOLD", "20")]).await;
    let (_, secret, _) = with_totp(&app, "tokened").await;
    let (_, other_secret, _) = with_totp(&app, "another").await;
    app.clock.advance(Duration::from_secs(60));
    let now = || app.clock.now().timestamp();

    // Expiry: five minutes.
    let step = password_step(&app, "tokened").await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let body = app
        .gql(
            VERIFY_TOTP,
            json!({"t": mfa_token(&step), "c": code_at(&secret, now())}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");

    // Another user's code on this user's token is a wrong code.
    let step = password_step(&app, "tokened").await;
    let body = app
        .gql(
            VERIFY_TOTP,
            json!({"t": mfa_token(&step), "c": code_at(&other_secret, now())}),
        )
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{body}"
    );
    // Four more wrong codes kill the token: even the right code is refused then.
    for _ in 0..4 {
        let body = app
            .gql(VERIFY_TOTP, json!({"t": mfa_token(&step), "c": "000000"}))
            .await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "{body}"
        );
    }
    let body = app
        .gql(
            VERIFY_TOTP,
            json!({"t": mfa_token(&step), "c": code_at(&secret, now())}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");
    // Garbage tokens are INVALID_TOKEN; two factors at once are refused.
    let body = app
        .gql(VERIFY_TOTP, json!({"t": "nope", "c": "123456"}))
        .await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"));
    let body = app
        .gql(
            "mutation { verifyMfa(mfaToken: \"x\", totp: \"1\", recoveryCode: \"2\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"));
    app.shutdown().await;
}

/// Wrong codes count toward the account lockout exactly like wrong passwords.
#[tokio::test]
async fn wrong_codes_lock_the_account_like_wrong_passwords() {
    let app = TestApp::spawn_with(&[("LOGIN_LOCKOUT_BASE_SECONDS", "300")]).await;
    with_totp(&app, "locked").await;
    app.clock.advance(Duration::from_secs(60));
    for _ in 0..5 {
        let step = password_step(&app, "locked").await;
        let body = app
            .gql(VERIFY_TOTP, json!({"t": mfa_token(&step), "c": "000000"}))
            .await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "{body}"
        );
    }
    let body = app.login("locked", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;
}

/// The REST login answers the second step as 401 with the token and methods in the body.
#[tokio::test]
async fn rest_login_of_an_mfa_account_is_401_with_the_token() {
    let app = TestApp::spawn().await;
    with_totp(&app, "restful").await;
    let resp = app
        .client
        .post(format!("{}/api/auth/login", app.base))
        .form(&[("username", "restful"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["mfa_token"].is_string(), "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none());
    app.shutdown().await;
}

/// Answers of parallel calls: (successes, the error codes of the rest).
fn tally(answers: &[Value], field: &str) -> (usize, Vec<String>) {
    let ok = answers
        .iter()
        .filter(|a| a["errors"].is_null() && a["data"][field].is_object())
        .count();
    let codes = answers.iter().filter_map(|a| code(a)).collect();
    (ok, codes)
}

/// Eight mfaTokens of "racer", one per password step.
async fn eight_second_steps(app: &TestApp) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(mfa_token(&password_step(app, "racer").await));
    }
    tokens
}

/// `query` with each of `tokens` and the same `code`, all at once.
async fn at_once(app: &TestApp, tokens: &[String], query: &str, code: &str) -> Vec<Value> {
    futures::future::join_all(
        tokens
            .iter()
            .map(|t| app.gql(query, json!({"t": t, "c": code}))),
    )
    .await
}

/// One factor spent by many requests at once: one TOTP code over parallel second steps, one
/// recovery code likewise, one mfaToken with many codes. Each works exactly once; the others
/// get the domain error, never INTERNAL; the losers of a token race burn no recovery code.
#[tokio::test]
async fn a_code_or_an_mfa_token_spent_in_parallel_works_once() {
    let app = TestApp::spawn_with(&[("LOGIN_LOCKOUT_THRESHOLD", "100")]).await;
    let (_, secret, codes) = with_totp(&app, "racer").await;
    app.clock.advance(Duration::from_secs(30));
    let otp = code_at(&secret, app.clock.now().timestamp());
    let answers = at_once(&app, &eight_second_steps(&app).await, VERIFY_TOTP, &otp).await;
    let (ok, rest) = tally(&answers, "verifyMfa");
    assert_eq!(ok, 1, "one TOTP code, 8 second steps at once: {answers:?}");
    assert!(rest.iter().all(|c| c == "INVALID_CREDENTIALS"), "{rest:?}");

    let answers = at_once(
        &app,
        &eight_second_steps(&app).await,
        VERIFY_RECOVERY,
        &codes[0],
    )
    .await;
    let (ok, rest) = tally(&answers, "verifyMfa");
    assert_eq!(
        ok, 1,
        "one recovery code, 8 second steps at once: {answers:?}"
    );
    assert!(rest.iter().all(|c| c == "INVALID_CREDENTIALS"), "{rest:?}");

    let token = mfa_token(&password_step(&app, "racer").await);
    let answers = futures::future::join_all(
        codes[1..9]
            .iter()
            .map(|c| app.gql(VERIFY_RECOVERY, json!({"t": token, "c": c}))),
    )
    .await;
    let (ok, rest) = tally(&answers, "verifyMfa");
    assert_eq!(ok, 1, "one mfaToken, 8 recovery codes at once: {answers:?}");
    assert!(rest.iter().all(|c| c == "INVALID_TOKEN"), "{rest:?}");
    let access = answers
        .iter()
        .find_map(|a| a["data"]["verifyMfa"]["accessToken"].as_str())
        .unwrap();
    let status = app.gql_as(access, MFA_STATUS, json!({})).await;
    assert_eq!(
        status["data"]["me"]["mfa"]["recoveryCodesLeft"], 8,
        "two codes spent, none by the losers: {status}"
    );
    app.shutdown().await;
}
