//! Multi-factor sign-in over HTTP: TOTP (codes computed by an independent implementation,
//! totp-rs), recovery codes, the second step of login and its token, passkeys with a software
//! authenticator (1Password's passkey-rs), the tenant policy, and the admin's reset.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;

const START_TOTP: &str =
    "mutation($t: String) { startTotpEnrollment(mfaToken: $t) { secret otpauthUri qrCodeSvg } }";
const CONFIRM_TOTP: &str =
    "mutation($c: String!, $t: String) { confirmTotpEnrollment(code: $c, mfaToken: $t) { codes } }";
pub(crate) const VERIFY_TOTP: &str = "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, totp: $c) { accessToken refreshToken user { id } } }";
pub(crate) const VERIFY_RECOVERY: &str = "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, recoveryCode: $c) { accessToken user { id } } }";
const VERIFY_PASSKEY: &str = "mutation($t: String!, $p: JSON) { verifyMfa(mfaToken: $t, passkey: $p) { accessToken user { id } } }";
pub(crate) const DISABLE_TOTP: &str = "mutation($p: String!) { disableTotp(password: $p) }";
const MFA_STATUS: &str =
    "{ me { mfa { totp recoveryCodesLeft passkeys { id name createdAt lastUsedAt } } } }";
const START_PASSKEY_REG: &str =
    "mutation($t: String) { startPasskeyRegistration(mfaToken: $t) { challengeId options } }";
const FINISH_PASSKEY_REG: &str = "mutation($id: ID!, $c: JSON!, $n: String) { finishPasskeyRegistration(challengeId: $id, credential: $c, name: $n) { id name createdAt } }";
const START_PASSKEY_LOGIN: &str =
    "mutation($i: String) { startPasskeyLogin(identifier: $i) { challengeId options } }";
const FINISH_PASSKEY_LOGIN: &str = "mutation($id: ID!, $c: JSON!) { finishPasskeyLogin(challengeId: $id, credential: $c) { accessToken refreshToken user { id username } } }";

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

/// A tenant that requires a second factor: a user without one gets an enrolment-only token,
/// enrols with it, then signs in with both steps.
#[tokio::test]
async fn a_tenant_requiring_mfa_makes_users_enrol_first() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("strict").await;
    let user = app
        .register_at("strict", "must@strict.example", "mustenrol", PASSWORD)
        .await;
    let early = user["accessToken"].as_str().unwrap().to_string();
    let body = app
        .gql_tenant(
            "strict",
            Some(&admin),
            "mutation { updateTenantSettings(input: {mfa: REQUIRED}) { mfa } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["mfa"], "REQUIRED",
        "{body}"
    );
    let body = app.login_at("strict", "mustenrol", PASSWORD).await;
    assert_eq!(
        code(&body).as_deref(),
        Some("MFA_ENROLLMENT_REQUIRED"),
        "{body}"
    );
    let enrol = mfa_token(&body);
    // The enrolment token is no session and no second step.
    let as_bearer = app.gql_tenant("strict", Some(&enrol), ME, json!({})).await;
    assert_eq!(code(&as_bearer).as_deref(), Some("UNAUTHENTICATED"));
    let as_step = app
        .gql_tenant(
            "strict",
            None,
            VERIFY_TOTP,
            json!({"t": enrol, "c": "123456"}),
        )
        .await;
    assert_eq!(code(&as_step).as_deref(), Some("INVALID_TOKEN"));

    let start = app
        .gql_tenant("strict", None, START_TOTP, json!({"t": enrol}))
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{start}"))
        .to_string();
    let confirm = app
        .gql_tenant(
            "strict",
            None,
            CONFIRM_TOTP,
            json!({"t": enrol, "c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    // Spent by the enrolment.
    let again = app
        .gql_tenant("strict", None, START_TOTP, json!({"t": enrol}))
        .await;
    assert_eq!(code(&again).as_deref(), Some("INVALID_TOKEN"));

    app.clock.advance(Duration::from_secs(30));
    let body = app.login_at("strict", "mustenrol", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("MFA_REQUIRED"), "{body}");
    let ok = app
        .gql_tenant(
            "strict",
            None,
            VERIFY_TOTP,
            json!({"t": mfa_token(&body), "c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    assert_eq!(
        code(&app.gql_tenant("strict", Some(&early), ME, json!({})).await).as_deref(),
        None,
        "a session from before the policy lives on until it ends"
    );
    app.shutdown().await;
}

/// An admin sees a user's factors and can reset them: factors gone, sessions revoked, audited.
#[tokio::test]
async fn an_admin_resets_a_users_factors() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let reg = app
        .register_at("acme", "lost@acme.example", "lostphone", PASSWORD)
        .await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let uid = reg["user"]["id"].as_str().unwrap().to_string();
    let start = app
        .gql_tenant("acme", Some(&access), START_TOTP, json!({}))
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm = app
        .gql_tenant(
            "acme",
            Some(&access),
            CONFIRM_TOTP,
            json!({"c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    let seen = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($id: ID!) { user(id: $id) { mfa { totp recoveryCodesLeft } } }",
            json!({"id": uid}),
        )
        .await;
    assert_eq!(seen["data"]["user"]["mfa"]["totp"], true, "{seen}");

    let reset = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { resetUserMfa(id: $id) { id mfa { totp recoveryCodesLeft } } }",
            json!({"id": uid}),
        )
        .await;
    assert!(reset["errors"].is_null(), "{reset}");
    assert_eq!(reset["data"]["resetUserMfa"]["mfa"]["totp"], false);
    assert_eq!(reset["data"]["resetUserMfa"]["mfa"]["recoveryCodesLeft"], 0);
    assert_eq!(
        code(&app.gql_tenant("acme", Some(&access), ME, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED"),
        "sessions revoked"
    );
    assert!(app.login_at("acme", "lostphone", PASSWORD).await["errors"].is_null());
    // Non-admins cannot.
    let fresh = app.login_at("acme", "lostphone", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let body = app
        .gql_tenant(
            "acme",
            Some(&fresh),
            "mutation($id: ID!) { resetUserMfa(id: $id) { id } }",
            json!({"id": uid}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("FORBIDDEN"));
    let events = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($u: ID) { auditEvents(first: 100, userId: $u) { edges { node { kind } } } }",
            json!({"u": uid}),
        )
        .await;
    let kinds: Vec<&str> = events["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"totp_enrolled") && kinds.contains(&"mfa_reset"),
        "{kinds:?}"
    );
    app.shutdown().await;
}

// ---- passkeys --------------------------------------------------------------------------

mod soft {
    //! A software passkey authenticator answering the server's JSON options.

    use base64::Engine;
    use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
    use passkey::client::{Client, DefaultClientData};
    use passkey::types::Passkey;
    use passkey::types::ctap2::{Aaguid, Ctap2Error};
    use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
    use serde_json::{Value, json};
    use url::Url;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Always present and verified (a PIN or a fingerprint, in a real one).
    pub struct Verified;

    #[async_trait::async_trait]
    impl UserValidationMethod for Verified {
        type PasskeyItem = Passkey;
        async fn check_user<'a>(
            &self,
            _: UiHint<'a, Passkey>,
            presence: bool,
            verification: bool,
        ) -> Result<UserCheck, Ctap2Error> {
            Ok(UserCheck {
                presence,
                verification,
            })
        }
        fn is_presence_enabled(&self) -> bool {
            true
        }
        fn is_verification_enabled(&self) -> Option<bool> {
            Some(true)
        }
    }

    /// One authenticator holding (at most) one discoverable passkey.
    pub struct SoftKey(
        Client<
            Option<Passkey>,
            Verified,
            passkey::crypto::aws_lc_rs::AwsLcRsBackend,
            public_suffix::PublicSuffixList,
            (),
        >,
    );

    impl SoftKey {
        pub fn new() -> Self {
            let mut auth = Authenticator::new(
                Aaguid::new_empty(),
                None,
                Verified,
                passkey::crypto::aws_lc_rs::AwsLcRsBackend,
            );
            // Counters that move, so a replayed or cloned answer is caught.
            auth.set_make_credentials_with_signature_counter(true);
            Self(Client::new(auth).allows_insecure_localhost(true))
        }

        /// The credential for `navigator.credentials.create(options)`, from `origin`, as
        /// the browser's `credential.toJSON()` writes it.
        pub async fn register(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
            let o: CredentialCreationOptions =
                serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
            let url = Url::parse(origin).unwrap();
            let c = self
                .0
                .register(&url, o, DefaultClientData)
                .await
                .map_err(|e| format!("{e:?}"))?;
            Ok(json!({
                "id": c.id,
                "rawId": b64(&c.raw_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(&c.response.client_data_json),
                    "attestationObject": b64(&c.response.attestation_object),
                },
                "clientExtensionResults": {},
            }))
        }

        /// The assertion for `navigator.credentials.get(options)`, from `origin`.
        pub async fn authenticate(
            &mut self,
            origin: &str,
            options: &Value,
        ) -> Result<Value, String> {
            let o: CredentialRequestOptions =
                serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
            let url = Url::parse(origin).unwrap();
            let a = self
                .0
                .authenticate(&url, o, DefaultClientData)
                .await
                .map_err(|e| format!("{e:?}"))?;
            Ok(json!({
                "id": a.id,
                "rawId": b64(&a.raw_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(&a.response.client_data_json),
                    "authenticatorData": b64(&a.response.authenticator_data),
                    "signature": b64(&a.response.signature),
                    "userHandle": a.response.user_handle.as_ref().map(|h| b64(h)),
                },
                "clientExtensionResults": {},
            }))
        }
    }
}

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
