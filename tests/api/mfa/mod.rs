//! Multi-factor sign-in over HTTP: TOTP (codes computed by an independent implementation,
//! totp-rs), recovery codes, the second step of login and its token, passkeys with a software
//! authenticator (1Password's passkey-rs), the tenant policy, and the admin's reset.

mod passkeys;
mod policy;
mod second_step;
mod soft;
mod totp;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const START_TOTP: &str =
    "mutation($t: String) { startTotpEnrollment(mfaToken: $t) { secret otpauthUri qrCodeSvg } }";
pub(crate) const CONFIRM_TOTP: &str =
    "mutation($c: String!, $t: String) { confirmTotpEnrollment(code: $c, mfaToken: $t) { codes } }";
pub(crate) const VERIFY_TOTP: &str = "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, totp: $c) { accessToken refreshToken user { id } } }";
pub(crate) const VERIFY_RECOVERY: &str = "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, recoveryCode: $c) { accessToken user { id } } }";
pub(crate) const DISABLE_TOTP: &str = "mutation($p: String!) { disableTotp(password: $p) }";
const MFA_STATUS: &str =
    "{ me { mfa { totp recoveryCodesLeft passkeys { id name createdAt lastUsedAt } } } }";

/// A TOTP generator that is not ours.
pub(crate) fn code_at(secret_b32: &str, unix: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret).generate(unix as u64)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn ext<'a>(body: &'a Value, name: &str) -> &'a Value {
    &body["errors"][0]["extensions"][name]
}

/// Registers `name`, enrols TOTP with a code of the current step; returns (access token,
/// base32 secret, recovery codes).
pub(crate) async fn with_totp(app: &TestApp, name: &str) -> (String, String, Vec<String>) {
    let reg = app
        .register(&format!("{name}@example.com"), name, PASSWORD)
        .await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let start = app.gql_as(&access, START_TOTP, json!({})).await;
    assert!(start["errors"].is_null(), "{start}");
    let e = &start["data"]["startTotpEnrollment"];
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(
        e["otpauthUri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(e["qrCodeSvg"].as_str().unwrap().starts_with("<svg"));
    let code = code_at(&secret, app.clock.now().timestamp());
    let confirm = app.gql_as(&access, CONFIRM_TOTP, json!({"c": code})).await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    let codes: Vec<String> = confirm["data"]["confirmTotpEnrollment"]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (access, secret, codes)
}

/// Logs in with the password; returns the MFA_REQUIRED answer.
pub(crate) async fn password_step(app: &TestApp, name: &str) -> Value {
    let body = app.login(name, PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("MFA_REQUIRED"), "{body}");
    assert!(
        body["data"].is_null(),
        "no tokens before the second step: {body}"
    );
    body
}

pub(crate) fn mfa_token(body: &Value) -> String {
    ext(body, "mfaToken").as_str().unwrap().to_string()
}
