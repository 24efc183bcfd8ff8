//! Account enumeration: unknown users and wrong passwords get the same answer after the same
//! work, and reset requests answer the same for known and unknown addresses without hashing
//! or mailing inline. Work is counted structurally (argon2 runs in the server's debug log),
//! never timed: timing goals live in the benchmark.

use std::time::Duration;

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::*;

async fn gql(base: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn argon2_runs(server: &ChildServer, op: &str) -> usize {
    server
        .lines()
        .iter()
        .filter(|l| l.contains("argon2 run") && l.contains(&format!("\"op\":\"{op}\"")))
        .count()
}

/// Waits until the server has logged `n` runs of `op`. Requests are sent one after another
/// and each logs before it answers, so an extra run of an earlier step would show in the
/// final count taken after the last request.
async fn settle(server: &ChildServer, op: &str, n: usize) {
    let mut waited = 0;
    while argon2_runs(server, op) < n {
        assert!(waited < 400, "{n} argon2 {op} runs never logged");
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
    }
}

fn without_request_id(mut body: Value) -> Value {
    if let Some(errors) = body["errors"].as_array_mut() {
        for e in errors {
            e["extensions"]
                .as_object_mut()
                .map(|x| x.remove("requestId"));
        }
    }
    body
}

#[tokio::test]
async fn unknown_user_and_wrong_password_spend_one_hash_and_answer_alike() {
    let server = ChildServer::start(&[("RUST_LOG", "info,latchkey::argon2=debug")]);
    let base = server.base.clone();
    let reg = gql(
        &base,
        REGISTER,
        json!({"input": {"email": "known@example.com", "username": "known", "password": PASSWORD}}),
    )
    .await;
    assert!(reg["errors"].is_null(), "{reg}");
    settle(&server, "hash", 1).await;

    let login = |who: &'static str, pw: &'static str| {
        let base = base.clone();
        async move {
            gql(
                &base,
                LOGIN,
                json!({"input": {"identifier": who, "password": pw}}),
            )
            .await
        }
    };
    let unknown = login("nobody-here", "whatever it is").await;
    settle(&server, "verify", 1).await;
    let wrong = login("known", "whatever it is").await;
    settle(&server, "verify", 2).await;
    let unknown_email = login("nobody@example.com", "whatever it is").await;
    settle(&server, "verify", 3).await;
    let right = login("known", PASSWORD).await;
    assert!(right["errors"].is_null(), "{right}");
    settle(&server, "verify", 4).await;

    // Every attempt verified exactly one hash, and none hashed anything new.
    let lines = server.stop();
    let count = |op: &str| {
        lines
            .iter()
            .filter(|l| l.contains("argon2 run") && l.contains(&format!("\"op\":\"{op}\"")))
            .count()
    };
    assert_eq!(count("verify"), 4, "one verification per login attempt");
    assert_eq!(count("hash"), 1, "only the registration hashed");

    let unknown = without_request_id(unknown);
    assert_eq!(code(&unknown).as_deref(), Some("INVALID_CREDENTIALS"));
    assert_eq!(unknown, without_request_id(wrong), "one answer for both");
    assert_eq!(unknown, without_request_id(unknown_email));
}

#[tokio::test]
async fn reset_requests_answer_alike_and_hash_nothing() {
    let server = ChildServer::start(&[("RUST_LOG", "info,latchkey::argon2=debug")]);
    let base = server.base.clone();
    let reg = gql(
        &base,
        REGISTER,
        json!({"input": {"email": "known@example.com", "username": "known", "password": PASSWORD}}),
    )
    .await;
    assert!(reg["errors"].is_null(), "{reg}");
    settle(&server, "hash", 1).await;
    let ask = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let known = gql(&base, ask, json!({"e": "known@example.com"})).await;
    let unknown = gql(&base, ask, json!({"e": "unknown@example.com"})).await;
    assert_eq!(known, unknown);
    assert_eq!(known["data"]["requestPasswordReset"], true, "{known}");
    // A login after both, so their log lines are out before we count.
    gql(
        &base,
        LOGIN,
        json!({"input": {"identifier": "known", "password": PASSWORD}}),
    )
    .await;
    settle(&server, "verify", 1).await;
    let lines = server.stop();
    let hashes = lines.iter().filter(|l| l.contains("argon2 run")).count();
    assert_eq!(hashes, 2, "registration and the login only: {lines:?}");
}
