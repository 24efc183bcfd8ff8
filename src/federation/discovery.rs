//! An upstream OpenID provider's discovery document (OpenID Connect Discovery 1.0) and keys,
//! read and checked when a tenant admin saves the provider, so that a mistyped issuer is a
//! clear answer then and not a failed sign-in later.

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use crate::infra::outbound::{Outbound, OutboundError};

/// What sign-in needs of an upstream's discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamMetadata {
    /// Its issuer, exactly as configured (checked).
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// Its signing keys.
    pub jwks_uri: String,
    /// Claims of the signed-in user, if offered.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// PKCE methods; absent means unspecified (PKCE S256 is sent anyway).
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Response modes (`form_post` for Apple-shaped providers).
    #[serde(default)]
    pub response_modes_supported: Option<Vec<String>>,
    /// Whether it sends `iss` with the authorization response (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// An upstream as read: its metadata and its current keys.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The discovery document's part that sign-in uses.
    pub metadata: UpstreamMetadata,
    /// Its signing keys.
    pub keys: JwkSet,
}

/// Why an issuer cannot be used, in words an admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The URL is not one the server may call.
    #[error("{0}")]
    Refused(String),
    /// Nothing answered at the discovery address.
    #[error("the issuer is unreachable: {0}")]
    Unreachable(String),
    /// Something answered, but not as an OpenID provider.
    #[error("not an OpenID provider: {0}")]
    NotAnIssuer(String),
    /// The document names another issuer (a mix-up or a typo): OpenID Connect Discovery
    /// requires them identical.
    #[error("the discovery document names the issuer {reported}, not {configured}")]
    IssuerMismatch {
        /// What the admin typed.
        configured: String,
        /// What the document says.
        reported: String,
    },
    /// The provider refuses PKCE with S256, which latchkey always uses.
    #[error("the provider does not support PKCE with S256")]
    NoPkce,
    /// Its key set cannot be read or holds no key.
    #[error("the provider's keys ({0})")]
    Keys(String),
}

impl From<OutboundError> for DiscoveryError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Refused(r) => DiscoveryError::Refused(r),
            OutboundError::Unreachable(r) => DiscoveryError::Unreachable(r),
            OutboundError::Status(s) => {
                DiscoveryError::NotAnIssuer(format!("its discovery address answered HTTP {s}"))
            }
            other => DiscoveryError::NotAnIssuer(other.to_string()),
        }
    }
}

/// The discovery address of `issuer` (Discovery §4: the issuer without a trailing slash, then
/// `/.well-known/openid-configuration`).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Reads and checks `issuer`'s discovery document and keys through `outbound`; the document
/// must name exactly `issuer` (Discovery §4.3).
pub async fn discover(outbound: &Outbound, issuer: &str) -> Result<Upstream, DiscoveryError> {
    discover_accepting(outbound, issuer, |reported| reported == issuer).await
}

/// [`discover`], with the document's issuer one that `accepts` takes (Microsoft's multi-tenant
/// directories name the `{tenantid}` template).
pub async fn discover_accepting(
    outbound: &Outbound,
    issuer: &str,
    accepts: impl Fn(&str) -> bool,
) -> Result<Upstream, DiscoveryError> {
    let doc = outbound.get_json(&discovery_url(issuer)).await?;
    let metadata: UpstreamMetadata = serde_json::from_value(doc)
        .map_err(|e| DiscoveryError::NotAnIssuer(format!("its discovery document: {e}")))?;
    if !accepts(&metadata.issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            configured: issuer.to_string(),
            reported: metadata.issuer,
        });
    }
    if metadata
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|m| !m.iter().any(|m| m == "S256"))
    {
        return Err(DiscoveryError::NoPkce);
    }
    // Every address the flow will use must pass the guard too, now rather than mid sign-in.
    for url in [
        Some(&metadata.authorization_endpoint),
        Some(&metadata.token_endpoint),
        Some(&metadata.jwks_uri),
        metadata.userinfo_endpoint.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        outbound.check(url)?;
    }
    let keys = outbound
        .get_json(&metadata.jwks_uri)
        .await
        .map_err(|e| DiscoveryError::Keys(e.to_string()))?;
    let keys: JwkSet =
        serde_json::from_value(keys).map_err(|e| DiscoveryError::Keys(e.to_string()))?;
    if keys.keys.is_empty() {
        return Err(DiscoveryError::Keys("the key set is empty".into()));
    }
    Ok(Upstream { metadata, keys })
}
