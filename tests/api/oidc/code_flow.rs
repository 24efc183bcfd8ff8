//! The authorization code flow with PKCE: the whole flow of a public client, requests that
//! cannot go back, codes used once and bound, and what the scope decides.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Browser, REDIRECT, VERIFIER, challenge, query_of, setup};
use crate::helpers::*;

/// The whole flow of a public client: PKCE, the hosted sign-in, the code once, tokens, an
/// id_token checked from the JWKS, userinfo by scope, refresh rotation.
#[tokio::test]
async fn the_code_flow_of_a_public_client_with_pkce() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut browser = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    assert_eq!(back["state"], "st-123");
    assert_eq!(back["iss"], "http://latchkey.test/t/acme", "RFC 9207 iss");
    let sso = browser
        .cookies
        .get("latchkey_sso")
        .expect("a browser session cookie");
    assert!(sso.len() >= 40);

    let (status, t) = s.exchange_code(&client, &back["code"]).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &client)
        .await;
    assert_eq!(
        jsonwebtoken::decode_header(t["id_token"].as_str().unwrap())
            .unwrap()
            .alg,
        jsonwebtoken::Algorithm::RS256
    );
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["email"], "ada@acme.example");
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["amr"], json!(["pwd"]));
    for c in ["sub", "exp", "iat", "auth_time", "at_hash", "sid", "acr"] {
        assert!(!claims[c].is_null(), "{c}: {claims}");
    }
    let access = t["access_token"].as_str().unwrap();
    let (status, info) = s.userinfo(access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "ada@acme.example");
    // The same access token works on the tenant's GraphQL API.
    assert!(s.app.gql_tenant("acme", Some(access), ME, json!({})).await["errors"].is_null());

    // Refresh: rotation; the old token is spent and its reuse kills the session.
    let rt = t["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    let (status, r) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, again) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r["refresh_token"].as_str().unwrap()),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "reuse revoked the family");
    s.app.shutdown().await;
}

#[tokio::test]
async fn requests_that_cannot_go_back_are_shown_not_redirected() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    // redirect_uri not registered, unknown client, no client: a page, never a redirect.
    let wrong = s.authorize_url(&client, &[]).replace("callback", "evil");
    for url in [
        wrong,
        s.authorize_url("nobody", &[]),
        format!("{}/t/acme/authorize?response_type=code", s.app.base),
    ] {
        let a = b.get(&url).await;
        assert_eq!(a.status, 400, "{url}: {}", a.body);
        assert!(a.location.is_none(), "never redirected: {url}");
        assert!(a.body.contains("cannot continue"));
    }
    // After the redirect URI is known, errors go back with state and iss.
    for (extra, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin:everything")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("max_age", "soon")], "invalid_request"),
    ] {
        let mut url = url::Url::parse(&s.authorize_url(&client, &[])).unwrap();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .extend_pairs(extra.iter().copied());
        let a = b.get(url.as_str()).await;
        assert_eq!(a.status, 303, "{error}");
        let q = query_of(a.location.as_deref().unwrap());
        assert_eq!(q["error"], error, "{q:?}");
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], "http://latchkey.test/t/acme");
    }
    // PKCE: required of a public client; plain refused.
    let no_pkce = s
        .authorize_url(&client, &[])
        .replace(&format!("code_challenge={}", challenge(VERIFIER)), "")
        .replace("code_challenge_method=S256", "");
    let a = b.get(&no_pkce).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    let plain = s
        .authorize_url(&client, &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let a = b.get(&plain).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    s.app.shutdown().await;
}

/// A code works once, within 60 seconds, for its client, redirect URI and verifier; a code
/// presented again revokes what its first exchange issued.
#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
        let client = client.clone();
        let s = &s;
        async move {
            s.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("client_id", &client),
                    ("code_verifier", verifier),
                ],
                None,
            )
            .await
        }
    };
    // Wrong verifier, wrong redirect: invalid_grant (and the code is still unspent).
    let back = s
        .sign_in(&mut b, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    let (st, e) = exchange(
        back["code"].clone(),
        "wrong-verifier-that-is-long-enough-for-rfc-7636-000000",
        REDIRECT,
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    let (st, e) = exchange(back["code"].clone(), VERIFIER, "https://app.example/other").await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    let (st, first) = exchange(back["code"].clone(), VERIFIER, REDIRECT).await;
    assert_eq!(st, 200, "{first}");
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.userinfo(&access).await.0, 200);
    // Reuse: refused, and the tokens of the first exchange are dead.
    let (st, e) = exchange(back["code"].clone(), VERIFIER, REDIRECT).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(
        s.userinfo(&access).await.0,
        401,
        "tokens of a replayed code are revoked: {e}"
    );

    // Expired after 60 s.
    let authorize = s.authorize_url(&client, &[]);
    let a = b.get(&authorize).await;
    let code = query_of(a.location.as_deref().unwrap())["code"].clone();
    s.app.clock.advance(Duration::from_secs(61));
    let (st, e) = exchange(code, VERIFIER, REDIRECT).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    s.app.shutdown().await;
}

/// What a client gets follows the scope it asked for: with `openid` alone the id_token and
/// userinfo carry no email or profile claims and there is no refresh token (only
/// `offline_access` gives one, as in Keycloak and ZITADEL); userinfo answers POST like GET; an
/// exchange without the PKCE verifier is refused; a public client may not introspect.
#[tokio::test]
async fn the_scope_decides_claims_and_refresh_tokens() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let authorize = s
        .authorize_url(&client, &[])
        .replace("scope=openid+profile+email+offline_access", "scope=openid");
    assert!(authorize.contains("scope=openid&"), "{authorize}");
    let back = s.sign_in(&mut b, &authorize, PASSWORD).await;
    let exchange = |verifier: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", back["code"].clone()),
            ("redirect_uri", REDIRECT.to_string()),
            ("client_id", client.clone()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        let s = &s;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.token(&form, None).await
        }
    };
    let (st, e) = exchange(None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "no code_verifier: {e}"
    );
    let (st, t) = exchange(Some(VERIFIER)).await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["scope"], "openid", "{t}");
    assert!(
        t["refresh_token"].is_null(),
        "no offline_access, no refresh token: {t}"
    );
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &client)
        .await;
    assert!(!claims["sub"].is_null());
    for c in ["email", "email_verified", "preferred_username", "name"] {
        assert!(claims[c].is_null(), "{c} without its scope: {claims}");
    }
    let access = t["access_token"].as_str().unwrap();
    let (st, info) = s.userinfo(access).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert!(info["email"].is_null(), "{info}");
    let post = s
        .app
        .client
        .post(format!("{}/t/acme/userinfo", s.app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(
        post.json::<Value>().await.unwrap(),
        info,
        "POST answers like GET"
    );

    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/introspect", s.app.base))
        .form(&[("token", access), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unauthorized_client",
        "a public client may not introspect"
    );
    s.app.shutdown().await;
}

/// The key that signs a client's id_tokens is in the tenant's JWKS as soon as the client is
/// registered: a relying party that read the JWKS before the first sign-in finds the first
/// id_token's `kid` in what it read (the key used to be made at the first id_token).
#[tokio::test]
async fn the_id_token_key_is_published_when_the_client_is_registered() {
    let s = setup().await;
    let rsa_kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "RS256")
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        rsa_kids(&s.jwks().await).is_empty(),
        "no RSA key before any client"
    );
    let client = s.public_client().await;
    let read_before_sign_in = s.jwks().await;
    assert_eq!(
        rsa_kids(&read_before_sign_in).len(),
        1,
        "{read_before_sign_in}"
    );

    let mut browser = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    let (status, t) = s.exchange_code(&client, &back["code"]).await;
    assert_eq!(status, 200, "{t}");
    let kid = jsonwebtoken::decode_header(t["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(rsa_kids(&read_before_sign_in), vec![kid]);
}
