//! `/openapi.json` and its two viewers: Swagger UI at `/docs`, ReDoc at `/redoc`, both from
//! embedded assets. Also the client example at `/examples/login.html` when `SERVE_EXAMPLES`.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::assets::page;

/// Policy of the example page: same origin only, inline script and style allowed.
const EXAMPLE_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'";

/// The plain `fetch` login example (examples/login.html).
const LOGIN_EXAMPLE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/login.html"));

/// The passkey and authenticator-app example (examples/mfa.html with its script, no inline
/// code: it runs under the strict page policy).
const MFA_EXAMPLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mfa.html"));
const MFA_EXAMPLE_JS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mfa.js"));

/// An HTML page in the shape all the documentation pages share (viewport, and an empty icon
/// so browsers do not ask for `/favicon.ico`), around its own title, head and body lines.
pub(super) fn html_page(title: &str, head: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
{head}
</head>
<body>
{body}
</body>
</html>
"#
    )
}

/// Swagger UI; its start-up script is a file of its own, as the page policy allows no inline
/// script.
fn swagger_page() -> String {
    html_page(
        "latchkey REST API · Swagger UI",
        r#"<link rel="stylesheet" href="/assets/docs/swagger-ui.css">"#,
        r#"<div id="swagger-ui"></div>
<script src="/assets/docs/swagger-ui-bundle.js"></script>
<script src="/assets/pages/swagger-init.js"></script>"#,
    )
}

/// ReDoc, reading the document from `/openapi.json`.
fn redoc_page() -> String {
    html_page(
        "latchkey REST API · ReDoc",
        "<style>body { margin: 0; padding: 0; }</style>",
        r#"<redoc spec-url="/openapi.json"></redoc>
<script src="/assets/docs/redoc.standalone.js"></script>"#,
    )
}

/// The documentation routes; `openapi` is the generated document, built once at start-up.
pub fn routes(openapi: String, serve_examples: bool) -> Router<AppState> {
    let openapi: Arc<str> = openapi.into();
    let r = Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { json(doc) }
            }),
        )
        .route("/docs", get(|| async { page(swagger_page()) }))
        .route("/redoc", get(|| async { page(redoc_page()) }));
    if serve_examples {
        // The examples are off unless SERVE_EXAMPLES=true. The MFA page runs under the strict
        // page policy (its script is a file of its own); the login example does not, see
        // below.
        r.route(
            "/examples/mfa.html",
            get(|| async { page(MFA_EXAMPLE.into()) }),
        )
        .route(
            "/examples/mfa.js",
            get(|| async {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/javascript; charset=utf-8"),
                    )],
                    MFA_EXAMPLE_JS,
                )
            }),
        )
        // Not the strict page CSP: the login example is a single file with an inline script
        // and style on purpose, so it can be copied anywhere and read in one go. Its own
        // policy still keeps it to this origin.
        .route(
            "/examples/login.html",
            get(|| async {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(EXAMPLE_CSP),
                    )],
                    axum::response::Html(LOGIN_EXAMPLE),
                )
            }),
        )
    } else {
        r
    }
}

fn json(doc: Arc<str>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.to_string(),
    )
        .into_response()
}
