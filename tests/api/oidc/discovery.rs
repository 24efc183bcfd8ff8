//! Discovery metadata, and clients managed by tenant admins.

use serde_json::{Value, json};

use super::{CREATE_CLIENT, REDIRECT, setup};
use crate::helpers::*;

#[tokio::test]
async fn discovery_lists_every_required_field_and_only_real_grants() {
    let s = setup().await;
    for path in [
        "/t/acme/.well-known/openid-configuration",
        "/t/acme/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/t/acme",
    ] {
        let resp = s
            .app
            .client
            .get(format!("{}{path}", s.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(
            resp.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let d: Value = resp.json().await.unwrap();
        for f in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "userinfo_endpoint",
            "end_session_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "code_challenge_methods_supported",
        ] {
            assert!(!d[f].is_null(), "{path}: {f} missing: {d}");
        }
        assert_eq!(d["issuer"], "http://latchkey.test/t/acme");
        assert!(
            d["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("RS256"))
        );
        let grants = d["grant_types_supported"].as_array().unwrap();
        assert!(
            !grants.contains(&json!("password")),
            "no password grant: {d}"
        );
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    }
    s.app.shutdown().await;
}

#[tokio::test]
async fn clients_are_managed_by_tenant_admins_and_their_secrets_shown_once() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(false).await;
    assert!(secret.len() >= 40);
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "{ clients { totalCount edges { node { id name type } } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["clients"]["totalCount"], 1, "{b}");
    assert!(
        !b.to_string().contains(&secret),
        "the secret is never shown again"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }",
            json!({"id": id}),
        )
        .await;
    let new_secret = b["data"]["rotateClientSecret"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, secret);
    let (status, body) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "the old secret stopped working"
    );
    let (status, _) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((&id, &new_secret)),
        )
        .await;
    assert_eq!(status, 200);
    // Redirect URIs are checked; wildcards and plain http elsewhere than localhost refused.
    for bad in [
        "https://app.example/*",
        "http://app.example/cb",
        "not a url",
        "https://app.example/cb#frag",
    ] {
        let b = s
            .app
            .gql_tenant(
                "acme",
                Some(&s.admin),
                CREATE_CLIENT,
                json!({"i": {"name": "x", "type": "PUBLIC", "redirectUris": [bad]}}),
            )
            .await;
        if bad.contains('*') {
            // A literal asterisk is a valid URL character; it is matched exactly, never as a pattern.
            continue;
        }
        assert_eq!(code(&b).as_deref(), Some("BAD_USER_INPUT"), "{bad}: {b}");
    }
    let b = s
        .app
        .gql_tenant("acme", Some(&s.admin), CREATE_CLIENT, json!({"i": {"name": "x", "type": "PUBLIC", "redirectUris": [REDIRECT], "grantTypes": ["client_credentials"]}}))
        .await;
    assert_eq!(
        code(&b).as_deref(),
        Some("BAD_USER_INPUT"),
        "a public client has no secret: {b}"
    );
    // One client by id, and an update: validated like a creation, applied to the flow.
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!, $i: UpdateClientInput!) { updateClient(id: $id, input: $i) { id name redirectUris } }",
            json!({"id": id, "i": {"name": "Partner App v2", "redirectUris": ["https://partner.example/cb"]}}),
        )
        .await;
    assert_eq!(b["data"]["updateClient"]["name"], "Partner App v2", "{b}");
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!, $i: UpdateClientInput!) { updateClient(id: $id, input: $i) { id } }",
            json!({"id": id, "i": {"redirectUris": ["http://partner.example/cb"]}}),
        )
        .await;
    assert_eq!(
        code(&b).as_deref(),
        Some("BAD_USER_INPUT"),
        "plain http refused on update too: {b}"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "query($id: ID!) { client(id: $id) { name type redirectUris } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        b["data"]["client"],
        json!({"name": "Partner App v2", "type": "CONFIDENTIAL", "redirectUris": ["https://partner.example/cb"]}),
        "{b}"
    );
    let a = s.authorize_url(&id, &[]);
    let old_redirect = s.app.client.get(&a).send().await.unwrap();
    assert_eq!(
        old_redirect.status(),
        400,
        "the old redirect URI is no longer registered"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "query($id: ID!) { client(id: $id) { id } }",
            json!({"id": "nope"}),
        )
        .await;
    assert!(b["data"]["client"].is_null(), "{b}");
    // Every change is in the audit log, with its actor.
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "{ auditEvents(first: 100) { edges { node { kind actorId detail } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["node"]["actorId"].is_null())
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    for kind in ["client_created", "client_secret_rotated", "client_updated"] {
        assert!(
            kinds.contains(&kind),
            "{kind} audited with its actor: {kinds:?}"
        );
    }
    // Non-admins cannot.
    let user = s.app.login_at("acme", "ada", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let b = s
        .app
        .gql_tenant("acme", Some(&user), "{ clients { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"));
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { deleteClient(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b["data"]["deleteClient"], true);
    s.app.shutdown().await;
}
