//! Passkeys with a software authenticator (`soft`): registration, discoverable sign-in, the
//! refusals, and a passkey as the second step.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{MFA_STATUS, claims, ext, mfa_token, password_step, soft};
use crate::helpers::*;

const VERIFY_PASSKEY: &str = "mutation($t: String!, $p: JSON) { verifyMfa(mfaToken: $t, passkey: $p) { accessToken user { id } } }";
const START_PASSKEY_REG: &str =
    "mutation($t: String) { startPasskeyRegistration(mfaToken: $t) { challengeId options } }";
const FINISH_PASSKEY_REG: &str = "mutation($id: ID!, $c: JSON!, $n: String) { finishPasskeyRegistration(challengeId: $id, credential: $c, name: $n) { id name createdAt } }";
const START_PASSKEY_LOGIN: &str =
    "mutation($i: String) { startPasskeyLogin(identifier: $i) { challengeId options } }";
const FINISH_PASSKEY_LOGIN: &str = "mutation($id: ID!, $c: JSON!) { finishPasskeyLogin(challengeId: $id, credential: $c) { accessToken refreshToken user { id username } } }";

const ORIGIN: &str = "http://localhost";

async fn passkey_app() -> TestApp {
    // The relying party is `localhost`: PUBLIC_URL's host and origin.
    TestApp::spawn_with(&[("PUBLIC_URL", ORIGIN)]).await
}

/// Registers a passkey for the holder of `access`; returns its id.
async fn register_passkey(
    app: &TestApp,
    access: &str,
    key: &mut soft::SoftKey,
    name: &str,
) -> String {
    let start = app.gql_as(access, START_PASSKEY_REG, json!({})).await;
    assert!(start["errors"].is_null(), "{start}");
    let c = &start["data"]["startPasskeyRegistration"];
    let options = &c["options"];
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"], "required",
        "discoverable: {options}"
    );
    let credential = key.register(ORIGIN, options).await.unwrap();
    let done = app
        .gql_as(
            access,
            FINISH_PASSKEY_REG,
            json!({"id": c["challengeId"], "c": credential, "n": name}),
        )
        .await;
    assert!(done["errors"].is_null(), "{done}");
    done["data"]["finishPasskeyRegistration"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Starts a sign-in (optionally naming the account); returns (challengeId, options).
async fn start_login(app: &TestApp, identifier: Option<&str>) -> (Value, Value) {
    let start = app.gql(START_PASSKEY_LOGIN, json!({"i": identifier})).await;
    assert!(start["errors"].is_null(), "{start}");
    let c = &start["data"]["startPasskeyLogin"];
    (c["challengeId"].clone(), c["options"].clone())
}

#[tokio::test]
async fn a_passkey_registers_and_signs_in_without_a_name() {
    let app = passkey_app().await;
    let reg = app.register("key@example.com", "keyholder", PASSWORD).await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let mut key = soft::SoftKey::new();
    let id = register_passkey(&app, &access, &mut key, "Laptop").await;
    let status = app.gql_as(&access, MFA_STATUS, json!({})).await;
    assert_eq!(
        status["data"]["me"]["mfa"]["passkeys"][0]["name"], "Laptop",
        "{status}"
    );
    assert_eq!(
        status["data"]["me"]["mfa"]["passkeys"][0]["id"],
        id.as_str()
    );

    // Discoverable: no identifier typed.
    let (challenge, options) = start_login(&app, None).await;
    assert!(
        options.get("mediation").is_none(),
        "modal, not conditional: {options}"
    );
    let assertion = key.authenticate(ORIGIN, &options).await.unwrap();
    let done = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert!(done["errors"].is_null(), "{done}");
    assert_eq!(
        done["data"]["finishPasskeyLogin"]["user"]["username"],
        "keyholder"
    );
    let token = done["data"]["finishPasskeyLogin"]["accessToken"]
        .as_str()
        .unwrap();
    let c = claims(token);
    assert!(c["amr"].as_array().unwrap().contains(&json!("pop")), "{c}");
    assert_eq!(c["acr"], "aal2");
    let status = app.gql_as(token, MFA_STATUS, json!({})).await;
    assert!(
        status["data"]["me"]["mfa"]["passkeys"][0]["lastUsedAt"].is_string(),
        "{status}"
    );

    // Replaying that assertion: the challenge is spent, and a new challenge does not match.
    let replay = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert_eq!(code(&replay).as_deref(), Some("INVALID_TOKEN"), "{replay}");
    let (fresh, _) = start_login(&app, None).await;
    let replay = app
        .gql(FINISH_PASSKEY_LOGIN, json!({"id": fresh, "c": assertion}))
        .await;
    assert_eq!(
        code(&replay).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{replay}"
    );

    // Naming the account works too, and a name that matches nobody tells nothing.
    let (challenge, options) = start_login(&app, Some("keyholder")).await;
    assert!(
        !options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let assertion = key.authenticate(ORIGIN, &options).await.unwrap();
    let done = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert!(done["errors"].is_null(), "{done}");
    let (_, ghost) = start_login(&app, Some("nobody-here")).await;
    assert!(
        ghost["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{ghost}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn passkeys_from_the_wrong_origin_or_rp_unknown_or_removed_are_refused() {
    let app = passkey_app().await;
    let reg = app
        .register("strict@example.com", "strictkey", PASSWORD)
        .await;
    let access = reg["accessToken"].as_str().unwrap().to_string();

    // Registration from another origin (another port of localhost) is refused.
    let mut key = soft::SoftKey::new();
    let start = app.gql_as(&access, START_PASSKEY_REG, json!({})).await;
    let c = &start["data"]["startPasskeyRegistration"];
    let wrong = key
        .register("http://localhost:9999", &c["options"])
        .await
        .unwrap();
    let body = app
        .gql_as(
            &access,
            FINISH_PASSKEY_REG,
            json!({"id": c["challengeId"], "c": wrong}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    // Another relying party id: a tenant whose passkeys belong to login.example.com gets a
    // registration made for the parent domain example.com (which a client on that origin may
    // use) from the right origin: refused.
    let platform = TestApp::spawn_platform(&[("PUBLIC_URL", ORIGIN)]).await;
    let admin = platform.create_tenant_with_admin("rp").await;
    let body = platform
        .gql_tenant(
            "rp",
            Some(&admin),
            "mutation { updateTenantSettings(input: {passkeyOrigin: \"https://login.example.com\", passkeyRpId: \"login.example.com\"}) { passkeyRpId passkeyOrigin } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["passkeyRpId"], "login.example.com",
        "{body}"
    );
    let start = platform
        .gql_tenant("rp", Some(&admin), START_PASSKEY_REG, json!({}))
        .await;
    let c = &start["data"]["startPasskeyRegistration"];
    let mut options = c["options"].clone();
    assert_eq!(
        options["publicKey"]["rp"]["id"], "login.example.com",
        "{options}"
    );
    options["publicKey"]["rp"]["id"] = json!("example.com");
    let mut key = soft::SoftKey::new();
    let cred = key
        .register("https://login.example.com", &options)
        .await
        .expect("a client on login.example.com may register for example.com");
    let body = platform
        .gql_tenant(
            "rp",
            Some(&admin),
            FINISH_PASSKEY_REG,
            json!({"id": c["challengeId"], "c": cred}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    // And an rp id that cannot serve the origin is refused as a setting.
    let body = platform
        .gql_tenant(
            "rp",
            Some(&admin),
            "mutation { updateTenantSettings(input: {passkeyRpId: \"other.example\"}) { passkeyRpId } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    platform.shutdown().await;

    // A good registration; then sign-ins from the wrong origin, with an unknown key, and
    // with the key after its removal are refused.
    let mut key = soft::SoftKey::new();
    let id = register_passkey(&app, &access, &mut key, "Phone").await;
    let (challenge, options) = start_login(&app, None).await;
    let assertion = key
        .authenticate("http://localhost:9999", &options)
        .await
        .unwrap();
    let body = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{body}"
    );

    let mut stranger = soft::SoftKey::new();
    let other = app
        .register("other@example.com", "otherkey", PASSWORD)
        .await;
    register_passkey(
        &app,
        other["accessToken"].as_str().unwrap(),
        &mut stranger,
        "Theirs",
    )
    .await;
    // Theirs answers a sign-in that named this account: refused (not its key).
    let (challenge, options) = start_login(&app, Some("strictkey")).await;
    let mut options_any = options.clone();
    options_any["publicKey"]["allowCredentials"] = json!([]);
    let assertion = stranger.authenticate(ORIGIN, &options_any).await.unwrap();
    let body = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{body}"
    );

    let removed = app
        .gql_as(
            &access,
            "mutation($id: ID!) { removePasskey(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(removed["data"]["removePasskey"], true, "{removed}");
    let (challenge, options) = start_login(&app, None).await;
    let assertion = key.authenticate(ORIGIN, &options).await.unwrap();
    let body = app
        .gql(
            FINISH_PASSKEY_LOGIN,
            json!({"id": challenge, "c": assertion}),
        )
        .await;
    assert_eq!(
        code(&body).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{body}"
    );
    app.shutdown().await;
}

/// A passkey as the second factor after a password.
#[tokio::test]
async fn a_passkey_answers_the_second_step() {
    let app = Arc::new(passkey_app().await);
    let reg = app
        .register("second@example.com", "secondstep", PASSWORD)
        .await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let mut key = soft::SoftKey::new();
    register_passkey(&app, &access, &mut key, "Key").await;
    let step = password_step(&app, "secondstep").await;
    // No recovery codes yet: those come with an authenticator app, or regenerateRecoveryCodes.
    assert_eq!(ext(&step, "methods"), &json!(["passkey"]), "{step}");
    let options = ext(&step, "passkeyOptions").clone();
    let assertion = key.authenticate(ORIGIN, &options).await.unwrap();
    let ok = app
        .gql(
            VERIFY_PASSKEY,
            json!({"t": mfa_token(&step), "p": assertion}),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let c = claims(ok["data"]["verifyMfa"]["accessToken"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "pop", "hwk", "mfa"]), "{c}");
    Arc::try_unwrap(app).ok().unwrap().shutdown().await;
}

/// With an IP address as `PUBLIC_URL`'s host (common inside a private network) WebAuthn has no
/// relying party: passkeys are unavailable, and they say so (`passkeysAvailable`, a clear
/// `BAD_USER_INPUT` when a ceremony is started, never `INTERNAL`), while every setting that is
/// not about passkeys still saves. The address is only configuration: nothing connects to it.
#[tokio::test]
async fn an_ip_public_url_makes_passkeys_unavailable_and_settings_still_save() {
    let platform = TestApp::spawn_platform(&[("PUBLIC_URL", "http://127.0.0.2:8000")]).await;
    let admin = platform.create_tenant_with_admin("lan").await;
    let body = platform
        .gql_tenant(
            "lan",
            Some(&admin),
            "mutation { updateTenantSettings(input: {passwordMinLength: 12}) { passwordMinLength passkeyRpId passkeysAvailable } }",
            json!({}),
        )
        .await;
    let s = &body["data"]["updateTenantSettings"];
    assert_eq!(s["passwordMinLength"], 12, "{body}");
    assert_eq!(s["passkeyRpId"], "127.0.0.2", "{body}");
    assert_eq!(s["passkeysAvailable"], false, "{body}");

    let me = platform
        .gql_tenant(
            "lan",
            Some(&admin),
            "{ me { mfa { passkeysAvailable } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["mfa"]["passkeysAvailable"], false, "{me}");
    let start = platform
        .gql_tenant("lan", Some(&admin), START_PASSKEY_REG, json!({}))
        .await;
    assert_eq!(code(&start).as_deref(), Some("BAD_USER_INPUT"), "{start}");
    assert!(
        start["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("passkeys are unavailable"),
        "{start}"
    );
    let login = platform
        .gql_tenant(
            "lan",
            None,
            "mutation { startPasskeyLogin { challengeId } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&login).as_deref(), Some("BAD_USER_INPUT"), "{login}");

    // Changing the passkey pair to one that still cannot work is refused as before; a domain
    // pair makes them available.
    let body = platform
        .gql_tenant(
            "lan",
            Some(&admin),
            "mutation { updateTenantSettings(input: {passkeyRpId: \"127.0.0.2\"}) { passkeyRpId } }",
            json!({}),
        )
        .await;
    assert_eq!(field(&body).as_deref(), Some("passkeyRpId"), "{body}");
    let body = platform
        .gql_tenant(
            "lan",
            Some(&admin),
            "mutation { updateTenantSettings(input: {passkeyOrigin: \"https://login.lan.example\", passkeyRpId: \"lan.example\"}) { passkeysAvailable } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["passkeysAvailable"], true,
        "{body}"
    );

    // The default PUBLIC_URL of the tests (a domain name) has them.
    let app = TestApp::spawn().await;
    let reg = app.register("dom@example.com", "dom", PASSWORD).await;
    let me = app
        .gql_as(
            reg["accessToken"].as_str().unwrap(),
            "{ me { mfa { passkeysAvailable } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["mfa"]["passkeysAvailable"], true, "{me}");
}
