//! SCIM provisioning tokens: made by tenant admins only (the value shown once, `scim_...`),
//! listed without their value, confined to the tenant or an existing organization, audited;
//! a SCIM request without a live token gets 401 in SCIM's error shape, and a revoked token is
//! refused at its next request.

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE: &str = "mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) { token scimToken { id name organizationId active createdAt lastUsedAt revokedAt } } }";
const LIST: &str = "{ scimTokens { id name organizationId active lastUsedAt revokedAt } }";
const REVOKE: &str = "mutation($i: ID!) { revokeScimToken(id: $i) }";

/// `GET /t/acme/scim/v2/ServiceProviderConfig` with `token`: status, content type, body.
async fn config(app: &TestApp, token: Option<&str>) -> (u16, String, Value) {
    let mut req = app
        .client
        .get(format!("{}/t/acme/scim/v2/ServiceProviderConfig", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ctype, resp.json().await.unwrap_or(Value::Null))
}

fn assert_scim_401(status: u16, ctype: &str, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(ctype, "application/scim+json");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], "401");
}

#[tokio::test]
async fn scim_tokens_are_made_by_admins_shown_once_and_refused_once_revoked() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let a = Some(admin.as_str());

    // No token, a garbage one, an admin's access token: 401 in SCIM's shape.
    for t in [None, Some("scim_not-a-token"), Some(admin.as_str())] {
        let (status, ctype, body) = config(&app, t).await;
        assert_scim_401(status, &ctype, &body);
    }

    let b = app
        .gql_tenant(
            "acme",
            a,
            CREATE,
            json!({"i": {"name": "Entra ID provisioning"}}),
        )
        .await;
    let made = &b["data"]["createScimToken"];
    let token = made["token"].as_str().unwrap_or_else(|| panic!("{b}"));
    assert!(token.starts_with("scim_") && token.len() > 40, "{token}");
    assert_eq!(made["scimToken"]["active"], true);
    assert!(made["scimToken"]["organizationId"].is_null());
    let id = made["scimToken"]["id"].as_str().unwrap().to_string();

    // It works, and says what the server supports.
    let (status, ctype, body) = config(&app, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype, "application/scim+json");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        body["meta"]["location"],
        "http://latchkey.test/t/acme/scim/v2/ServiceProviderConfig"
    );

    // Listed without its value, its use noted.
    let b = app.gql_tenant("acme", a, LIST, json!({})).await;
    let listed = &b["data"]["scimTokens"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(listed[0]["name"], "Entra ID provisioning");
    assert!(listed[0]["lastUsedAt"].is_string(), "{b}");
    assert!(!b.to_string().contains(token));

    // Confined to an organization: one that exists.
    let b = app
        .gql_tenant(
            "acme",
            a,
            CREATE,
            json!({"i": {"name": "Okta", "organizationId": "no-such-org"}}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("organizationId"), "{b}");
    let org = app
        .gql_tenant(
            "acme",
            a,
            "mutation { createOrganization(input: {name: \"Initech\"}) { id } }",
            json!({}),
        )
        .await["data"]["createOrganization"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app
        .gql_tenant(
            "acme",
            a,
            CREATE,
            json!({"i": {"name": "Initech's Okta", "organizationId": org}}),
        )
        .await;
    assert_eq!(
        b["data"]["createScimToken"]["scimToken"]["organizationId"],
        json!(org),
        "{b}"
    );
    let org_token = b["data"]["createScimToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(config(&app, Some(&org_token)).await.0, 200);
    // Deleting the organization revokes its tokens.
    app.gql_tenant(
        "acme",
        a,
        "mutation($i: ID!) { deleteOrganization(id: $i) }",
        json!({"i": org}),
    )
    .await;
    let (status, ctype, body) = config(&app, Some(&org_token)).await;
    assert_scim_401(status, &ctype, &body);

    // Tenant admins only; names bounded.
    app.register_at("acme", "pat@acme.example", "pat", PASSWORD)
        .await;
    let pat = app.login_at("acme", "pat", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    for (q, v) in [
        (CREATE, json!({"i": {"name": "mine"}})),
        (LIST, json!({})),
        (REVOKE, json!({"i": id})),
    ] {
        let b = app.gql_tenant("acme", Some(&pat), q, v).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    }
    for name in ["", "   ", &"x".repeat(101)] {
        let b = app
            .gql_tenant("acme", a, CREATE, json!({"i": {"name": name}}))
            .await;
        assert_eq!(field(&b).as_deref(), Some("name"), "{name:?}: {b}");
    }

    // Revoked: refused at the next request; revoking again is a no-op.
    let b = app.gql_tenant("acme", a, REVOKE, json!({"i": id})).await;
    assert_eq!(b["data"]["revokeScimToken"], true, "{b}");
    let (status, ctype, body) = config(&app, Some(token)).await;
    assert_scim_401(status, &ctype, &body);
    let b = app.gql_tenant("acme", a, REVOKE, json!({"i": id})).await;
    assert_eq!(b["data"]["revokeScimToken"], false, "{b}");
    let b = app.gql_tenant("acme", a, LIST, json!({})).await;
    assert!(
        b["data"]["scimTokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["active"] == false && t["revokedAt"].is_string()),
        "{b}"
    );

    // Audited.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "{ auditEvents(first: 50) { edges { node { kind detail } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "scim_token_created").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"scim_token_revoked"), "{kinds:?}");
    app.shutdown().await;
}
