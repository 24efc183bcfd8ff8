//! The hosted pages' cookies and form protection: the SSO and double-submit form-token
//! cookies, their `Set-Cookie` headers, the same-origin check and form-body parsing (and the
//! taking apart of a posted request, shared with the back-channel endpoints).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::OidcProvider;

/// The browser session cookie (one per tenant: its path is the tenant's).
pub(super) const SSO_COOKIE: &str = "latchkey_sso";
/// The double-submit form token of pages without an authorization request.
pub(super) const CSRF_COOKIE: &str = "latchkey_csrf";

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn https(st: &OidcProvider) -> bool {
    st.config.public_url.starts_with("https://")
}

/// `Set-Cookie` for a tenant's cookie: HttpOnly, SameSite=Lax (a redirect back from another
/// site still carries it; a cross-site POST does not), Secure over https, scoped to the tenant.
pub(super) fn set_cookie(
    st: &OidcProvider,
    slug: &str,
    name: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if https(st) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/t/{slug}/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) fn with_cookie(mut resp: Response, value: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, value);
    resp
}

/// The caller's address, for the handlers that record it (throttling and audit).
pub(super) type Peer = ConnectInfo<SocketAddr>;

/// A posted body's parts in the order the handlers' own arguments used to take them: the
/// path's `{tenant}`, `P` (the `Peer` where the caller is recorded, else `()`, so that no
/// handler needs more than it did), the headers and the body. Shared by the hosted forms and
/// the back-channel endpoints.
pub(super) async fn posted<P>(
    req: Request,
    st: &OidcProvider,
) -> Result<(String, P, HeaderMap, Bytes), Response>
where
    P: FromRequestParts<OidcProvider> + Send,
{
    let (Path(slug), peer, headers, body) =
        <(Path<String>, P, HeaderMap, Bytes) as FromRequest<OidcProvider>>::from_request(req, st)
            .await?;
    Ok((slug, peer, headers, body))
}

pub(super) fn form(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// A cross-site form post is refused whatever it carries (the form tokens are the first
/// defence; this is the second, OWASP CSRF cheat sheet "verifying origin").
pub(super) fn same_origin(st: &OidcProvider, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Our own pages are served with `Referrer-Policy: no-referrer`, under which browsers
        // send `Origin: null` even for a same-origin form post (Fetch standard, "serializing
        // a request origin"). A sandboxed frame of another site sends `null` too, so `null`
        // is accepted only with the browser's own word that the request is same-origin.
        Some("null") => fetch_site == Some("same-origin"),
        Some(origin) => {
            let ours = url::Url::parse(&st.config.public_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            origin == ours
        }
        // No Origin (not a browser, or a very old one): the CSRF token decides.
        None => !matches!(fetch_site, Some("cross-site" | "same-site")),
    }
}

pub(super) fn tokens_equal(a: &str, b: &str) -> bool {
    !a.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A page form's token: double-submit, the cookie set when the form was shown.
pub(super) fn form_token(st: &OidcProvider, slug: &str) -> (String, HeaderValue) {
    let t = crate::domain::secrets::random_token(24);
    let c = set_cookie(st, slug, CSRF_COOKIE, &t, 3600);
    (t, c)
}

pub(super) fn form_token_ok(
    st: &OidcProvider,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> bool {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    same_origin(st, headers)
        && tokens_equal(f.get("csrf").map(String::as_str).unwrap_or(""), &expected)
}
