//! The end of the browser session: RP-initiated logout, and an admin's revocation of a user's
//! sessions (with a client whose id_tokens are EdDSA).

use serde_json::json;

use super::{Browser, REDIRECT, VERIFIER, query_of, setup};
use crate::helpers::*;

/// RP-initiated logout ends the browser session (with an id_token_hint at once) and returns
/// only to a registered address.
#[tokio::test]
async fn rp_initiated_logout() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &spa),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let hint = t["id_token"].as_str().unwrap();
    let bad = b
        .get(&format!(
            "/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://evil.example/"
        ))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.location.is_none(), "never to an unregistered address");
    // A refresh first: the session it rotated must end with the browser session too.
    let (st, refreshed) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ("client_id", &spa),
            ],
            None,
        )
        .await;
    assert_eq!(st, 200, "{refreshed}");
    assert_eq!(
        s.userinfo(refreshed["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    let out = b
        .get(&format!("/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://app.example/bye&state=s1"))
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some("https://app.example/bye?state=s1")
    );
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("latchkey_sso=;")),
        "{:?}",
        out.set_cookies
    );
    assert_eq!(
        s.userinfo(t["access_token"].as_str().unwrap()).await.0,
        401,
        "its client sessions end too"
    );
    assert_eq!(
        s.userinfo(refreshed["access_token"].as_str().unwrap())
            .await
            .0,
        401,
        "also after a refresh (the auth cache had it as live)"
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    refreshed["refresh_token"].as_str().unwrap(),
                ),
                ("client_id", &spa),
            ],
            None,
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    // Signed in again, out again without `state`: back to the registered address exactly.
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let plain = b
        .get(&format!(
            "/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://app.example/bye"
        ))
        .await;
    assert_eq!(plain.status, 303, "{}", plain.body);
    assert_eq!(
        plain.location.as_deref(),
        Some("https://app.example/bye"),
        "no stray `?`"
    );
    let a = b.get(&s.authorize_url(&spa, &[("prompt", "none")])).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "login_required"
    );
    // Without a hint: a confirmation page.
    let page = b.get("/t/acme/logout").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign out of Tenant acme?"));
    s.app.shutdown().await;
}

/// A client may have EdDSA id_tokens (the tenant's own algorithm); an admin's revocation of a
/// user's sessions ends their browser session too.
#[tokio::test]
async fn eddsa_id_tokens_and_admin_revocation_of_the_browser_session() {
    let s = setup().await;
    let (id, _) = s
        .client(json!({"name": "Ed App", "type": "PUBLIC", "redirectUris": [REDIRECT], "firstParty": true, "idTokenSignedResponseAlg": "EdDSA"}))
        .await;
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
                ("client_id", &id),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let token = t["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    let claims = s.verify_id_token(token, &id).await;
    let uid = claims["sub"].as_str().unwrap().to_string();
    let r = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            json!({"id": uid}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let a = b.get(&s.authorize_url(&id, &[("prompt", "none")])).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "login_required"
    );
    s.app.shutdown().await;
}
