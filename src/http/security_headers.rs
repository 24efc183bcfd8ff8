//! Security headers, in one place (OWASP Secure Headers Project).
//!
//! Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//! `X-Frame-Options: DENY` and, when `PUBLIC_URL` is https, HSTS. JSON answers carry a CSP
//! that allows nothing at all; an HTML page (GraphiQL) carries [`html_csp`], built for that
//! very document: its inline scripts are allowed by hash, never by `'unsafe-inline'`.
//! No `Server` header is ever added, so the version is not advertised.

use aws_lc_rs::digest::{SHA256, digest};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// CSP of every non-HTML answer: an API response must never be rendered as a page.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Origins the GraphiQL page loads its scripts and styles from besides 'self'. async-graphql's
/// GraphiQL page pulls React and GraphiQL from unpkg and its icon from graphql.org; a page
/// served from our own assets needs none of them.
const PAGE_ASSET_ORIGINS: &str = "https://unpkg.com";
const PAGE_IMAGE_ORIGINS: &str = "https://graphql.org";

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
    // An HTML page sets its own (see `html_page`); everything else gets the strict one.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    // Nothing in the stack sets one today; this keeps it so whatever is added later.
    h.remove(header::SERVER);
    resp
}

/// An HTML page with the CSP made for it.
pub fn html_page(html: String) -> Response {
    let csp = html_csp(&html);
    let mut resp = Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The CSP of one HTML document: scripts from 'self', the asset origins and the document's
/// own inline scripts (by SHA-256); fetches only to 'self' (the GraphQL endpoint). Inline
/// styles stay allowed: GraphiQL's editor positions elements with `style` attributes, and a
/// style cannot run code.
pub fn html_csp(html: &str) -> String {
    let hashes: Vec<String> = inline_scripts(html)
        .map(|s| {
            format!(
                "'sha256-{}'",
                STANDARD.encode(digest(&SHA256, s.as_bytes()))
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' {PAGE_ASSET_ORIGINS} {}; \
         style-src 'self' {PAGE_ASSET_ORIGINS} 'unsafe-inline'; \
         img-src 'self' data: {PAGE_IMAGE_ORIGINS}; font-src 'self' data: {PAGE_ASSET_ORIGINS}; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
        hashes.join(" ")
    )
}

/// The bodies of the `<script>` elements without a `src` attribute.
pub fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after = &rest[start..];
            let tag_end = after.find('>')?;
            let tag = &after[..tag_end];
            let body_start = start + tag_end + 1;
            let close = rest[body_start..].find("</script>")?;
            let body = &rest[body_start..body_start + close];
            rest = &rest[body_start + close + "</script>".len()..];
            if !tag.contains("src=") {
                return Some(body);
            }
        }
    })
}
