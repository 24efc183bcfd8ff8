//! `/openapi.json`, Swagger UI, ReDoc, GraphiQL and the example page: the document matches
//! what the server answers, and every page loads only same-origin, embedded assets.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::Value;

use crate::helpers::*;

async fn openapi(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
    resp.json().await.unwrap()
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_rest_api() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let ops: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("post", "/api/auth/register"),
        ("post", "/api/auth/login"),
        ("get", "/api/auth/me"),
        ("post", "/api/auth/refresh"),
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/password-reset/request"),
        ("post", "/api/auth/password-reset/confirm"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(ops, expected);

    // The login body is the seed's form, the others JSON.
    let login = &doc["paths"]["/api/auth/login"]["post"];
    assert!(login["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    let register = &doc["paths"]["/api/auth/register"]["post"];
    assert!(register["requestBody"]["content"]["application/json"].is_object());
    assert!(register["responses"]["201"].is_object());
    assert!(register["responses"]["422"].is_object());

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is defined"
        );
    }
    // Security schemes referenced by operations exist.
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            for req in op["security"].as_array().into_iter().flatten() {
                for scheme in req.as_object().unwrap().keys() {
                    assert!(
                        doc["components"]["securitySchemes"][scheme].is_object(),
                        "{scheme}"
                    );
                }
            }
        }
    }
    // Per-tenant paths are offered as a second server with a tenant variable.
    let servers = doc["servers"].as_array().unwrap();
    assert_eq!(servers[0]["url"], "/");
    assert_eq!(servers[1]["url"], "/t/{tenant}");
    assert_eq!(servers[1]["variables"]["tenant"]["default"], "default");
    app.shutdown().await;
}

#[tokio::test]
async fn every_documented_operation_answers_a_documented_status() {
    // An empty, unauthenticated request to each operation must get one of the statuses its
    // entry documents, under both servers: the document cannot drift from the routes.
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    for prefix in ["", "/t/default"] {
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let url = format!("{}{prefix}{path}", app.base);
                let req = match method.as_str() {
                    "get" => app.client.get(&url),
                    "post" => app.client.post(&url),
                    other => panic!("undocumented method {other}"),
                };
                let status = req.send().await.unwrap().status();
                let documented = op["responses"].as_object().unwrap();
                assert!(
                    documented.contains_key(status.as_str()),
                    "{method} {prefix}{path} answered {status}, documents {:?}",
                    documented.keys().collect::<Vec<_>>()
                );
            }
        }
    }
    app.shutdown().await;
}

/// Fetches an HTML page, checks its CSP, and fetches every `src`/`href` it names: each must be
/// a path on this server (no scheme, no `//host`) that answers 200 with a JS or CSS type.
async fn check_page(app: &TestApp, path: &str) -> String {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let csp = resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';"),
        "no inline scripts: {csp}"
    );
    let html = resp.text().await.unwrap();
    let mut found = 0;
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            if url.starts_with("data:") {
                continue;
            }
            assert!(
                url.starts_with('/') && !url.starts_with("//"),
                "{path} loads {url}"
            );
            let asset = app
                .client
                .get(format!("{}{url}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), StatusCode::OK, "{url}");
            let ct = asset.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
            assert!(
                ct.starts_with("text/javascript") || ct.starts_with("text/css"),
                "{url}: {ct}"
            );
            assert!(
                asset.bytes().await.unwrap().len() > 100,
                "{url} has content"
            );
            found += 1;
        }
    }
    assert!(found > 0, "{path} loads its assets");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{path} names no other host"
    );
    html
}

#[tokio::test]
async fn swagger_ui_and_redoc_are_served_from_embedded_assets() {
    let app = TestApp::spawn().await;
    let docs = check_page(&app, "/docs").await;
    assert!(docs.contains("/assets/docs/swagger-ui-bundle.js"));
    let redoc = check_page(&app, "/redoc").await;
    assert!(redoc.contains("spec-url=\"/openapi.json\""));
    // Unknown assets are a plain 404, never a directory walk.
    for bad in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
    ] {
        let r = app
            .client
            .get(format!("{}{bad}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn graphiql_is_served_offline_with_a_walkthrough_query() {
    let app = TestApp::spawn().await;
    for (path, endpoint) in [
        ("/graphql", "/graphql"),
        ("/t/default/graphql", "/t/default/graphql"),
    ] {
        let html = check_page(&app, path).await;
        assert!(
            html.contains(&format!("data-endpoint=\"{endpoint}\"")),
            "{html}"
        );
        assert!(html.contains("/assets/graphiql/graphiql.js"));
        for op in [
            "mutation Register",
            "mutation Login",
            "query Me",
            "Authorization",
        ] {
            assert!(html.contains(op), "default query shows {op}");
        }
    }
    // The platform API's page is the same offline GraphiQL, opening with a platform query.
    let html = check_page(&app, "/admin/graphql").await;
    assert!(html.contains("data-endpoint=\"/admin/graphql\""));
    assert!(html.contains("query Tenants") && !html.contains("mutation Register"));
    // An unknown tenant gets no page.
    let r = app
        .client
        .get(format!("{}/t/nobody-here/graphql", app.base))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Without text/html, GET stays a GraphQL request.
    let r = app
        .client
        .get(format!("{}/graphql?query=%7B__typename%7D", app.base))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["__typename"],
        "Query"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_login_example_is_served_only_when_enabled() {
    let app = TestApp::spawn().await;
    let off = app
        .client
        .get(format!("{}/examples/login.html", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), StatusCode::NOT_FOUND);
    app.shutdown().await;

    let app = TestApp::spawn_with(&[("SERVE_EXAMPLES", "true")]).await;
    let on = app
        .client
        .get(format!("{}/examples/login.html", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on.status(), StatusCode::OK);
    let html = on.text().await.unwrap();
    assert!(html.contains("/api/auth/login") && html.contains("/api/auth/me"));
    app.shutdown().await;
}
