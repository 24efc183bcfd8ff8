//! The signing keys' life across restarts: a changed `SECRET_KEY` and a changed `ALGORITHM`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use latchkey::service::tokens::KEY_PUBLISH_AHEAD_SECONDS;

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

    let run = |args: &[&str], secret: &str, old: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.env_clear()
            .envs(test_vars())
            .env("DATABASE_URL", &url)
            .env("SECRET_KEY", secret)
            .env("RUST_LOG", "error")
            .args(args)
            .current_dir(dir.path());
        if let Some(old) = old {
            cmd.env("LATCHKEY_OLD_SECRET_KEY", old);
        }
        cmd.output().unwrap()
    };
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
