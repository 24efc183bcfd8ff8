//! Delivery faults: a failing endpoint retried on the schedule with the same `webhook-id`, a
//! 410 disabling the endpoint, a receiver down then up, an endpoint failing for five days,
//! a redelivery.

use super::*;

async fn make_user(app: &TestApp, n: u32) {
    app.register_at(
        "acme",
        &format!("user{n}@acme.example"),
        &format!("user{n}"),
        PASSWORD,
    )
    .await;
}

#[tokio::test]
async fn a_failed_attempt_is_retried_on_the_schedule_with_the_same_webhook_id() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    rx.control(json!({"plan": [500, 503]})).await;
    make_user(&app, 1).await;
    rx.wait_until("the first attempt", |s| !s.is_empty()).await;
    let log = wait_log(&app, &admin, &hook, "the failure recorded", |l| {
        l["edges"][0]["node"]["attempts"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    let d = &log["edges"][0]["node"];
    assert_eq!(d["status"], "PENDING");
    assert_eq!(d["attempts"][0]["httpStatus"], 500);
    assert_eq!(d["attempts"][0]["responseExcerpt"], "ok");
    // The 2nd attempt is due 5 s later, the 3rd 5 min after that: the server's clock moves.
    app.clock.advance(Duration::from_secs(5));
    rx.wait_until("the second attempt", |s| s.len() >= 2).await;
    // Its failure recorded (and the next attempt scheduled from the clock as it is) before
    // the clock moves again: moved earlier, the schedule would start from the moved clock.
    wait_log(&app, &admin, &hook, "the second failure recorded", |l| {
        l["edges"][0]["node"]["attempts"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;
    app.clock.advance(Duration::from_secs(5 * 60));
    let seen = rx.wait_until("the third attempt", |s| s.len() >= 3).await;
    let ids: Vec<&Value> = seen.iter().map(|r| &r["headers"]["webhook-id"]).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one message, three attempts: {ids:?}"
    );
    let log = wait_log(&app, &admin, &hook, "succeeded", |l| {
        l["edges"][0]["node"]["status"] == "SUCCEEDED"
    })
    .await;
    let statuses: Vec<&Value> = log["edges"][0]["node"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["httpStatus"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)]);
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn a_410_gone_disables_the_endpoint_and_the_tenant_admins_are_mailed_once() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_platform(&[
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        ("SMTP_URL", &sink.url()),
    ])
    .await;
    let admin = app.create_tenant_with_admin("acme").await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    // Two events that both meet the 410: only the write that turns the endpoint off mails.
    rx.control(json!({"plan": [410, 410]})).await;
    make_user(&app, 1).await;
    make_user(&app, 3).await;
    wait_log(&app, &admin, &hook, "failed", |l| {
        l["edges"][0]["node"]["status"] == "FAILED"
    })
    .await;
    let w = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($id: ID!) { webhook(id: $id) { enabled disabledReason } }",
            json!({"id": hook}),
        )
        .await;
    assert_eq!(w["data"]["webhook"]["enabled"], false, "{w}");
    assert!(
        w["data"]["webhook"]["disabledReason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{w}"
    );
    // The tenant's admin is told, with the endpoint and the reason.
    let mail = sink
        .wait_for("admin@acme.example", "webhook endpoint was disabled")
        .await;
    assert!(mail.text.contains(&rx.url("/hook")), "{}", mail.text);
    assert!(mail.text.contains("410 Gone"), "{}", mail.text);
    // A disabled endpoint gets no new events.
    make_user(&app, 2).await;
    let log = wait_log(&app, &admin, &hook, "both ended", |l| {
        l["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["status"] == "FAILED")
    })
    .await;
    assert_eq!(log["totalCount"], 2, "{log:#}");
    // Once: the second delivery found the endpoint off (or met the 410 after the first
    // disabled it) and queued no mail of its own.
    let notices: Vec<_> = sink
        .mails()
        .into_iter()
        .filter(|m| m.subject.contains("webhook endpoint was disabled"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_the_delivery_and_one_failing_for_days_is_disabled() {
    let (app, admin) = setup().await;
    // Nothing listens at this port yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            CREATE,
            json!({"i": {"url": format!("http://127.0.0.1:{port}/hook"), "events": ["user.created"]}}),
        )
        .await;
    let hook = b["data"]["createWebhook"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    make_user(&app, 1).await;
    let log = wait_log(&app, &admin, &hook, "a refused connection", |l| {
        l["edges"][0]["node"]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let attempt = &log["edges"][0]["node"]["attempts"][0];
    assert_eq!(attempt["httpStatus"], Value::Null);
    assert!(
        attempt["error"].as_str().unwrap().contains("unreachable"),
        "{attempt}"
    );
    let w = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($id: ID!) { webhook(id: $id) { failingSince enabled } }",
            json!({"id": hook}),
        )
        .await;
    assert!(w["data"]["webhook"]["failingSince"].is_string(), "{w}");
    // Five days of failures later the next failed attempt disables it.
    app.clock.advance(Duration::from_secs(5 * 24 * 3600 + 60));
    let w = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        // (The admin's access token expired meanwhile.)
        let admin = app.login_at("acme", "admin", PASSWORD).await["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        loop {
            let w = app
                .gql_tenant(
                    "acme",
                    Some(&admin),
                    "query($id: ID!) { webhook(id: $id) { enabled disabledReason } }",
                    json!({"id": hook}),
                )
                .await;
            if w["data"]["webhook"]["enabled"] == false {
                break w;
            }
            assert!(tokio::time::Instant::now() < deadline, "{w}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(
        w["data"]["webhook"]["disabledReason"]
            .as_str()
            .unwrap()
            .contains("5 days"),
        "{w}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_delivery_can_be_sent_again_as_the_same_message() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    make_user(&app, 1).await;
    let log = wait_log(&app, &admin, &hook, "succeeded", |l| {
        l["edges"][0]["node"]["status"] == "SUCCEEDED"
    })
    .await;
    let first = log["edges"][0]["node"].clone();
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { id messageId eventType } }",
            json!({"d": first["id"]}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    assert_eq!(
        b["data"]["redeliverWebhook"]["messageId"],
        first["messageId"]
    );
    assert_ne!(b["data"]["redeliverWebhook"]["id"], first["id"]);
    let seen = rx.wait_until("twice", |s| s.len() >= 2).await;
    assert_eq!(
        seen[0]["headers"]["webhook-id"],
        seen[1]["headers"]["webhook-id"]
    );
    assert_eq!(
        seen[0]["body"], seen[1]["body"],
        "the same message, byte for byte"
    );
    assert!(seen.iter().all(|r| r["verified"] == true));
    let unknown = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation { redeliverWebhook(deliveryId: \"nope\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(field(&unknown).as_deref(), Some("deliveryId"), "{unknown}");
    drop(rx);
    app.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_hangs_is_cut_off_at_15_seconds_and_retried() {
    let (app, admin) = setup().await;
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    rx.control(json!({"hang_seconds": 20})).await;
    make_user(&app, 1).await;
    // The attempt is recorded when latchkey gives up waiting, not when the receiver answers.
    let log = wait_log(&app, &admin, &hook, "the timed-out attempt", |l| {
        l["edges"][0]["node"]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let attempt = &log["edges"][0]["node"]["attempts"][0];
    assert_eq!(attempt["httpStatus"], Value::Null, "{attempt}");
    let ms = attempt["durationMs"].as_i64().unwrap();
    assert!((14_000..20_000).contains(&ms), "cut off at 15 s: {attempt}");
    assert_eq!(log["edges"][0]["node"]["status"], "PENDING");
    app.clock.advance(Duration::from_secs(5));
    let log = wait_log(&app, &admin, &hook, "the retry", |l| {
        l["edges"][0]["node"]["status"] == "SUCCEEDED"
    })
    .await;
    assert_eq!(log["edges"][0]["node"]["attempts"][1]["httpStatus"], 200);
    drop(rx);
    app.shutdown().await;
}

/// The at-least-once contract across a crash: deliveries pending or in flight when the server
/// is killed (-9) all go out after the restart; duplicates are bounded by what was in flight
/// (at most 4 per tenant: a sent attempt whose answer the dead process never recorded).
#[tokio::test]
async fn deliveries_pending_at_a_kill_9_all_go_out_after_the_restart() {
    use crate::child_server::ChildServer;
    const N: usize = 20;
    let work = tempfile::tempdir().unwrap();
    let url = format!("rocksdb://{}", work.path().join("db").display());
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        ("RATE_LIMIT_REGISTER", "1000000/60"),
    ];
    let server = ChildServer::start_in(work.path(), &vars);
    let http = reqwest::Client::new();
    let gql = |base: String, token: Option<String>, q: &'static str, v: Value| {
        let http = http.clone();
        async move {
            let mut r = http.post(base).json(&json!({"query": q, "variables": v}));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let b = gql(
        format!("{}/admin/graphql", server.base),
        Some(ADMIN_KEY.into()),
        "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
        json!({"i": {"slug": "acme", "displayName": "Acme", "admin": {"email": "admin@acme.example", "username": "admin", "password": PASSWORD}}}),
    )
    .await;
    assert!(b["errors"].is_null(), "{b}");
    let tenant = format!("{}/t/acme/graphql", server.base);
    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    let admin = gql(
        tenant.clone(),
        None,
        login,
        json!({"i": {"identifier": "admin", "password": PASSWORD}}),
    )
    .await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rx = Receiver::start();
    let b = gql(
        tenant.clone(),
        Some(admin.clone()),
        CREATE,
        json!({"i": {"url": rx.url("/hook"), "events": ["user.created"]}}),
    )
    .await;
    rx.control(json!({"secret": b["data"]["createWebhook"]["secret"], "delay_ms": 400}))
        .await;
    let register = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
    for n in 0..N {
        let b = gql(
            tenant.clone(),
            None,
            register,
            json!({"i": {"email": format!("user{n}@acme.example"), "username": format!("user{n}"), "password": PASSWORD}}),
        )
        .await;
        assert!(b["errors"].is_null(), "{b}");
    }
    // Killed while deliveries are in flight (each takes the receiver 400 ms, 4 at a time).
    rx.wait_until("some deliveries", |s| s.len() >= 6).await;
    server.signal(libc::SIGKILL);
    let mut server = server;
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "killed"
    );
    let before = rx.seen().len();
    assert!(before < N, "the kill came before every delivery: {before}");
    rx.control(json!({"delay_ms": 0})).await;
    let server = ChildServer::start_in(work.path(), &vars);
    let seen = rx
        .wait_until("every user.created after the restart", |s| {
            let mut ids: Vec<&str> = s
                .iter()
                .filter_map(|r| r["headers"]["webhook-id"].as_str())
                .collect();
            ids.sort();
            ids.dedup();
            ids.len() == N
        })
        .await;
    assert!(seen.iter().all(|r| r["verified"] == true));
    let duplicates = seen.len() - N;
    assert!(
        duplicates <= 4,
        "at most the 4 in flight at the kill arrive twice: {duplicates}"
    );
    drop(rx);
    server.stop();
}

#[tokio::test]
async fn a_tenants_hanging_endpoint_holds_four_slots_and_never_another_tenants_deliveries() {
    let (app, admin) = setup().await;
    let slow_admin = app.create_tenant_with_admin("slow").await;
    // The hanging endpoint: accepts connections and never answers; counts what it holds.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().map_while(Result::ok) {
            holder.lock().unwrap().push(c);
        }
    });
    let b = app
        .gql_tenant(
            "slow",
            Some(&slow_admin),
            CREATE,
            json!({"i": {"url": hang_url, "events": ["user.created"]}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let slow_hook = b["data"]["createWebhook"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Eight events for it: four attempts hang (a tenant's slots), four wait behind them.
    for n in 0..8 {
        app.register_at(
            "slow",
            &format!("user{n}@slow.example"),
            &format!("user{n}"),
            PASSWORD,
        )
        .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while held.lock().unwrap().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow tenant's attempts never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile another tenant's event goes out at once.
    let rx = Receiver::start();
    let (hook, _) = endpoint(&app, &admin, &rx, &["user.created"]).await;
    make_user(&app, 1).await;
    let seen = rx
        .wait_until("acme's delivery", |s| !types(s).is_empty())
        .await;
    assert_eq!(seen[0]["body"]["type"], "user.created");
    assert_eq!(seen[0]["verified"], true);
    // ... while every one of the slow tenant's attempts was still hanging (none recorded: each
    // ends only at the 15 s timeout), and no more than four of them had started.
    let log = app
        .gql_tenant(
            "slow",
            Some(&slow_admin),
            DELIVERIES,
            json!({"w": slow_hook, "s": null}),
        )
        .await;
    let edges = log["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), 8, "{log:#}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["attempts"].as_array().unwrap().is_empty()),
        "acme's delivery waited for the slow tenant's timeouts: {log:#}"
    );
    assert_eq!(held.lock().unwrap().len(), 4, "a tenant has four slots");
    let ours = deliveries(&app, &admin, &hook, None).await;
    assert_eq!(ours["totalCount"], 1, "{ours:#}");
    drop(rx);
    app.shutdown().await;
}
