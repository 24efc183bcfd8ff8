//! Password guessing: per-account lockout with exponential back-off, per-address limits,
//! atomic counting under concurrency, no enumeration through lockout, recovery never blocked.
//!
//! Windows are moved past with the server clock, never by sleeping. Tests that must observe
//! a lock before it lapses set `LOGIN_LOCKOUT_BASE_SECONDS` high, so real time spent between
//! requests on a loaded machine cannot end the window early.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const WRONG: &str = "definitely not it";
/// A first lock long enough to outlast any test's real running time.
const LONG_BASE: (&str, &str) = ("LOGIN_LOCKOUT_BASE_SECONDS", "600");

fn retry_after(body: &Value) -> u64 {
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("RATE_LIMITED carries retryAfter: {body}"))
}

async fn fail_times(app: &TestApp, identifier: &str, n: usize) {
    for i in 0..n {
        let body = app.login(identifier, WRONG).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "failure {i}: {body}"
        );
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let app = TestApp::spawn_with(&[LONG_BASE]).await;
    app.register("lock@example.com", "locked", PASSWORD).await;
    fail_times(&app, "locked", 5).await;

    // Locked: the right password is refused too, by email or by username.
    for identifier in ["locked", "LOCK@example.com"] {
        let body = app.login(identifier, PASSWORD).await;
        assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
        assert!(body["data"].is_null(), "{body}");
        let wait = retry_after(&body);
        assert!((1..=600).contains(&wait), "{body}");
    }

    // Once the window has passed, the right password works and resets the counter.
    app.clock.advance(Duration::from_secs(601));
    let body = app.login("locked", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    fail_times(&app, "locked", 5).await;
    let body = app.login("locked", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_success_after_failures_starts_the_count_again_even_for_an_account_seen_clean() {
    // The tenant actor skips the failure-row delete of a success when it knows the account
    // has no row; a success after failures must still delete it.
    let app = TestApp::spawn_with(&[LONG_BASE]).await;
    app.register("clean@example.com", "clean", PASSWORD).await;
    for round in 0..3 {
        let body = app.login("clean", PASSWORD).await;
        assert!(body["errors"].is_null(), "round {round}: {body}");
        fail_times(&app, "clean", 4).await;
    }
    // 12 failures in all, never 5 in a row: not locked.
    let body = app.login("clean", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    fail_times(&app, "clean", 5).await;
    let body = app.login("clean", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn back_off_doubles_from_one_second_and_caps_at_fifteen_minutes() {
    // Default policy: 5 failures, then 1 s doubling, capped at 900 s.
    let app = TestApp::spawn().await;
    app.register("slow@example.com", "slowpoke", PASSWORD).await;
    fail_times(&app, "slowpoke", 5).await;
    let mut lock = 1u64;
    for step in 0..12 {
        // Short locks may lapse in real time before a probe arrives, so they are only
        // stepped over; from 64 s on, the probe sees the exact remaining window.
        if lock >= 64 {
            let body = app.login("slowpoke", PASSWORD).await;
            assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
            assert_eq!(retry_after(&body), lock, "step {step}: {body}");
            // One second before the end it is still locked.
            app.clock.advance(Duration::from_secs(lock - 1));
            let body = app.login("slowpoke", PASSWORD).await;
            assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
            app.clock.advance(Duration::from_secs(1));
        } else {
            app.clock.advance(Duration::from_secs(lock));
        }
        // After the window one more guess is evaluated; it fails and doubles the lock.
        let body = app.login("slowpoke", WRONG).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "step {step}: {body}"
        );
        lock = (lock * 2).min(900);
    }
    assert_eq!(lock, 900, "the sequence reached the cap");
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_usernames_lock_out_exactly_like_real_ones() {
    let app = TestApp::spawn_with(&[LONG_BASE]).await;
    app.register("real@example.com", "realuser", PASSWORD).await;
    let mut answers = Vec::new();
    for identifier in ["realuser", "ghostuser"] {
        let mut seq = Vec::new();
        for _ in 0..7 {
            let body = app.login(identifier, WRONG).await;
            let mut error = body["errors"][0].clone();
            // Paths and locations are the same; only the request id differs per request.
            error["extensions"]
                .as_object_mut()
                .map(|e| e.remove("requestId"));
            seq.push(error);
        }
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1], "no enumeration through lockout");
    assert_eq!(answers[0][4]["extensions"]["code"], "INVALID_CREDENTIALS");
    assert_eq!(answers[0][5]["extensions"]["code"], "RATE_LIMITED");
    app.shutdown().await;
}

#[tokio::test]
async fn two_hundred_parallel_wrong_logins_verify_at_most_five_passwords() {
    let app = Arc::new(
        TestApp::spawn_with(&[
            LONG_BASE,
            // Lift the per-address limits so only the per-account lockout is measured.
            ("RATE_LIMIT_LOGIN", "10000/60"),
            ("LOGIN_FAILURES_PER_ADDRESS", "10000/60"),
        ])
        .await,
    );
    app.register("race@example.com", "racer", PASSWORD).await;
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.login("racer", WRONG).await })
        })
        .collect();
    let (mut evaluated, mut limited) = (0, 0);
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            // Each INVALID_CREDENTIALS is one password verification.
            Some("INVALID_CREDENTIALS") => evaluated += 1,
            Some("RATE_LIMITED") => limited += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(evaluated, 5, "exactly the threshold was evaluated");
    assert_eq!(limited, 195);
    let body = app.login("racer", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    Arc::try_unwrap(app).ok().unwrap().shutdown().await;
}

/// Many instances of one service starting at once all sign in with the right password: the
/// attempts beyond the threshold wait for those in flight instead of being refused (the
/// test above shows the wait never lets more than the threshold be verified at once).
#[tokio::test]
async fn twelve_parallel_right_logins_all_succeed() {
    let app = Arc::new(
        TestApp::spawn_with(&[
            ("RATE_LIMIT_LOGIN", "10000/60"),
            ("LOGIN_FAILURES_PER_ADDRESS", "10000/60"),
        ])
        .await,
    );
    app.register("fleet@example.com", "fleet", PASSWORD).await;
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.login("fleet", PASSWORD).await })
        })
        .collect();
    for h in handles {
        let body = h.await.unwrap();
        assert!(
            body["errors"].is_null(),
            "every right password signs in: {body}"
        );
    }
    Arc::try_unwrap(app).ok().unwrap().shutdown().await;
}

fn login_fields(n: usize, identifier: &str) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "a{i}: login(input: {{identifier: \"{identifier}\", password: \"{WRONG}\"}}) {{ accessToken }}"
            )
        })
        .collect();
    format!("mutation {{ {} }}", fields.join(" "))
}

fn codes(errors: &Value) -> Vec<String> {
    errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn aliased_and_batched_logins_count_one_by_one() {
    let app = TestApp::spawn_with(&[LONG_BASE]).await;
    app.register("alias@example.com", "aliased", PASSWORD).await;
    app.register("batch@example.com", "batched", PASSWORD).await;

    // Ten aliased `login` fields in one document.
    let body = app.gql(&login_fields(10, "aliased"), json!({})).await;
    let mut seen = codes(&body["errors"]);
    seen.sort();
    let mut expected = vec!["INVALID_CREDENTIALS"; 5];
    expected.extend(vec!["RATE_LIMITED"; 5]);
    assert_eq!(seen, expected, "{body}");

    // Ten logins in one batch.
    let op = json!({"query": LOGIN, "variables": {"input": {"identifier": "batched", "password": WRONG}}});
    let batch: Vec<Value> = (0..10).map(|_| op.clone()).collect();
    let answers: Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen: Vec<String> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| code(a).unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, expected, "{answers}");

    // Both accounts are now locked for their right passwords too.
    for name in ["aliased", "batched"] {
        let body = app.login(name, PASSWORD).await;
        assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn lockout_never_blocks_password_reset() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[LONG_BASE, ("SMTP_URL", &sink.url())]).await;
    app.register("forgot@example.com", "forgetful", PASSWORD)
        .await;
    fail_times(&app, "forgetful", 5).await;
    assert_eq!(
        code(&app.login("forgetful", PASSWORD).await).as_deref(),
        Some("RATE_LIMITED")
    );

    let body = app
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({"e": "forgot@example.com"}),
        )
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    let token = sink
        .wait_for("forgot@example.com", "Reset your")
        .await
        .token();
    let new_password = "a brand new passphrase";
    let body = app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
            json!({"t": token, "p": new_password}),
        )
        .await;
    assert_eq!(body["data"]["resetPassword"], true, "{body}");
    // The reset proved ownership: the lock is lifted at once.
    let body = app.login("forgetful", new_password).await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn failure_counters_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", dir.path().join("db").display());
    let vars = [LONG_BASE, ("DATABASE_URL", url.as_str())];
    let app = TestApp::spawn_with(&vars).await;
    app.register("durable@example.com", "durable", PASSWORD)
        .await;
    fail_times(&app, "durable", 4).await;
    app.shutdown().await;

    // A new process (so a new tenant actor) still knows the four failures: one more locks.
    let app = TestApp::spawn_with(&vars).await;
    fail_times(&app, "durable", 1).await;
    let body = app.login("durable", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;

    let app = TestApp::spawn_with(&vars).await;
    let body = app.login("durable", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_across_accounts() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ADDRESS", "3/600")]).await;
    app.register("spray@example.com", "sprayed", PASSWORD).await;
    // Password spraying: one guess each against many names.
    for name in ["anna", "bert", "carl"] {
        fail_times(&app, name, 1).await;
    }
    let body = app.login("sprayed", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    assert!((1..=600).contains(&retry_after(&body)), "{body}");
    app.clock.advance(Duration::from_secs(600));
    let body = app.login("sprayed", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn login_register_and_reset_requests_are_limited_per_address() {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMIT_LOGIN", "3/60"),
        ("RATE_LIMIT_REGISTER", "2/60"),
        ("RATE_LIMIT_PASSWORD_RESET", "2/60"),
    ])
    .await;
    app.register("one@example.com", "userone", PASSWORD).await;
    app.register("two@example.com", "usertwo", PASSWORD).await;
    let body = app
        .gql(
            REGISTER,
            json!({"input": {"email": "three@example.com", "username": "userthree", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    assert!((1..=60).contains(&retry_after(&body)), "{body}");

    for _ in 0..3 {
        assert!(app.login("userone", PASSWORD).await["errors"].is_null());
    }
    let body = app.login("userone", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");

    let reset = "mutation { requestPasswordReset(email: \"one@example.com\") }";
    for _ in 0..2 {
        assert_eq!(
            app.gql(reset, json!({})).await["data"]["requestPasswordReset"],
            true
        );
    }
    let body = app.gql(reset, json!({})).await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");

    // A new window for everything.
    app.clock.advance(Duration::from_secs(60));
    assert!(app.login("userone", PASSWORD).await["errors"].is_null());
    app.register("three@example.com", "userthree", PASSWORD)
        .await;
    assert_eq!(
        app.gql(reset, json!({})).await["data"]["requestPasswordReset"],
        true
    );
    app.shutdown().await;
}

async fn login_from(app: &TestApp, forwarded_for: &str) -> Value {
    app.client
        .post(format!("{}/graphql", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"query": LOGIN, "variables": {"input": {"identifier": "proxied", "password": PASSWORD}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // Untrusted: a forged header cannot buy a fresh budget per request.
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "2/60")]).await;
    app.register("proxied@example.com", "proxied", PASSWORD)
        .await;
    assert!(login_from(&app, "10.0.0.1").await["errors"].is_null());
    assert!(login_from(&app, "10.0.0.2").await["errors"].is_null());
    let body = login_from(&app, "10.0.0.3").await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;

    // Trusted: the first hop is the client; each client has its own budget.
    let app = TestApp::spawn_with(&[
        ("RATE_LIMIT_LOGIN", "2/60"),
        ("TRUSTED_PROXIES", "192.0.2.1, 127.0.0.1"),
    ])
    .await;
    app.register("proxied@example.com", "proxied", PASSWORD)
        .await;
    assert!(login_from(&app, "10.0.0.1").await["errors"].is_null());
    assert!(login_from(&app, "10.0.0.1, 10.9.9.9").await["errors"].is_null());
    let body = login_from(&app, "10.0.0.1").await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    assert!(login_from(&app, "10.0.0.2").await["errors"].is_null());
    // Garbage in the header falls back to the peer address, never to the garbage.
    assert!(login_from(&app, "not-an-ip").await["errors"].is_null());
    assert!(login_from(&app, "<script>").await["errors"].is_null());
    let body = login_from(&app, "also garbage").await;
    assert_eq!(code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn reset_mails_are_capped_at_three_per_account_per_fifteen_minutes() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &sink.url()),
        ("RATE_LIMIT_PASSWORD_RESET", "100/60"),
    ])
    .await;
    app.register("flood@example.com", "flooded", PASSWORD).await;
    let ask = "mutation { requestPasswordReset(email: \"flood@example.com\") }";
    for _ in 0..5 {
        // Always true: the cap is not revealed to the caller.
        assert_eq!(
            app.gql(ask, json!({})).await["data"]["requestPasswordReset"],
            true
        );
    }
    // A new window lets one more through; it is the fourth mail, not the sixth.
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        app.gql(ask, json!({})).await["data"]["requestPasswordReset"],
        true
    );
    let mails = sink
        .wait_for_count("flood@example.com", "Reset your", 4)
        .await;
    assert_eq!(
        mails.len(),
        4,
        "requests 4 and 5 of the window sent nothing"
    );
    app.shutdown().await;
}
