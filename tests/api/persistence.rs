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

/// `latchkey store copy` moves every database (platform and tenants) between embedded stores,
/// checking row counts: a store made by the server, copied to SurrealKV (the old default's
/// format, which the server no longer opens) and back to a new RocksDB store, serves the same
/// accounts, tenants and keys. A target that already holds latchkey data is refused.
#[tokio::test]
async fn store_copy_moves_everything_and_checks_counts() {
    let dir = tempfile::tempdir().unwrap();
    let a = format!("rocksdb://{}", dir.path().join("a").display());
    let kv = format!("surrealkv://{}", dir.path().join("kv").display());
    let b = format!("rocksdb://{}", dir.path().join("b").display());

    let app = TestApp::spawn_platform(&[("DATABASE_URL", &a)]).await;
    for i in 0..5 {
        app.register(
            &format!("copy{i}@example.com"),
            &format!("copier{i}"),
            PASSWORD,
        )
        .await;
    }
    app.create_tenant_with_admin("copied").await;
    let jwks = |app: &TestApp, slug: &'static str| {
        let req = app
            .client
            .get(format!("{}/t/{slug}/.well-known/jwks.json", app.base));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let keys_before = (jwks(&app, "default").await, jwks(&app, "copied").await);
    app.shutdown().await;

    let copy = |from: &str, to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .env_clear()
            .env("RUST_LOG", "error")
            .args(["store", "copy", "--from", from, "--to", to])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (from, to) in [(&a, &kv), (&kv, &b)] {
        let out = copy(from, to);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{from} -> {to}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("copied t_default:") && stdout.contains("counts match"),
            "{stdout}"
        );
        assert!(stdout.contains("copied t_copied:"), "{stdout}");
        assert!(stdout.contains("copied platform:"), "{stdout}");
    }
    let out = copy(&a, &b);
    assert!(
        !out.status.success(),
        "a store holding latchkey data is not a target"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has database"));

    let app = TestApp::spawn_with(&[("DATABASE_URL", &b)]).await;
    for i in 0..5 {
        let body = app.login(&format!("copier{i}"), PASSWORD).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let admin = app.login_at("copied", "admin", PASSWORD).await;
    assert!(admin["errors"].is_null(), "{admin}");
    assert_eq!(
        (jwks(&app, "default").await, jwks(&app, "copied").await),
        keys_before,
        "the same signing keys"
    );
    app.shutdown().await;
}

/// The old default `surrealkv://./data/latchkey.db` and the new `rocksdb://./data/latchkey.db`
/// are one directory: opening a SurrealKV store as RocksDB would serve an empty database, so
/// it is refused with the copy command.
#[tokio::test]
async fn a_surrealkv_directory_is_not_opened_as_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let a = format!("rocksdb://{}", dir.path().join("a").display());
    let old = dir.path().join("latchkey.db");
    let app = TestApp::spawn_with(&[("DATABASE_URL", &a)]).await;
    app.register("old@example.com", "olduser", PASSWORD).await;
    app.shutdown().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .env_clear()
        .env("RUST_LOG", "error")
        .args([
            "store",
            "copy",
            "--from",
            &a,
            "--to",
            &format!("surrealkv://{}", old.display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let config = latchkey::Config::from_vars(test_vars().into_iter().chain([(
        "DATABASE_URL".to_string(),
        format!("rocksdb://{}", old.display()),
    )]))
    .unwrap();
    let err = match latchkey::spawn(config).await {
        Ok(_) => panic!("a SurrealKV directory was opened as RocksDB"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("holds a SurrealKV database"), "{err}");
    assert!(
        err.contains("latchkey store copy --from surrealkv://"),
        "{err}"
    );
    assert!(err.contains("latchkey.rocksdb"), "{err}");
}
