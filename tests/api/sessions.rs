//! refresh (rotation, reuse detection), logout, changePassword.

use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

const LOGOUT: &str =
    "mutation($t: String, $all: Boolean) { logout(refreshToken: $t, allSessions: $all) }";
const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

fn tokens(payload: &serde_json::Value) -> (String, String) {
    (
        payload["accessToken"].as_str().unwrap().to_string(),
        payload["refreshToken"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn refresh_rotates_the_pair() {
    let app = TestApp::spawn().await;
    let (_, rt1) = tokens(&app.register("r@example.com", "rotor", PASSWORD).await);
    let body = app.refresh(&rt1).await;
    assert!(body["errors"].is_null(), "{body}");
    let (at2, rt2) = tokens(&body["data"]["refresh"]);
    assert_ne!(rt1, rt2, "a new refresh token every time");
    assert_eq!(body["data"]["refresh"]["tokenType"], "Bearer");
    assert!(app.me(&at2).await["errors"].is_null());
    // The new one rotates again.
    let body = app.refresh(&rt2).await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}

/// `last_seen_at` of the only session in the default tenant, as stored.
async fn stored_last_seen(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    let tenant = app.default_tenant().await;
    let mut res = tenant
        .db()
        .query("SELECT VALUE last_seen_at FROM session")
        .await
        .expect("query runs");
    let seen: Vec<chrono::DateTime<chrono::Utc>> = res.take(0).expect("datetimes");
    assert_eq!(seen.len(), 1, "one session: {seen:?}");
    seen[0]
}

#[tokio::test]
async fn a_refresh_writes_the_sessions_last_seen_time_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let (_, mut rt) = tokens(&app.register("seen@example.com", "seen", PASSWORD).await);
    let started = stored_last_seen(&app).await;
    for _ in 0..3 {
        let body = app.refresh(&rt).await;
        assert!(body["errors"].is_null(), "{body}");
        rt = tokens(&body["data"]["refresh"]).1;
    }
    assert_eq!(
        stored_last_seen(&app).await,
        started,
        "refreshes within the minute write nothing to the session"
    );
    app.clock.advance(std::time::Duration::from_secs(61));
    let body = app.refresh(&rt).await;
    assert!(body["errors"].is_null(), "{body}");
    rt = tokens(&body["data"]["refresh"]).1;
    let touched = stored_last_seen(&app).await;
    assert!(
        touched - started >= chrono::TimeDelta::seconds(61),
        "a refresh a minute later writes it: {started} -> {touched}"
    );
    // The cached session was read again after the touch: the next refresh in the same minute
    // sees the new time and writes nothing.
    let body = app.refresh(&rt).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(stored_last_seen(&app).await, touched);
    app.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_stored_under_a_uuid_key_still_rotates_and_its_reuse_is_caught() {
    // Tokens are stored under their hash now; those issued before were stored under a UUID
    // and must keep working (found through the index on `hash`).
    let app = TestApp::spawn().await;
    let (_, rt) = tokens(&app.register("legacy@example.com", "legacy", PASSWORD).await);
    let tenant = app.default_tenant().await;
    let mut res = tenant
        .db()
        .query(
            "LET $old = (SELECT * FROM refresh_token)[0];
             DELETE $old.id;
             CREATE type::record('refresh_token', '0192f0c4-0000-7000-8000-000000000001')
                 CONTENT $old.{hash, session, user, created_at, expires_at};
             SELECT VALUE record::id(id) FROM refresh_token;",
        )
        .await
        .expect("rekeyed");
    let ids: Vec<String> = res.take(3).expect("ids");
    assert_eq!(
        ids,
        ["0192f0c4-0000-7000-8000-000000000001"],
        "the only token is UUID-keyed now"
    );
    drop(tenant);
    let body = app.refresh(&rt).await;
    assert!(body["errors"].is_null(), "{body}");
    let (at2, _) = tokens(&body["data"]["refresh"]);
    // The spent UUID-keyed token presented again is reuse: the session dies.
    let body = app.refresh(&rt).await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");
    assert_eq!(
        code(&app.me(&at2).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let (at1, rt1) = tokens(&app.register("thief@example.com", "victim", PASSWORD).await);
    let (at2, rt2) = tokens(&app.refresh(&rt1).await["data"]["refresh"]);
    // The attacker replays the first token.
    let replay = app.refresh(&rt1).await;
    assert_eq!(code(&replay).as_deref(), Some("INVALID_TOKEN"));
    // The whole family is dead: the legitimate newer refresh token and the access tokens.
    assert_eq!(
        code(&app.refresh(&rt2).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    assert_eq!(
        code(&app.me(&at2).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&app.me(&at1).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    // Other sessions of the user are untouched.
    let other = app.login("victim", PASSWORD).await;
    assert!(other["errors"].is_null());
    app.shutdown().await;
}

/// Presents every token to `refresh` at once; the bodies in order.
async fn refresh_all(app: &Arc<TestApp>, tokens: &[String]) -> Vec<serde_json::Value> {
    let futs = tokens
        .iter()
        .map(|t| {
            let (app, t) = (app.clone(), t.clone());
            async move { app.refresh(&t).await }
        })
        .collect();
    join_all(futs).await
}

#[tokio::test]
async fn sessions_refreshed_at_once_each_rotate_exactly_once() {
    // Rotations arriving together are written together (one transaction per batch); each
    // must still come out as its own rotation with its own new pair.
    let app = Arc::new(TestApp::spawn().await);
    let (_, first) = tokens(&app.register("many@example.com", "many", PASSWORD).await);
    let mut current = vec![first];
    for _ in 0..7 {
        let body = app.login("many", PASSWORD).await;
        assert!(body["errors"].is_null(), "{body}");
        current.push(tokens(&body["data"]["login"]).1);
    }
    for round in 0..3 {
        let bodies = refresh_all(&app, &current).await;
        let mut next = Vec::new();
        for body in &bodies {
            assert!(body["errors"].is_null(), "round {round}: {body}");
            let (access, refresh) = tokens(&body["data"]["refresh"]);
            assert!(app.me(&access).await["errors"].is_null(), "round {round}");
            next.push(refresh);
        }
        let mut distinct = next.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), current.len(), "one new token per session");
        assert!(next.iter().all(|t| !current.contains(t)));
        current = next;
    }
    Arc::into_inner(app).expect("tasks done").shutdown().await;
}

#[tokio::test]
async fn one_refresh_token_presented_twenty_times_at_once_rotates_once_then_the_session_dies() {
    let app = Arc::new(TestApp::spawn().await);
    let (_, rt) = tokens(&app.register("twin@example.com", "twin", PASSWORD).await);
    let bodies = refresh_all(&app, &vec![rt; 20]).await;
    let winners: Vec<_> = bodies.iter().filter(|b| b["errors"].is_null()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one presentation rotates: {bodies:?}"
    );
    for b in bodies.iter().filter(|b| !b["errors"].is_null()) {
        assert_eq!(code(b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    }
    // The other nineteen were reuse: the winner's new pair is dead with the session.
    let (access, refresh) = tokens(&winners[0]["data"]["refresh"]);
    assert_eq!(
        code(&app.refresh(&refresh).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    assert_eq!(
        code(&app.me(&access).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    Arc::into_inner(app).expect("tasks done").shutdown().await;
}

#[tokio::test]
async fn unknown_empty_and_oversized_refresh_tokens_are_invalid() {
    let app = TestApp::spawn().await;
    for t in ["", "nope", &"x".repeat(100_000)] {
        assert_eq!(
            code(&app.refresh(t).await).as_deref(),
            Some("INVALID_TOKEN")
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn refresh_token_expires_and_session_has_an_absolute_lifetime() {
    let app = TestApp::spawn_with(&[
        ("REFRESH_TOKEN_EXPIRE_DAYS", "1"),
        ("SESSION_MAX_LIFETIME_DAYS", "2"),
    ])
    .await;
    let (_, rt) = tokens(&app.register("slide@example.com", "slider", PASSWORD).await);
    app.clock
        .advance(std::time::Duration::from_secs(86_400 + 1));
    assert_eq!(
        code(&app.refresh(&rt).await).as_deref(),
        Some("INVALID_TOKEN"),
        "sliding lifetime over"
    );

    let (_, mut rt) = tokens(&app.login("slider", PASSWORD).await["data"]["login"]);
    // Refreshing every 20 hours keeps the refresh token fresh, but not past 2 days.
    for _ in 0..2 {
        app.clock.advance(std::time::Duration::from_secs(20 * 3600));
        let body = app.refresh(&rt).await;
        assert!(body["errors"].is_null(), "{body}");
        rt = body["data"]["refresh"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_string();
    }
    app.clock.advance(std::time::Duration::from_secs(9 * 3600));
    assert_eq!(
        code(&app.refresh(&rt).await).as_deref(),
        Some("INVALID_TOKEN"),
        "absolute lifetime over"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn logout_ends_this_session_only() {
    let app = TestApp::spawn().await;
    let (at1, rt1) = tokens(&app.register("bye@example.com", "byebye", PASSWORD).await);
    let (at2, _) = tokens(&app.login("byebye", PASSWORD).await["data"]["login"]);
    let body = app.gql_as(&at1, LOGOUT, json!({})).await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    assert_eq!(
        code(&app.me(&at1).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&app.refresh(&rt1).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    assert!(
        app.me(&at2).await["errors"].is_null(),
        "the other session lives"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn logout_with_a_refresh_token_and_no_bearer() {
    let app = TestApp::spawn().await;
    let (at, rt) = tokens(&app.register("rt@example.com", "rtonly", PASSWORD).await);
    let body = app.gql(LOGOUT, json!({"t": rt})).await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    assert_eq!(code(&app.me(&at).await).as_deref(), Some("UNAUTHENTICATED"));
    // Without any credential logout is refused.
    assert_eq!(
        code(&app.gql(LOGOUT, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn logout_all_sessions() {
    let app = TestApp::spawn().await;
    let (at1, _) = tokens(&app.register("all@example.com", "everyone", PASSWORD).await);
    let (at2, rt2) = tokens(&app.login("everyone", PASSWORD).await["data"]["login"]);
    let (at3, _) = tokens(&app.login("all@example.com", PASSWORD).await["data"]["login"]);
    let body = app.gql_as(&at1, LOGOUT, json!({"all": true})).await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    for at in [&at1, &at2, &at3] {
        assert_eq!(code(&app.me(at).await).as_deref(), Some("UNAUTHENTICATED"));
    }
    assert_eq!(
        code(&app.refresh(&rt2).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn change_password_revokes_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let (at1, _) = tokens(&app.register("pw@example.com", "changer", PASSWORD).await);
    let (at2, rt2) = tokens(&app.login("changer", PASSWORD).await["data"]["login"]);
    let body = app
        .gql_as(
            &at1,
            CHANGE,
            json!({"c": PASSWORD, "n": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    assert!(
        app.me(&at1).await["errors"].is_null(),
        "the caller's session stays"
    );
    assert_eq!(
        code(&app.me(&at2).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&app.refresh(&rt2).await).as_deref(),
        Some("INVALID_TOKEN")
    );
    assert_eq!(
        code(&app.login("changer", PASSWORD).await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    assert!(app.login("changer", "a brand new passphrase").await["errors"].is_null());
    app.shutdown().await;
}

#[tokio::test]
async fn change_password_checks_the_current_password_and_the_policy() {
    let app = TestApp::spawn().await;
    let (at, _) = tokens(&app.register("pw2@example.com", "careful", PASSWORD).await);
    let wrong = app
        .gql_as(
            &at,
            CHANGE,
            json!({"c": "not it at all", "n": "another passphrase"}),
        )
        .await;
    assert_eq!(code(&wrong).as_deref(), Some("INVALID_CREDENTIALS"));
    let short = app
        .gql_as(&at, CHANGE, json!({"c": PASSWORD, "n": "short"}))
        .await;
    assert_eq!(code(&short).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(field(&short).as_deref(), Some("newPassword"));
    let anon = app
        .gql(CHANGE, json!({"c": PASSWORD, "n": "another passphrase"}))
        .await;
    assert_eq!(code(&anon).as_deref(), Some("UNAUTHENTICATED"));
    // Nothing changed.
    assert!(app.login("careful", PASSWORD).await["errors"].is_null());
    app.shutdown().await;
}

/// The auth cache's safety net. A session revoked in the database alone (no tenant actor, so
/// no invalidation: what a missed invalidation would leave behind) is still accepted from the
/// cache by a node whose maximum age is an hour, and no longer than its maximum age by a node
/// where that is one second.
#[tokio::test]
async fn a_revocation_that_skipped_invalidation_is_served_no_longer_than_the_cache_max_age() {
    async fn revoke_behind_the_actors_back(app: &TestApp) {
        app.default_tenant()
            .await
            .db()
            .query("UPDATE session SET revoked_at = time::now()")
            .await
            .expect("written");
    }
    let hour = TestApp::spawn_with(&[("CACHE_MAX_AGE_SECONDS", "3600")]).await;
    let (at, _) = tokens(&hour.register("hour@example.com", "hour", PASSWORD).await);
    assert!(hour.me(&at).await["errors"].is_null(), "read once: cached");
    revoke_behind_the_actors_back(&hour).await;
    let body = hour.me(&at).await;
    assert!(body["errors"].is_null(), "served from the cache: {body}");

    let second = TestApp::spawn_with(&[("CACHE_MAX_AGE_SECONDS", "1")]).await;
    let (at, _) = tokens(&second.register("sec@example.com", "sec", PASSWORD).await);
    assert!(
        second.me(&at).await["errors"].is_null(),
        "read once: cached"
    );
    revoke_behind_the_actors_back(&second).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let body = second.me(&at).await;
        if code(&body).as_deref() == Some("UNAUTHENTICATED") {
            break;
        }
        assert!(body["errors"].is_null(), "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked session was still accepted 30 s later"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    hour.shutdown().await;
    second.shutdown().await;
}
