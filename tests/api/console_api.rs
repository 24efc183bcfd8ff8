//! What the console needed from the admin APIs, added to them (so nothing the console shows is
//! reachable only through it): a user's live sessions and revoking one, the signing keys'
//! public facts, the audit log filtered by kind and time, tenants searched by slug or name.

use serde_json::{Value, json};

use crate::helpers::*;

const SESSIONS: &str = "query($id: ID!) { user(id: $id) { sessions { id createdAt lastSeenAt expiresAt ip userAgent clientId amr } } }";

async fn user_id(app: &TestApp, token: &str) -> String {
    app.gql_tenant("acme", Some(token), "{ me { id } }", json!({}))
        .await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn admins_see_a_users_sessions_and_revoke_one() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let first = app.login_at("acme", "ada", PASSWORD).await["data"]["login"].clone();
    let second = app.login_at("acme", "ada", PASSWORD).await["data"]["login"].clone();
    let ada = user_id(&app, first["accessToken"].as_str().unwrap()).await;

    let b = app
        .gql_tenant("acme", Some(&admin), SESSIONS, json!({"id": ada}))
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let sessions = b["data"]["user"]["sessions"].as_array().unwrap().clone();
    // register's session and the two logins, newest first.
    assert_eq!(sessions.len(), 3, "{b}");
    assert!(sessions[0]["createdAt"].as_str() >= sessions[2]["createdAt"].as_str());
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    assert_eq!(sessions[0]["amr"], json!(["pwd"]));
    assert_eq!(sessions[0]["clientId"], Value::Null);

    // The user sees their own, through `me`.
    let mine = app
        .gql_tenant(
            "acme",
            second["accessToken"].as_str(),
            "{ me { sessions { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["sessions"].as_array().unwrap().len(),
        3,
        "{mine}"
    );

    // Revoke the newest (the second login's): its refresh token stops working, the others stay.
    let target = sessions[0]["id"].as_str().unwrap();
    let r = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({"id": target}),
        )
        .await;
    assert_eq!(r["data"]["revokeSession"], true, "{r}");
    let again = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({"id": target}),
        )
        .await;
    assert_eq!(
        again["data"]["revokeSession"], false,
        "not live any more: {again}"
    );
    let refreshed = app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
            json!({"t": second["refreshToken"]}),
        )
        .await;
    assert_eq!(
        code(&refreshed).as_deref(),
        Some("INVALID_TOKEN"),
        "{refreshed}"
    );
    let b = app
        .gql_tenant("acme", Some(&admin), SESSIONS, json!({"id": ada}))
        .await;
    assert_eq!(
        b["data"]["user"]["sessions"].as_array().unwrap().len(),
        2,
        "{b}"
    );
    let still = app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
            json!({"t": first["refreshToken"]}),
        )
        .await;
    assert!(still["errors"].is_null(), "{still}");

    // Audited with its subject; not for non-admins; an unknown id is false, not an error.
    let events = app
        .gql_tenant(
            "acme",
            Some(&admin),
            r#"{ auditEvents(kind: "session_revoked") { totalCount edges { node { userId detail } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(events["data"]["auditEvents"]["totalCount"], 1, "{events}");
    assert_eq!(
        events["data"]["auditEvents"]["edges"][0]["node"]["userId"],
        json!(ada)
    );
    let forbidden = app
        .gql_tenant(
            "acme",
            first["accessToken"].as_str(),
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({"id": sessions[1]["id"]}),
        )
        .await;
    assert_eq!(
        code(&forbidden).as_deref(),
        Some("FORBIDDEN"),
        "{forbidden}"
    );
    let unknown = app
        .gql_tenant(
            "acme",
            Some(&admin),
            r#"mutation { revokeSession(id: "nope") }"#,
            json!({}),
        )
        .await;
    assert_eq!(unknown["data"]["revokeSession"], false, "{unknown}");
    app.shutdown().await;
}

#[tokio::test]
async fn signing_keys_show_their_life_without_their_material() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let list = |b: Value| b["data"]["signingKeys"].as_array().unwrap().clone();
    const KEYS: &str =
        "{ signingKeys { kid algorithm status createdAt activatesAt retiredAt revokedAt } }";
    let before = list(app.gql_tenant("acme", Some(&admin), KEYS, json!({})).await);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["status"], "SIGNING");
    let kid = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation { rotateSigningKey }",
            json!({}),
        )
        .await["data"]["rotateSigningKey"]
        .as_str()
        .unwrap()
        .to_string();
    let after = list(app.gql_tenant("acme", Some(&admin), KEYS, json!({})).await);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0]["kid"], json!(kid), "newest first");
    assert_eq!(
        after[0]["status"], "PUBLISHED",
        "signs after the JWKS cache time"
    );
    assert!(after[0]["activatesAt"].as_str() > after[0]["createdAt"].as_str());
    assert_eq!(after[1]["status"], "SIGNING");
    let emergency = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation { rotateSigningKey(emergency: true) }",
            json!({}),
        )
        .await;
    assert!(emergency["errors"].is_null(), "{emergency}");
    // The admin's token was signed by a revoked key: a new sign-in reads the list.
    let admin = app.login_at("acme", "admin", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.gql_tenant("acme", Some(&admin), KEYS, json!({})).await;
    let last = list(b.clone());
    assert_eq!(last[0]["status"], "SIGNING", "{b}");
    assert!(
        last[1..]
            .iter()
            .all(|k| k["status"] == "REVOKED" && k["revokedAt"].is_string()),
        "{b}"
    );
    // No field carries key material.
    let text = b.to_string();
    for secret in ["private", "\"d\"", "sealed"] {
        assert!(!text.contains(secret), "{text}");
    }
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let user = app.login_at("acme", "ada", PASSWORD).await;
    let forbidden = app
        .gql_tenant(
            "acme",
            user["data"]["login"]["accessToken"].as_str(),
            KEYS,
            json!({}),
        )
        .await;
    assert_eq!(
        code(&forbidden).as_deref(),
        Some("FORBIDDEN"),
        "{forbidden}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_audit_log_filters_by_kind_user_and_time() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    for _ in 0..3 {
        let b = app.login_at("acme", "ada", "wrong password").await;
        assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    }
    const EVENTS: &str = "query($k: String, $u: ID, $s: DateTime, $t: DateTime) {
        auditEvents(kind: $k, userId: $u, since: $s, until: $t) { totalCount edges { node { kind at userId } } } }";
    let q = |vars: Value| app.gql_tenant("acme", Some(&admin), EVENTS, vars);
    let failures = q(json!({"k": "login_failure"})).await;
    assert!(failures["errors"].is_null(), "{failures}");
    let edges = failures["data"]["auditEvents"]["edges"].as_array().unwrap();
    assert_eq!(
        failures["data"]["auditEvents"]["totalCount"], 3,
        "{failures}"
    );
    assert!(edges.iter().all(|e| e["node"]["kind"] == "login_failure"));
    // A time window after everything: nothing; one that holds them: all three.
    let latest = edges[0]["node"]["at"].as_str().unwrap().to_string();
    let oldest = edges[2]["node"]["at"].as_str().unwrap().to_string();
    let later = q(json!({"k": "login_failure", "s": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(later["data"]["auditEvents"]["totalCount"], 0, "{later}");
    let window = q(json!({"k": "login_failure", "s": oldest, "t": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(window["data"]["auditEvents"]["totalCount"], 3, "{window}");
    let before_latest = q(json!({"k": "login_failure", "t": latest})).await;
    assert_eq!(
        before_latest["data"]["auditEvents"]["totalCount"], 2,
        "until is exclusive: {before_latest}"
    );
    // Kind and user together.
    let ada = edges[0]["node"]["userId"].clone();
    let hers = q(json!({"k": "login_failure", "u": ada})).await;
    assert_eq!(hers["data"]["auditEvents"]["totalCount"], 3, "{hers}");
    // A window that ends before it starts is the caller's mistake, said on `until`.
    let backwards = q(json!({"s": "2026-01-02T00:00:00Z", "t": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(
        code(&backwards).as_deref(),
        Some("BAD_USER_INPUT"),
        "{backwards}"
    );
    assert_eq!(field(&backwards).as_deref(), Some("until"), "{backwards}");
    let long = q(json!({"k": "x".repeat(65)})).await;
    assert_eq!(field(&long).as_deref(), Some("kind"), "{long}");
    let not_a_time = q(json!({"s": "yesterday"})).await;
    assert_eq!(
        code(&not_a_time).as_deref(),
        Some("BAD_USER_INPUT"),
        "{not_a_time}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tenants_are_searched_by_slug_start_or_name() {
    let app = TestApp::spawn_platform(&[]).await;
    for (slug, name) in [
        ("acme", "Acme Corporation"),
        ("acme-eu", "Acme Europe"),
        ("globex", "Globex (an Acme partner)"),
        ("initech", "Initech"),
    ] {
        let b = app
            .platform(
                "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
                json!({"i": {"slug": slug, "displayName": name}}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
    }
    const FIND: &str = "query($s: String, $a: String) { tenants(first: 2, search: $s, after: $a) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { slug } } } }";
    let slugs = |b: &Value| -> Vec<String> {
        b["data"]["tenants"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{b}"))
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap().to_string())
            .collect()
    };
    let acme = app.platform(FIND, json!({"s": "ACME"})).await;
    assert_eq!(acme["data"]["tenants"]["totalCount"], 3, "{acme}");
    assert_eq!(slugs(&acme), ["acme", "acme-eu"]);
    let next = app
        .platform(
            FIND,
            json!({"s": "acme", "a": acme["data"]["tenants"]["pageInfo"]["endCursor"]}),
        )
        .await;
    assert_eq!(
        slugs(&next),
        ["globex"],
        "the name matches anywhere: {next}"
    );
    assert_eq!(next["data"]["tenants"]["pageInfo"]["hasNextPage"], false);
    let by_slug = app.platform(FIND, json!({"s": "ini"})).await;
    assert_eq!(slugs(&by_slug), ["initech"]);
    let none = app.platform(FIND, json!({"s": "tech corp"})).await;
    assert_eq!(none["data"]["tenants"]["totalCount"], 0, "{none}");
    let everyone = app.platform(FIND, json!({"s": "  "})).await;
    // The four and the default tenant.
    assert_eq!(
        everyone["data"]["tenants"]["totalCount"], 5,
        "blank is no filter: {everyone}"
    );
    let long = app.platform(FIND, json!({"s": "x".repeat(201)})).await;
    assert_eq!(field(&long).as_deref(), Some("search"), "{long}");
    app.shutdown().await;
}
