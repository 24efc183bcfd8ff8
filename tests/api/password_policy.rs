//! Password policy over HTTP: length, NFKC, the shipped common-password list, and passwords
//! built from the account's own names, on register, changePassword and resetPassword.

use serde_json::{Value, json};

use crate::helpers::*;

const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

fn assert_rejected(body: &Value, field_name: &str, reason: &str) {
    assert_eq!(code(body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(field(body).as_deref(), Some(field_name), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(reason),
        "{message:?} should say {reason:?}"
    );
    assert!(body["data"].is_null(), "{body}");
}

async fn register_with(app: &TestApp, email: &str, username: &str, password: &str) -> Value {
    app.gql(
        REGISTER,
        json!({"input": {"email": email, "username": username, "password": password}}),
    )
    .await
}

#[tokio::test]
async fn common_passwords_are_refused_whatever_their_case_or_width() {
    let app = TestApp::spawn().await;
    // Fullwidth letters and digits NFKC-normalize to "password1".
    for pw in [
        "password1",
        "PassWord1",
        "iloveyou",
        "12345678",
        "ｐａｓｓｗｏｒｄ１",
    ] {
        let body = register_with(&app, "common@example.com", "commoner", pw).await;
        assert_rejected(&body, "password", "too common");
    }
    // Every 500th entry of the shipped list that meets the length rule is refused too, so the
    // whole file (19,640 entries) is what the binary checks against.
    let list = include_str!("../../assets/common-passwords.txt");
    assert!(list.lines().count() >= 10_000);
    let sample: Vec<&str> = list
        .lines()
        .filter(|p| p.chars().count() >= 8)
        .step_by(500)
        .collect();
    assert!(sample.len() >= 15);
    for pw in sample {
        let body = register_with(&app, "common@example.com", "commoner", pw).await;
        assert_rejected(&body, "password", "too common");
    }
    // An uncommon passphrase is fine.
    app.register("common@example.com", "commoner", PASSWORD)
        .await;
    app.shutdown().await;
}

#[tokio::test]
async fn passwords_containing_the_username_or_email_local_part_are_refused() {
    let app = TestApp::spawn().await;
    let body = register_with(
        &app,
        "zelda.fan@example.com",
        "Mallory",
        "my mallory secret!",
    )
    .await;
    assert_rejected(&body, "password", "username");
    let body = register_with(
        &app,
        "zelda.fan@example.com",
        "Mallory",
        "xx ZELDA.FAN forever",
    )
    .await;
    assert_rejected(&body, "password", "email");
    // Names shorter than three characters are not looked for: "jo" in a passphrase is chance.
    app.register("jo@example.com", "joe", "jo jo jumps high")
        .await;
    app.shutdown().await;
}

#[tokio::test]
async fn length_bounds_are_explained() {
    let app = TestApp::spawn().await;
    let body = register_with(&app, "len@example.com", "lengthy", "seven77").await;
    assert_rejected(&body, "password", "at least 8");
    let body = register_with(&app, "len@example.com", "lengthy", &"x".repeat(129)).await;
    assert_rejected(&body, "password", "at most 128");
    app.shutdown().await;
}

#[tokio::test]
async fn change_password_applies_the_policy_to_new_password() {
    let app = TestApp::spawn().await;
    let reg = app
        .register("change@example.com", "changer", PASSWORD)
        .await;
    let token = reg["accessToken"].as_str().unwrap();
    let cases = [
        ("qwerty123", "too common"),
        ("changer and more", "username"),
        ("short", "at least 8"),
    ];
    for (new, reason) in cases {
        let body = app
            .gql_as(token, CHANGE, json!({"c": PASSWORD, "n": new}))
            .await;
        assert_rejected(&body, "newPassword", reason);
    }
    // The password did not change.
    assert!(app.login("changer", PASSWORD).await["errors"].is_null());
    app.shutdown().await;
}

#[tokio::test]
async fn reset_password_applies_the_policy_to_new_password() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    app.register("resetpol@example.com", "resetpol", PASSWORD)
        .await;
    app.gql(
        "mutation { requestPasswordReset(email: \"resetpol@example.com\") }",
        json!({}),
    )
    .await;
    let token = sink
        .wait_for("resetpol@example.com", "Reset your")
        .await
        .token();
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    for (new, reason) in [
        ("football", "too common"),
        ("RESETPOL rules ok", "username"),
    ] {
        let body = app.gql(reset, json!({"t": token, "p": new})).await;
        assert_rejected(&body, "newPassword", reason);
    }
    // A refused password does not spend the token.
    let body = app
        .gql(reset, json!({"t": token, "p": "an unguessable new phrase"}))
        .await;
    assert_eq!(body["data"]["resetPassword"], true, "{body}");
    app.shutdown().await;
}
