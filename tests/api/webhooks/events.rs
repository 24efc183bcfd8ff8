//! The events of the catalogue, each produced by the real flow that causes it, arriving
//! signed (verified by the reference library) and shaped as its published schema says.

use super::*;

const LOGIN: &str =
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id } } }";

#[tokio::test]
async fn the_events_of_real_flows_arrive_signed_and_as_their_schemas_say() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["*"]).await;
    let a = Some(admin.as_str());

    // user.created and session.created
    let ada = app
        .register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    // user.updated (roles), user.disabled (and its sessions revoked), user.enabled
    for (q, v) in [
        (
            "mutation($id: ID!) { setUserRoles(id: $id, roles: [\"support\"]) { id } }",
            json!({"id": ada_id}),
        ),
        (
            "mutation($id: ID!) { disableUser(id: $id) { id } }",
            json!({"id": ada_id}),
        ),
        (
            "mutation($id: ID!) { enableUser(id: $id) { id } }",
            json!({"id": ada_id}),
        ),
    ] {
        let b = app.gql_tenant("acme", a, q, v).await;
        assert!(b["errors"].is_null(), "{b}");
    }
    // A sign-in, a password change (the other session ends), an admin revoking the last one.
    let first = app
        .gql_tenant(
            "acme",
            None,
            LOGIN,
            json!({"i": {"identifier": "ada", "password": PASSWORD}}),
        )
        .await;
    let second = app
        .gql_tenant(
            "acme",
            None,
            LOGIN,
            json!({"i": {"identifier": "ada", "password": PASSWORD}}),
        )
        .await;
    let b = app
        .gql_tenant(
            "acme",
            second["data"]["login"]["accessToken"].as_str(),
            "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"a kettle that whistles\") }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["changePassword"], true, "{b}");
    assert!(first["errors"].is_null(), "{first}");
    // signing_key.rotated, client.created/updated/deleted
    for (q, v) in [
        ("mutation { rotateSigningKey }", json!({})),
        (
            "mutation { updateTenantSettings(input: {passwordMinLength: 12}) { passwordMinLength } }",
            json!({}),
        ),
        (
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } } }",
            json!({"i": {"name": "Billing", "type": "CONFIDENTIAL", "redirectUris": ["https://billing.example/cb"]}}),
        ),
    ] {
        let b = app.gql_tenant("acme", a, q, v).await;
        assert!(b["errors"].is_null(), "{b}");
    }
    let clients = app
        .gql_tenant(
            "acme",
            a,
            "{ clients { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let client = clients["data"]["clients"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for q in [
        "mutation($id: ID!) { updateClient(id: $id, input: {name: \"Billing v2\"}) { id } }",
        "mutation($id: ID!) { deleteClient(id: $id) }",
    ] {
        let b = app.gql_tenant("acme", a, q, json!({"id": client})).await;
        assert!(b["errors"].is_null(), "{b}");
    }
    // user.deleted
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({"id": ada_id}),
        )
        .await;
    assert_eq!(b["data"]["deleteUser"], true, "{b}");

    let want = [
        "user.created",
        "session.created",
        "user.updated",
        "user.disabled",
        "session.revoked",
        "user.enabled",
        "user.password_changed",
        "signing_key.rotated",
        "client.created",
        "client.updated",
        "client.deleted",
        "user.deleted",
        "tenant.settings_updated",
    ];
    let seen = rx
        .wait_until("every event type", |s| {
            let t = types(s);
            want.iter().all(|w| t.iter().any(|x| x == w))
        })
        .await;
    // Nothing secret in any payload: no hash, no secret, none of this test's tokens.
    let mut secrets: Vec<String> = [
        "argon2",
        "password_hash",
        "secret_hash",
        "whsec_",
        "totp",
        "recovery",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for t in [&ada, &first["data"]["login"], &second["data"]["login"]] {
        for k in ["accessToken", "refreshToken"] {
            if let Some(v) = t[k].as_str() {
                secrets.push(v.to_string());
            }
        }
    }
    for r in &seen {
        assert_eq!(r["verified"], true, "the reference library verifies: {r:#}");
        assert_eq!(
            r["schema_ok"], true,
            "the payload fits schema/events: {r:#}"
        );
        let body = r["body"].to_string();
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{secret} in a payload: {body}"
            );
        }
    }
    // The details the schemas leave open.
    let of = |t: &str| -> Vec<&Value> {
        seen.iter()
            .filter(|r| r["body"]["type"] == t)
            .map(|r| &r["body"]["data"])
            .collect()
    };
    assert_eq!(of("user.created")[0]["email"], "ada@acme.example");
    assert_eq!(of("user.updated")[0]["changed"], json!(["roles"]));
    assert_eq!(of("user.updated")[0]["user"]["roles"], json!(["support"]));
    let reasons: Vec<&str> = of("session.revoked")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"user_disabled"), "{reasons:?}");
    assert!(reasons.contains(&"password_changed"), "{reasons:?}");
    assert!(
        of("session.created")
            .iter()
            .all(|d| d["amr"] == json!(["pwd"]))
    );
    assert_eq!(of("client.updated")[0]["name"], "Billing v2");
    assert_eq!(
        of("tenant.settings_updated")[0]["settings"]["password_min_length"],
        12
    );
    // One message id per event, each delivered once here (nothing failed).
    let mut ids: Vec<&str> = seen
        .iter()
        .filter_map(|r| r["headers"]["webhook-id"].as_str())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a webhook-id twice");
    // The delivery log agrees, once the last answers are recorded: all succeeded, 200.
    let log = wait_log(&app, &admin, &hook, "every delivery succeeded", |l| {
        l["totalCount"].as_u64() == Some(n as u64)
            && l["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["status"] == "SUCCEEDED")
    })
    .await;
    assert!(
        log["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["attempts"][0]["httpStatus"] == 200),
        "{log:#}"
    );
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn a_change_that_fails_emits_nothing_and_endpoints_get_only_what_they_subscribe_to() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (users_hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    let (clients_hook, _) =
        endpoint(&app, &admin, &rx, &["client.created", "client.deleted"]).await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    // The same address again: the transaction is refused, and with it its event.
    let again = app
        .gql_tenant(
            "acme",
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({"i": {"email": "ada@acme.example", "username": "ada2", "password": PASSWORD}}),
        )
        .await;
    assert!(again["errors"].is_array(), "{again}");
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } } }",
            json!({"i": {"name": "App", "type": "PUBLIC", "redirectUris": ["https://app.example/cb"]}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    rx.wait_until("both deliveries", |s| types(s).len() >= 2)
        .await;
    let users = deliveries(&app, &admin, &users_hook, None).await;
    let clients = deliveries(&app, &admin, &clients_hook, None).await;
    let kinds = |log: &Value| -> Vec<String> {
        log["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["eventType"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds(&users),
        ["user.created"],
        "one account, one event: {users:#}"
    );
    assert_eq!(kinds(&clients), ["client.created"], "{clients:#}");
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn second_factors_and_refresh_token_reuse_are_events_too() {
    use crate::mfa::{CONFIRM_TOTP, DISABLE_TOTP, START_TOTP, code_at};
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    endpoint(
        &app,
        &admin,
        &rx,
        &[
            "user.mfa_enrolled",
            "user.mfa_removed",
            "session.token_reuse_detected",
            "session.revoked",
        ],
    )
    .await;
    let ada = app
        .register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let token = ada["accessToken"].as_str().unwrap().to_string();
    let start = app
        .gql_tenant("acme", Some(&token), START_TOTP, json!({}))
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm = app
        .gql_tenant(
            "acme",
            Some(&token),
            CONFIRM_TOTP,
            json!({"c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    let off = app
        .gql_tenant("acme", Some(&token), DISABLE_TOTP, json!({"p": PASSWORD}))
        .await;
    assert_eq!(off["data"]["disableTotp"], true, "{off}");
    // A refresh token spent twice: the second is reuse, and the session dies.
    let refresh = "mutation($t: String!) { refresh(refreshToken: $t) { refreshToken } }";
    let rt = ada["refreshToken"].as_str().unwrap();
    let once = app
        .gql_tenant("acme", None, refresh, json!({"t": rt}))
        .await;
    assert!(once["errors"].is_null(), "{once}");
    let twice = app
        .gql_tenant("acme", None, refresh, json!({"t": rt}))
        .await;
    assert_eq!(code(&twice).as_deref(), Some("INVALID_TOKEN"), "{twice}");
    let seen = rx
        .wait_until("four events", |s| {
            let t = types(s);
            [
                "user.mfa_enrolled",
                "user.mfa_removed",
                "session.token_reuse_detected",
                "session.revoked",
            ]
            .iter()
            .all(|w| t.iter().any(|x| x == w))
        })
        .await;
    for r in &seen {
        assert_eq!(r["verified"], true, "{r:#}");
        assert_eq!(r["schema_ok"], true, "{r:#}");
        assert!(
            !r["body"].to_string().contains(&secret),
            "the TOTP seed in a payload"
        );
    }
    let data =
        |t: &str| seen.iter().find(|r| r["body"]["type"] == t).unwrap()["body"]["data"].clone();
    assert_eq!(data("user.mfa_enrolled")["factor"], "totp");
    assert_eq!(data("user.mfa_removed")["factor"], "totp");
    assert_eq!(data("session.revoked")["reason"], "refresh_token_reuse");
    assert_eq!(
        data("session.token_reuse_detected")["session_id"],
        data("session.revoked")["session_id"]
    );
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn a_lockout_of_an_existing_account_is_an_event_and_of_an_unknown_name_is_not() {
    let app = TestApp::spawn_platform(&[
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        // A first lock longer than the test runs; later locks are reached with the clock.
        ("LOGIN_LOCKOUT_BASE_SECONDS", "600"),
        ("LOGIN_FAILURES_PER_ADDRESS", "10000/60"),
    ])
    .await;
    let admin = app.create_tenant_with_admin("acme").await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.locked_out"]).await;
    let ada = app
        .register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    let wrong =
        |who: &'static str| json!({"i": {"identifier": who, "password": "definitely not it"}});
    // Five failures on an identifier that matches nobody: locked the same way, no event.
    for _ in 0..5 {
        let b = app.gql_tenant("acme", None, LOGIN, wrong("nobody")).await;
        assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    }
    let b = app.gql_tenant("acme", None, LOGIN, wrong("nobody")).await;
    assert_eq!(code(&b).as_deref(), Some("RATE_LIMITED"), "{b}");
    // Five on ada: the fifth locks, and says so once.
    for _ in 0..5 {
        let b = app.gql_tenant("acme", None, LOGIN, wrong("ada")).await;
        assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    }
    let seen = rx.wait_until("the lockout", |s| !types(s).is_empty()).await;
    let first = &seen[0]["body"];
    assert_eq!(seen[0]["verified"], true, "{:#}", seen[0]);
    assert_eq!(seen[0]["schema_ok"], true, "{:#}", seen[0]);
    assert_eq!(first["type"], "user.locked_out");
    assert_eq!(first["data"]["user_id"], ada_id.as_str());
    assert_eq!(first["data"]["failures"], 5);
    let until =
        chrono::DateTime::parse_from_rfc3339(first["data"]["locked_until"].as_str().unwrap())
            .unwrap();
    let lock = until.timestamp() - app.clock.now().timestamp();
    assert!((595..=600).contains(&lock), "a 600 s lock: {first}");
    // Attempts while locked verify nothing and lock nothing new.
    let b = app.gql_tenant("acme", None, LOGIN, wrong("ada")).await;
    assert_eq!(code(&b).as_deref(), Some("RATE_LIMITED"), "{b}");
    // Past the lock, one more failure locks again (twice as long): a second event.
    app.clock.advance(Duration::from_secs(601));
    let b = app.gql_tenant("acme", None, LOGIN, wrong("ada")).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    let seen = rx.wait_until("the second lockout", |s| s.len() >= 2).await;
    assert_eq!(seen[1]["body"]["data"]["failures"], 6, "{:#}", seen[1]);
    assert_eq!(seen[1]["schema_ok"], true, "{:#}", seen[1]);
    // The delivery log holds exactly these two: the unknown name emitted nothing.
    let log = deliveries(&app, &admin, &hook, None).await;
    assert_eq!(log["totalCount"], 2, "{log:#}");
    drop(rx);
    app.shutdown().await;
}

/// SCIM writes go through the same services as GraphQL: the directory's create, deactivation,
/// address change and delete reach the tenant's endpoints as the same signed events, each
/// fitting its schema.
#[tokio::test]
async fn a_directorys_scim_writes_are_the_same_events() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    endpoint(
        &app,
        &admin,
        &rx,
        &[
            "user.created",
            "user.disabled",
            "user.updated",
            "user.deleted",
        ],
    )
    .await;
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation { createScimToken(input: {name: \"Entra ID\"}) { token } }",
            json!({}),
        )
        .await;
    let token = b["data"]["createScimToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let scim = |method: reqwest::Method, path: &str, body: Value| {
        app.client
            .request(method, format!("{}/t/acme/scim/v2{path}", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let r = scim(
        reqwest::Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example", "emails": [{"value": "ada@acme.example", "type": "work", "primary": true}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    for ops in [
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada.king@acme.example"}]),
    ] {
        let r = scim(reqwest::Method::PATCH, &format!("/Users/{id}"), patch(ops))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = scim(reqwest::Method::DELETE, &format!("/Users/{id}"), json!({}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let seen = rx.wait_until("four events", |s| types(s).len() >= 4).await;
    // Delivered concurrently: in any order.
    let mut kinds = types(&seen);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.deleted",
            "user.disabled",
            "user.updated"
        ]
    );
    for r in &seen {
        assert_eq!(r["verified"], true, "{r:#}");
        assert_eq!(r["schema_ok"], true, "{r:#}");
        let data = &r["body"]["data"];
        let about = data["id"].as_str().or(data["user"]["id"].as_str());
        assert_eq!(about, Some(id.as_str()), "{r:#}");
    }
    let updated = seen
        .iter()
        .find(|r| r["body"]["type"] == "user.updated")
        .unwrap();
    assert_eq!(updated["body"]["data"]["changed"], json!(["email"]));
    assert_eq!(
        updated["body"]["data"]["user"]["email"],
        "ada.king@acme.example"
    );
    drop(rx);
    app.shutdown().await;
}
