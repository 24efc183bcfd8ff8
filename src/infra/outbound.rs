//! Requests the server makes to URLs a tenant admin configured (an upstream identity
//! provider's discovery, keys and token endpoint; later webhooks and the token hook): a new
//! attack surface, since a URL can name the server's own network (SSRF). Every request goes
//! through [`Outbound`]:
//! - the destination must be a public address: loopback, private, shared (CGNAT), link-local
//!   (with the cloud metadata address 169.254.169.254), unspecified, multicast, documentation
//!   and reserved ranges are refused, IPv6 forms that carry an IPv4 address (v4-mapped,
//!   v4-compatible, NAT64, 6to4) by the address they carry; checked on the address a name
//!   resolves to (a resolver of our own, so the check and the connection use the same answer:
//!   no second lookup to rebind) and on IP literals in the URL, at every redirect hop;
//! - HTTPS only;
//! - short timeouts and a bounded response body.
//!
//! `OUTBOUND_ALLOW_PRIVATE_NETWORKS=true` lifts the address and HTTPS rules (an upstream on
//! the operator's own network; the tests' upstream on 127.0.0.1), never the limits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole request may take, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed at most (discovery documents and JWKS are not expected to redirect).
const MAX_REDIRECTS: usize = 3;
/// The largest response body read (a discovery document or a JWKS is a few KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// Why an outbound request did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not one the server may call (scheme, address).
    #[error("{0}")]
    Refused(String),
    /// No answer: the name did not resolve, the connection failed or timed out.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// An answer that is not a success.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The answer's body is larger than the limit.
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The answer is not what was asked for (e.g. not JSON).
    #[error("{0}")]
    Invalid(String),
}

/// Why `ip` is not a public address, or `None` when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "an unspecified (0.0.0.0/8) address",
        (127, ..) => "a loopback address",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (169, 254, _) => "a link-local address (cloud metadata lives there)",
        (192, 0, 0) => "an IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, ..) => "a multicast address",
        (240..=255, ..) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Forms that carry an IPv4 address are judged by it: ::ffff:a.b.c.d (v4-mapped),
    // ::a.b.c.d (v4-compatible, deprecated), 64:ff9b::a.b.c.d (NAT64), 2002:AABB:CCDD::/48
    // (6to4).
    let carried =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return non_public_v4(carried(s[6], s[7]));
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if s[..6] == [0; 6] {
        return non_public_v4(carried(s[6], s[7])).or(Some("an IPv4-compatible address"));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(carried(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return non_public_v4(carried(s[1], s[2]));
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "a unique local (private) address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address",
        _ => return None,
    })
}

/// The outbound HTTP client: see the module's documentation for its rules.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    /// Webhook deliveries: no redirect followed at all (a receiver has no reason to redirect a
    /// POST, and a redirect is the classic way around an address check), 15 s in all.
    hooks: reqwest::Client,
    allow_private: bool,
}

/// How long a webhook delivery may take (the Standard Webhooks' usual timeout).
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a receiver's answer is kept for the admin's delivery log.
const EXCERPT_BYTES: usize = 1024;

/// What a receiver answered a delivery.
#[derive(Debug)]
pub struct HookAnswer {
    /// HTTP status.
    pub status: u16,
    /// The start of its body (UTF-8, lossy).
    pub excerpt: String,
}

impl Outbound {
    /// A client; `allow_private` is `OUTBOUND_ALLOW_PRIVATE_NETWORKS`.
    pub fn new(allow_private: bool) -> Self {
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(OutboundError::Refused(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .redirect(redirects)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with these settings builds");
        let hooks = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(WEBHOOK_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("latchkey-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with these settings builds");
        Self {
            http,
            hooks,
            allow_private,
        }
    }

    /// POSTs a token hook's question (JSON) with `headers`, within `timeout`; the status and
    /// the answer's body (at most [`MAX_BODY`]). No redirect followed.
    pub async fn post_hook(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let url = self.check(url)?;
        let mut req = self
            .hooks
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        Ok((status, read_body(resp).await?))
    }

    /// POSTs a webhook delivery: `body` (JSON) with `headers`; the receiver's status and the
    /// start of its answer, whatever the status (a redirect is an answer, not followed).
    pub async fn post_webhook(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HookAnswer, OutboundError> {
        let url = self.check(url)?;
        let mut req = self
            .hooks
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => excerpt.extend_from_slice(&c),
                _ => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Ok(HookAnswer {
            status,
            excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
        })
    }

    /// Whether `url` may be called at all (scheme and IP literal; names are checked when they
    /// resolve): the check a configured URL gets when it is saved.
    pub fn check(&self, url: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(url).map_err(|e| OutboundError::Refused(format!("not a URL: {e}")))?;
        check_url(&url, self.allow_private)?;
        Ok(url)
    }

    /// GETs `url` as JSON.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, OutboundError> {
        let url = self.check(url)?;
        let req = self.http.get(url).header("accept", "application/json");
        json_of(self.send(req).await?)
    }

    /// GETs `url` as JSON with an OAuth2 access token (a userinfo endpoint).
    pub async fn get_json_bearer(
        &self,
        url: &str,
        token: &str,
    ) -> Result<serde_json::Value, OutboundError> {
        let url = self.check(url)?;
        let req = self
            .http
            .get(url)
            .header("accept", "application/json")
            .bearer_auth(token);
        json_of(self.send(req).await?)
    }

    /// POSTs a form to `url` (a token endpoint), with optional HTTP Basic credentials; the
    /// answer as JSON whatever its status (token endpoints answer errors as JSON with 400).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<(u16, serde_json::Value), OutboundError> {
        let url = self.check(url)?;
        let mut req = self
            .http
            .post(url)
            .header("accept", "application/json")
            .form(form);
        if let Some((user, password)) = basic {
            req = req.basic_auth(user, Some(password));
        }
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        Ok((status, json_of(read_body(resp).await?)?))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, OutboundError> {
        let resp = req.send().await.map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(OutboundError::Status(resp.status().as_u16()));
        }
        read_body(resp).await
    }
}

/// The URL rules that need no lookup: the scheme, and an IP literal's address (the `url`
/// crate has already turned `127.1`, `2130706433` and `0x7f.1` into 127.0.0.1).
fn check_url(url: &Url, allow_private: bool) -> Result<(), OutboundError> {
    if allow_private {
        return match url.scheme() {
            "https" | "http" => Ok(()),
            s => Err(OutboundError::Refused(format!(
                "the scheme {s} is not HTTP"
            ))),
        };
    }
    if url.scheme() != "https" {
        return Err(OutboundError::Refused(format!(
            "{url} is not HTTPS (OUTBOUND_ALLOW_PRIVATE_NETWORKS is off)"
        )));
    }
    let reason = match url.host() {
        Some(Host::Ipv4(ip)) => non_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => non_public(IpAddr::V6(ip)),
        // RFC 6761: `localhost` and its subdomains are loopback, whatever a resolver says.
        Some(Host::Domain(d)) if is_localhost(d) => Some("a loopback address"),
        Some(Host::Domain(_)) => None,
        None => return Err(OutboundError::Refused(format!("{url} names no host"))),
    };
    match reason {
        Some(r) => Err(refused(url.host_str().unwrap_or_default(), r)),
        None => Ok(()),
    }
}

fn is_localhost(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost" || d.ends_with(".localhost")
}

fn refused(host: &str, reason: &str) -> OutboundError {
    OutboundError::Refused(format!(
        "{host} is {reason}; the server calls public addresses only (OUTBOUND_ALLOW_PRIVATE_NETWORKS is off)"
    ))
}

fn unreachable(e: reqwest::Error) -> OutboundError {
    // A refusal by the redirect policy or the resolver travels inside reqwest's error: say it
    // as the refusal it is.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(OutboundError::Refused(r)) = s.downcast_ref::<OutboundError>() {
            return OutboundError::Refused(r.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return OutboundError::Unreachable("timed out".into());
    }
    // reqwest's own words ("error sending request") say little; the innermost cause (the
    // connection refused, the name not found) is what an admin reading a delivery log needs.
    let e = e.without_url();
    let mut inner: &dyn std::error::Error = &e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    if std::ptr::addr_eq(inner, &e) {
        OutboundError::Unreachable(e.to_string())
    } else {
        OutboundError::Unreachable(format!("{e}: {inner}"))
    }
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, OutboundError> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(OutboundError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(OutboundError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn json_of(body: Vec<u8>) -> Result<serde_json::Value, OutboundError> {
    serde_json::from_slice(&body)
        .map_err(|e| OutboundError::Invalid(format!("the answer is not JSON: {e}")))
}

/// The resolver of [`Outbound`]: the system's answer, with every non-public address removed
/// (unless allowed); a name with no public address left fails to resolve, so nothing
/// connects to it.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            if !allow_private && is_localhost(&host) {
                return Err(Box::new(refused(&host, "a loopback address")) as _);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            let mut reason = "an address of no kind";
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match non_public(a.ip()) {
                    Some(r) if !allow_private => {
                        reason = r;
                        false
                    }
                    _ => true,
                })
                .collect();
            if public.is_empty() {
                return Err(Box::new(refused(&host, reason)) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> Result<(), OutboundError> {
        check_url(&Url::parse(url).unwrap(), false)
    }

    #[test]
    fn every_form_of_a_non_public_ipv4_address_is_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://127.1/",      // short form
            "https://2130706433/", // decimal
            "https://0x7f000001/", // hexadecimal
            "https://0177.0.0.1/", // octal
            "https://0.0.0.0/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data/", // cloud metadata
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://192.0.2.1/",
        ] {
            assert!(
                matches!(host_of(url), Err(OutboundError::Refused(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn every_form_of_a_non_public_ipv6_address_is_refused() {
        for url in [
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/", // v4-mapped
            "https://[::ffff:7f00:1]/",    // v4-mapped, hex
            "https://[::ffff:169.254.169.254]/",
            "https://[::127.0.0.1]/",      // v4-compatible
            "https://[64:ff9b::a00:1]/",   // NAT64 of 10.0.0.1
            "https://[2002:c0a8:101::1]/", // 6to4 of 192.168.1.1
            "https://[fd00:ec2::254]/",    // unique local (AWS's IPv6 metadata)
            "https://[fc00::1]/",
            "https://[fe80::1]/",     // link-local
            "https://[fec0::1]/",     // site-local
            "https://[ff02::1]/",     // multicast
            "https://[2001:db8::1]/", // documentation
        ] {
            assert!(
                matches!(host_of(url), Err(OutboundError::Refused(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn public_addresses_and_names_pass_the_check_that_needs_no_lookup() {
        for url in [
            "https://93.184.215.14/",
            "https://[2606:4700::6810:84e5]/",
            "https://[::ffff:93.184.215.14]/",
            "https://accounts.google.com/.well-known/openid-configuration",
            "https://172.32.0.1/",
            "https://100.128.0.1/",
        ] {
            assert!(host_of(url).is_ok(), "{url}: {:?}", host_of(url));
        }
    }

    #[test]
    fn localhost_names_http_and_other_schemes_are_refused() {
        for url in [
            "https://localhost/",
            "https://LOCALHOST./",
            "https://idp.localhost/",
            "http://idp.example.com/",
            "file:///etc/passwd",
            "ftp://idp.example.com/",
        ] {
            assert!(
                matches!(host_of(url), Err(OutboundError::Refused(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn allowing_private_networks_lifts_the_address_and_https_rules_only() {
        let ok = |u: &str| check_url(&Url::parse(u).unwrap(), true);
        assert!(ok("http://127.0.0.1:9999/").is_ok());
        assert!(ok("http://localhost/").is_ok());
        assert!(ok("https://[::1]/").is_ok());
        assert!(ok("file:///etc/passwd").is_err());
    }
}
