//! Bearer abuse over HTTP: hostile `kid` values, embedded `jwk`/`jku`/`x5u` headers, and
//! reset or verification values presented as access tokens. Every one is UNAUTHENTICATED,
//! never a 500.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn parts(token: &str) -> (Value, String, String) {
    let p: Vec<&str> = token.split('.').collect();
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[0]).unwrap()).unwrap();
    (header, p[1].to_string(), p[2].to_string())
}

async fn assert_unauthenticated(app: &TestApp, token: &str, what: &str) {
    let (status, body) = app.gql_at("/graphql", Some(token), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    assert_eq!(
        code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{what}: {body}"
    );
    assert!(body["data"].is_null(), "{what}: {body}");
}

#[tokio::test]
async fn hostile_kid_values_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let reg = app.register("kids@example.com", "kidder", PASSWORD).await;
    let token = reg["accessToken"].as_str().unwrap();
    let (header, payload, sig) = parts(token);
    let long = "k".repeat(5000);
    let kids = [
        json!("../x' OR 1"),
        json!("../../../../etc/passwd"),
        json!("x' OR '1'='1"),
        json!("\"; DELETE signing_key; --"),
        json!("keys:⟨x⟩"),
        json!("a\u{0}b"),
        json!(""),
        json!(long),
        json!(42),
        json!(null),
        json!(["a"]),
        json!({"$ne": null}),
    ];
    for kid in kids {
        let mut h = header.clone();
        h["kid"] = kid.clone();
        let forged = format!("{}.{payload}.{sig}", b64(h.to_string().as_bytes()));
        let shown: String = kid.to_string().chars().take(40).collect();
        assert_unauthenticated(&app, &forged, &format!("kid {shown}")).await;
    }
    // The real token is unaffected.
    assert!(app.me(token).await["errors"].is_null());
    app.shutdown().await;
}

#[tokio::test]
async fn embedded_jwk_jku_and_x5u_headers_are_ignored() {
    let app = TestApp::spawn().await;
    let reg = app.register("jwk@example.com", "jwkuser", PASSWORD).await;
    let token = reg["accessToken"].as_str().unwrap();
    let (header, payload, _) = parts(token);
    // The attacker signs with their own key and points at it every way JOSE allows,
    // keeping the server's real kid.
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
    for (name, value) in [
        ("jwk", jwk.clone()),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
    ] {
        let mut h = header.clone();
        h[name] = value;
        let signing_input = format!("{}.{payload}", b64(h.to_string().as_bytes()));
        let sig = pair.sign(signing_input.as_bytes());
        let forged = format!("{signing_input}.{}", b64(sig.as_ref()));
        assert_unauthenticated(&app, &forged, &format!("embedded {name}")).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn reset_verification_and_refresh_values_are_never_bearer_tokens() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(&[("SMTP_URL", &sink.url())]).await;
    let reg = app.register("bearer@example.com", "bearer", PASSWORD).await;
    let verify = sink.wait_for("bearer@example.com", "Confirm").await.token();
    app.gql(
        "mutation { requestPasswordReset(email: \"bearer@example.com\") }",
        json!({}),
    )
    .await;
    let reset = sink
        .wait_for("bearer@example.com", "Reset your")
        .await
        .token();
    let refresh = reg["refreshToken"].as_str().unwrap();
    for (what, value) in [
        ("verification token", verify.as_str()),
        ("reset token", reset.as_str()),
        ("refresh token", refresh),
    ] {
        assert_unauthenticated(&app, value, what).await;
        let body = app
            .gql_as(value, "mutation { resendVerificationEmail }", json!({}))
            .await;
        assert_eq!(
            code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{what}: {body}"
        );
    }
    // Each still works for its own purpose afterwards.
    let body = app
        .gql(
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({"t": verify}),
        )
        .await;
    assert_eq!(body["data"]["verifyEmail"], true, "{body}");
    assert!(app.refresh(refresh).await["errors"].is_null());
    app.shutdown().await;
}
