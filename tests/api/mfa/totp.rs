//! TOTP: enrolment, sign-in with its codes and their skew, recovery codes, and what changing
//! them takes.

use std::time::Duration;

use serde_json::json;

use super::{
    CONFIRM_TOTP, DISABLE_TOTP, MFA_STATUS, START_TOTP, VERIFY_RECOVERY, VERIFY_TOTP, claims,
    code_at, ext, mfa_token, password_step, with_totp,
};
use crate::helpers::*;

#[tokio::test]
async fn totp_enrolment_then_login_needs_the_code() {
    let app = TestApp::spawn().await;
    let (access, secret, _) = with_totp(&app, "otpuser").await;
    let status = app.gql_as(&access, MFA_STATUS, json!({})).await;
    assert_eq!(status["data"]["me"]["mfa"]["totp"], true, "{status}");
    assert_eq!(status["data"]["me"]["mfa"]["recoveryCodesLeft"], 10);

    let step = password_step(&app, "otpuser").await;
    assert_eq!(ext(&step, "methods"), &json!(["totp", "recovery_code"]));
    // The code used to confirm the enrolment is spent: the next step's code signs in.
    app.clock.advance(Duration::from_secs(30));
    let otp = code_at(&secret, app.clock.now().timestamp());
    let ok = app
        .gql(VERIFY_TOTP, json!({"t": mfa_token(&step), "c": otp}))
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let token = ok["data"]["verifyMfa"]["accessToken"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]), "{c}");
    assert_eq!(c["acr"], "aal2");
    assert!(app.me(token).await["errors"].is_null());
    // Refreshed tokens keep what the session proved.
    let refreshed = app
        .refresh(ok["data"]["verifyMfa"]["refreshToken"].as_str().unwrap())
        .await;
    let c = claims(
        refreshed["data"]["refresh"]["accessToken"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]));

    // The token is single use.
    let again = app
        .gql(VERIFY_TOTP, json!({"t": mfa_token(&step), "c": otp}))
        .await;
    assert_eq!(code(&again).as_deref(), Some("INVALID_TOKEN"), "{again}");
    // And the code too, within its window, in a new login.
    let step = password_step(&app, "otpuser").await;
    let replay = app
        .gql(VERIFY_TOTP, json!({"t": mfa_token(&step), "c": otp}))
        .await;
    assert_eq!(
        code(&replay).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{replay}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn totp_accepts_one_step_of_skew_and_refuses_two() {
    let app = TestApp::spawn().await;
    let (_, secret, _) = with_totp(&app, "skewed").await;
    app.clock.advance(Duration::from_secs(300));
    // To the first second of a step: the four sign-ins below take far less than the 29 s
    // left of it, so the server's step stays the one `now` is in (started anywhere in a
    // step, a boundary crossed mid-loop turned the +60 s code into a +30 s one: seen once).
    let into_step = app.clock.now().timestamp_millis().rem_euclid(30_000) as u64;
    app.clock
        .advance(Duration::from_millis(30_000 - into_step + 1_000));
    let now = app.clock.now().timestamp();
    for (offset, accepted) in [(-60, false), (60, false), (-30, true), (30, true)] {
        let step = password_step(&app, "skewed").await;
        let body = app
            .gql(
                VERIFY_TOTP,
                json!({"t": mfa_token(&step), "c": code_at(&secret, now + offset)}),
            )
            .await;
        assert_eq!(
            body["errors"].is_null(),
            accepted,
            "offset {offset}: {body}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::spawn().await;
    let (_, _, codes) = with_totp(&app, "recover").await;
    let step = password_step(&app, "recover").await;
    // Typed loosely: case and the dash do not matter.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let ok = app
        .gql(VERIFY_RECOVERY, json!({"t": mfa_token(&step), "c": typed}))
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let token = ok["data"]["verifyMfa"]["accessToken"].as_str().unwrap();
    let left = app.gql_as(token, MFA_STATUS, json!({})).await;
    assert_eq!(left["data"]["me"]["mfa"]["recoveryCodesLeft"], 9);
    let step = password_step(&app, "recover").await;
    let again = app
        .gql(
            VERIFY_RECOVERY,
            json!({"t": mfa_token(&step), "c": codes[0]}),
        )
        .await;
    assert_eq!(
        code(&again).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{again}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn disabling_totp_and_new_recovery_codes_need_the_password() {
    let app = TestApp::spawn().await;
    let (access, _, codes) = with_totp(&app, "changer").await;
    let regen = "mutation($p: String!) { regenerateRecoveryCodes(password: $p) { codes } }";
    let body = app
        .gql_as(&access, regen, json!({"p": "wrong password!"}))
        .await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_CREDENTIALS"));
    let body = app.gql_as(&access, regen, json!({"p": PASSWORD})).await;
    let fresh = body["data"]["regenerateRecoveryCodes"]["codes"]
        .as_array()
        .unwrap();
    assert_eq!(fresh.len(), 10);
    // The old codes are gone.
    let step = password_step(&app, "changer").await;
    let old = app
        .gql(
            VERIFY_RECOVERY,
            json!({"t": mfa_token(&step), "c": codes[0]}),
        )
        .await;
    assert_eq!(code(&old).as_deref(), Some("INVALID_CREDENTIALS"));

    let body = app
        .gql_as(&access, DISABLE_TOTP, json!({"p": "wrong password!"}))
        .await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_CREDENTIALS"));
    let body = app
        .gql_as(&access, DISABLE_TOTP, json!({"p": PASSWORD}))
        .await;
    assert_eq!(body["data"]["disableTotp"], true, "{body}");
    assert!(app.login("changer", PASSWORD).await["errors"].is_null());
    app.shutdown().await;
}

/// Enrolment is switched on only by the authenticator's current code: a wrong one (or one
/// from ten minutes away) is refused on the `code` field and leaves TOTP off; the right one
/// then confirms it.
#[tokio::test]
async fn a_wrong_code_does_not_confirm_an_enrolment() {
    let app = TestApp::spawn().await;
    let reg = app.register("unsure@example.com", "unsure", PASSWORD).await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let start = app.gql_as(&access, START_TOTP, json!({})).await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{start}"))
        .to_string();
    let now = app.clock.now().timestamp();
    let right = code_at(&secret, now);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for bad in [wrong.to_string(), code_at(&secret, now + 600)] {
        let refused = app.gql_as(&access, CONFIRM_TOTP, json!({"c": bad})).await;
        assert_eq!(
            code(&refused).as_deref(),
            Some("BAD_USER_INPUT"),
            "{refused}"
        );
        assert_eq!(field(&refused).as_deref(), Some("code"), "{refused}");
        assert!(refused["data"].is_null(), "no recovery codes: {refused}");
    }
    let status = app.gql_as(&access, MFA_STATUS, json!({})).await;
    assert_eq!(status["data"]["me"]["mfa"]["totp"], false, "{status}");
    assert!(
        code(&app.login("unsure", PASSWORD).await).is_none(),
        "no second step yet"
    );

    let ok = app.gql_as(&access, CONFIRM_TOTP, json!({"c": right})).await;
    assert!(ok["errors"].is_null(), "{ok}");
    let status = app.gql_as(&access, MFA_STATUS, json!({})).await;
    assert_eq!(status["data"]["me"]["mfa"]["totp"], true, "{status}");
    app.shutdown().await;
}
