//! Checking an upstream's id_token (OpenID Connect Core §3.1.3.7): its signature by a key of
//! the provider's key set, `iss` identical to the provider's issuer, `aud` holding our client
//! id (and `azp` naming it when there are several), `exp` and `iat` against our clock with a
//! small leeway, and the `nonce` of this sign-in. Pure, so every rule is a unit test; the
//! flow reads the key set again once when the `kid` is unknown (the provider rotated).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::domain::claims::JWT_LEEWAY_SECONDS;

/// The upstream's assertions sign-in uses.
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamClaims {
    /// The upstream subject.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// The nonce sent with this sign-in.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the upstream verified it (some providers send the string "true").
    #[serde(default, deserialize_with = "loose_bool")]
    pub email_verified: bool,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// A username hint.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// How the upstream authenticated the user.
    #[serde(default)]
    pub amr: Vec<String>,
    /// The party it was issued to.
    #[serde(default)]
    pub azp: Option<String>,
}

impl UpstreamClaims {
    /// Whether the upstream says it used more than one factor (RFC 8176 `mfa`, or a
    /// one-time code or hardware key beside something else).
    pub fn multi_factor(&self) -> bool {
        let has = |v: &str| self.amr.iter().any(|a| a == v);
        has("mfa") || (self.amr.len() >= 2 && (has("otp") || has("hwk") || has("swk")))
    }
}

fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(matches!(v, serde_json::Value::Bool(true)) || v.as_str() == Some("true"))
}

/// Why an id_token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Signed by a key the provider's key set does not hold (read it again, once).
    #[error("the id_token is signed by an unknown key")]
    UnknownKey,
    /// Anything else, in words for the audit log and the error page.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Asymmetric algorithms only: `none` and HMAC (keyed by the client secret, which a provider's
/// key set cannot describe) are refused, as RFC 8725 §3.1 asks.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What the token must match.
pub struct Expected<'a> {
    /// The provider's issuer.
    pub issuer: &'a str,
    /// Our client id there.
    pub client_id: &'a str,
    /// This sign-in's nonce.
    pub nonce: &'a str,
    /// Now, seconds since the epoch (the server clock).
    pub now: i64,
}

/// Verifies `token` against `keys` and `want`.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    want: &Expected<'_>,
) -> Result<UpstreamClaims, IdTokenError> {
    let bad = IdTokenError::Invalid;
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| bad("the id_token is malformed"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(bad("the id_token's algorithm is not accepted"));
    }
    let jwk = match header.kid.as_deref() {
        Some(kid) => keys.find(kid).ok_or(IdTokenError::UnknownKey)?,
        // Without a kid, only a key set of one key says which key it is.
        None if keys.keys.len() == 1 => &keys.keys[0],
        None => return Err(bad("the id_token names no key")),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("the provider's key cannot be used"))?;
    let mut v = Validation::new(header.alg);
    // Time is checked below against the server clock, not the system clock.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.set_issuer(&[want.issuer]);
    v.set_audience(&[want.client_id]);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidIssuer => bad("the id_token comes from another issuer"),
            ErrorKind::InvalidAudience => bad("the id_token is for another client"),
            ErrorKind::InvalidSignature => bad("the id_token's signature is wrong"),
            ErrorKind::MissingRequiredClaim(_) => bad("the id_token lacks a required claim"),
            _ => bad("the id_token is invalid"),
        }
    })?;
    let aud_count = match &data.claims["aud"] {
        serde_json::Value::Array(a) => a.len(),
        _ => 1,
    };
    let claims: UpstreamClaims = serde_json::from_value(data.claims)
        .map_err(|_| bad("the id_token's claims are malformed"))?;
    if aud_count > 1 && claims.azp.as_deref() != Some(want.client_id) {
        return Err(bad(
            "the id_token is for several clients and not authorized for us",
        ));
    }
    if claims.exp <= want.now - JWT_LEEWAY_SECONDS {
        return Err(bad("the id_token has expired"));
    }
    if claims.iat > want.now + JWT_LEEWAY_SECONDS {
        return Err(bad("the id_token was issued in the future"));
    }
    // An id_token older than a sign-in may last is not this sign-in's.
    if claims.iat < want.now - 15 * 60 {
        return Err(bad("the id_token is too old"));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        aws_lc_rs::constant_time::verify_slices_are_equal(n.as_bytes(), want.nonce.as_bytes())
            .is_ok()
    });
    if !nonce_ok {
        return Err(bad("the id_token's nonce is not this sign-in's"));
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(bad("the id_token's subject is malformed"));
    }
    Ok(claims)
}
