//! Checking an upstream's id_token (OpenID Connect Core §3.1.3.7): its signature by a key of
//! the provider's key set, `iss` identical to the provider's issuer, `aud` holding our client
//! id (and `azp` naming it when there are several), `exp` and `iat` against our clock with a
//! small leeway, and the `nonce` of this sign-in. Pure, so every rule is a unit test; the
//! flow reads the key set again once when the `kid` is unknown (the provider rotated).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::microsoft::{TENANT_PLACEHOLDER, issuer_for};
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
    /// Every claim as sent (for a provider's claim mapping).
    #[serde(skip)]
    pub raw: serde_json::Value,
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
    Ok(super::mapping::truthy(&serde_json::Value::deserialize(d)?))
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
    /// Microsoft's multi-tenant issuer: `issuer` holds `{tenantid}`, which the token's own
    /// `tid` fills (never switched on by the issuer's text alone).
    pub templated: bool,
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
    let template = want.templated && want.issuer.contains(TENANT_PLACEHOLDER);
    if !template {
        v.set_issuer(&[want.issuer]);
    }
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
    let mut claims: UpstreamClaims = serde_json::from_value(data.claims.clone())
        .map_err(|_| bad("the id_token's claims are malformed"))?;
    claims.raw = data.claims;
    if template {
        // The template filled with the token's own directory: a token of directory A claiming
        // to come from directory B's issuer does not pass.
        let tid = claims.raw["tid"].as_str().unwrap_or("");
        if tid.is_empty() || claims.iss != issuer_for(want.issuer, tid) {
            return Err(bad("the id_token comes from another issuer"));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    /// An upstream's key: its signing half and its key set.
    fn upstream() -> (EncodingKey, JwkSet) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some("k1".into());
        (key, JwkSet { keys: vec![jwk] })
    }

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://up.example",
            client_id: "latchkey",
            nonce: "n-1",
            now: NOW,
            templated: false,
        }
    }

    fn claims() -> serde_json::Value {
        json!({"iss": "https://up.example", "aud": "latchkey", "sub": "u-1", "exp": NOW + 300,
            "iat": NOW - 5, "nonce": "n-1", "email": "ada@up.example", "email_verified": true})
    }

    fn sign(key: &EncodingKey, kid: &str, c: &serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, c, key).unwrap()
    }

    fn with(field: &str, v: serde_json::Value) -> serde_json::Value {
        let mut c = claims();
        c[field] = v;
        c
    }

    #[test]
    fn a_right_token_gives_its_claims() {
        let (key, keys) = upstream();
        let c = verify(&sign(&key, "k1", &claims()), &keys, &want()).unwrap();
        assert_eq!(c.sub, "u-1");
        assert!(c.email_verified);
    }

    #[test]
    fn an_unknown_kid_asks_for_the_keys_again() {
        let (key, keys) = upstream();
        let got = verify(&sign(&key, "k2", &claims()), &keys, &want());
        assert_eq!(got.unwrap_err(), IdTokenError::UnknownKey);
    }

    #[test]
    fn each_claim_that_does_not_match_is_refused_with_its_reason() {
        let (key, keys) = upstream();
        let cases = [
            (with("nonce", json!("other")), "nonce"),
            (with("iss", json!("https://evil.example")), "another issuer"),
            (with("aud", json!("someone-else")), "another client"),
            (with("exp", json!(NOW - 60)), "expired"),
            (with("iat", json!(NOW + 600)), "future"),
            (with("iat", json!(NOW - 3600)), "too old"),
            (with("aud", json!(["latchkey", "other"])), "several clients"),
        ];
        for (c, why) in cases {
            match verify(&sign(&key, "k1", &c), &keys, &want()) {
                Err(IdTokenError::Invalid(m)) => assert!(m.contains(why), "{why}: {m}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(verify(&sign(&key, "k1", &no_nonce), &keys, &want()).is_err());
    }

    #[test]
    fn a_templated_issuer_is_filled_with_the_tokens_own_directory() {
        let (key, keys) = upstream();
        let mut want = want();
        want.issuer = "https://login.example/{tenantid}/v2.0";
        want.templated = true;
        let t1 = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let t2 = "11111111-2222-3333-4444-555555555555";
        let mut c = claims();
        c["iss"] = json!(format!("https://login.example/{t1}/v2.0"));
        c["tid"] = json!(t1);
        let got = verify(&sign(&key, "k1", &c), &keys, &want).unwrap();
        assert_eq!(got.raw["tid"], t1);
        c["tid"] = json!(t2);
        assert_eq!(
            verify(&sign(&key, "k1", &c), &keys, &want).unwrap_err(),
            IdTokenError::Invalid("the id_token comes from another issuer")
        );
        c.as_object_mut().unwrap().remove("tid");
        assert!(verify(&sign(&key, "k1", &c), &keys, &want).is_err());
    }

    #[test]
    fn another_key_or_a_symmetric_algorithm_is_refused() {
        let (_, keys) = upstream();
        let (other, _) = upstream();
        let forged = sign(&other, "k1", &claims());
        assert!(matches!(
            verify(&forged, &keys, &want()),
            Err(IdTokenError::Invalid(_))
        ));
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let hs = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
        assert_eq!(
            verify(&hs, &keys, &want()).unwrap_err(),
            IdTokenError::Invalid("the id_token's algorithm is not accepted")
        );
    }
}
