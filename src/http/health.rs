//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store has not failed, the database answers and the platform migrations are
/// recorded. The reason for being unready is the body, for the operator reading it.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let platform = &state.services.platform;
    if let Some(reason) = platform.health().failure() {
        let body =
            format!("store failed: {reason}; writes are refused until latchkey is restarted");
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    let check = async {
        let mut res = platform
            .query("SELECT VALUE version FROM migration")
            .await?;
        let versions: Vec<i64> = res.take(0)?;
        Ok::<bool, crate::store::StoreError>(!versions.is_empty())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), check).await {
        // A change feed gap was survived (caches dropped): ready, and the operator told.
        Ok(Ok(true)) => match state.services.registry.feed_gaps() {
            None => (StatusCode::OK, "ready").into_response(),
            Some(gaps) => (StatusCode::OK, format!("ready; {gaps}")).into_response(),
        },
        Ok(Ok(false)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "migrations not applied").into_response()
        }
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unavailable: {e}"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable: no answer in 2 s",
        )
            .into_response(),
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let running = state.services.registry.running();
    let hashing = state.services.hasher.waiting();
    let hook = &crate::infra::token_hook::METRICS;
    let (calls, failures, micros) = (
        hook.calls.load(std::sync::atomic::Ordering::Relaxed),
        hook.failures.load(std::sync::atomic::Ordering::Relaxed),
        hook.micros.load(std::sync::atomic::Ordering::Relaxed),
    );
    let body = format!(
        "# HELP latchkey_tenant_actors Tenant actors running (idle tenants are stopped).\n\
         # TYPE latchkey_tenant_actors gauge\n\
         latchkey_tenant_actors {running}\n\
         # HELP latchkey_hash_queue Password hashes waiting for a hashing thread, all tenants.\n\
         # TYPE latchkey_hash_queue gauge\n\
         latchkey_hash_queue {hashing}\n\
         # HELP latchkey_token_hook_calls_total Token hook calls, all tenants.\n\
         # TYPE latchkey_token_hook_calls_total counter\n\
         latchkey_token_hook_calls_total {calls}\n\
         # HELP latchkey_token_hook_failures_total Token hook calls that failed (timeout, error, refused answer).\n\
         # TYPE latchkey_token_hook_failures_total counter\n\
         latchkey_token_hook_failures_total {failures}\n\
         # HELP latchkey_token_hook_seconds_total Time spent waiting for token hooks.\n\
         # TYPE latchkey_token_hook_seconds_total counter\n\
         latchkey_token_hook_seconds_total {seconds}\n",
        seconds = micros as f64 / 1e6
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
