//! Access JWTs (issue and strict verification), signing key sets, refresh token values.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Algorithm, JWT_LEEWAY_SECONDS};
use crate::error::ServiceError;
use crate::service::secrets::{Secrets, b64url, random_token};
use crate::store::keys::KeyRow;

/// `typ` of access tokens (RFC 9068), so no other JWT can be replayed as one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Refresh tokens carry 256 random bits.
const REFRESH_TOKEN_BYTES: usize = 32;
/// No legitimate access token comes near this; bigger input is refused before parsing.
const MAX_JWT_LEN: usize = 8 * 1024;
/// Access tokens whose signature a key set remembers having checked (per tenant).
const MAX_VERIFIED_TOKENS: usize = 8_192;

/// Claims of an access token (API.md "Tokens"). Every time claim is a required integer: a
/// string-typed `exp` fails to deserialize instead of being skipped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// `{PUBLIC_URL}/t/{tenant}`.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Audience: the issuer URL (tokens are for this tenant's APIs).
    pub aud: String,
    /// Expiry (seconds since epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Session id.
    pub sid: String,
    /// Tenant slug.
    pub tenant: String,
    /// Role names at issue time.
    pub roles: Vec<String>,
}

struct VerifyKey {
    key: DecodingKey,
}

/// A tenant's signing keys: the current one signs, all listed ones verify.
pub struct KeySet {
    alg: Algorithm,
    current_kid: String,
    current: EncodingKey,
    verify: HashMap<String, VerifyKey>,
    jwks: serde_json::Value,
    /// Tokens that passed every check but the clock, by their exact text. A client sends the
    /// same access token with every request until it expires, and the signature check is
    /// most of what a `me` costs; a hit still runs the time checks. Only tokens this set
    /// verified get in (nothing an attacker sends unsigned or altered), and the memo goes
    /// with the set: a key rotation builds a new set, and an evicted tenant drops its own.
    verified: RwLock<HashMap<String, AccessClaims>>,
}

/// A freshly generated key: the row to store.
pub fn generate_key(alg: Algorithm, slug: &str, secrets: &Secrets, now: DateTime<Utc>) -> KeyRow {
    let kid = random_token(12);
    let rng = SystemRandom::new();
    let (private, public_jwk) = match alg {
        Algorithm::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519 keygen");
            let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("own pkcs8");
            let jwk = serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64url(pair.public_key().as_ref()),
                "kid": kid, "alg": "EdDSA", "use": "sig",
            });
            (doc.as_ref().to_vec(), Some(jwk.to_string()))
        }
        Algorithm::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("p256 keygen");
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .expect("own pkcs8");
            // Uncompressed SEC1 point: 0x04 || X (32) || Y (32).
            let point = pair.public_key().as_ref();
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
                "kid": kid, "alg": "ES256", "use": "sig",
            });
            (doc.as_ref().to_vec(), Some(jwk.to_string()))
        }
        Algorithm::HS256 => (crate::service::secrets::random_bytes(32), None),
    };
    KeyRow {
        private_sealed: secrets.seal(&key_context(slug, &kid), &private),
        kid,
        alg: alg.as_str().to_string(),
        public_jwk,
        created_at: now,
        retired_at: None,
    }
}

fn key_context(slug: &str, kid: &str) -> String {
    format!("signing-key/{slug}/{kid}")
}

impl KeySet {
    /// Builds the set from stored rows (newest first). Returns `None` when no usable key of
    /// `alg` exists, so the caller generates one.
    pub fn load(
        alg: Algorithm,
        slug: &str,
        rows: &[KeyRow],
        secrets: &Secrets,
        now: DateTime<Utc>,
    ) -> Result<Option<Self>, ServiceError> {
        let mut current: Option<(String, EncodingKey)> = None;
        let mut verify = HashMap::new();
        let mut jwks = Vec::new();
        // A retired key verifies for as long as a token it signed can live (the longest access
        // token lifetime is one day), then leaves the JWKS.
        let keep_after =
            now - chrono::Duration::days(1) - chrono::Duration::seconds(JWT_LEEWAY_SECONDS);
        let usable =
            |r: &&KeyRow| r.alg == alg.as_str() && r.retired_at.is_none_or(|at| at > keep_after);
        for row in rows.iter().filter(usable) {
            let private = secrets
                .open(&key_context(slug, &row.kid), &row.private_sealed)
                .ok_or_else(|| {
                    ServiceError::Internal(format!(
                        "signing key {} of tenant {slug} does not decrypt: was SECRET_KEY changed?",
                        row.kid
                    ))
                })?;
            let (enc, dec) = match alg {
                Algorithm::EdDSA | Algorithm::ES256 => {
                    let jwk: jsonwebtoken::jwk::Jwk =
                        serde_json::from_str(row.public_jwk.as_deref().unwrap_or("{}"))
                            .map_err(|e| ServiceError::Internal(format!("stored JWK: {e}")))?;
                    let dec = DecodingKey::from_jwk(&jwk)
                        .map_err(|e| ServiceError::Internal(format!("stored JWK: {e}")))?;
                    let enc = if alg == Algorithm::EdDSA {
                        EncodingKey::from_ed_der(&private)
                    } else {
                        EncodingKey::from_ec_der(&private)
                    };
                    jwks.push(
                        serde_json::from_str::<serde_json::Value>(
                            row.public_jwk.as_deref().unwrap_or("{}"),
                        )
                        .unwrap_or_default(),
                    );
                    (enc, dec)
                }
                Algorithm::HS256 => (
                    EncodingKey::from_secret(&private),
                    DecodingKey::from_secret(&private),
                ),
            };
            if current.is_none() && row.retired_at.is_none() {
                current = Some((row.kid.clone(), enc));
            }
            verify.insert(row.kid.clone(), VerifyKey { key: dec });
        }
        Ok(current.map(|(current_kid, current)| KeySet {
            alg,
            current_kid,
            current,
            verify,
            jwks: serde_json::json!({ "keys": jwks }),
            verified: RwLock::new(HashMap::new()),
        }))
    }

    /// The JWK Set document (empty for HS256: a symmetric key is never published).
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// The pinned algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Signs claims with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, ServiceError> {
        let mut header = Header::new(jwt_alg(self.alg));
        header.kid = Some(self.current_kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYP.to_string());
        jsonwebtoken::encode(&header, claims, &self.current)
            .map_err(|e| ServiceError::Internal(format!("jwt encode: {e}")))
    }

    /// Signs an arbitrary JSON payload with the current key and the given `typ`. Not used to
    /// issue tokens (that is [`KeySet::sign`]); it exists so tests and fuzzers can hand the
    /// verifier correctly signed but hostile tokens (string-typed `exp`, wrong `typ`, missing
    /// claims). Whoever holds a `KeySet` can sign anything anyway.
    pub fn sign_json(
        &self,
        typ: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<String, ServiceError> {
        let mut header = Header::new(jwt_alg(self.alg));
        header.kid = Some(self.current_kid.clone());
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, payload, &self.current)
            .map_err(|e| ServiceError::Internal(format!("jwt encode: {e}")))
    }

    /// Verifies an access token strictly: algorithm pinned by the tenant (never taken from the
    /// header), `typ` must be `at+jwt`, `kid` must be one of ours, signature, `iss`, `aud`,
    /// `tenant`, and `exp`/`nbf`/`iat` against our clock with bounded leeway. Embedded
    /// `jwk`/`jku`/`x5u` headers are never consulted.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        tenant: &str,
        now: i64,
    ) -> Result<AccessClaims, ServiceError> {
        if token.is_empty() || token.len() > MAX_JWT_LEN {
            return Err(ServiceError::Unauthenticated("malformed access token"));
        }
        let known = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        let claims = match known {
            // Issuer and audience were checked against the same values (one tenant, one
            // issuer); compared again so the memo can never widen what verifies.
            Some(c) if c.iss == issuer && c.aud == issuer => c,
            Some(_) => return Err(ServiceError::Unauthenticated("invalid access token")),
            None => {
                let claims = self.verify_signed(token, issuer)?;
                self.remember(token, &claims, now);
                claims
            }
        };
        check_claims(claims, tenant, now)
    }

    /// The header, the key and the signature, `iss` and `aud`: everything about a token that
    /// does not change with the clock.
    fn verify_signed(&self, token: &str, issuer: &str) -> Result<AccessClaims, ServiceError> {
        let bad = |why: &'static str| ServiceError::Unauthenticated(why);
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| bad("malformed access token"))?;
        if header.alg != jwt_alg(self.alg) {
            return Err(bad("access token has the wrong algorithm"));
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP))
        {
            return Err(bad("not an access token"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(bad("access token has no key id"))?;
        let key = self
            .verify
            .get(kid)
            .ok_or(bad("access token signed by an unknown key"))?;

        let mut v = Validation::new(jwt_alg(self.alg));
        // Time claims are checked in `check_claims` against the server clock; jsonwebtoken
        // would read the system clock. They stay required, so a missing or non-numeric one is
        // rejected here.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[issuer]);
        v.set_audience(&[issuer]);
        Ok(jsonwebtoken::decode::<AccessClaims>(token, &key.key, &v)
            .map_err(|_| bad("invalid access token"))?
            .claims)
    }

    /// Adds a verified token to the memo. When full, expired entries go first, then all.
    fn remember(&self, token: &str, claims: &AccessClaims, now: i64) {
        let mut map = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_VERIFIED_TOKENS {
            map.retain(|_, c| c.exp > now - JWT_LEEWAY_SECONDS);
            if map.len() >= MAX_VERIFIED_TOKENS {
                map.clear();
            }
        }
        map.insert(token.to_string(), claims.clone());
    }
}

/// The checks that depend on the clock and the tenant, run on every use of a token.
fn check_claims(
    claims: AccessClaims,
    tenant: &str,
    now: i64,
) -> Result<AccessClaims, ServiceError> {
    let bad = |why: &'static str| ServiceError::Unauthenticated(why);
    if claims.exp <= now - JWT_LEEWAY_SECONDS {
        return Err(bad("access token expired"));
    }
    if claims.nbf > now + JWT_LEEWAY_SECONDS || claims.iat > now + JWT_LEEWAY_SECONDS {
        return Err(bad("access token not yet valid"));
    }
    if claims.tenant != tenant {
        return Err(bad("access token belongs to another tenant"));
    }
    Ok(claims)
}

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
    }
}

/// A new opaque refresh token (256 random bits).
pub fn new_refresh_token() -> String {
    random_token(REFRESH_TOKEN_BYTES)
}
