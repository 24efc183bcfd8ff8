//! latchkey's Standard Webhooks signatures as a receiver checks them: with the reference
//! library (PyPI `standardwebhooks`, pinned in tests/clients/requirements.txt), not with
//! latchkey's code. *Library* level: the signing function, before deliveries exist.

use latchkey::domain::webhook_signature::{header, new_secret};

/// Runs the reference library's `Webhook(secret).verify(body, headers)`; its answer.
fn reference_verify(secret: &str, body: &str, headers: &[(&str, String)]) -> (bool, String) {
    let script = r#"
import json, sys
from standardwebhooks import Webhook
args = json.loads(sys.argv[1])
try:
    Webhook(args["secret"]).verify(args["body"].encode(), args["headers"])
    print("verified")
except Exception as e:
    print(type(e).__name__, e)
    sys.exit(1)
"#;
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    let args = serde_json::json!({"secret": secret, "body": body, "headers": headers});
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(args.to_string())
        .output()
        .expect("python3 runs (with standardwebhooks from tests/clients/requirements.txt)");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn the_reference_library_verifies_our_signatures_and_refuses_a_changed_body() {
    let (current, previous) = (new_secret(), new_secret());
    let id = "msg_2f9Xw1";
    // The reference library refuses timestamps more than 5 minutes off its clock.
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = r#"{"type":"user.created","timestamp":"2026-12-06T04:00:00Z","data":{"id":"u1"}}"#;
    let sig = header(&[&current, &previous], id, ts, body.as_bytes()).unwrap();
    let headers = [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sig),
    ];
    // During a rotation both secrets verify the same delivery.
    for secret in [&current, &previous] {
        let (ok, said) = reference_verify(secret, body, &headers);
        assert!(ok, "{said}");
    }
    // Another secret, or one changed byte of the body, does not.
    let (ok, said) = reference_verify(&new_secret(), body, &headers);
    assert!(!ok && said.contains("WebhookVerificationError"), "{said}");
    let changed = body.replace("u1", "u2");
    let (ok, said) = reference_verify(&current, &changed, &headers);
    assert!(!ok && said.contains("WebhookVerificationError"), "{said}");
}
