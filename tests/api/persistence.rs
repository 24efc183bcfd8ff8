//! Durability on the embedded `rocksdb://` engine (the default).

use crate::helpers::*;

#[tokio::test]
async fn a_registered_user_survives_a_restart_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url)]).await;
    let reg = app
        .register("durable@example.com", "durable", PASSWORD)
        .await;
    let refresh = reg["refreshToken"].as_str().unwrap().to_string();
    let kid_before = app
        .client
        .get(format!("{}/t/default/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["keys"][0]["kid"]
        .clone();
    app.shutdown().await;

    let app = TestApp::spawn_with(&[("DATABASE_URL", &url)]).await;
    let body = app.login("durable@example.com", PASSWORD).await;
    assert!(body["errors"].is_null(), "user is still there: {body}");
    assert_eq!(body["data"]["login"]["user"]["id"], reg["user"]["id"]);
    // The session and the signing key survived too.
    assert!(app.refresh(&refresh).await["errors"].is_null());
    let kid_after = app
        .client
        .get(format!("{}/t/default/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["keys"][0]["kid"]
        .clone();
    assert_eq!(
        kid_before, kid_after,
        "the signing key is reused, not regenerated"
    );
    app.shutdown().await;
}
