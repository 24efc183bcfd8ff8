//! Access tokens: third-party verification from the JWKS, algorithm selection, strict
//! rejection of forged, tampered, foreign, expired and malformed tokens, and discovery.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// `iss` and `aud` of the default tenant's tokens under the test `PUBLIC_URL`.
const ISSUER: &str = "http://latchkey.test/t/default";

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// The three dot-separated parts of a JWT, header and payload decoded as JSON.
fn split_jwt(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "a JWS compact token has three parts: {token}"
    );
    let header = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[0])
            .expect("header is base64url"),
    )
    .expect("header is JSON");
    let payload = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("payload is base64url"),
    )
    .expect("payload is JSON");
    (header, payload, parts[2].to_string())
}

/// Reassembles a compact JWT from JSON header, JSON payload and a raw signature part.
fn join_jwt(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        signature
    )
}

/// GET a path on the server; status and JSON body.
async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .get(format!("{}{}", app.base, path))
        .send()
        .await
        .expect("request sent");
    let status = resp.status();
    let body = resp.json::<Value>().await.expect("JSON response");
    (status, body)
}

/// The default tenant's JWK Set document.
async fn jwks(app: &TestApp) -> Value {
    let (status, body) = get_json(app, "/t/default/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK, "jwks: {body}");
    body
}

/// `me` must answer UNAUTHENTICATED with no data for this token.
async fn assert_rejected(app: &TestApp, token: &str, what: &str) {
    let body = app.me(token).await;
    assert_eq!(
        code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{what} must be rejected: {body}"
    );
    assert!(
        body["data"]["me"].is_null(),
        "{what} must not reveal a user: {body}"
    );
}

/// `me` must answer the user with this id for this token.
async fn assert_accepted(app: &TestApp, token: &str, user_id: &str) {
    let body = app.me(token).await;
    assert!(body["errors"].is_null(), "token must be accepted: {body}");
    assert_eq!(body["data"]["me"]["id"], user_id, "{body}");
}

/// Verifies `token` the way a third party would: only the public JWKS, the header's `kid`,
/// a pinned algorithm, issuer and audience. Returns the JWK used and the claims.
async fn verify_as_third_party(app: &TestApp, token: &str, alg: Algorithm) -> (Value, Value) {
    let header = decode_header(token).expect("token header decodes");
    assert_eq!(header.alg, alg, "header alg");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "header typ");
    let kid = header.kid.expect("header has a kid");

    let doc = jwks(app).await;
    let set: JwkSet = serde_json::from_value(doc.clone()).expect("a valid JWK Set");
    let jwk = set.find(&kid).expect("the token's kid is published");
    let raw = doc["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("raw JWK for kid")
        .clone();

    let key = DecodingKey::from_jwk(jwk).expect("JWK converts to a decoding key");
    let mut v = Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let data = decode::<Value>(token, &key, &v).expect("token verifies with the published key");
    (raw, data.claims)
}

/// The claim checks shared by the EdDSA and ES256 tests.
fn assert_access_claims(claims: &Value, payload: &Value) {
    let user = &payload["user"];
    assert_eq!(claims["iss"], ISSUER, "{claims}");
    assert_eq!(claims["aud"], ISSUER, "{claims}");
    assert_eq!(claims["sub"], user["id"], "{claims}");
    assert_eq!(claims["tenant"], "default", "{claims}");
    assert!(
        claims["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "sid: {claims}"
    );
    assert!(
        claims["jti"].as_str().is_some_and(|s| !s.is_empty()),
        "jti: {claims}"
    );
    assert!(claims["roles"].is_array(), "roles: {claims}");
    assert_eq!(
        claims["roles"], user["roles"],
        "roles match the user: {claims}"
    );
    let exp = claims["exp"].as_i64().expect("exp is an integer");
    let iat = claims["iat"].as_i64().expect("iat is an integer");
    let nbf = claims["nbf"].as_i64().expect("nbf is an integer");
    assert_eq!(
        exp - iat,
        payload["expiresIn"].as_i64().expect("expiresIn"),
        "{claims}"
    );
    assert!(nbf <= iat + 1, "{claims}");
}

#[tokio::test(flavor = "multi_thread")]
async fn eddsa_access_token_verifies_from_jwks_alone() {
    let app = TestApp::spawn().await;
    let payload = app.register("ed@example.com", "eddie", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();

    let (jwk, claims) = verify_as_third_party(&app, token, Algorithm::EdDSA).await;
    assert_access_claims(&claims, &payload);
    assert!(jwk["kid"].as_str().is_some_and(|k| !k.is_empty()), "{jwk}");
    assert_eq!(jwk["alg"], "EdDSA", "{jwk}");
    assert_eq!(jwk["use"], "sig", "{jwk}");
    assert_eq!(jwk["kty"], "OKP", "{jwk}");
    assert_eq!(jwk["crv"], "Ed25519", "{jwk}");
    assert!(jwk["x"].is_string(), "{jwk}");
    assert!(
        jwk.get("d").is_none(),
        "the private key must never be published: {jwk}"
    );

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn es256_access_token_verifies_from_jwks_alone() {
    let app = TestApp::spawn_with(&[("ALGORITHM", "ES256")]).await;
    let payload = app.register("es@example.com", "esther", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();

    let (jwk, claims) = verify_as_third_party(&app, token, Algorithm::ES256).await;
    assert_access_claims(&claims, &payload);
    assert!(jwk["kid"].as_str().is_some_and(|k| !k.is_empty()), "{jwk}");
    assert_eq!(jwk["alg"], "ES256", "{jwk}");
    assert_eq!(jwk["use"], "sig", "{jwk}");
    assert_eq!(jwk["kty"], "EC", "{jwk}");
    assert_eq!(jwk["crv"], "P-256", "{jwk}");
    assert!(jwk["x"].is_string() && jwk["y"].is_string(), "{jwk}");
    assert!(
        jwk.get("d").is_none(),
        "the private key must never be published: {jwk}"
    );
    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_tokens_work_and_the_symmetric_key_is_never_published() {
    let app = TestApp::spawn_with(&[("ALGORITHM", "HS256")]).await;
    let payload = app.register("hs@example.com", "hannah", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();

    let header = decode_header(token).expect("token header decodes");
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert!(header.kid.is_some());
    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;

    let doc = jwks(&app).await;
    let keys = doc["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .all(|k| k["kty"] != "oct" && k["alg"] != "HS256" && k.get("k").is_none()),
        "no symmetric key in the JWKS: {doc}"
    );
    // Nothing at all until the tenant signs an id_token (its RSA key is made then).
    assert!(keys.is_empty(), "{doc}");

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_payload_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let victim = app.register("victim@example.com", "victim", PASSWORD).await;
    let attacker = app
        .register("attacker@example.com", "attacker", PASSWORD)
        .await;
    let token = attacker["accessToken"].as_str().unwrap();
    assert_accepted(&app, token, attacker["user"]["id"].as_str().unwrap()).await;
    let (header, claims, sig) = split_jwt(token);

    // Someone else's identity, same signature.
    let mut as_victim = claims.clone();
    as_victim["sub"] = victim["user"]["id"].clone();
    assert_rejected(
        &app,
        &join_jwt(&header, &as_victim, &sig),
        "a token with a changed sub",
    )
    .await;

    // Elevated roles, same signature.
    let mut as_admin = claims.clone();
    as_admin["roles"] = json!(["admin"]);
    assert_rejected(
        &app,
        &join_jwt(&header, &as_admin, &sig),
        "a token with changed roles",
    )
    .await;

    // Extended expiry, same signature.
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().unwrap() + 365 * 24 * 3600);
    assert_rejected(
        &app,
        &join_jwt(&header, &longer, &sig),
        "a token with a changed exp",
    )
    .await;

    // Re-encoding the same JSON differently (whitespace) also breaks the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let spaced = format!(
        "{}.{}.{}",
        parts[0],
        b64(format!(" {claims}").as_bytes()),
        parts[2]
    );
    assert_rejected(&app, &spaced, "a token with a re-encoded payload").await;

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn alg_none_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app.register("none@example.com", "nonesuch", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();
    let (header, claims, _) = split_jwt(token);
    let kid = header["kid"].clone();

    for alg in ["none", "None", "NONE"] {
        let forged = join_jwt(
            &json!({"alg": alg, "typ": "at+jwt", "kid": kid}),
            &claims,
            "",
        );
        assert_rejected(&app, &forged, &format!("an alg {alg} token")).await;
    }
    // Same with a signature part left in place.
    let parts: Vec<&str> = token.split('.').collect();
    let forged = join_jwt(
        &json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        &claims,
        parts[2],
    );
    assert_rejected(&app, &forged, "an alg none token with a signature").await;

    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_signed_by_a_foreign_key_with_the_real_kid_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app
        .register("foreign@example.com", "foreigner", PASSWORD)
        .await;
    let token = payload["accessToken"].as_str().unwrap();
    let (header, claims, _) = split_jwt(token);

    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(header["kid"].as_str().unwrap().to_string());
    h.typ = Some("at+jwt".to_string());
    let forged =
        encode(&h, &claims, &EncodingKey::from_ed_der(doc.as_ref())).expect("forged token encodes");
    assert_rejected(&app, &forged, "a token signed by a foreign key").await;

    // With the attacker's public key embedded in the header: it must never be consulted.
    let mut forged_header: Value = split_jwt(&forged).0;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("own pkcs8");
    forged_header["jwk"] =
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
    let signing_input = format!(
        "{}.{}",
        b64(forged_header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = pair.sign(signing_input.as_bytes());
    let embedded = format!("{signing_input}.{}", b64(sig.as_ref()));
    assert_rejected(&app, &embedded, "a token carrying its own jwk header").await;

    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_token_signed_with_the_public_key_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app
        .register("confused@example.com", "confused", PASSWORD)
        .await;
    let token = payload["accessToken"].as_str().unwrap();
    let (header, claims, _) = split_jwt(token);
    let kid = header["kid"].as_str().unwrap().to_string();

    let doc = jwks(&app).await;
    let jwk = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("published key")
        .clone();
    let x = jwk["x"].as_str().unwrap();
    let candidates: Vec<Vec<u8>> = vec![
        URL_SAFE_NO_PAD.decode(x).expect("x is base64url"),
        x.as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
    ];
    for secret in candidates {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        h.typ = Some("at+jwt".to_string());
        let forged =
            encode(&h, &claims, &EncodingKey::from_secret(&secret)).expect("forged token encodes");
        assert_rejected(&app, &forged, "an HS256 token keyed with the public key").await;
    }

    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_with_unknown_or_missing_kid_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app.register("kid@example.com", "kiddo", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();
    let (header, claims, sig) = split_jwt(token);

    let mut unknown = header.clone();
    unknown["kid"] = json!("no-such-key");
    assert_rejected(
        &app,
        &join_jwt(&unknown, &claims, &sig),
        "a token with an unknown kid",
    )
    .await;

    let mut missing = header.clone();
    missing.as_object_mut().unwrap().remove("kid");
    assert_rejected(
        &app,
        &join_jwt(&missing, &claims, &sig),
        "a token without a kid",
    )
    .await;

    // And an unknown kid on a properly self-signed token.
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("attacker-key".to_string());
    h.typ = Some("at+jwt".to_string());
    let forged =
        encode(&h, &claims, &EncodingKey::from_ed_der(doc.as_ref())).expect("forged token encodes");
    assert_rejected(&app, &forged, "a self-signed token with an unknown kid").await;

    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_bearer_strings_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app
        .register("garbage@example.com", "garbage", PASSWORD)
        .await;
    let token = payload["accessToken"].as_str().unwrap();

    let huge = "a".repeat(10 * 1024);
    let huge_jwt = format!(
        "{}.{}.{}",
        "a".repeat(4000),
        "b".repeat(4000),
        "c".repeat(4000)
    );
    let padded = format!("{token}==");
    let doubled = format!("{token}.{token}");
    for garbage in [
        "",
        "abc",
        "a.b.c",
        "..",
        "a.b",
        "null",
        huge.as_str(),
        huge_jwt.as_str(),
        padded.as_str(),
        doubled.as_str(),
    ] {
        let shown: String = garbage.chars().take(40).collect();
        assert_rejected(&app, garbage, &format!("the bearer string {shown:?}")).await;
    }

    assert_accepted(&app, token, payload["user"]["id"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_as_bearer_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app
        .register("refresh@example.com", "refresher", PASSWORD)
        .await;
    let refresh = payload["refreshToken"].as_str().unwrap();
    assert_rejected(&app, refresh, "a refresh token presented as Bearer").await;

    // The refresh token itself is still usable for what it is for.
    let body = app.refresh(refresh).await;
    assert!(body["errors"].is_null(), "refresh still works: {body}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_or_missing_authorization_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let payload = app.register("basic@example.com", "basic", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();

    let send = |authorization: Option<String>| {
        let mut req = app
            .client
            .post(format!("{}/graphql", app.base))
            .json(&json!({"query": ME, "variables": {}}));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        async move {
            req.send()
                .await
                .expect("request sent")
                .json::<Value>()
                .await
                .expect("JSON response")
        }
    };

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("basic@example.com:{PASSWORD}"));
    for (what, authorization) in [
        ("Basic credentials", Some(format!("Basic {basic}"))),
        (
            "the access token under the Basic scheme",
            Some(format!("Basic {token}")),
        ),
        ("a bare token without scheme", Some(token.to_string())),
        ("an empty Authorization header", Some(String::new())),
        ("a Bearer scheme with no token", Some("Bearer".to_string())),
        ("a missing Authorization header", None),
    ] {
        let body = send(authorization).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{what} must be rejected: {body}"
        );
        assert!(body["data"]["me"].is_null(), "{what}: {body}");
    }

    // The scheme name is case-insensitive (RFC 7235).
    let body = send(Some(format!("bearer {token}"))).await;
    assert!(body["errors"].is_null(), "lower-case bearer scheme: {body}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_token_expires_on_the_server_clock() {
    let app = TestApp::spawn().await;
    let payload = app.register("expiry@example.com", "expiry", PASSWORD).await;
    let token = payload["accessToken"].as_str().unwrap();
    let user_id = payload["user"]["id"].as_str().unwrap();
    assert_eq!(
        payload["expiresIn"],
        15 * 60,
        "default access token lifetime: {payload}"
    );
    assert_accepted(&app, token, user_id).await;

    // Shortly before expiry it still works.
    app.clock.advance(Duration::from_secs(15 * 60 - 10));
    assert_accepted(&app, token, user_id).await;

    // Past expiry plus any leeway it does not.
    app.clock.advance(Duration::from_secs(41));
    assert_rejected(&app, token, "an expired access token").await;

    // A fresh login works and its token is accepted.
    let body = app.login("expiry@example.com", PASSWORD).await;
    assert!(body["errors"].is_null(), "login after expiry: {body}");
    let fresh = body["data"]["login"]["accessToken"].as_str().unwrap();
    assert_accepted(&app, fresh, user_id).await;

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_from_another_server_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_with(&[(
        "SECRET_KEY",
        "another-secret-key-abcdefghijklmnopqrstuvwxyz",
    )])
    .await;
    let here = app.register("same@example.com", "same", PASSWORD).await;
    let there = other.register("same@example.com", "same", PASSWORD).await;
    let foreign = there["accessToken"].as_str().unwrap();

    // Valid where it was issued, same issuer and tenant, but not here.
    assert_accepted(&other, foreign, there["user"]["id"].as_str().unwrap()).await;
    assert_eq!(split_jwt(foreign).1["iss"], ISSUER);
    assert_rejected(&app, foreign, "a token issued by another server").await;

    // Even when its claims name a real user and session here, the signature decides.
    let (h, _, sig) = split_jwt(foreign);
    let (_, mine, _) = split_jwt(here["accessToken"].as_str().unwrap());
    assert_rejected(
        &app,
        &join_jwt(&h, &mine, &sig),
        "another server's signature over our claims",
    )
    .await;

    assert_accepted(
        &app,
        here["accessToken"].as_str().unwrap(),
        here["user"]["id"].as_str().unwrap(),
    )
    .await;
    other.shutdown().await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_document_and_unknown_tenant() {
    let app = TestApp::spawn().await;

    let (status, doc) = get_json(&app, "/t/default/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["issuer"], ISSUER, "{doc}");
    assert_eq!(
        doc["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json"),
        "{doc}"
    );
    assert_eq!(
        doc["graphql_endpoint"],
        format!("{ISSUER}/graphql"),
        "{doc}"
    );

    // The advertised JWKS path serves the keys on this server.
    let path = doc["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix("http://latchkey.test")
        .unwrap()
        .to_string();
    let (status, keys) = get_json(&app, &path).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert!(
        !keys["keys"].as_array().expect("keys array").is_empty(),
        "{keys}"
    );

    for path in [
        "/t/no-such-tenant/.well-known/jwks.json",
        "/t/no-such-tenant/.well-known/openid-configuration",
    ] {
        let (status, body) = get_json(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["detail"].is_string(), "{path}: {body}");
        assert!(body.get("keys").is_none(), "{path}: {body}");
    }

    app.shutdown().await;
}
