//! Property-based fuzzing (proptest) of the code every unauthenticated request reaches: the
//! JWT verifier, the input parsers, the password policy and the GraphQL guard. In CI each
//! target runs its default case count (256, or `PROPTEST_CASES`). For a long run set
//! `FUZZ_SECONDS`: each target then keeps generating fresh random cases until that much time
//! has passed and prints how many it executed, e.g.
//! `FUZZ_SECONDS=600 cargo test --test api fuzz:: -- --nocapture --test-threads 4`.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::domain::Algorithm;
use latchkey::domain::password_policy;
use latchkey::domain::{Email, NewPassword, Username, expose};
use latchkey::error::ServiceError;
use latchkey::graphql::guard::{check_aliases, nesting_depth};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::jwt_verifier::{ISSUER, NOW, good_claims, key_set};

/// Runs `test` over `strategy`: the default case count once, or for `FUZZ_SECONDS`.
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let seconds: Option<u64> = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let Some(seconds) = seconds else {
        TestRunner::new(config(Config::default().cases))
            .run(&strategy, test)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (batch, mut executed) = (10_000u32, 0u64);
    while Instant::now() < deadline {
        // A fresh runner per batch: a new random seed, and failures shrink as usual.
        TestRunner::new(config(batch))
            .run(&strategy, &test)
            .unwrap_or_else(|e| panic!("{name} after {executed} cases: {e}"));
        executed += u64::from(batch);
    }
    eprintln!("fuzz {name}: {executed} executions in {seconds} s");
}

/// `cases` cases; failures are reported (shrunk) in the test output, not persisted to files.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// Small arbitrary JSON values (what a forged header or payload might hold).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_string()),
                    Just("kid".to_string()),
                    Just("typ".to_string()),
                    Just("exp".to_string()),
                    Just("nbf".to_string()),
                    Just("iss".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings shaped like JWTs: base64url JSON header and payload, arbitrary signature.
fn jwt_like() -> impl Strategy<Value = String> {
    (json_value(), json_value(), "[A-Za-z0-9_-]{0,100}")
        .prop_map(|(h, p, sig)| format!("{}.{}.{sig}", b64(&h.to_string()), b64(&p.to_string())))
}

/// A real token's header with hostile replacements of one claim.
fn mutated_claims() -> impl Strategy<Value = (String, Value)> {
    (
        prop_oneof![
            Just("exp"),
            Just("nbf"),
            Just("iat"),
            Just("iss"),
            Just("aud"),
            Just("sub"),
            Just("tenant"),
            Just("sid"),
            Just("roles")
        ],
        json_value(),
    )
        .prop_map(|(k, v)| (k.to_string(), v))
}

#[test]
fn jwt_verifier_never_panics_and_accepts_only_well_formed_tokens() {
    let keys = key_set(Algorithm::EdDSA);
    // What a request sees: the verifier's rejection as the service error it maps to.
    let verify = |t: &str| {
        keys.verify(t, ISSUER, "default", NOW)
            .map_err(ServiceError::from)
    };
    fuzz("jwt/arbitrary strings", any::<String>(), |s| {
        prop_assert!(matches!(verify(&s), Err(ServiceError::Unauthenticated(_))));
        Ok(())
    });
    fuzz("jwt/jwt-shaped", jwt_like(), |s| {
        prop_assert!(matches!(verify(&s), Err(ServiceError::Unauthenticated(_))));
        Ok(())
    });
    // Correctly signed by the tenant's key, one claim replaced by anything: never a panic,
    // and accepted only when the claim still has its required type and value.
    fuzz(
        "jwt/signed, one claim mutated",
        mutated_claims(),
        |(k, v)| {
            let mut claims = good_claims();
            claims[&k] = v.clone();
            let token = keys.sign_json(Some("at+jwt"), &claims).unwrap();
            match verify(&token) {
                Ok(c) => {
                    let ok_type = match k.as_str() {
                        "exp" | "nbf" | "iat" => v.is_i64() || v.is_u64(),
                        "roles" => v.is_array(),
                        _ => v.is_string(),
                    };
                    prop_assert!(ok_type, "accepted {k} = {v}");
                    prop_assert_eq!(c.sub.as_str(), claims["sub"].as_str().unwrap());
                }
                Err(e) => prop_assert!(matches!(e, ServiceError::Unauthenticated(_)), "{e:?}"),
            }
            Ok(())
        },
    );
}

#[test]
fn input_parsers_never_panic_and_accepted_values_round_trip() {
    fuzz(
        "email",
        prop_oneof![any::<String>(), "[a-zA-Z0-9.+_-]{0,70}@[a-zA-Z0-9.-]{0,70}"],
        |s| {
            if let Ok(e) = Email::parse("email", &s) {
                let again = Email::parse("email", e.as_str()).expect("accepted value re-parses");
                prop_assert_eq!(&again, &e);
                prop_assert!(
                    !e.as_str()
                        .chars()
                        .any(|c| c.is_control() || c == '\r' || c == '\n')
                );
                prop_assert_eq!(e.normalized(), e.as_str().to_lowercase());
            }
            Ok(())
        },
    );
    fuzz(
        "username",
        prop_oneof![any::<String>(), "[a-zA-Z0-9_.-]{0,40}"],
        |s| {
            if let Ok(u) = Username::parse("username", &s) {
                let again = Username::parse("username", u.as_str()).expect("re-parses");
                prop_assert_eq!(&again, &u);
            }
            Ok(())
        },
    );
    fuzz(
        "new password and policy",
        (any::<String>(), any::<String>()),
        |(pw, name)| {
            if let Ok(p) = NewPassword::parse("password", &pw, 8) {
                // NFKC is idempotent: the stored form parses to itself.
                let again =
                    NewPassword::parse("password", expose(p.secret()), 8).expect("re-parses");
                prop_assert_eq!(expose(again.secret()), expose(p.secret()));
                let _ =
                    password_policy::check("password", &p, &name, &format!("{name}@example.com"));
            }
            Ok(())
        },
    );
}

/// GraphQL-ish text: the tokens that matter to the scanner and the parser, in any order.
fn graphql_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("\"".to_string()),
            Just("\"\"\"".to_string()),
            Just("\\".to_string()),
            Just("#".to_string()),
            Just("\n".to_string()),
            Just("...F ".to_string()),
            Just("fragment F on Query ".to_string()),
            Just("a: me ".to_string()),
            Just("__schema ".to_string()),
            Just("query ".to_string()),
            "[a-z]{1,5} ",
        ],
        0..200,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn graphql_guard_never_panics() {
    let check = |q: String| {
        let depth = nesting_depth(&q);
        prop_assert!(depth <= q.len());
        if let Ok(doc) = async_graphql::parser::parse_query(&q) {
            let _ = check_aliases(&doc);
        }
        Ok(())
    };
    fuzz("guard/arbitrary text", any::<String>(), check);
    fuzz("guard/graphql-like text", graphql_like(), check);
}
