//! Multi-tenancy: the platform API, isolation between tenants, idle eviction, the CLI.

use serde_json::{Value, json};

use crate::helpers::*;

const TENANTS: &str = "query($first: Int, $after: String) { tenants(first: $first, after: $after) { totalCount edges { cursor node { slug displayName disabled algorithm } } pageInfo { hasNextPage endCursor } } }";
const CREATE: &str =
    "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug displayName } }";

#[tokio::test]
async fn platform_api_requires_the_key_and_is_off_without_one() {
    let app = TestApp::spawn_platform(&[]).await;
    let q = "{ tenants { totalCount } }";
    let (_, anon) = app.gql_at("/admin/graphql", None, q, json!({})).await;
    assert_eq!(code(&anon).as_deref(), Some("UNAUTHENTICATED"));
    let (_, wrong) = app
        .gql_at(
            "/admin/graphql",
            Some("platform-admin-key-for-tests-0123456780"),
            q,
            json!({}),
        )
        .await;
    assert_eq!(code(&wrong).as_deref(), Some("UNAUTHENTICATED"));
    // A tenant user's access token is no platform key.
    let user = app.register("u@example.com", "someone", PASSWORD).await;
    let (_, as_user) = app
        .gql_at("/admin/graphql", user["accessToken"].as_str(), q, json!({}))
        .await;
    assert_eq!(code(&as_user).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(
        app.platform(q, json!({})).await["data"]["tenants"]["totalCount"],
        1,
        "the default tenant"
    );
    app.shutdown().await;

    let app = TestApp::spawn().await;
    let (_, off) = app
        .gql_at("/admin/graphql", Some(ADMIN_KEY), q, json!({}))
        .await;
    assert_eq!(
        code(&off).as_deref(),
        Some("FORBIDDEN"),
        "no ADMIN_API_KEY: platform API disabled"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn create_update_list_and_validate_tenants() {
    let app = TestApp::spawn_platform(&[]).await;
    let body = app
        .platform(
            CREATE,
            json!({"i": {"slug": "acme", "displayName": "Acme Corp"}}),
        )
        .await;
    assert_eq!(
        body["data"]["createTenant"]["displayName"], "Acme Corp",
        "{body}"
    );
    let dup = app
        .platform(
            CREATE,
            json!({"i": {"slug": "acme", "displayName": "Again"}}),
        )
        .await;
    assert_eq!(code(&dup).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(field(&dup).as_deref(), Some("slug"));
    for bad in ["A", "-x", "has space", "UPPER", &"a".repeat(64), "x"] {
        let b = app
            .platform(CREATE, json!({"i": {"slug": bad, "displayName": "x"}}))
            .await;
        assert_eq!(field(&b).as_deref(), Some("slug"), "{bad}: {b}");
    }
    let b = app
        .platform(CREATE, json!({"i": {"slug": "okslug", "displayName": ""}}))
        .await;
    assert_eq!(field(&b).as_deref(), Some("displayName"));
    // A first admin with a bad password leaves no half-made tenant behind.
    let b = app.platform(CREATE, json!({"i": {"slug": "halfmade", "displayName": "H", "admin": {"email": "a@h.example", "username": "admin", "password": "short"}}})).await;
    assert_eq!(field(&b).as_deref(), Some("password"), "{b}");
    assert!(
        app.platform("{ tenant(slug: \"halfmade\") { slug } }", json!({}))
            .await["data"]["tenant"]
            .is_null()
    );

    let upd = app.platform("mutation { updateTenant(slug: \"acme\", input: {displayName: \"ACME\"}) { displayName } }", json!({})).await;
    assert_eq!(upd["data"]["updateTenant"]["displayName"], "ACME");
    let one = app
        .platform(
            "{ tenant(slug: \"acme\") { slug displayName algorithm } }",
            json!({}),
        )
        .await;
    assert_eq!(
        one["data"]["tenant"],
        json!({"slug": "acme", "displayName": "ACME", "algorithm": "EdDSA"})
    );
    assert!(
        app.platform("{ tenant(slug: \"nope\") { slug } }", json!({}))
            .await["data"]["tenant"]
            .is_null()
    );

    // Pagination over tenants.
    for i in 0..5 {
        app.platform(
            CREATE,
            json!({"i": {"slug": format!("page-{i}"), "displayName": "p"}}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let b = app
            .platform(TENANTS, json!({"first": 3, "after": after}))
            .await;
        let t = &b["data"]["tenants"];
        assert_eq!(t["totalCount"], 7, "{b}");
        seen.extend(
            t["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["slug"].as_str().unwrap().to_string()),
        );
        if !t["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = t["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(
        seen,
        [
            "acme", "default", "page-0", "page-1", "page-2", "page-3", "page-4"
        ]
    );
    let huge = app.platform(TENANTS, json!({"first": 100000})).await;
    assert_eq!(field(&huge).as_deref(), Some("first"));
    let bad_cursor = app
        .platform(TENANTS, json!({"first": 2, "after": "not-a-cursor!"}))
        .await;
    assert_eq!(field(&bad_cursor).as_deref(), Some("after"));
    app.shutdown().await;
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin_a = app.create_tenant_with_admin("alpha").await;
    let admin_b = app.create_tenant_with_admin("beta").await;
    // The same email registers independently in both.
    let a = app
        .register_at("alpha", "same@example.com", "same", PASSWORD)
        .await;
    let b = app
        .register_at("beta", "same@example.com", "same", "another long password")
        .await;
    assert_ne!(a["user"]["id"], b["user"]["id"]);
    // Credentials of A fail at B.
    assert_eq!(
        code(&app.login_at("beta", "same", PASSWORD).await).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    // A's access token is nothing at B (other key, iss and tenant) nor at the default tenant.
    let token_a = a["accessToken"].as_str().unwrap();
    assert_eq!(
        code(&app.gql_tenant("beta", Some(token_a), ME, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(
            &app.gql_tenant("default", Some(token_a), ME, json!({}))
                .await
        )
        .as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        app.gql_tenant("alpha", Some(token_a), ME, json!({})).await["data"]["me"]["email"],
        "same@example.com"
    );
    // A's refresh token does not refresh at B.
    let r = app
        .gql_tenant("beta", None, REFRESH, json!({"t": a["refreshToken"]}))
        .await;
    assert_eq!(code(&r).as_deref(), Some("INVALID_TOKEN"));
    // An admin of A has no power in B.
    let users = "{ users { totalCount edges { node { email } } } }";
    assert_eq!(
        code(
            &app.gql_tenant("beta", Some(&admin_a), users, json!({}))
                .await
        )
        .as_deref(),
        Some("UNAUTHENTICATED")
    );
    let in_b = app
        .gql_tenant("beta", Some(&admin_b), users, json!({}))
        .await;
    assert_eq!(in_b["data"]["users"]["totalCount"], 2, "{in_b}");
    // Each tenant publishes its own keys.
    let jwks = |slug: &'static str| {
        let c = app.client.clone();
        let base = app.base.clone();
        async move {
            c.get(format!("{base}/t/{slug}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_ne!(
        jwks("alpha").await["keys"][0]["kid"],
        jwks("beta").await["keys"][0]["kid"]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn disabling_and_deleting_a_tenant_stops_its_tokens_at_once() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("doomed").await;
    assert!(app.gql_tenant("doomed", Some(&admin), ME, json!({})).await["errors"].is_null());
    let off = app
        .platform(
            "mutation { updateTenant(slug: \"doomed\", input: {disabled: true}) { disabled } }",
            json!({}),
        )
        .await;
    assert_eq!(off["data"]["updateTenant"]["disabled"], true, "{off}");
    assert_eq!(
        code(&app.gql_tenant("doomed", Some(&admin), ME, json!({})).await).as_deref(),
        Some("TENANT_NOT_FOUND")
    );
    app.platform(
        "mutation { updateTenant(slug: \"doomed\", input: {disabled: false}) { disabled } }",
        json!({}),
    )
    .await;
    assert!(app.gql_tenant("doomed", Some(&admin), ME, json!({})).await["errors"].is_null());

    let del = app
        .platform("mutation { deleteTenant(slug: \"doomed\") }", json!({}))
        .await;
    assert_eq!(del["data"]["deleteTenant"], true, "{del}");
    assert_eq!(
        code(&app.gql_tenant("doomed", Some(&admin), ME, json!({})).await).as_deref(),
        Some("TENANT_NOT_FOUND")
    );
    assert_eq!(
        app.client
            .get(format!("{}/t/doomed/.well-known/jwks.json", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The slug can be used again, with nothing left of the old tenant.
    let admin2 = app.create_tenant_with_admin("doomed").await;
    let users = app
        .gql_tenant(
            "doomed",
            Some(&admin2),
            "{ users { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(users["data"]["users"]["totalCount"], 1, "{users}");
    assert_eq!(
        code(&app.gql_tenant("doomed", Some(&admin), ME, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    // The default tenant cannot be deleted.
    let d = app
        .platform("mutation { deleteTenant(slug: \"default\") }", json!({}))
        .await;
    assert_eq!(code(&d).as_deref(), Some("BAD_USER_INPUT"));
    app.shutdown().await;
}

#[tokio::test]
async fn two_hundred_tenants_then_idle_eviction_and_transparent_restart() {
    let app = TestApp::spawn_platform(&[("TENANT_IDLE_SECONDS", "600")]).await;
    for i in 0..200 {
        let slug = format!("t{i:03}");
        let b = app
            .platform(CREATE, json!({"i": {"slug": slug, "displayName": slug}}))
            .await;
        assert!(b["errors"].is_null(), "{b}");
        app.register_at(&slug, &format!("user@{slug}.example"), "user", PASSWORD)
            .await;
    }
    assert!(app.metric("latchkey_tenant_actors").await >= 200.0);
    // Nobody uses them for longer than the idle period: the sweep stops their actors.
    app.clock.advance(std::time::Duration::from_secs(601));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.metric("latchkey_tenant_actors").await > 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "idle tenant actors were not stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A later request restarts one transparently, with its data intact.
    let body = app.login_at("t123", "user", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(app.metric("latchkey_tenant_actors").await, 1.0);
    app.shutdown().await;
}

#[tokio::test]
async fn cli_creates_and_lists_tenants_before_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("rocksdb://{}", dir.path().join("db").display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("DATABASE_URL", &db)
            .env("SECRET_KEY", SECRET)
            .env("LATCHKEY_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let out = run(&[
        "tenant",
        "create",
        "cli-made",
        "--display-name",
        "From the CLI",
        "--admin-email",
        "root@cli.example",
        "--admin-username",
        "root",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["tenant", "create", "Bad Slug"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BAD_USER_INPUT"));
    let out = run(&["tenant", "list"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("cli-made\tFrom the CLI"), "{listing}");
    assert!(listing.contains("default"), "{listing}");

    // Then the server serves it, and its admin can log in.
    let app = TestApp::spawn_with(&[("DATABASE_URL", &db)]).await;
    let body = app.login_at("cli-made", "root", PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["login"]["user"]["roles"], json!(["admin"]));
    assert_eq!(body["data"]["login"]["user"]["emailVerified"], true);
    app.shutdown().await;
}

/// Deleting a tenant while requests to it are in flight, five rounds: no answer is ever
/// INTERNAL, afterwards everything answers TENANT_NOT_FOUND and the JWKS is 404, and a
/// re-created slug is a fresh tenant whose registration works.
#[tokio::test]
async fn deleting_a_tenant_under_load_leaves_no_zombie() {
    let app =
        std::sync::Arc::new(TestApp::spawn_platform(&[("RATE_LIMIT_REGISTER", "100000/60")]).await);
    for round in 0..5 {
        let admin = app.create_tenant_with_admin("acme3").await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load: Vec<_> = (0..6)
            .map(|w| {
                let (app, stop, admin) = (app.clone(), stop.clone(), admin.clone());
                tokio::spawn(async move {
                    let mut codes = Vec::new();
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        let name = format!("r{round}w{w}n{n}");
                        let vars = json!({"input": {"email": format!("{name}@acme.example"), "username": name, "password": PASSWORD}});
                        let b = app.gql_tenant("acme3", None, REGISTER, vars).await;
                        codes.push(code(&b));
                        let b = app.gql_tenant("acme3", Some(&admin), ME, json!({})).await;
                        codes.push(code(&b));
                        let jwks = app
                            .client
                            .get(format!("{}/t/acme3/.well-known/jwks.json", app.base))
                            .send()
                            .await
                            .unwrap();
                        assert!(
                            jwks.status() == 200 || jwks.status() == 404,
                            "JWKS answered {}",
                            jwks.status()
                        );
                    }
                    codes
                })
            })
            .collect();
        // Let the load reach the tenant, then delete it under the load.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while app
            .gql_tenant("acme3", Some(&admin), "{ users { totalCount } }", json!({}))
            .await["data"]["users"]["totalCount"]
            .as_i64()
            .unwrap_or(0)
            < 3
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the load registers users"
            );
        }
        let del = app
            .platform("mutation { deleteTenant(slug: \"acme3\") }", json!({}))
            .await;
        assert_eq!(del["data"]["deleteTenant"], true, "{del}");
        // After the delete answered: not found everywhere, at once.
        assert_eq!(
            code(&app.gql_tenant("acme3", Some(&admin), ME, json!({})).await).as_deref(),
            Some("TENANT_NOT_FOUND")
        );
        let jwks = app
            .client
            .get(format!("{}/t/acme3/.well-known/jwks.json", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), 404);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for h in load {
            for c in h.await.unwrap() {
                assert!(
                    matches!(
                        c.as_deref(),
                        None | Some("TENANT_NOT_FOUND") | Some("UNAUTHENTICATED")
                    ),
                    "round {round}: an answer during the deletion was {c:?}"
                );
            }
        }
        // Still gone once the load has drained.
        let b = app
            .gql_tenant(
                "acme3",
                None,
                REGISTER,
                json!({"input": {"email": "late@acme.example", "username": "late", "password": PASSWORD}}),
            )
            .await;
        assert_eq!(code(&b).as_deref(), Some("TENANT_NOT_FOUND"), "{b}");
    }
    // The slug again: a fresh tenant, its registration works, nothing of the old one left.
    let admin = app.create_tenant_with_admin("acme3").await;
    let b = app
        .gql_tenant(
            "acme3",
            None,
            REGISTER,
            json!({"input": {"email": "fresh@acme.example", "username": "fresh", "password": PASSWORD}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let users = app
        .gql_tenant("acme3", Some(&admin), "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(
        users["data"]["users"]["totalCount"], 2,
        "admin and fresh only: {users}"
    );
    std::sync::Arc::try_unwrap(app)
        .ok()
        .unwrap()
        .shutdown()
        .await;
}

/// Server settings for the hashing-fairness tests: one hashing thread, so the order in which
/// hashes run is the order the queue hands them out, and no per-address limits (every request
/// comes from 127.0.0.1).
const ONE_HASHING_THREAD: &[(&str, &str)] = &[
    ("HASH_CONCURRENCY", "1"),
    ("RATE_LIMIT_LOGIN", "1000000/60"),
    ("LOGIN_FAILURES_PER_ADDRESS", "1000000/60"),
];

/// A server with one hashing thread, a tenant's share of the hash queue `share`, and two
/// tenants with an admin each: `flooded` and `quiet`.
async fn flooded_and_quiet(share: &str) -> std::sync::Arc<TestApp> {
    let mut vars = vec![("HASH_QUEUE_PER_TENANT", share)];
    vars.extend_from_slice(ONE_HASHING_THREAD);
    let app = TestApp::spawn_platform(&vars).await;
    app.create_tenant_with_admin("flooded").await;
    app.create_tenant_with_admin("quiet").await;
    std::sync::Arc::new(app)
}

/// Polls the hash queue gauge until at least `n` hashes wait (10 s at most).
async fn until_hashes_wait(app: &TestApp, n: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.metric("latchkey_hash_queue").await < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} hashes never waited at once"
        );
        tokio::task::yield_now().await;
    }
}

/// A tenant flooded with logins does not make another tenant's login wait behind its queue:
/// the hashing threads take one waiting hash of each tenant in turn. With one hashing thread
/// and 20 or more hashes of the flooded tenant waiting, the quiet tenant's login is answered
/// after a few of them, not after all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooded_tenant_does_not_queue_another_tenants_login_behind_its_own() {
    let app = flooded_and_quiet("1000").await;

    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Unknown usernames: each is its own account for the lockout, so all 30 are admitted
    // and hash (against the dummy hash, exactly as long as a real one).
    let flood: Vec<_> = (0..30)
        .map(|i| {
            let (app, done) = (app.clone(), done.clone());
            tokio::spawn(async move {
                let body = app
                    .login_at("flooded", &format!("nobody{i}"), PASSWORD)
                    .await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                body
            })
        })
        .collect();
    until_hashes_wait(&app, 20.0).await;
    let before = done.load(std::sync::atomic::Ordering::SeqCst);
    let quiet = app.login_at("quiet", "admin", PASSWORD).await;
    let flood_answered = done.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(quiet["data"]["login"]["accessToken"].is_string(), "{quiet}");
    // Answered meanwhile: the hash running when the quiet one was queued, the flooded one
    // whose turn comes first, and at most two more finishing while the quiet answer travels
    // back (a first-come queue would have answered the 20 and more waiting before it).
    assert!(
        flood_answered <= 4,
        "the quiet tenant's login waited for {flood_answered} hashes of the flooded one"
    );
    for h in flood {
        let body = h.await.unwrap();
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_CREDENTIALS"),
            "{body}"
        );
    }
    println!(
        "hash fairness: quiet tenant's login answered after {flood_answered} of the flooded tenant's 20+ waiting hashes"
    );
}

/// A tenant gets at most HASH_QUEUE_PER_TENANT hashes waiting: beyond that its logins are
/// told to come back (RATE_LIMITED with retryAfter), and another tenant still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenants_share_of_the_hash_queue_is_bounded() {
    let app = flooded_and_quiet("4").await;

    let flood: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.login_at("flooded", &format!("nobody{i}"), PASSWORD)
                    .await
            })
        })
        .collect();
    until_hashes_wait(&app, 4.0).await;
    let quiet = app.login_at("quiet", "admin", PASSWORD).await;
    assert!(
        quiet["data"]["login"]["accessToken"].is_string(),
        "another tenant is not refused: {quiet}"
    );
    let (mut verified, mut limited) = (0, 0);
    for h in flood {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            Some("INVALID_CREDENTIALS") => verified += 1,
            Some("RATE_LIMITED") => {
                let retry = &body["errors"][0]["extensions"]["retryAfter"];
                assert!(retry.as_u64().is_some_and(|s| s >= 1), "{body}");
                limited += 1;
            }
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert!(
        limited >= 1,
        "20 at once over a share of 4: some are refused"
    );
    assert!(verified >= 4, "the share itself is served: {verified}");
    println!(
        "hash queue share: 20 logins at once, share 4: {verified} verified, {limited} RATE_LIMITED"
    );
}
