//! Security headers, in one place (OWASP Secure Headers Project).
//!
//! Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//! `X-Frame-Options: DENY` and, when `PUBLIC_URL` is https, HSTS. JSON answers carry a CSP
//! that allows nothing at all; the HTML pages (GraphiQL, Swagger UI, ReDoc) carry their own
//! same-origin policy (`assets::PAGE_CSP`), which this layer leaves in place. Answers are
//! `Cache-Control: no-store` unless their handler set a cache policy of its own.
//! No `Server` header is ever added, so the version is not advertised.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// CSP of every non-HTML answer: an API response must never be rendered as a page.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// HSTS for an https deployment: a year, subdomains included (OWASP HSTS cheat sheet).
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the headers to a response (run as `from_fn_with_state(https, apply)`), `https`
/// saying whether `PUBLIC_URL` is https: HSTS over plain http is ignored by browsers and
/// would only mislead.
pub async fn apply(
    axum::extract::State(https): axum::extract::State<bool>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    // An HTML page sets its own (`assets::PAGE_CSP`); everything else gets the strict one.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    // Uncacheable unless the handler said otherwise (the JWKS, discovery and the embedded
    // assets are public and say so). Token answers (GraphQL register/login/refresh, REST
    // login/refresh) must never sit in a cache: RFC 6749 §5.1, OWASP ASVS V8.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    // Nothing in the stack sets one today; this keeps it so whatever is added later.
    h.remove(header::SERVER);
    resp
}
