//! The admin console: one page, served at `/console` (the platform's operators) and
//! `/t/{tenant}/console` (a tenant's admins), that loads the console bundle
//! (`assets/console/`, built from `console/` by `scripts/console.sh`). The page is a client
//! of the public APIs only (the tenant GraphQL API with the token of its own sign-in, the
//! platform API with the key typed into it); nothing here serves data. It carries the page
//! policy every HTML page has (`script-src 'self'`, `connect-src 'self'`,
//! `frame-ancestors 'none'`), so the bundle can neither load nor send anything elsewhere.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::edge::assets::{escape, page};
use crate::error::ServiceError;
use crate::infra::Infra;
use crate::oidc::builtin::{CONSOLE_CLIENT_ID, console_url};

/// The routes: `/console` and `/t/{tenant}/console`.
pub fn routes<S: Clone + Send + Sync + 'static>(infra: Arc<Infra>) -> Router<S> {
    Router::new()
        .route("/console", get(platform))
        .route("/t/{tenant}/console", get(tenant))
        .with_state(infra)
}

/// The platform console: the key is typed into the page and kept in its memory.
async fn platform() -> Response {
    page(shell(r#"data-console="platform""#))
}

/// A tenant's console: it signs in through the tenant's hosted sign-in as the built-in
/// client (OIDC code flow with PKCE) and comes back here with the code.
async fn tenant(State(infra): State<Arc<Infra>>, Path(slug): Path<String>) -> Response {
    match infra.tenant(&slug).await {
        Ok(t) => {
            let name = infra.settings(&t).display_name;
            page(shell(&format!(
                r#"data-console="tenant" data-tenant="{slug}" data-tenant-name="{name}" data-client-id="{client}" data-redirect-uri="{redirect}""#,
                slug = escape(t.slug().as_str()),
                name = escape(&name),
                client = CONSOLE_CLIENT_ID,
                redirect = escape(&console_url(&infra.config.public_url, &t)),
            )))
        }
        Err(ServiceError::TenantNotFound) => (
            StatusCode::NOT_FOUND,
            page(shell_text("There is no such tenant here.")),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, tenant = %slug, "console page: tenant lookup failed");
            (
                e.status(),
                page(shell_text(
                    "The service is unavailable at the moment; try again shortly.",
                )),
            )
                .into_response()
        }
    }
}

/// The page around the bundle; `attrs` tell the bundle which console it is.
fn shell(attrs: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>latchkey console</title>
<link rel="stylesheet" href="/assets/console/console.css">
</head>
<body>
<div id="console" {attrs}><p class="loading">Loading the console…</p></div>
<noscript><p>The console needs JavaScript.</p></noscript>
<script src="/assets/console/console.js"></script>
</body>
</html>
"#
    )
}

/// A page with a message and no console.
fn shell_text(text: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>latchkey console</title>
<link rel="stylesheet" href="/assets/console/console.css"></head>
<body><main class="center"><h1>latchkey console</h1><p role="alert">{}</p></main></body>
</html>
"#,
        escape(text)
    )
}
