//! The HTTP front door: routes and the middleware every request passes through.

pub mod docs;
pub mod graphql;
pub mod health;
pub mod openapi;
pub mod playground;
pub mod rest;
pub mod security_headers;
pub mod wellknown;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::Services;
use crate::config::BODY_LIMIT_BYTES;
use crate::edge::assets;
use crate::graphql::TenantSchema;
use crate::graphql::platform::PlatformSchema;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
    /// The tenant schema (shared by all tenants; the tenant travels in request data).
    pub schema: TenantSchema,
    /// The platform schema.
    pub platform_schema: PlatformSchema,
}

/// Header carrying the request id, generated when the client sends none.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the router with all routes and middleware.
pub fn router(state: AppState) -> Router {
    let config = state.services.config.clone();
    let state_services = state.services.clone();
    let routes = Router::new()
        .route(
            "/graphql",
            get(graphql::get_tenant).post(graphql::post_tenant),
        )
        .route(
            "/t/{tenant}/graphql",
            get(graphql::get_tenant).post(graphql::post_tenant),
        )
        .route("/t/{tenant}/.well-known/jwks.json", get(wellknown::jwks))
        .merge(crate::oidc::routes::routes().with_state(state.services.oidc.clone()))
        .merge(crate::console::routes(state.services.infra.clone()))
        .merge(crate::scim::routes::routes().with_state(state.services.scim.clone()))
        .merge(rest::routes())
        .merge(docs::routes(
            openapi::document_json(config.default_tenant.as_str()),
            config.serve_examples,
        ))
        .route("/assets/{*path}", get(assets::serve))
        .route(
            "/admin/graphql",
            get(graphql::get_platform).post(graphql::post_platform),
        )
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .with_state(state);

    // Outermost first: request id and response headers wrap everything, so even a 413 or a
    // caught panic carries them.
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(axum::middleware::from_fn_with_state(
            config.public_url.starts_with("https://"),
            security_headers::apply,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&state_services))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES));
    routes.layer(middleware)
}

/// CORS. A tenant's own paths (`/t/{slug}/...`, and for the default tenant `/graphql` and
/// `/api/auth/...`) allow the origins of its `corsOrigins` setting (which defaults to
/// `CORS_ORIGINS`); every other path allows `CORS_ORIGINS` only. So one tenant's setting
/// never opens another tenant's API to a site.
fn cors(services: &Arc<Services>) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .max_age(Duration::from_secs(600));
    let config = &services.config;
    if config.cors_origins.iter().any(|o| o == "*") {
        // Bearer tokens, not cookies: a wildcard origin cannot ride on ambient credentials.
        return base.allow_origin(AllowOrigin::any());
    }
    let services = services.clone();
    base.allow_origin(AllowOrigin::async_predicate(
        move |origin: HeaderValue, parts: &axum::http::request::Parts| {
            let slug = tenant_of_path(parts.uri.path(), services.config.default_tenant.as_str());
            let services = services.clone();
            async move {
                let Ok(origin) = origin.to_str() else {
                    return false;
                };
                let allowed = match slug {
                    None => services.config.cors_origins.clone(),
                    Some(slug) => match services.tenant(&slug).await {
                        Ok(t) => services.settings(&t).cors_origins,
                        Err(_) => return false,
                    },
                };
                allowed.iter().any(|o| o == "*" || o == origin)
            }
        },
    ))
}

/// The tenant whose API a path belongs to, if any.
fn tenant_of_path(path: &str, default_tenant: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("/t/") {
        return rest.split('/').next().map(str::to_string);
    }
    if path == "/graphql" || path.starts_with("/api/auth/") {
        return Some(default_tenant.to_string());
    }
    None
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let body = serde_json::json!({"errors": [{"message": "internal error", "extensions": {"code": "INTERNAL"}}]});
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// Refuses a declared `Content-Length` over the limit before reading anything. Bodies without
/// one are cut off by `DefaultBodyLimit` when a handler reads them.
async fn refuse_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT_BYTES as u64) {
        return too_large();
    }
    next.run(req).await
}

/// 413 in a shape both GraphQL and REST clients read.
pub fn too_large() -> Response {
    let message = format!("request body is larger than {BODY_LIMIT_BYTES} bytes");
    let body = serde_json::json!({
        "detail": message,
        "errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}],
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"detail": "Not Found"})),
    )
        .into_response()
}
