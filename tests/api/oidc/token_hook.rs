//! The token hook: claims it answers land in access tokens (login, refresh, the code flow,
//! client_credentials) and id_tokens, checked by PyJWT from the JWKS alone; the hook's request
//! is verified by the Standard Webhooks reference library; reserved claims, an oversized
//! answer, a slow hook and a dead one fail the token under DENY and are left out under
//! ALLOW_WITHOUT_CLAIMS.

use serde_json::json;

use super::*;
use crate::webhooks::Receiver;

const SETTINGS: &str = "mutation($i: TenantSettingsInput!) { updateTenantSettings(input: $i) { tokenHookUrl tokenHookTimeoutMs tokenHookFailure } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";

/// PyJWT's view of a token: verified with the key of its `kid` from the tenant's JWKS (read
/// here, handed to PyJWT as a JWK set), issuer and audience; its claims.
async fn pyjwt(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: Value = app
        .client
        .get(format!("{}/t/acme/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let script = r#"
import json, sys, jwt
jwks, token, aud = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
header = jwt.get_unverified_header(token)
key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
print(json.dumps(jwt.decode(token, key.key, algorithms=[header["alg"]], audience=aud,
                            issuer="http://latchkey.test/t/acme", options={"verify_exp": False})))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(jwks.to_string())
        .arg(token)
        .arg(audience)
        .output()
        .expect("python3 with PyJWT (tests/clients/requirements.txt)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn hooked() -> (Setup, Receiver) {
    let app = TestApp::spawn_platform(&[("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let s = Setup { app, admin };
    let rx = Receiver::start();
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            SETTINGS,
            json!({"i": {"tokenHookUrl": rx.url("/token-hook")}}),
        )
        .await;
    assert_eq!(
        b["data"]["updateTenantSettings"]["tokenHookFailure"], "DENY",
        "the default: {b}"
    );
    assert_eq!(
        b["data"]["updateTenantSettings"]["tokenHookTimeoutMs"], 2000,
        "{b}"
    );
    let secret = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation { rotateTokenHookSecret }",
            json!({}),
        )
        .await["data"]["rotateTokenHookSecret"]
        .as_str()
        .unwrap()
        .to_string();
    rx.control(
        json!({"secret": secret, "reply": {"claims": {"plan": "pro", "customer_id": "cus_42"}}}),
    )
    .await;
    (s, rx)
}

async fn login(s: &Setup) -> Value {
    s.app
        .gql_tenant(
            "acme",
            None,
            LOGIN,
            json!({"i": {"identifier": "ada", "password": PASSWORD}}),
        )
        .await
}

#[tokio::test]
async fn the_hooks_claims_are_in_access_tokens_and_id_tokens() {
    let (s, rx) = hooked().await;
    // login
    let b = login(&s).await;
    assert!(b["errors"].is_null(), "{b}");
    let access = b["data"]["login"]["accessToken"].as_str().unwrap();
    let claims = pyjwt(&s.app, access, "http://latchkey.test/t/acme").await;
    assert_eq!(
        (claims["plan"].as_str(), claims["customer_id"].as_str()),
        (Some("pro"), Some("cus_42")),
        "{claims}"
    );
    let asked = rx.seen();
    assert_eq!(
        asked[0]["verified"], true,
        "the reference library verifies the hook's request: {:#}",
        asked[0]
    );
    let data = &asked[0]["body"]["data"];
    assert_eq!(asked[0]["body"]["type"], "token.issuing");
    assert_eq!(data["grant"], "login");
    assert_eq!(data["user"]["email"], "ada@acme.example");
    assert_eq!(
        data["claims"]["sub"], claims["sub"],
        "the claims about to be signed: {data}"
    );
    // refresh
    let r = s
        .app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
            json!({"t": b["data"]["login"]["refreshToken"]}),
        )
        .await;
    let claims = pyjwt(
        &s.app,
        r["data"]["refresh"]["accessToken"].as_str().unwrap(),
        "http://latchkey.test/t/acme",
    )
    .await;
    assert_eq!(claims["plan"], "pro", "{claims}");
    // the code flow: access token and id_token
    let client = s.public_client().await;
    let mut browser = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    let (status, t) = s.exchange_code(&client, &back["code"]).await;
    assert_eq!(status, 200, "{t}");
    let id = pyjwt(&s.app, t["id_token"].as_str().unwrap(), &client).await;
    assert_eq!(
        (id["plan"].as_str(), id["nonce"].as_str()),
        (Some("pro"), Some("n-456")),
        "{id}"
    );
    let access = pyjwt(
        &s.app,
        t["access_token"].as_str().unwrap(),
        "http://latchkey.test/t/acme",
    )
    .await;
    assert_eq!(access["customer_id"], "cus_42", "{access}");
    // client_credentials
    let (machine, secret) = s.confidential_client(true).await;
    let (status, t) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((&machine, &secret)),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let m = pyjwt(
        &s.app,
        t["access_token"].as_str().unwrap(),
        "http://latchkey.test/t/acme",
    )
    .await;
    assert_eq!(m["plan"], "pro", "{m}");
    let grants: Vec<String> = rx
        .seen()
        .iter()
        .map(|r| {
            r["body"]["data"]["grant"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    for g in [
        "login",
        "refresh",
        "authorization_code",
        "client_credentials",
    ] {
        assert!(grants.iter().any(|x| x == g), "{g}: {grants:?}");
    }
    assert!(s.app.metric("latchkey_token_hook_calls_total").await >= 4.0);
    drop(rx);
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_failing_hook_refuses_the_token_or_is_left_out_as_the_tenant_says() {
    let (s, rx) = hooked().await;
    let set = |i: Value| {
        s.app
            .gql_tenant("acme", Some(&s.admin), SETTINGS, json!({"i": i}))
    };
    // Each failure, first under DENY (the default), then under ALLOW_WITHOUT_CLAIMS.
    for (what, control) in [
        (
            "a reserved claim",
            json!({"reply": {"claims": {"sub": "someone-else", "plan": "pro"}}}),
        ),
        ("roles", json!({"reply": {"claims": {"roles": ["admin"]}}})),
        (
            "too large",
            json!({"reply": {"claims": {"blob": "x".repeat(5000)}}}),
        ),
        ("not an object", json!({"reply": {"claims": ["plan"]}})),
        ("a 500", json!({"reply": null, "plan": [500, 500]})),
        (
            "too slow",
            json!({"reply": {"claims": {"plan": "pro"}}, "delay_ms": 800}),
        ),
    ] {
        rx.control(control).await;
        let b = set(json!({"tokenHookTimeoutMs": 300, "tokenHookFailure": "DENY"})).await;
        assert!(b["errors"].is_null(), "{b}");
        let denied = login(&s).await;
        assert_eq!(
            code(&denied).as_deref(),
            Some("SERVICE_UNAVAILABLE"),
            "{what}: {denied}"
        );
        set(json!({"tokenHookFailure": "ALLOW_WITHOUT_CLAIMS"})).await;
        let allowed = login(&s).await;
        assert!(allowed["errors"].is_null(), "{what}: {allowed}");
        let claims = pyjwt(
            &s.app,
            allowed["data"]["login"]["accessToken"].as_str().unwrap(),
            "http://latchkey.test/t/acme",
        )
        .await;
        assert!(
            claims.get("plan").is_none() && claims.get("blob").is_none(),
            "{what}: no hook claims: {claims}"
        );
        assert_ne!(claims["sub"], "someone-else");
        assert_eq!(claims["roles"], json!([]), "{what}");
    }
    // A hook that is down.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port())
    };
    set(json!({"tokenHookUrl": dead, "tokenHookFailure": "DENY"})).await;
    assert_eq!(
        code(&login(&s).await).as_deref(),
        Some("SERVICE_UNAVAILABLE")
    );
    // The guard holds for the hook too, and the budget is bounded.
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    for (input, f) in [
        (
            json!({"tokenHookUrl": "http://127.0.0.1:9/hook"}),
            "tokenHookUrl",
        ),
        (json!({"tokenHookTimeoutMs": 50}), "tokenHookTimeoutMs"),
        (json!({"tokenHookTimeoutMs": 60000}), "tokenHookTimeoutMs"),
    ] {
        let b = app
            .gql_tenant("acme", Some(&admin), SETTINGS, json!({"i": input}))
            .await;
        assert_eq!(
            crate::helpers::field(&b).as_deref(),
            Some(f),
            "{input}: {b}"
        );
    }
    assert!(s.app.metric("latchkey_token_hook_failures_total").await >= 7.0);
    app.shutdown().await;
    drop(rx);
    s.app.shutdown().await;
}
