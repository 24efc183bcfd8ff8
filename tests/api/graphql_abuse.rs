//! GraphQL abuse (OWASP GraphQL cheat sheet): alias and duplicate-field bombs, fragment
//! expansion bombs, introspection and directive bombs are refused with a clear error before any
//! resolver runs; field suggestions never leak the schema.

use serde_json::{Value, json};

use crate::helpers::*;

fn assert_refused(body: &Value, reason: &str) {
    assert_eq!(code(body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "nothing executed: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains(reason),
        "{message:?} should mention {reason:?}"
    );
}

fn logins(n: usize) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "a{i}: login(input: {{identifier: \"victim\", password: \"guess {i}\"}}) {{ accessToken }}"
            )
        })
        .collect();
    format!("mutation {{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn a_hundred_aliased_logins_are_refused_before_any_runs() {
    let app = TestApp::spawn().await;
    app.register("victim@example.com", "victim", PASSWORD).await;
    let body = app.gql(&logins(100), json!({})).await;
    assert_refused(&body, "aliases");
    let body = app.gql(&logins(11), json!({})).await;
    assert_refused(&body, "at most 10");
    // None of those guesses was evaluated: the account is not locked.
    let body = app.login("victim", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_document_is_refused_every_time_and_a_good_one_keeps_working() {
    // Parsed documents are reused by query text; only documents that passed the checks are.
    let app = TestApp::spawn().await;
    app.register("victim@example.com", "victim", PASSWORD).await;
    for _ in 0..3 {
        assert_refused(&app.gql(&logins(11), json!({})).await, "at most 10");
    }
    for i in 0..3 {
        let body = app.gql(&logins(1), json!({})).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "round {i}: {body}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn duplicate_fields_through_fragments_count_too() {
    let app = TestApp::spawn().await;
    let spreads = "...F ".repeat(11);
    let query = format!("query {{ {spreads} }} fragment F on Query {{ __typename }}");
    assert_refused(&app.gql(&query, json!({})).await, "selected 11 times");
    let inline = "... on Query { __typename } ".repeat(11);
    let query = format!("query {{ {inline} }}");
    assert_refused(&app.gql(&query, json!({})).await, "selected 11 times");
    app.shutdown().await;
}

#[tokio::test]
async fn exponential_fragment_expansion_is_refused() {
    let app = TestApp::spawn().await;
    // F0 spreads F1 ten times, F1 spreads F2 ten times, ...: 10^12 selections from 2 KB.
    let mut doc = String::from("query { ...F0 }");
    for i in 0..12 {
        doc.push_str(&format!(
            " fragment F{i} on Query {{ {} }}",
            format!("...F{} ", i + 1).repeat(10)
        ));
    }
    doc.push_str(" fragment F12 on Query { __typename }");
    let body = app.gql(&doc, json!({})).await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn introspection_and_directive_bombs_are_refused() {
    let app = TestApp::spawn().await;
    let types = "types { name kind description fields(includeDeprecated: true) { name description isDeprecated deprecationReason args { name description defaultValue type { name kind ofType { name kind ofType { name kind } } } } type { name kind ofType { name kind ofType { name kind } } } } inputFields { name description defaultValue type { name kind } } interfaces { name kind } enumValues { name description } possibleTypes { name kind } }";
    // One full dump is what GraphiQL asks for; it is answered.
    let one = format!("{{ __schema {{ {types} }} }}");
    assert!(app.gql(&one, json!({})).await["errors"].is_null());
    // Ten in one request are an amplification attack (the engine's complexity limit does not
    // count introspection): refused before execution.
    let fields: Vec<String> = (0..10)
        .map(|i| format!("s{i}: __schema {{ {types} }}"))
        .collect();
    let query = format!("{{ {} }}", fields.join(" "));
    assert_refused(&app.gql(&query, json!({})).await, "__schema");

    let directives = "@include(if: true) ".repeat(50);
    let query = format!("{{ __typename {directives} }}");
    let body = app.gql(&query, json!({})).await;
    assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn field_suggestions_are_off() {
    let app = TestApp::spawn().await;
    for query in ["{ mee { id } }", "{ me { emial } }", "mutation { logn }"] {
        let body = app.gql(query, json!({})).await;
        assert_eq!(code(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("Did you mean"), "{message}");
    }
    app.shutdown().await;
}
