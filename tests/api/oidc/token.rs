//! The token endpoint's client authentication and machine tokens; revocation and introspection.

use serde_json::{Value, json};

use super::{Browser, REDIRECT, VERIFIER, setup};
use crate::helpers::*;

#[tokio::test]
async fn confidential_clients_authenticate_and_get_machine_tokens() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(true).await;
    // Wrong secret, basic and post: invalid_client, 401 with a Basic challenge.
    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/token", s.app.base))
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            None,
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (401, Some("invalid_client")));
    let (st, e) = s
        .token(
            &[("grant_type", "client_credentials"), ("client_id", &id)],
            None,
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (401, Some("invalid_client")),
        "the secret is required"
    );
    // client_secret_post works too; a scope it may not have is invalid_scope.
    let (st, t) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "invoices:read"),
            ],
            None,
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let (st, e) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "invoices:write"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_scope")));
    let (st, e) = s
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", PASSWORD),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    // Introspection by the confidential client: active machine token, with its scope.
    let introspect = |token: String| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/introspect", s.app.base))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let i = introspect(t["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], id.as_str());
    assert_eq!(i["scope"], "invoices:read");
    assert_eq!(introspect("garbage".into()).await, json!({"active": false}));
    // A machine token signs nobody in.
    assert_eq!(
        code(
            &s.app
                .gql_tenant("acme", t["access_token"].as_str(), ME, json!({}))
                .await
        )
        .as_deref(),
        Some("UNAUTHENTICATED")
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn revocation_ends_the_session_of_a_refresh_or_access_token() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(true).await;
    let mut b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut b, &s.authorize_url(&id, &[]), PASSWORD)
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            Some((&id, &secret)),
        )
        .await;
    let revoke = |token: &str| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/revoke", s.app.base))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        revoke("unknown-token").await,
        200,
        "unknown tokens: 200 as well"
    );
    assert_eq!(revoke(t["refresh_token"].as_str().unwrap()).await, 200);
    let (st, _) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(
        s.userinfo(t["access_token"].as_str().unwrap()).await.0,
        401,
        "the session is gone"
    );
    s.app.shutdown().await;
}

/// Revoking an access token (RFC 7009) ends its session, but only when its own client asks;
/// another client's tokens are left alone. Introspection is refused to a public client; the
/// token endpoint refuses an unknown client and a code without its PKCE verifier.
#[tokio::test]
async fn access_token_revocation_is_the_clients_own_and_the_token_endpoint_refuses_strangers() {
    let s = setup().await;
    let (a, a_secret) = s.confidential_client(true).await;
    let (b, b_secret) = s.confidential_client(true).await;
    let exchange =
        |client: String, secret: String, code: String, verifier: Option<&'static str>| {
            let s = &s;
            async move {
                let mut form = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("code", code),
                    ("redirect_uri", REDIRECT.to_string()),
                ];
                if let Some(v) = verifier {
                    form.push(("code_verifier", v.to_string()));
                }
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                s.token(&form, Some((&client, &secret))).await
            }
        };
    let mut browser_a = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_a, &s.authorize_url(&a, &[]), PASSWORD)
        .await;
    let (st, ta) = exchange(
        a.clone(),
        a_secret.clone(),
        back["code"].clone(),
        Some(VERIFIER),
    )
    .await;
    assert_eq!(st, 200, "{ta}");
    let mut browser_b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_b, &s.authorize_url(&b, &[]), PASSWORD)
        .await;
    let (st, tb) = exchange(
        b.clone(),
        b_secret.clone(),
        back["code"].clone(),
        Some(VERIFIER),
    )
    .await;
    assert_eq!(st, 200, "{tb}");
    let access_a = ta["access_token"].as_str().unwrap();
    let access_b = tb["access_token"].as_str().unwrap();

    let revoke = |client: &str, secret: &str, token: &str| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/revoke", s.app.base))
            .basic_auth(client, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        revoke(&b, &b_secret, access_a).await,
        200,
        "answered 200 (RFC 7009 §2.2)"
    );
    assert_eq!(
        s.userinfo(access_a).await.0,
        200,
        "but another client cannot revoke it"
    );
    assert_eq!(revoke(&a, &a_secret, access_a).await, 200);
    assert_eq!(
        s.userinfo(access_a).await.0,
        401,
        "its own client revoked it"
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", ta["refresh_token"].as_str().unwrap()),
            ],
            Some((&a, &a_secret)),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "the session is gone"
    );
    assert_eq!(
        s.userinfo(access_b).await.0,
        200,
        "the other client's session lives on"
    );

    // Introspection is for confidential clients only.
    let public = s.public_client().await;
    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/introspect", s.app.base))
        .form(&[("client_id", public.as_str()), ("token", access_b)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"], "unauthorized_client", "{status} {e}");
    assert!(status == 400 || status == 401, "{status}");

    // An unknown client; a code without its verifier (and the code is then spent).
    let (st, e) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some(("no-such-client", "x")),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let mut browser_c = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_c, &s.authorize_url(&a, &[]), PASSWORD)
        .await;
    let (st, e) = exchange(a.clone(), a_secret.clone(), back["code"].clone(), None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "no verifier: {e}"
    );
    s.app.shutdown().await;
}
