//! register, login, me: happy paths, conflicts, enumeration, concurrency.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn register_returns_tokens_and_the_user() {
    let app = TestApp::spawn().await;
    let p = app.register("ada@example.com", "ada", PASSWORD).await;
    assert_eq!(p["tokenType"], "Bearer");
    assert_eq!(p["expiresIn"], 900);
    assert!(p["accessToken"].as_str().unwrap().split('.').count() == 3);
    assert!(
        p["refreshToken"].as_str().unwrap().len() >= 43,
        "256-bit refresh token"
    );
    let u = &p["user"];
    assert_eq!(u["email"], "ada@example.com");
    assert_eq!(u["username"], "ada");
    assert_eq!(u["emailVerified"], false);
    assert_eq!(u["disabled"], false);
    assert_eq!(u["roles"], json!([]));
    assert!(u["createdAt"].is_string());
    app.shutdown().await;
}

#[tokio::test]
async fn login_by_email_or_username_then_me() {
    let app = TestApp::spawn().await;
    let reg = app.register("grace@example.com", "Grace.H", PASSWORD).await;
    let id = reg["user"]["id"].as_str().unwrap().to_string();
    for identifier in [
        "grace@example.com",
        "GRACE@Example.com",
        "Grace.H",
        "grace.h",
        "  grace.h  ",
    ] {
        let body = app.login(identifier, PASSWORD).await;
        assert!(body["errors"].is_null(), "login as {identifier:?}: {body}");
        let token = body["data"]["login"]["accessToken"].as_str().unwrap();
        assert!(body["data"]["login"]["user"]["lastLoginAt"].is_string());
        let me = app.me(token).await;
        assert_eq!(me["data"]["me"]["id"], id.as_str());
        assert_eq!(me["data"]["me"]["username"], "Grace.H");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("alan@example.com", "alan", PASSWORD).await;
    let wrong = app.login("alan@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let unknown_name = app.login("nobody", PASSWORD).await;
    assert_eq!(code(&wrong).as_deref(), Some("INVALID_CREDENTIALS"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(
        wrong["errors"][0]["extensions"],
        unknown["errors"][0]["extensions"]
    );
    assert_eq!(
        wrong["errors"][0]["extensions"],
        unknown_name["errors"][0]["extensions"]
    );
    assert!(wrong["data"].is_null());
    app.shutdown().await;
}

#[tokio::test]
async fn duplicate_email_or_username_differing_only_in_case_is_refused() {
    let app = TestApp::spawn().await;
    app.register("Linus@Example.com", "linus", PASSWORD).await;
    let vars = |email: &str, username: &str| json!({"input": {"email": email, "username": username, "password": PASSWORD}});
    let same_email = app.gql(REGISTER, vars("linus@example.COM", "other")).await;
    assert_eq!(
        code(&same_email).as_deref(),
        Some("EMAIL_TAKEN"),
        "{same_email}"
    );
    let same_name = app.gql(REGISTER, vars("other@example.com", "LINUS")).await;
    assert_eq!(
        code(&same_name).as_deref(),
        Some("USERNAME_TAKEN"),
        "{same_name}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn fifty_concurrent_registrations_with_one_email_give_exactly_one_account() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let futs: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            async move {
                let vars = json!({"input": {"email": "race@example.com", "username": format!("racer{i}"), "password": PASSWORD}});
                app.gql(REGISTER, vars).await
            }
        })
        .collect();
    let results = join_all(futs).await;
    let ok = results.iter().filter(|b| b["errors"].is_null()).count();
    let taken = results
        .iter()
        .filter(|b| code(b).as_deref() == Some("EMAIL_TAKEN"))
        .count();
    assert_eq!(ok, 1, "exactly one registration succeeds");
    assert_eq!(
        taken,
        49,
        "the others are EMAIL_TAKEN: {:?}",
        results.iter().filter_map(code).collect::<Vec<_>>()
    );
    // And the winner can log in.
    let body = app.login("race@example.com", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    std::sync::Arc::into_inner(app).unwrap().shutdown().await;
}

#[tokio::test]
async fn me_without_a_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let body = app.gql(ME, json!({})).await;
    assert_eq!(code(&body).as_deref(), Some("UNAUTHENTICATED"));
    app.shutdown().await;
}
