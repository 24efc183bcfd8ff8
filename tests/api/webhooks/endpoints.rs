//! Endpoints as a tenant admin manages them: the secret shown once, validation, the outbound
//! guard at save, rotation with both signatures, the test event, admins only.

use super::*;

#[tokio::test]
async fn an_endpoint_is_made_checked_listed_changed_and_deleted_by_admins_only() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let a = Some(admin.as_str());
    let (id, secret) = endpoint(&app, &admin, &rx, &["user.created", "user.deleted"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Listed without a secret anywhere.
    let list = app
        .gql_tenant(
            "acme",
            a,
            "{ webhooks { totalCount edges { node { id url events enabled description } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["data"]["webhooks"]["totalCount"], 1, "{list}");
    assert!(!list.to_string().contains("whsec_"));
    let node = &list["data"]["webhooks"]["edges"][0]["node"];
    assert_eq!(node["events"], json!(["user.created", "user.deleted"]));
    assert_eq!(node["url"], json!(rx.url("/hook")));
    // Validation, each on its field.
    for (input, field_name) in [
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (
            json!({"url": "ftp://example.com/x", "events": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://user:pw@example.com/x", "events": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["user.exploded"]}),
            "events",
        ),
        (
            json!({"url": "https://example.com/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["*"], "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let b = app.gql_tenant("acme", a, CREATE, json!({"i": input})).await;
        assert_eq!(field(&b).as_deref(), Some(field_name), "{input}: {b}");
    }
    // Changed, disabled, enabled.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($id: ID!) { updateWebhook(id: $id, input: {events: [\"*\"], enabled: false, description: \"all\"}) { events enabled description } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        b["data"]["updateWebhook"],
        json!({"events": ["*"], "enabled": false, "description": "all"}),
        "{b}"
    );
    // Not for a user without the admin role.
    let user = app
        .register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let token = user["accessToken"].as_str();
    for q in [
        "{ webhooks { totalCount } }",
        "mutation { sendTestWebhook(id: \"x\") { id } }",
    ] {
        let b = app.gql_tenant("acme", token, q, json!({})).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{q}: {b}");
    }
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b["data"]["deleteWebhook"], true, "{b}");
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b["data"]["deleteWebhook"], false, "{b}");
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn with_the_guard_on_loopback_in_every_spelling_is_refused_at_save_and_never_called() {
    // OUTBOUND_ALLOW_PRIVATE_NETWORKS off (the default): a local listener counts connections.
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for host in [
        "127.0.0.1".to_string(),
        "localhost".into(),
        "127.1".into(),
        "0.0.0.0".into(),
        "[::1]".into(),
        "[::ffff:127.0.0.1]".into(),
        "2130706433".into(),
    ] {
        for scheme in ["https", "http"] {
            let url = format!("{scheme}://{host}:{port}/hook");
            let b = app
                .gql_tenant(
                    "acme",
                    Some(&admin),
                    CREATE,
                    json!({"i": {"url": url, "events": ["*"]}}),
                )
                .await;
            assert_eq!(field(&b).as_deref(), Some("url"), "{url}: {b}");
        }
    }
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_the_test_event_arrives() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (id, old) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { previousSecretUntil } } }",
            json!({"id": id}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let new = b["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    assert!(b["data"]["rotateWebhookSecret"]["webhook"]["previousSecretUntil"].is_string());
    // The test event, verified with the new secret, then a real one with the old.
    rx.control(json!({"secret": new})).await;
    let t = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { sendTestWebhook(id: $id) { id eventType messageId status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        t["data"]["sendTestWebhook"]["eventType"], "webhook.test",
        "{t}"
    );
    let seen = rx.wait_until("the test event", |s| !s.is_empty()).await;
    assert_eq!(seen[0]["verified"], true, "{:#}", seen[0]);
    assert_eq!(seen[0]["schema_ok"], true, "{:#}", seen[0]);
    assert_eq!(
        seen[0]["headers"]["webhook-id"],
        t["data"]["sendTestWebhook"]["messageId"]
    );
    let sigs = seen[0]["headers"]["webhook-signature"].as_str().unwrap();
    assert_eq!(
        sigs.split(' ').count(),
        2,
        "both secrets sign during the grace period: {sigs}"
    );
    rx.control(json!({"secret": old})).await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    let seen = rx.wait_until("the event", |s| s.len() >= 2).await;
    assert_eq!(
        seen[1]["verified"], true,
        "the old secret still verifies: {:#}",
        seen[1]
    );
    // After the grace period only the new one signs.
    app.clock.advance(Duration::from_secs(25 * 3600));
    rx.control(json!({"secret": new})).await;
    // (The admin's access token expired meanwhile.)
    let admin = app.login_at("acme", "admin", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let t = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { sendTestWebhook(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(t["errors"].is_null(), "{t}");
    let seen = rx.wait_until("the third", |s| s.len() >= 3).await;
    let sigs = seen[2]["headers"]["webhook-signature"].as_str().unwrap();
    assert_eq!(sigs.split(' ').count(), 1, "{sigs}");
    drop(rx);
    app.shutdown().await;
}
