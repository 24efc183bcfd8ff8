//! Tenant administration: every admin operation, its effect, and its audit event.

use serde_json::{Value, json};

use crate::helpers::*;
use latchkey::domain::keys::KEY_PUBLISH_AHEAD_SECONDS;

const USERS: &str = "query($first: Int, $after: String, $search: String) { users(first: $first, after: $after, search: $search) { totalCount edges { cursor node { id email username roles disabled } } pageInfo { hasNextPage endCursor } } }";
const AUDIT: &str = "query($first: Int, $after: String, $user: ID) { auditEvents(first: $first, after: $after, userId: $user) { totalCount edges { cursor node { id at kind actorId userId ip detail } } pageInfo { hasNextPage endCursor } } }";

async fn audit_kinds(app: &TestApp, admin: &str, user: Option<&str>) -> Vec<String> {
    let b = app
        .gql_tenant(
            "acme",
            Some(admin),
            AUDIT,
            json!({"first": 100, "user": user}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["user"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn non_admins_are_forbidden_everywhere() {
    let app = TestApp::spawn_platform(&[]).await;
    app.create_tenant_with_admin("acme").await;
    let user = app
        .register_at("acme", "plain@acme.example", "plain", PASSWORD)
        .await;
    let token = user["accessToken"].as_str().unwrap();
    let uid = id(&user);
    let ops = [
        ("{ users { totalCount } }".to_string(), json!({})),
        (format!("{{ user(id: \"{uid}\") {{ id }} }}"), json!({})),
        ("{ auditEvents { totalCount } }".into(), json!({})),
        ("{ tenantSettings { displayName } }".into(), json!({})),
        ("mutation { createUser(input: {email: \"x@acme.example\", username: \"xx1\", password: \"a long password\"}) { id } }".into(), json!({})),
        (format!("mutation {{ disableUser(id: \"{uid}\") {{ id }} }}"), json!({})),
        (format!("mutation {{ enableUser(id: \"{uid}\") {{ id }} }}"), json!({})),
        (format!("mutation {{ deleteUser(id: \"{uid}\") }}"), json!({})),
        (format!("mutation {{ setUserRoles(id: \"{uid}\", roles: [\"admin\"]) {{ id }} }}"), json!({})),
        (format!("mutation {{ revokeUserSessions(id: \"{uid}\") }}"), json!({})),
        ("mutation { updateTenantSettings(input: {displayName: \"pwned\"}) { displayName } }".into(), json!({})),
        ("mutation { rotateSigningKey }".into(), json!({})),
    ];
    for (q, v) in &ops {
        let b = app.gql_tenant("acme", Some(token), q, v.clone()).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{q}: {b}");
        let anon = app.gql_tenant("acme", None, q, v.clone()).await;
        assert_eq!(
            code(&anon).as_deref(),
            Some("UNAUTHENTICATED"),
            "{q}: {anon}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn admin_manages_users_roles_and_sessions() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let gql = |q: &'static str, v: Value| app.gql_tenant("acme", Some(&admin), q, v);

    // createUser
    let b = gql("mutation($i: CreateUserInput!) { createUser(input: $i) { id email roles emailVerified } }",
        json!({"i": {"email": "bob@acme.example", "username": "bob", "password": PASSWORD, "roles": ["support", "support"], "emailVerified": true}})).await;
    assert_eq!(b["data"]["createUser"]["roles"], json!(["support"]), "{b}");
    assert_eq!(b["data"]["createUser"]["emailVerified"], true);
    let bob = b["data"]["createUser"]["id"].as_str().unwrap().to_string();
    let dup = gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
        json!({"i": {"email": "BOB@acme.example", "username": "bob2", "password": PASSWORD}}),
    )
    .await;
    assert_eq!(code(&dup).as_deref(), Some("EMAIL_TAKEN"));
    let bob_session = app.login_at("acme", "bob", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    // user
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            &format!("{{ user(id: \"{bob}\") {{ username }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["user"]["username"], "bob");
    assert!(
        app.gql_tenant(
            "acme",
            Some(&admin),
            "{ user(id: \"nope\") { id } }",
            json!({})
        )
        .await["data"]["user"]
            .is_null()
    );

    // setUserRoles: takes effect at once (stored roles, not the token's copy)
    let b = gql(
        "mutation($id: ID!) { setUserRoles(id: $id, roles: [\"admin\", \"billing\"]) { roles } }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(
        b["data"]["setUserRoles"]["roles"],
        json!(["admin", "billing"])
    );
    assert!(
        app.gql_tenant(
            "acme",
            Some(&bob_session),
            "{ users { totalCount } }",
            json!({})
        )
        .await["errors"]
            .is_null()
    );
    gql(
        "mutation($id: ID!) { setUserRoles(id: $id, roles: []) { roles } }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(
        code(
            &app.gql_tenant(
                "acme",
                Some(&bob_session),
                "{ users { totalCount } }",
                json!({})
            )
            .await
        )
        .as_deref(),
        Some("FORBIDDEN")
    );
    let bad = gql(
        "mutation($id: ID!) { setUserRoles(id: $id, roles: [\"has space\"]) { roles } }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(field(&bad).as_deref(), Some("roles"));

    // revokeUserSessions
    let second = app.login_at("acme", "bob", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let b = gql(
        "mutation($id: ID!) { revokeUserSessions(id: $id) }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(b["data"]["revokeUserSessions"], 2, "{b}");
    for t in [&bob_session, &second] {
        assert_eq!(
            code(&app.gql_tenant("acme", Some(t), ME, json!({})).await).as_deref(),
            Some("UNAUTHENTICATED")
        );
    }

    // disableUser: sessions revoked, login answers ACCOUNT_DISABLED only after a correct password
    let live = app.login_at("acme", "bob", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let b = gql(
        "mutation($id: ID!) { disableUser(id: $id) { disabled } }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(b["data"]["disableUser"]["disabled"], true);
    assert_eq!(
        code(&app.gql_tenant("acme", Some(&live), ME, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&app.login_at("acme", "bob", PASSWORD).await).as_deref(),
        Some("ACCOUNT_DISABLED")
    );
    assert_eq!(
        code(&app.login_at("acme", "bob", "wrong password").await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    // enableUser
    let b = gql(
        "mutation($id: ID!) { enableUser(id: $id) { disabled } }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(b["data"]["enableUser"]["disabled"], false);
    assert!(app.login_at("acme", "bob", PASSWORD).await["errors"].is_null());

    // An admin cannot lock themselves out.
    let me = app.gql_tenant("acme", Some(&admin), ME, json!({})).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        field(
            &gql(
                "mutation($id: ID!) { disableUser(id: $id) { id } }",
                json!({"id": me})
            )
            .await
        )
        .as_deref(),
        Some("id")
    );
    assert_eq!(
        field(
            &gql(
                "mutation($id: ID!) { setUserRoles(id: $id, roles: []) { id } }",
                json!({"id": me})
            )
            .await
        )
        .as_deref(),
        Some("roles")
    );

    // deleteUser
    let b = gql(
        "mutation($id: ID!) { deleteUser(id: $id) }",
        json!({"id": bob}),
    )
    .await;
    assert_eq!(b["data"]["deleteUser"], true, "{b}");
    assert_eq!(
        code(&app.login_at("acme", "bob", PASSWORD).await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    assert_eq!(
        field(
            &gql(
                "mutation($id: ID!) { deleteUser(id: $id) }",
                json!({"id": bob})
            )
            .await
        )
        .as_deref(),
        Some("id")
    );
    // The address is free again.
    app.register_at("acme", "bob@acme.example", "bob", PASSWORD)
        .await;

    // Every action left its audit event, with actor, subject and address.
    let kinds = audit_kinds(&app, &admin, Some(&bob)).await;
    for k in [
        "user_created",
        "roles_changed",
        "sessions_revoked",
        "user_disabled",
        "user_enabled",
        "user_deleted",
        "login_success",
        "login_failure",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing in {kinds:?}");
    }
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            AUDIT,
            json!({"first": 100, "user": bob}),
        )
        .await;
    let disabled = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "user_disabled")
        .unwrap()["node"]
        .clone();
    assert_eq!(disabled["actorId"], me.as_str());
    assert_eq!(disabled["userId"], bob.as_str());
    assert_eq!(disabled["ip"], "127.0.0.1");
    assert!(disabled["at"].is_string());
    app.shutdown().await;
}

#[tokio::test]
async fn pagination_over_250_users_is_complete_and_without_duplicates() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    for i in 0..249 {
        let b = app
            .gql_tenant("acme", Some(&admin), "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                json!({"i": {"email": format!("user{i:03}@acme.example"), "username": format!("user{i:03}"), "password": PASSWORD, "emailVerified": true}}))
            .await;
        assert!(b["errors"].is_null(), "{b}");
    }
    let mut seen = std::collections::HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let b = app
            .gql_tenant(
                "acme",
                Some(&admin),
                USERS,
                json!({"first": 40, "after": after}),
            )
            .await;
        let u = &b["data"]["users"];
        assert_eq!(u["totalCount"], 250, "{b}");
        for e in u["edges"].as_array().unwrap() {
            assert!(
                seen.insert(e["node"]["id"].as_str().unwrap().to_string()),
                "duplicate {e}"
            );
        }
        pages += 1;
        if !u["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = u["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(pages, 7);
    // Prefix search on email or username.
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            USERS,
            json!({"first": 100, "search": "USER01"}),
        )
        .await;
    assert_eq!(b["data"]["users"]["totalCount"], 10, "{b}");
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            USERS,
            json!({"first": 100, "search": "admin@"}),
        )
        .await;
    assert_eq!(b["data"]["users"]["totalCount"], 1, "{b}");
    // Page sizes are bounded and cursors checked.
    for first in [0, -1, 101, 100000] {
        let b = app
            .gql_tenant("acme", Some(&admin), USERS, json!({"first": first}))
            .await;
        assert_eq!(field(&b).as_deref(), Some("first"), "{first}: {b}");
    }
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            USERS,
            json!({"first": 5, "after": "garbage'\""}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("after"));
    app.shutdown().await;
}

#[tokio::test]
async fn settings_change_token_lifetimes_password_policy_and_mail() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let upd = "mutation($i: TenantSettingsInput!) { updateTenantSettings(input: $i) { displayName accessTokenMinutes refreshTokenDays passwordMinLength requireVerifiedEmail resetUrlTemplate corsOrigins } }";
    let b = app.gql_tenant("acme", Some(&admin), upd, json!({"i": {"displayName": "Acme Inc", "accessTokenMinutes": 5, "passwordMinLength": 15, "resetUrlTemplate": "https://app.acme.example/reset/{token}"}})).await;
    let s = &b["data"]["updateTenantSettings"];
    assert_eq!(s["displayName"], "Acme Inc", "{b}");
    assert_eq!(s["accessTokenMinutes"], 5);
    assert_eq!(s["refreshTokenDays"], 30, "unchanged: the server default");
    assert_eq!(s["passwordMinLength"], 15);
    // The new lifetime applies to new tokens.
    let login = app.login_at("acme", "admin", PASSWORD).await;
    assert_eq!(login["data"]["login"]["expiresIn"], 300);
    // NIST SP 800-63B-4: 15 characters where the password is the only factor.
    let short = app.gql_tenant("acme", None, REGISTER, json!({"input": {"email": "s@acme.example", "username": "shorty", "password": "only12chars!"}})).await;
    assert_eq!(field(&short).as_deref(), Some("password"), "{short}");
    app.register_at("acme", "s@acme.example", "shorty", "fifteen chars ok")
        .await;
    // null returns a setting to the default; bad values name their field.
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            upd,
            json!({"i": {"accessTokenMinutes": null}}),
        )
        .await;
    assert_eq!(b["data"]["updateTenantSettings"]["accessTokenMinutes"], 15);
    for (k, v) in [
        ("accessTokenMinutes", json!(0)),
        ("refreshTokenDays", json!(1000)),
        ("passwordMinLength", json!(4)),
        ("displayName", json!("")),
        ("resetUrlTemplate", json!("javascript:alert(1)//{token}")),
        ("resetUrlTemplate", json!("https://no-token.example")),
        ("corsOrigins", json!(["not an origin"])),
    ] {
        let b = app
            .gql_tenant("acme", Some(&admin), upd, json!({"i": {k: v}}))
            .await;
        assert_eq!(field(&b).as_deref(), Some(k), "{k}={v}: {b}");
    }
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "{ tenantSettings { displayName passwordMinLength } }",
            json!({}),
        )
        .await;
    assert_eq!(
        b["data"]["tenantSettings"],
        json!({"displayName": "Acme Inc", "passwordMinLength": 15})
    );
    assert!(
        audit_kinds(&app, &admin, None)
            .await
            .contains(&"settings_updated".to_string())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn key_rotation_keeps_earlier_tokens_valid_until_they_expire() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let user = app
        .register_at("acme", "k@acme.example", "keyholder", PASSWORD)
        .await;
    let before = user["accessToken"].as_str().unwrap().to_string();
    let jwks = || async {
        app.client
            .get(format!("{}/t/acme/.well-known/jwks.json", app.base))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    // The tenant's access-token key (EdDSA); its RSA key (id_tokens) rotates alongside.
    let old_kid = jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "EdDSA")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();

    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation { rotateSigningKey }",
            json!({}),
        )
        .await;
    let new_kid = b["data"]["rotateSigningKey"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    let keys: Vec<String> = jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        keys.contains(&old_kid) && keys.contains(&new_kid),
        "JWKS serves both: {keys:?}"
    );

    let header_kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    // Published first: until verifiers' cached JWKS (max-age 300 s) hold it, the old key signs.
    let during = app.login_at("acme", "keyholder", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        header_kid(&during),
        old_kid,
        "the new key does not sign before its time"
    );
    app.clock.advance(std::time::Duration::from_secs(
        KEY_PUBLISH_AHEAD_SECONDS as u64 + 1,
    ));
    let after = app.login_at("acme", "keyholder", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(header_kid(&before), old_kid);
    assert_eq!(
        header_kid(&after),
        new_kid,
        "the new key signs once its time has come"
    );
    assert!(
        app.gql_tenant("acme", Some(&before), ME, json!({})).await["errors"].is_null(),
        "old token still valid"
    );
    assert!(app.gql_tenant("acme", Some(&after), ME, json!({})).await["errors"].is_null());
    assert!(
        audit_kinds(&app, &admin, None)
            .await
            .contains(&"signing_key_rotated".to_string())
    );
    app.shutdown().await;
}

/// Every event of a request carries the client address, every event about a user the user:
/// a reset, a verification and a refresh-token reuse (the theft signal, which
/// `auditEvents(userId:)` must show).
#[tokio::test]
async fn audit_events_say_who_and_from_where() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_platform(&[("SMTP_URL", &sink.url())]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let user = app
        .register_at("acme", "who@acme.example", "whoever", PASSWORD)
        .await;
    let uid = id(&user);
    let verify = sink
        .wait_for("who@acme.example", "Confirm your email")
        .await
        .token();
    let b = app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({"t": verify}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    app.gql_tenant(
        "acme",
        None,
        "mutation { requestPasswordReset(email: \"who@acme.example\") }",
        json!({}),
    )
    .await;
    let reset = sink
        .wait_for("who@acme.example", "Reset your")
        .await
        .token();
    let b = app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { resetPassword(token: $t, newPassword: \"a brand new passphrase\") }",
            json!({"t": reset}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    // A stolen refresh token used after its owner rotated it.
    let login = app
        .login_at("acme", "whoever", "a brand new passphrase")
        .await;
    let rt = login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated = app
        .gql_tenant("acme", None, REFRESH, json!({"t": rt}))
        .await;
    assert!(rotated["errors"].is_null(), "{rotated}");
    let reuse = app
        .gql_tenant("acme", None, REFRESH, json!({"t": rt}))
        .await;
    assert_eq!(code(&reuse).as_deref(), Some("INVALID_TOKEN"));

    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            AUDIT,
            json!({"first": 100, "user": uid}),
        )
        .await;
    let events: Vec<Value> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    for kind in ["email_verified", "password_reset", "refresh_token_reuse"] {
        let e = events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} is listed for the user: {events:?}"));
        assert_eq!(e["userId"], uid.as_str(), "{kind}: {e}");
        assert_eq!(e["ip"], "127.0.0.1", "{kind}: {e}");
    }
    app.shutdown().await;
}
