//! Hostile and malformed input to register and login: broken bodies, wrong types, invalid
//! and adversarial strings, oversized values, deep nesting. Every answer is a client error
//! with a code and, where it names one, the offending field; never a 500, a hang or a crash.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::*;

/// POSTs `body` verbatim as `application/json` to `/graphql`; returns status and raw bytes.
async fn post_bytes(app: &TestApp, body: impl Into<reqwest::Body>) -> (StatusCode, Vec<u8>) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("a response, not a dropped connection");
    let status = resp.status();
    (status, resp.bytes().await.expect("body read").to_vec())
}

/// Like [`post_bytes`] but the answer must be JSON.
async fn post_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let (status, bytes) = post_bytes(app, body).await;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

/// `register` with the given fields; returns status and body.
async fn register_raw(
    app: &TestApp,
    email: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let vars = json!({"input": {"email": email, "username": username, "password": password}});
    app.gql_at("/graphql", None, REGISTER, vars).await
}

/// Asserts that registering fails with `BAD_USER_INPUT` on `expected_field`.
async fn assert_register_rejected(
    app: &TestApp,
    email: &str,
    username: &str,
    password: &str,
    expected_field: &str,
) {
    let (status, body) = register_raw(app, email, username, password).await;
    let what = format!(
        "email={email:?} username={username:?} password len {}",
        password.chars().count()
    );
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    assert_eq!(
        code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{what}: {body}"
    );
    assert_eq!(
        field(&body).as_deref(),
        Some(expected_field),
        "{what}: {body}"
    );
    assert!(body["data"].is_null(), "{what}: {body}");
}

/// Asserts the server still answers.
async fn assert_alive(app: &TestApp) {
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("server alive");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let app = TestApp::spawn().await;

    let bodies: &[&[u8]] = &[
        br#"{"query": "{ me {"#,
        br#"{"query": "{ __typename }""#,
        b"not JSON at all",
        b"",
        b"{",
        br#"[{"query": "#,
        br#"{"query": 5}"#,
        br#"{"query": null}"#,
        br#"{"query": ["{ __typename }"]}"#,
        br#"{"query": {"nested": true}}"#,
        br#"{"query": "{ __typename }", "variables": [1, 2]}"#,
        br#"{"query": "{ __typename }", "operationName": 7}"#,
        br#"{"query": "{ __typename }"} trailing"#,
        br#"[{"query": "{ __typename }"}, 5]"#,
        b"null",
        b"42",
        b"true",
        b"\xff\xfe\x00{\x00}",
        b"{\"query\": \"\xc3\x28\"}",
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(body).to_string();
        let (status, resp) = post_raw(&app, body.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown:?}: {resp}");
        assert_eq!(
            code(&resp).as_deref(),
            Some("BAD_USER_INPUT"),
            "{shown:?}: {resp}"
        );
        assert!(resp["data"].is_null(), "{shown:?}: {resp}");
    }

    // Well-formed JSON carrying a broken GraphQL document is a GraphQL error, not a 500.
    let (status, resp) = post_raw(&app, json!({"query": "{ me {"}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(code(&resp).as_deref(), Some("BAD_USER_INPUT"), "{resp}");

    assert_alive(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_variable_types_are_bad_user_input() {
    let app = TestApp::spawn().await;

    let cases = [
        json!({"input": {"email": 5, "username": "alice", "password": PASSWORD}}),
        json!({"input": {"email": "a@example.com", "username": true, "password": PASSWORD}}),
        json!({"input": {"email": "a@example.com", "username": "alice", "password": 12345678}}),
        json!({"input": {"email": ["a@example.com"], "username": "alice", "password": PASSWORD}}),
        json!({"input": {"email": {"$ne": null}, "username": "alice", "password": PASSWORD}}),
        json!({"input": {"email": null, "username": "alice", "password": PASSWORD}}),
        json!({"input": {"email": 1e300, "username": "alice", "password": PASSWORD}}),
        json!({"input": "string"}),
        json!({"input": 5}),
        json!({"input": null}),
        json!({"input": [{"email": "a@example.com", "username": "alice", "password": PASSWORD}]}),
        json!({"input": {"email": "a@example.com", "username": "alice"}}),
        json!({"input": {}}),
        json!({"input": {"email": "a@example.com", "username": "alice", "password": PASSWORD, "roles": ["admin"]}}),
        json!({}),
    ];
    for vars in cases {
        let (status, body) = app.gql_at("/graphql", None, REGISTER, vars.clone()).await;
        assert_eq!(status, StatusCode::OK, "{vars}: {body}");
        assert_eq!(
            code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{vars}: {body}"
        );
        assert!(body["data"].is_null(), "{vars}: {body}");
    }

    let login_cases = [
        json!({"input": {"identifier": 5, "password": PASSWORD}}),
        json!({"input": {"identifier": "alice"}}),
        json!({"input": {"identifier": "alice", "password": null}}),
        json!({"input": "alice"}),
    ];
    for vars in login_cases {
        let (status, body) = app.gql_at("/graphql", None, LOGIN, vars.clone()).await;
        assert_eq!(status, StatusCode::OK, "{vars}: {body}");
        assert_eq!(
            code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{vars}: {body}"
        );
    }

    // None of that created an account; the smuggled "roles" above least of all.
    let body = app.register("a@example.com", "alice", PASSWORD).await;
    assert_eq!(body["user"]["roles"], json!([]), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn empty_fields_are_named() {
    let app = TestApp::spawn().await;

    assert_register_rejected(&app, "", "alice", PASSWORD, "email").await;
    assert_register_rejected(&app, "   ", "alice", PASSWORD, "email").await;
    assert_register_rejected(&app, "alice@example.com", "", PASSWORD, "username").await;
    assert_register_rejected(&app, "alice@example.com", " \t ", PASSWORD, "username").await;
    assert_register_rejected(&app, "alice@example.com", "alice", "", "password").await;

    app.shutdown().await;
}

#[tokio::test]
async fn invalid_emails_are_rejected() {
    let app = TestApp::spawn().await;

    let long_local = format!("{}@example.com", "a".repeat(288));
    let long_label = format!("a@{}.com", "b".repeat(64));
    let emails = [
        "no-at-sign",
        "a@b",
        "a@@b.com",
        "@example.com",
        "a@",
        "a@.com",
        "a@example.",
        "a@example..com",
        "a@-example.com",
        "a@example.123",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a(b)@example.com",
        "<a@example.com>",
        "a@example.com\r\nBcc: x@evil.com",
        "a@example.com\nBcc: x@evil.com",
        "a@example.com,b@example.com",
        "\"a\"@example.com",
        "a@exämple.com",
        "ä@example.com",
        "a@example.com\u{0}",
        "a\u{202e}moc.elpmaxe@b.com",
        long_local.as_str(),
        long_label.as_str(),
    ];
    for email in emails {
        assert_register_rejected(&app, email, "alice", PASSWORD, "email").await;
    }
    assert_eq!(long_local.len(), 300);

    // Nothing above was stored: a valid registration with that username still succeeds.
    app.register("alice@example.com", "alice", PASSWORD).await;
    app.shutdown().await;
}

#[tokio::test]
async fn invalid_usernames_are_rejected() {
    let app = TestApp::spawn().await;

    let too_long = "a".repeat(33);
    let usernames = [
        "ab",
        "a",
        too_long.as_str(),
        "bad name",
        "tab\tinside",
        "new\nline",
        "ünïcode",
        "<script>",
        "<script>alert(1)</script>",
        "robert'); DROP TABLE user;--",
        "a/b",
        "a@b",
        "a\\b",
        "$auth",
        "${x}",
        "ab\u{0}c",
    ];
    for (i, username) in usernames.iter().enumerate() {
        let email = format!("user{i}@example.com");
        assert_register_rejected(&app, &email, username, PASSWORD, "username").await;
    }

    // The bounds themselves are fine.
    app.register("three@example.com", "abc", PASSWORD).await;
    app.register("long@example.com", &"b".repeat(32), PASSWORD)
        .await;
    app.register("punct@example.com", "a_b.c-d", PASSWORD).await;
    app.shutdown().await;
}

#[tokio::test]
async fn surrounding_whitespace_in_a_username_is_trimmed() {
    // Like the email, the username is trimmed: "tab\t" is the username "tab".
    let app = TestApp::spawn().await;

    let body = app.register("tab@example.com", "tab\t", PASSWORD).await;
    assert_eq!(body["user"]["username"], "tab", "{body}");
    let login = app.login("tab", PASSWORD).await;
    assert!(login["errors"].is_null(), "{login}");

    app.shutdown().await;
}

#[tokio::test]
async fn password_length_bounds() {
    let app = TestApp::spawn().await;

    assert_register_rejected(&app, "p7@example.com", "pw7", &"x".repeat(7), "password").await;
    assert_register_rejected(
        &app,
        "p129@example.com",
        "pw129",
        &"x".repeat(129),
        "password",
    )
    .await;
    // Length counts characters, not bytes: 129 four-byte characters are too long, 8 are enough.
    assert_register_rejected(
        &app,
        "e129@example.com",
        "emoji129",
        &"🔑".repeat(129),
        "password",
    )
    .await;
    // A 10 KB password costs nothing to refuse.
    assert_register_rejected(
        &app,
        "p10k@example.com",
        "pw10k",
        &"x".repeat(10_000),
        "password",
    )
    .await;

    // Not "xxxxxxxx": that one is on the common-password list (see password_policy.rs).
    let eight = "x7#kq!2m";
    app.register("p8@example.com", "pw8", eight).await;
    let login = app.login("pw8", eight).await;
    assert!(login["errors"].is_null(), "{login}");

    let max = "y".repeat(128);
    app.register("p128@example.com", "pw128", &max).await;
    let login = app.login("p128@example.com", &max).await;
    assert!(login["errors"].is_null(), "{login}");

    let emoji = "🔑".repeat(8);
    app.register("e8@example.com", "emoji8", &emoji).await;
    let login = app.login("emoji8", &emoji).await;
    assert!(login["errors"].is_null(), "{login}");

    app.shutdown().await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = TestApp::spawn().await;

    let query = format!("{{ __typename }} # {}", "x".repeat(2 * 1024 * 1024));
    let (status, bytes) = post_bytes(&app, json!({"query": query}).to_string()).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&bytes)
    );

    // A huge variable is refused by size too.
    let vars = json!({"input": {"email": "a".repeat(2 * 1024 * 1024), "username": "alice", "password": PASSWORD}});
    let (status, _) = post_bytes(
        &app,
        json!({"query": REGISTER, "variables": vars}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // A body just under the limit is read and answered normally.
    let big_email = format!("{}@example.com", "a".repeat(200 * 1024));
    let (status, body) = register_raw(&app, &big_email, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(field(&body).as_deref(), Some("email"), "{body}");

    let big_username = "u".repeat(200 * 1024);
    let (_, body) = register_raw(&app, "alice@example.com", &big_username, PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(field(&body).as_deref(), Some("username"), "{body}");

    assert_alive(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn hostile_login_identifiers() {
    let app = TestApp::spawn().await;
    app.register("alice@example.com", "alice", PASSWORD).await;

    for identifier in ["", "   ", "\t\n"] {
        let body = app.login(identifier, PASSWORD).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{identifier:?}: {body}"
        );
        assert_eq!(
            field(&body).as_deref(),
            Some("identifier"),
            "{identifier:?}: {body}"
        );
    }
    let body = app.login("alice", "").await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(field(&body).as_deref(), Some("password"), "{body}");

    let huge = "a".repeat(10 * 1024);
    let huge_email = format!("{}@example.com", "a".repeat(10 * 1024));
    let identifiers = [
        huge.as_str(),
        huge_email.as_str(),
        "' OR 1=1 --",
        "alice' OR '1'='1",
        "alice\" OR true",
        "alice\" OR true --",
        "$auth",
        "$session",
        "alice; SELECT * FROM user",
        "*",
        "%",
        "alice%",
        "ALICE@EXAMPLE.COM\u{0}",
        "alice\u{0}",
        "user:alice",
        "⟨alice⟩",
        "{ \"$ne\": null }",
    ];
    for identifier in identifiers {
        let body = app.login(identifier, PASSWORD).await;
        let shown: String = identifier.chars().take(40).collect();
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "{shown:?}: {body}"
        );
        assert!(body["data"].is_null(), "{shown:?}: {body}");
    }

    // The account is intact and still the only one reachable.
    let body = app.login("alice", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["login"]["user"]["username"], "alice");
    app.shutdown().await;
}

#[tokio::test]
async fn hostile_unicode_in_usernames() {
    let app = TestApp::spawn().await;

    let usernames = [
        "bob\u{0}",
        "bob\u{0}admin",
        "\u{0}\u{0}\u{0}",
        "bob\u{202e}nimda",
        "\u{202e}bob",
        "bob😀",
        "😀😀😀",
        "𝔘ser",
        "bob\u{200b}",
        "bo\u{200b}b",
        "bob\u{feff}",
        "ａｄｍｉｎ",
        "admin\u{301}",
        "bob\u{7f}",
        "bob\u{1b}[31m",
        "\u{fffd}\u{fffd}\u{fffd}",
    ];
    for (i, username) in usernames.iter().enumerate() {
        let email = format!("u{i}@example.com");
        assert_register_rejected(&app, &email, username, PASSWORD, "username").await;
    }

    // Hostile characters in the email and password positions are handled too.
    assert_register_rejected(&app, "bob\u{202e}@example.com", "bob", PASSWORD, "email").await;
    assert_register_rejected(&app, "😀@example.com", "bob", PASSWORD, "email").await;
    let body = app
        .register("bob@example.com", "bob", "pässwörd\u{0}😀\u{202e}𝔘")
        .await;
    assert_eq!(body["user"]["username"], "bob");
    let login = app.login("bob", "pässwörd\u{0}😀\u{202e}𝔘").await;
    assert!(login["errors"].is_null(), "{login}");
    let login = app.login("bob\u{202e}", "pässwörd\u{0}😀\u{202e}𝔘").await;
    assert_eq!(
        code(&login).as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{login}"
    );

    app.shutdown().await;
}

#[tokio::test]
async fn hostile_json_values() {
    let app = TestApp::spawn().await;

    // 10,000 nested arrays / objects in a variable: refused while parsing the JSON body (400).
    let nested_arrays = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": {}{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let nested_objects = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": {}1{}}}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let nested_input = format!(
        r#"{{"query": {}, "variables": {{"input": {}{}}}}}"#,
        Value::from(REGISTER),
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    for body in [nested_arrays, nested_objects, nested_input] {
        let (status, resp) = post_raw(&app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
        assert_eq!(code(&resp).as_deref(), Some("BAD_USER_INPUT"), "{resp}");
        assert!(resp["data"].is_null(), "{resp}");
    }

    // Numbers beyond f64 and raw control bytes are not JSON: 400.
    let huge_integer = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"x": {}}}}}"#,
        "9".repeat(400)
    );
    let raw_bodies: [&[u8]; 5] = [
        huge_integer.as_bytes(),
        br#"{"query": "{ __typename }", "variables": {"x": 1e400}}"#,
        br#"{"query": "{ __typename }", "variables": {"x": -1e99999}}"#,
        b"{\"query\": \"{ __typename }\", \"variables\": {\"x\": \"a\x00b\"}}",
        br#"{"query": "{ __typename }", "variables": {"x": "\ud800"}}"#,
    ];
    for body in raw_bodies {
        let shown = String::from_utf8_lossy(body).to_string();
        let (status, resp) = post_raw(&app, body.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown:?}: {resp}");
        assert_eq!(
            code(&resp).as_deref(),
            Some("BAD_USER_INPUT"),
            "{shown:?}: {resp}"
        );
    }

    // A large (but finite) integer where a string belongs: a type error.
    let body = format!(
        r#"{{"query": {}, "variables": {{"input": {{"email": {}, "username": "alice", "password": "{PASSWORD}"}}}}}}"#,
        Value::from(REGISTER),
        "9".repeat(40)
    );
    let (status, resp) = post_raw(&app, body).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(code(&resp).as_deref(), Some("BAD_USER_INPUT"), "{resp}");

    // An escaped NUL inside a well-formed string reaches validation, which names the field.
    let (status, resp) = register_raw(&app, "a\u{0}@example.com", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&resp).as_deref(), Some("BAD_USER_INPUT"), "{resp}");
    assert_eq!(field(&resp).as_deref(), Some("email"), "{resp}");

    // Many unused variables are harmless.
    let many: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("v{i}"), json!(i))).collect();
    let (status, resp) = app
        .gql_at("/graphql", None, "{ __typename }", Value::Object(many))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp["data"]["__typename"], "Query", "{resp}");

    assert_alive(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn email_is_normalized() {
    let app = TestApp::spawn().await;

    let body = app
        .register("  Mixed@Example.COM ", "mixed", PASSWORD)
        .await;
    assert_eq!(body["user"]["email"], "Mixed@example.com", "{body}");

    let login = app.login("mixed@EXAMPLE.com", PASSWORD).await;
    assert!(login["errors"].is_null(), "{login}");
    assert_eq!(login["data"]["login"]["user"]["email"], "Mixed@example.com");
    let login = app.login("  MIXED@example.com  ", PASSWORD).await;
    assert!(login["errors"].is_null(), "{login}");

    let token = body["accessToken"].as_str().unwrap();
    let me = app.me(token).await;
    assert_eq!(me["data"]["me"]["email"], "Mixed@example.com", "{me}");

    // The address is unique whatever its case.
    let (_, dup) = register_raw(&app, "mixed@example.com", "other", PASSWORD).await;
    assert_eq!(code(&dup).as_deref(), Some("EMAIL_TAKEN"), "{dup}");

    app.shutdown().await;
}

#[tokio::test]
async fn deeply_nested_argument_literal_does_not_crash_the_server() {
    let mut server = ChildServer::start(&[]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = format!("{}/healthz", server.base);
    let resp = client
        .get(&health)
        .send()
        .await
        .expect("child server answers");
    assert_eq!(resp.status(), StatusCode::OK);

    // A few kilobytes: 2,000 nested list literals (or input objects) in an argument.
    let n = 2_000;
    let queries = [
        format!(
            "{{ __type(name: {}{}) {{ name }} }}",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "{{ __type(name: {}1{}) {{ name }} }}",
            "{a: ".repeat(n),
            "}".repeat(n)
        ),
        format!(
            "mutation {{ login(input: {{identifier: {}{}, password: \"x\"}}) {{ accessToken }} }}",
            "[".repeat(n),
            "]".repeat(n)
        ),
    ];
    for query in &queries {
        let answer = client
            .post(format!("{}/graphql", server.base))
            .json(&json!({"query": query}))
            .send()
            .await;
        let alive = client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK);
        assert!(
            alive,
            "the server died on a {}-byte query {:?}...: answer {:?}, exit status (once reaped) {:?}",
            query.len(),
            &query[..40],
            answer.as_ref().map(|r| r.status()),
            server.exited()
        );
        let resp = answer.expect("an answer");
        let status = resp.status();
        let body: Value = resp.json().await.expect("JSON answer");
        // Like every other broken document in well-formed JSON: 200 with BAD_USER_INPUT.
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
}
