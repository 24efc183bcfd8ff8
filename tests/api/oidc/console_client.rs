//! The console's built-in client (`latchkey-console`): every tenant has it without a row,
//! first-party (no consent), public with PKCE, bound to `{PUBLIC_URL}/t/{tenant}/console`;
//! no admin can edit or delete it. And the console pages that use it.

use serde_json::json;

use super::*;

const CONSOLE: &str = "http://latchkey.test/t/acme/console";

fn console_authorize(s: &Setup, redirect: &str) -> String {
    let mut u = url::Url::parse(&format!("{}/t/acme/authorize", s.app.base)).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", "latchkey-console")
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", "console-state")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

#[tokio::test]
async fn the_console_signs_in_as_the_built_in_first_party_client() {
    let s = setup().await;
    let mut browser = Browser::new(&s.app);
    let a = browser.get(&console_authorize(&s, CONSOLE)).await;
    assert_eq!(a.status, 303, "to the sign-in page: {}", a.body);
    let login = browser.get(a.location.as_deref().unwrap()).await;
    assert!(
        login.body.contains("Sign in to Tenant acme"),
        "{}",
        login.body
    );
    let done = browser
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    // First-party: straight back with the code, no consent page.
    let back = done.location.unwrap();
    assert!(back.starts_with(&format!("{CONSOLE}?")), "{back}");
    let q = query_of(&back);
    assert_eq!(q["state"], "console-state");
    let exchange = |code: String, verifier: &'static str| {
        let s = &s;
        async move {
            s.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CONSOLE),
                    ("client_id", "latchkey-console"),
                    ("code_verifier", verifier),
                ],
                None,
            )
            .await
        }
    };
    let (status, t) = exchange(q["code"].clone(), VERIFIER).await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap();
    assert!(
        t["refresh_token"].is_string(),
        "silent refresh needs one: {t}"
    );
    // The admin API answers the console's token.
    let keys = s
        .app
        .gql_tenant(
            "acme",
            Some(access),
            "{ signingKeys { kid status } }",
            json!({}),
        )
        .await;
    assert!(keys["errors"].is_null(), "{keys}");
    // The refresh grant for the public client (no secret).
    let (status, r) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ("client_id", "latchkey-console"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    s.app.shutdown().await;
}

#[tokio::test]
async fn the_console_client_returns_nowhere_else_and_cannot_be_edited() {
    let s = setup().await;
    let mut browser = Browser::new(&s.app);
    for redirect in [
        "https://evil.example/t/acme/console",
        "http://latchkey.test/t/other/console",
        "http://latchkey.test/t/acme/console/",
    ] {
        let a = browser.get(&console_authorize(&s, redirect)).await;
        assert_eq!(a.status, 400, "{redirect}: shown, not redirected");
        assert!(a.location.is_none());
        assert!(a.body.contains("redirect_uri mismatch"), "{}", a.body);
    }
    // PKCE is required of it like of any public client.
    let no_pkce = console_authorize(&s, CONSOLE)
        .replace("&code_challenge_method=S256", "")
        .split("&code_challenge=")
        .next()
        .unwrap()
        .to_string();
    let a = browser.get(&no_pkce).await;
    assert_eq!(a.status, 303);
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    // It is no row: the admin API neither lists, edits nor deletes it.
    let admin = Some(s.admin.as_str());
    let got = s
        .app
        .gql_tenant(
            "acme",
            admin,
            r#"{ client(id: "latchkey-console") { id } clients { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(got["data"]["client"], json!(null), "{got}");
    assert_eq!(got["data"]["clients"]["totalCount"], 0, "{got}");
    let edit = s
        .app
        .gql_tenant(
            "acme",
            admin,
            r#"mutation { updateClient(id: "latchkey-console", input: {redirectUris: ["https://evil.example/"]}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        (
            code(&edit).as_deref(),
            crate::helpers::field(&edit).as_deref()
        ),
        (Some("BAD_USER_INPUT"), Some("id")),
        "no such client: {edit}"
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn the_console_pages_load_only_their_own_bundle() {
    let s = setup().await;
    let get = |path: &'static str| {
        let app = &s.app;
        async move {
            app.client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap()
        }
    };
    let tenant = get("/t/acme/console").await;
    assert_eq!(tenant.status(), 200);
    let csp = tenant.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let html = tenant.text().await.unwrap();
    assert!(html.contains(r#"data-console="tenant""#), "{html}");
    assert!(
        html.contains(r#"data-client-id="latchkey-console""#),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"data-redirect-uri="{CONSOLE}""#)),
        "{html}"
    );
    assert!(html.contains(r#"<script src="/assets/console/console.js"></script>"#));
    assert!(!html.contains("<script>"), "no inline script");
    let platform = get("/console").await;
    assert_eq!(platform.status(), 200);
    assert!(
        platform
            .text()
            .await
            .unwrap()
            .contains(r#"data-console="platform""#)
    );
    let missing = get("/t/nope/console").await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("There is no such tenant here.")
    );
    let js = get("/assets/console/console.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = js.text().await.unwrap();
    // Nothing in the bundle points off this origin (no CDN, no font service, no telemetry).
    for off in ["https://", "http://"] {
        let hits: Vec<&str> = body
            .match_indices(off)
            .map(|(i, _)| &body[i..(i + 60).min(body.len())])
            .collect();
        assert!(
            hits.iter().all(|h| h.starts_with("http://www.w3.org/")
                || h.starts_with("https://github.com/preactjs")),
            "{hits:?}"
        );
    }
    s.app.shutdown().await;
}
