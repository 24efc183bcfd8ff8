//! What the server logs: a full flow (register, login, refresh, reset by real SMTP, change
//! password, lockout, logout) against the real binary, whose every log line is captured.
//! No password, token or hash may appear; request-scoped lines carry the request id.

use std::time::Duration;

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::*;

async fn gql(base: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

fn data<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body["errors"].is_null(), "{field}: {body}");
    &body["data"][field]
}

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_full_flow_logs_no_password_token_or_hash() {
    let sink = SmtpSink::start();
    // Debug level for latchkey itself: secrets must not hide behind the default level.
    let server = ChildServer::start(&[
        ("SMTP_URL", &sink.url()),
        ("RUST_LOG", "info,latchkey=debug"),
    ]);
    let base = server.base.clone();
    let (p1, p2, p3) = (
        "first Passphrase-7e1c",
        "second Passphrase-9b4d",
        "third Passphrase-2f8a",
    );
    let mut secrets: Vec<(String, String)> = vec![
        ("password 1".into(), p1.into()),
        ("password 2".into(), p2.into()),
        ("password 3".into(), p3.into()),
    ];

    let reg = data(
        &gql(
            &base,
            None,
            REGISTER,
            json!({"input": {"email": "logged@example.com", "username": "logged", "password": p1}}),
        )
        .await,
        "register",
    )
    .clone();
    secrets.push(("register access".into(), s(&reg["accessToken"])));
    secrets.push(("register refresh".into(), s(&reg["refreshToken"])));
    let verify = sink.wait_for("logged@example.com", "Confirm").await.token();
    secrets.push(("verification token".into(), verify.clone()));
    data(
        &gql(
            &base,
            None,
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({"t": verify}),
        )
        .await,
        "verifyEmail",
    );

    let login = data(
        &gql(
            &base,
            None,
            LOGIN,
            json!({"input": {"identifier": "logged", "password": p1}}),
        )
        .await,
        "login",
    )
    .clone();
    secrets.push(("login access".into(), s(&login["accessToken"])));
    secrets.push(("login refresh".into(), s(&login["refreshToken"])));
    let refreshed = data(
        &gql(&base, None, REFRESH, json!({"t": login["refreshToken"]})).await,
        "refresh",
    )
    .clone();
    secrets.push(("refreshed access".into(), s(&refreshed["accessToken"])));
    secrets.push(("refreshed refresh".into(), s(&refreshed["refreshToken"])));
    // Reuse of a rotated token: logged as an incident, without the token.
    gql(&base, None, REFRESH, json!({"t": login["refreshToken"]})).await;

    data(
        &gql(
            &base,
            None,
            "mutation { requestPasswordReset(email: \"logged@example.com\") }",
            json!({}),
        )
        .await,
        "requestPasswordReset",
    );
    let reset = sink
        .wait_for("logged@example.com", "Reset your")
        .await
        .token();
    secrets.push(("reset token".into(), reset.clone()));
    data(
        &gql(
            &base,
            None,
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
            json!({"t": reset, "p": p2}),
        )
        .await,
        "resetPassword",
    );

    let login2 = data(
        &gql(
            &base,
            None,
            LOGIN,
            json!({"input": {"identifier": "logged@example.com", "password": p2}}),
        )
        .await,
        "login",
    )
    .clone();
    let access = s(&login2["accessToken"]);
    secrets.push(("login 2 access".into(), access.clone()));
    secrets.push(("login 2 refresh".into(), s(&login2["refreshToken"])));
    data(
        &gql(
            &base,
            Some(&access),
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({"c": p2, "n": p3}),
        )
        .await,
        "changePassword",
    );
    // Multi-factor: the TOTP secret, its URI, the codes, the recovery codes and the mfaToken
    // never reach the log either.
    let start = data(
        &gql(
            &base,
            Some(&access),
            "mutation { startTotpEnrollment { secret otpauthUri } }",
            json!({}),
        )
        .await,
        "startTotpEnrollment",
    )
    .clone();
    let secret = s(&start["secret"]);
    secrets.push(("TOTP secret".into(), secret.clone()));
    secrets.push(("otpauth URI".into(), s(&start["otpauthUri"])));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret).to_bytes().unwrap(),
    )
    .generate(now);
    secrets.push(("TOTP code".into(), code.clone()));
    let codes = data(
        &gql(
            &base,
            Some(&access),
            "mutation($c: String!) { confirmTotpEnrollment(code: $c) { codes } }",
            json!({"c": code}),
        )
        .await,
        "confirmTotpEnrollment",
    )["codes"]
        .clone();
    for c in codes.as_array().unwrap() {
        secrets.push(("recovery code".into(), s(c)));
    }
    let step = gql(
        &base,
        None,
        LOGIN,
        json!({"input": {"identifier": "logged", "password": p3}}),
    )
    .await;
    let mfa_token = s(&step["errors"][0]["extensions"]["mfaToken"]);
    secrets.push(("mfa token".into(), mfa_token.clone()));
    let verified = data(
        &gql(
            &base,
            None,
            "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, recoveryCode: $c) { accessToken refreshToken } }",
            json!({"t": mfa_token, "c": codes[0]}),
        )
        .await,
        "verifyMfa",
    )
    .clone();
    secrets.push(("mfa access".into(), s(&verified["accessToken"])));
    secrets.push(("mfa refresh".into(), s(&verified["refreshToken"])));

    // Five wrong guesses lock the account (an audited security event).
    let wrong = "wrong Guess-0a9f";
    secrets.push(("wrong guess".into(), wrong.into()));
    for _ in 0..5 {
        gql(
            &base,
            None,
            LOGIN,
            json!({"input": {"identifier": "logged", "password": wrong}}),
        )
        .await;
    }
    data(
        &gql(&base, Some(&access), "mutation { logout }", json!({})).await,
        "logout",
    );

    // Wait until the lockout's audit line is out, then stop the server and read everything.
    let mut waited = 0;
    while !server.lines().iter().any(|l| l.contains("login_lockout")) {
        assert!(waited < 200, "lockout audit line never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let lines = server.stop();
    let log = lines.join("\n");
    assert!(lines.len() > 10, "the flow was logged: {log}");

    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log contains the {what}"
        );
        // A JWT's signature part alone identifies it, too.
        if let Some(sig) = secret.rsplit('.').next().filter(|_| secret.contains('.')) {
            assert!(
                !log.contains(sig),
                "the log contains the {what}'s signature"
            );
        }
    }
    for marker in [
        "$argon2",
        "password_hash",
        "BEGIN PRIVATE",
        "private_sealed",
        "secret_sealed",
    ] {
        assert!(!log.contains(marker), "the log contains {marker}");
    }

    // Security events reach the log, each inside its request's span (so with its id).
    for kind in [
        "register",
        "login_success",
        "login_failure",
        "login_lockout",
        "refresh_token_reuse",
        "password_reset",
        "password_changed",
        "totp_enrolled",
        "mfa_success",
    ] {
        let line = lines
            .iter()
            .find(|l| {
                l.contains("\"target\":\"audit\"") && l.contains(&format!("\"kind\":\"{kind}\""))
            })
            .unwrap_or_else(|| panic!("audit {kind} logged: {log}"));
        assert!(
            line.contains("\"request_id\""),
            "{kind} without request id: {line}"
        );
    }
}
