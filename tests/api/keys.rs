//! The signing keys' life across restarts: a changed `SECRET_KEY` and a changed `ALGORITHM`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use latchkey::domain::keys::KEY_PUBLISH_AHEAD_SECONDS;

const OTHER_SECRET: &str = "another-secret-key-0123456789abcdef012345";

async fn jwks(app: &TestApp) -> Vec<(String, String)> {
    let doc: Value = app
        .client
        .get(format!("{}/t/default/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["alg"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn header(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).unwrap()
}

/// Runs the latchkey binary on the store at `url` with `SECRET_KEY=secret` (and
/// `LATCHKEY_OLD_SECRET_KEY=old`).
fn cli(
    dir: &std::path::Path,
    url: &str,
    args: &[&str],
    secret: &str,
    old: Option<&str>,
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.env_clear()
        .envs(test_vars())
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", secret)
        .env("RUST_LOG", "error")
        .args(args)
        .current_dir(dir);
    if let Some(old) = old {
        cmd.env("LATCHKEY_OLD_SECRET_KEY", old);
    }
    cmd.output().unwrap()
}

/// What a user or an app keeps across a `SECRET_KEY` change keeps working through two
/// rekeys: the authenticator app (its secret is re-sealed), recovery codes and a confidential
/// client's secret (stored only as keyed hashes: the earlier keys are kept, sealed).
#[tokio::test]
async fn second_factors_and_client_secrets_survive_two_rekeys() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let app = TestApp::spawn_platform(&[("DATABASE_URL", &url)]).await;
    let (_, totp_secret, codes) = crate::mfa::with_totp(&app, "twofa").await;
    let admin = app.create_tenant_with_admin("acme").await;
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($i: CreateClientInput!) { createClient(input: $i) { clientSecret client { id } } }",
            serde_json::json!({"i": {"name": "Billing", "type": "CONFIDENTIAL",
                "redirectUris": ["https://billing.example/cb"],
                "grantTypes": ["client_credentials"], "scopes": []}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let client = b["data"]["createClient"]["client"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let client_secret = b["data"]["createClient"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    app.shutdown().await;

    const THIRD_SECRET: &str = "a-third-secret-key-0123456789abcdef0123456";
    for (old, new) in [(SECRET, OTHER_SECRET), (OTHER_SECRET, THIRD_SECRET)] {
        let out = cli(dir.path(), &url, &["keys", "rekey"], new, Some(old));
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("and 1 TOTP secrets"), "{printed}");
    }

    let app =
        TestApp::spawn_platform(&[("DATABASE_URL", &url), ("SECRET_KEY", THIRD_SECRET)]).await;
    // The confirming code's step is spent; the next one signs in.
    app.clock.advance(Duration::from_secs(60));
    let step = crate::mfa::password_step(&app, "twofa").await;
    let otp = crate::mfa::code_at(&totp_secret, app.clock.now().timestamp());
    let ok = app
        .gql(
            crate::mfa::VERIFY_TOTP,
            serde_json::json!({"t": crate::mfa::mfa_token(&step), "c": otp}),
        )
        .await;
    assert!(
        ok["errors"].is_null(),
        "the authenticator app still works: {ok}"
    );
    let step = crate::mfa::password_step(&app, "twofa").await;
    let ok = app
        .gql(
            crate::mfa::VERIFY_RECOVERY,
            serde_json::json!({"t": crate::mfa::mfa_token(&step), "c": codes[0]}),
        )
        .await;
    assert!(ok["errors"].is_null(), "a recovery code still works: {ok}");
    let step = crate::mfa::password_step(&app, "twofa").await;
    let again = app
        .gql(
            crate::mfa::VERIFY_RECOVERY,
            serde_json::json!({"t": crate::mfa::mfa_token(&step), "c": codes[0]}),
        )
        .await;
    assert_eq!(
        code(&again).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "and only once: {again}"
    );

    let token = |secret: String| {
        app.client
            .post(format!("{}/t/acme/oauth/token", app.base))
            .basic_auth(&client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let resp = token(client_secret.clone()).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the client secret still works: {}",
        resp.text().await.unwrap()
    );
    let resp = token(format!("{client_secret}x")).await.unwrap();
    assert_eq!(resp.status(), 401, "a wrong one is still refused");
    app.shutdown().await;
}

/// A server started with another SECRET_KEY than the store was sealed under does not start
/// (one line, non-zero exit) instead of answering INTERNAL; `latchkey keys rekey` moves the
/// store to the new secret, after which passwords and keys work and the old secret's refresh
/// tokens do not.
#[tokio::test]
async fn a_changed_secret_key_refuses_to_start_until_the_store_is_rekeyed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url)]).await;
    let reg = app.register("keeper@example.com", "keeper", PASSWORD).await;
    let refresh = reg["refreshToken"].as_str().unwrap().to_string();
    let kids = jwks(&app).await;
    app.shutdown().await;

    let run =
        |args: &[&str], secret: &str, old: Option<&str>| cli(dir.path(), &url, args, secret, old);
    let out = run(&[], OTHER_SECRET, None);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "refuses to start: {printed}");
    let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {printed}");
    assert!(
        lines[0].contains("SECRET_KEY is not the secret"),
        "{printed}"
    );
    assert!(lines[0].contains("latchkey keys rekey"), "{printed}");

    // The wrong old secret is refused; the right one re-seals.
    let out = run(
        &["keys", "rekey"],
        OTHER_SECRET,
        Some("not-the-old-secret-0123456789abcdefgh"),
    );
    assert!(!out.status.success());
    let out = run(&["keys", "rekey"], OTHER_SECRET, Some(SECRET));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed"));

    let app = TestApp::spawn_with(&[("DATABASE_URL", &url), ("SECRET_KEY", OTHER_SECRET)]).await;
    assert_eq!(jwks(&app).await, kids, "the same keys, re-sealed");
    let body = app.login("keeper", PASSWORD).await;
    assert!(body["errors"].is_null(), "the password still works: {body}");
    let me = app
        .me(body["data"]["login"]["accessToken"].as_str().unwrap())
        .await;
    assert!(me["errors"].is_null(), "{me}");
    let body = app.refresh(&refresh).await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");
    app.shutdown().await;
}

/// A restart with another ALGORITHM is a key rotation: the new key is published at once and
/// signs once verifiers' cached JWKS hold it; the previous key keeps verifying its tokens.
#[tokio::test]
async fn a_changed_algorithm_keeps_the_previous_key_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url)]).await;
    let reg = app.register("algo@example.com", "algo", PASSWORD).await;
    let eddsa = reg["accessToken"].as_str().unwrap().to_string();
    assert_eq!(header(&eddsa).alg, jsonwebtoken::Algorithm::EdDSA);
    app.shutdown().await;

    let app = TestApp::spawn_with(&[("DATABASE_URL", &url), ("ALGORITHM", "ES256")]).await;
    let algs: Vec<String> = jwks(&app).await.into_iter().map(|(_, a)| a).collect();
    assert!(
        algs.contains(&"EdDSA".to_string()) && algs.contains(&"ES256".to_string()),
        "both keys are published: {algs:?}"
    );
    assert!(
        app.me(&eddsa).await["errors"].is_null(),
        "the old token verifies"
    );
    let login = app.login("algo", PASSWORD).await;
    let during = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(
        header(&during).alg,
        jsonwebtoken::Algorithm::EdDSA,
        "not before its time"
    );

    app.clock
        .advance(Duration::from_secs(KEY_PUBLISH_AHEAD_SECONDS as u64 + 1));
    let login = app.login("algo", PASSWORD).await;
    let es256 = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(header(&es256).alg, jsonwebtoken::Algorithm::ES256);
    assert!(app.me(&es256).await["errors"].is_null());
    assert!(
        app.me(&eddsa).await["errors"].is_null(),
        "the old key still verifies its unexpired tokens"
    );
    app.shutdown().await;
}

/// A webhook's signing secret is re-sealed by `keys rekey`: afterwards deliveries are signed
/// with the very secret the receiver was given (verified by the reference library).
#[tokio::test]
async fn a_webhook_secret_survives_a_rekey() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let lab = ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true");
    let app = TestApp::spawn_platform(&[("DATABASE_URL", &url), lab]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let rx = crate::webhooks::Receiver::start();
    let (hook, _) = crate::webhooks::endpoint(&app, &admin, &rx, &["user.created"]).await;
    app.shutdown().await;
    let out = cli(
        dir.path(),
        &url,
        &["keys", "rekey"],
        OTHER_SECRET,
        Some(SECRET),
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("1 webhook secrets"), "{printed}");
    let app =
        TestApp::spawn_platform(&[("DATABASE_URL", &url), ("SECRET_KEY", OTHER_SECRET), lab]).await;
    let admin = app.login_at("acme", "admin", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let t = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { sendTestWebhook(id: $id) { id } }",
            serde_json::json!({"id": hook}),
        )
        .await;
    assert!(t["errors"].is_null(), "{t}");
    let seen = rx.wait_until("the test event", |s| !s.is_empty()).await;
    assert_eq!(seen[0]["verified"], true, "{:#}", seen[0]);
    app.shutdown().await;
}
