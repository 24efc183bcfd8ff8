//! Who is calling: the client address (for throttling and audit) and user agent.
//!
//! `X-Forwarded-For` is written by whoever sends the request, so believing it by default
//! would let an attacker pick a fresh address for every guess. Only when the TCP peer is a
//! proxy listed in `TRUSTED_PROXIES` is the first (client-most) hop taken instead.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::infra::ClientInfo;

/// User agents are stored for session listings; nobody needs more than this.
const MAX_USER_AGENT: usize = 256;

/// The client of a request arriving from `peer`.
pub fn client_info(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> ClientInfo {
    ClientInfo {
        ip: Some(client_ip(peer.ip(), headers, trusted).to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}

/// The peer, or the first `X-Forwarded-For` hop when the peer is a trusted proxy and that hop
/// is a well-formed address (anything else falls back to the peer, never to garbage).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|t| t.to_canonical() == peer) {
        return peer;
    }
    // Several X-Forwarded-For lines are one list, in order (RFC 9110 field combination).
    let first = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|hop| !hop.is_empty());
    first
        .and_then(|hop| hop.parse::<IpAddr>().ok())
        .map_or(peer, |ip| ip.to_canonical())
}

/// The Bearer token. A present but non-Bearer `Authorization` yields an empty token, so
/// protected operations answer `UNAUTHENTICATED` rather than acting anonymous.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = value.to_str().unwrap_or("");
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(token.trim().to_string())
        }
        _ => Some(String::new()),
    }
}
