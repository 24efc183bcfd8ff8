//! Browser assets embedded in the binary and served at `/assets/*`: Swagger UI, ReDoc and
//! GraphiQL work with no network beyond latchkey itself (identity servers run in closed
//! networks). `assets/docs` and `assets/graphiql` come from `scripts/vendor-assets.sh`;
//! `assets/pages` are our own page scripts.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("docs/swagger-ui-bundle.js", JS),
    asset!("docs/swagger-ui.css", CSS),
    asset!("docs/redoc.standalone.js", JS),
    asset!("graphiql/graphiql.js", JS),
    asset!("graphiql/graphiql.css", CSS),
    asset!("pages/swagger-init.js", JS),
    asset!("pages/hosted.js", JS),
    asset!("console/console.js", JS),
    asset!("console/console.css", CSS),
];

/// `GET /assets/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                // Names carry no version: an hour bounds how long a browser keeps an old
                // file after an upgrade, and still spares reloading megabytes per visit.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            a.bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"detail": "Not Found"})),
        )
            .into_response(),
    }
}

/// Content-Security-Policy of the HTML pages: everything from this origin only, so a page
/// cannot load from a CDN even by mistake. Inline styles are allowed because Swagger UI,
/// ReDoc and GraphiQL set `style` attributes; scripts are never inline. ReDoc runs its
/// search index in a `blob:` worker.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An HTML page with [`PAGE_CSP`].
pub fn page(html: String) -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        axum::response::Html(html),
    )
        .into_response()
}

/// Escapes text for an HTML attribute or element.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
