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
    /// How the session was authenticated (RFC 8176 values, e.g. `["pwd", "otp"]`).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The assurance level the session reached: `aal1` (one factor) or `aal2` (two, or a
    /// passkey with user verification), NIST SP 800-63B's levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The OAuth client the token was issued to (RFC 9068), for tokens of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted, space-separated (RFC 9068), for tokens of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// How a session was authenticated; decides its `amr` and `acr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A password alone.
    Password,
    /// A password, then a TOTP or recovery code.
    PasswordAndOtp,
    /// A passkey with user verification: possession of the key plus the authenticator's
    /// PIN or biometric, so multi-factor on its own.
    Passkey,
    /// A password, then a passkey.
    PasswordAndPasskey,
}

impl AuthMethod {
    /// RFC 8176 `amr` values.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethod::Password => &["pwd"],
            AuthMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
            AuthMethod::Passkey => &["pop", "hwk", "user", "mfa"],
            AuthMethod::PasswordAndPasskey => &["pwd", "pop", "hwk", "mfa"],
        }
    }

    /// The `acr` value.
    pub fn acr(self) -> &'static str {
        match self {
            AuthMethod::Password => "aal1",
            _ => "aal2",
        }
    }

    /// The method a session's stored `amr` records (sessions from before `amr`: a password).
    pub fn from_amr(amr: &[String]) -> Self {
        let has = |v: &str| amr.iter().any(|a| a == v);
        match (has("pwd"), has("otp"), has("pop")) {
            (true, true, _) => AuthMethod::PasswordAndOtp,
            (true, _, true) => AuthMethod::PasswordAndPasskey,
            (false, _, true) => AuthMethod::Passkey,
            _ => AuthMethod::Password,
        }
    }
}

/// A key that verifies: its algorithm comes from the stored key, never from a token header.
struct VerifyKey {
    alg: Algorithm,
    key: DecodingKey,
}

/// A key that signs (or will): during `[from, until)`.
struct Signer {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

/// How long a new key is published in the JWKS before it signs. A verifier that fetched the
/// JWKS just before a rotation keeps its copy for up to the answer's `max-age` (300 s, see
/// `http/wellknown.rs`); signing with the new key only after that, plus a margin for clock
/// skew, means no verifier ever meets a `kid` it could not have known (what Keycloak,
/// ZITADEL and Auth0 do with their pre-published "next" keys).
pub const KEY_PUBLISH_AHEAD_SECONDS: i64 = JWKS_MAX_AGE_SECONDS + 60;
/// `Cache-Control: max-age` of the JWKS answer.
pub const JWKS_MAX_AGE_SECONDS: i64 = 300;
/// Longest access token lifetime (`ACCESS_TOKEN_EXPIRE_MINUTES` ≤ 1440): a retired key
/// keeps verifying this long after it stopped signing, then leaves the JWKS.
const MAX_TOKEN_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// A tenant's signing keys: one signs at any moment (the newest whose time has come), every
/// published one verifies. Keys that were revoked (an emergency rotation) do neither.
pub struct KeySet {
    preferred: Algorithm,
    signers: Vec<Signer>,
    verify: HashMap<String, VerifyKey>,
    jwks: serde_json::Value,
    /// Tokens that passed every check but the clock, by their exact text. A client sends the
    /// same access token with every request until it expires, and the signature check is
    /// most of what a `me` costs; a hit still runs the time checks. Only tokens this set
    /// verified get in (nothing an attacker sends unsigned or altered), and the memo goes
    /// with the set: a key rotation builds a new set, and an evicted tenant drops its own.
    verified: RwLock<HashMap<String, AccessClaims>>,
}

/// A freshly generated key: the row to store. It signs from `activates_at` (`None`: at once).
pub fn generate_key(
    alg: Algorithm,
    slug: &str,
    secrets: &Secrets,
    now: DateTime<Utc>,
    activates_at: Option<DateTime<Utc>>,
) -> KeyRow {
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
        Algorithm::RS256 => {
            use aws_lc_rs::encoding::AsDer;
            use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen");
            let pkcs8 = pair.as_der().expect("own pkcs8");
            let private = pkcs1_of_pkcs8(pkcs8.as_ref())
                .expect("a PKCS#8 RSA key holds a PKCS#1 key")
                .to_vec();
            let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            let jwk = serde_json::json!({
                "kty": "RSA", "n": b64url(&public.n), "e": b64url(&public.e),
                "kid": kid, "alg": "RS256", "use": "sig",
            });
            (private, Some(jwk.to_string()))
        }
    };
    KeyRow {
        private_sealed: secrets.seal(&key_context(slug, &kid), &private),
        kid,
        alg: alg.as_str().to_string(),
        public_jwk,
        created_at: now,
        activates_at,
        retired_at: None,
        revoked_at: None,
    }
}

pub(crate) fn key_context(slug: &str, kid: &str) -> String {
    format!("signing-key/{slug}/{kid}")
}

/// Why stored keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A private key does not decrypt: the master secret is not the one it was sealed with.
    #[error(
        "signing key {kid} of tenant {tenant} does not decrypt: SECRET_KEY is not the one the keys were stored under"
    )]
    WrongSecret {
        /// The tenant.
        tenant: String,
        /// The key.
        kid: String,
    },
    /// A stored key is malformed.
    #[error("stored key {0} is malformed")]
    Malformed(String),
}

impl From<KeyError> for ServiceError {
    fn from(e: KeyError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl KeySet {
    /// Builds the set from stored rows. Returns `None` when no key of the `preferred`
    /// algorithm signs now or will, so the caller generates one.
    pub fn load(
        preferred: Algorithm,
        slug: &str,
        rows: &[KeyRow],
        secrets: &Secrets,
        now: DateTime<Utc>,
    ) -> Result<Option<Self>, KeyError> {
        let mut signers = Vec::new();
        let mut verify = HashMap::new();
        let mut jwks = Vec::new();
        let keep = chrono::Duration::seconds(MAX_TOKEN_LIFETIME_SECONDS + JWT_LEEWAY_SECONDS);
        for row in rows {
            if row.revoked_at.is_some() || row.retired_at.is_some_and(|at| at + keep <= now) {
                continue;
            }
            let alg =
                Algorithm::parse(&row.alg).ok_or_else(|| KeyError::Malformed(row.kid.clone()))?;
            let private = secrets
                .open(&key_context(slug, &row.kid), &row.private_sealed)
                .ok_or_else(|| KeyError::WrongSecret {
                    tenant: slug.to_string(),
                    kid: row.kid.clone(),
                })?;
            let (enc, dec) = match alg {
                Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256 => {
                    let text = row.public_jwk.as_deref().unwrap_or("{}");
                    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(text)
                        .map_err(|_| KeyError::Malformed(row.kid.clone()))?;
                    let dec = DecodingKey::from_jwk(&jwk)
                        .map_err(|_| KeyError::Malformed(row.kid.clone()))?;
                    let enc = match alg {
                        Algorithm::EdDSA => EncodingKey::from_ed_der(&private),
                        Algorithm::RS256 => EncodingKey::from_rsa_der(&private),
                        _ => EncodingKey::from_ec_der(&private),
                    };
                    jwks.push(serde_json::from_str::<serde_json::Value>(text).unwrap_or_default());
                    (enc, dec)
                }
                Algorithm::HS256 => (
                    EncodingKey::from_secret(&private),
                    DecodingKey::from_secret(&private),
                ),
            };
            let from = row.activates_at.unwrap_or(row.created_at);
            if row.retired_at.is_none_or(|until| until > now) {
                signers.push(Signer {
                    kid: row.kid.clone(),
                    alg,
                    key: enc,
                    from,
                    until: row.retired_at,
                });
            }
            verify.insert(row.kid.clone(), VerifyKey { alg, key: dec });
        }
        // Newest first: the first whose window holds `now` signs.
        signers.sort_by(|a, b| b.from.cmp(&a.from));
        if !signers.iter().any(|s| s.alg == preferred) {
            return Ok(None);
        }
        Ok(Some(KeySet {
            preferred,
            signers,
            verify,
            jwks: serde_json::json!({ "keys": jwks }),
            verified: RwLock::new(HashMap::new()),
        }))
    }

    /// The key of `alg` that signs at `now`: the newest whose window holds it; before a
    /// pending key's time, the one it replaces.
    fn signer(&self, alg: Algorithm, now: DateTime<Utc>) -> Result<&Signer, ServiceError> {
        let of_alg = || self.signers.iter().filter(move |s| s.alg == alg);
        of_alg()
            .find(|s| s.from <= now && s.until.is_none_or(|u| now < u))
            .or_else(|| of_alg().last())
            .ok_or_else(|| {
                ServiceError::Internal(format!("the tenant has no {} key", alg.as_str()))
            })
    }

    /// Whether a key of `alg` signs now or will.
    pub fn has_signer(&self, alg: Algorithm) -> bool {
        self.signers.iter().any(|s| s.alg == alg)
    }

    /// Signs `payload` (an id_token, a logout token) with the key of `alg` signing now, with
    /// `typ: JWT`.
    pub fn sign_with(
        &self,
        alg: Algorithm,
        payload: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        self.encode_with(alg, Some("JWT"), payload, now)
    }

    /// Checks a JWT this tenant signed (an id_token presented back as a hint): signature by one of
    /// its keys with that key's algorithm, `iss`; not the clock (a hint may have expired).
    pub fn verify_issued(&self, token: &str, issuer: &str) -> Option<serde_json::Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.verify.get(header.kid.as_deref()?)?;
        if header.alg != jwt_alg(key.alg) {
            return None;
        }
        let mut v = Validation::new(jwt_alg(key.alg));
        v.validate_exp = false;
        v.validate_aud = false;
        v.set_required_spec_claims(&["iss", "sub"]);
        v.set_issuer(&[issuer]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// When the next key starts signing, if one is waiting (reported after a rotation).
    pub fn next_activation(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.signers
            .iter()
            .map(|s| s.from)
            .filter(|f| *f > now)
            .min()
    }

    /// The JWK Set document (empty for HS256: a symmetric key is never published).
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// The algorithm new keys of this tenant are made with.
    pub fn algorithm(&self) -> Algorithm {
        self.preferred
    }

    /// Signs claims with the access-token key that signs at `now` (their `iat`, to the
    /// instant: `iat` itself is whole seconds, older than a key made this second).
    pub fn sign(&self, claims: &AccessClaims, now: DateTime<Utc>) -> Result<String, ServiceError> {
        self.encode(Some(ACCESS_TOKEN_TYP), claims, now)
    }

    /// Signs an arbitrary JSON payload with the key signing now and the given `typ`. Not used
    /// to issue tokens (that is [`KeySet::sign`]); it exists so tests and fuzzers can hand the
    /// verifier correctly signed but hostile tokens (string-typed `exp`, wrong `typ`, missing
    /// claims). Whoever holds a `KeySet` can sign anything anyway.
    pub fn sign_json(
        &self,
        typ: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<String, ServiceError> {
        self.encode(typ, payload, Utc::now())
    }

    fn encode<T: Serialize>(
        &self,
        typ: Option<&str>,
        payload: &T,
        at: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        self.encode_with(self.access_alg(at), typ, payload, at)
    }

    /// The algorithm access tokens are signed with at `at`: the tenant's, once a key of it
    /// signs; until then (ALGORITHM just changed) the one its key replaces.
    fn access_alg(&self, at: DateTime<Utc>) -> Algorithm {
        let active = |s: &&Signer| s.from <= at && s.until.is_none_or(|u| at < u);
        if self
            .signers
            .iter()
            .filter(active)
            .any(|s| s.alg == self.preferred)
        {
            return self.preferred;
        }
        self.signers
            .iter()
            .filter(active)
            .find(|s| s.alg != Algorithm::RS256)
            .map_or(self.preferred, |s| s.alg)
    }

    fn encode_with<T: Serialize>(
        &self,
        alg: Algorithm,
        typ: Option<&str>,
        payload: &T,
        at: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let signer = self.signer(alg, at)?;
        let mut header = Header::new(jwt_alg(signer.alg));
        header.kid = Some(signer.kid.clone());
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, payload, &signer.key)
            .map_err(|e| ServiceError::Internal(format!("jwt encode: {e}")))
    }

    /// Verifies an access token strictly: the algorithm is the one stored with the key the
    /// `kid` names (never taken from the header alone: a header naming another algorithm is
    /// refused, so no key can be used with an algorithm it was not made for), `typ` must be
    /// `at+jwt`, `kid` must be one of ours, signature, `iss`, `aud`,
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
        if header.alg != jwt_alg(key.alg) {
            return Err(bad("access token has the wrong algorithm"));
        }

        let mut v = Validation::new(jwt_alg(key.alg));
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
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
    }
}

/// The RSAPrivateKey (PKCS#1) inside a PKCS#8 PrivateKeyInfo, which is what jsonwebtoken's
/// RSA signer reads: SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }.
fn pkcs1_of_pkcs8(der: &[u8]) -> Option<&[u8]> {
    // One DER element at `at`: (tag, content range, end).
    fn element(der: &[u8], at: usize) -> Option<(u8, std::ops::Range<usize>)> {
        let tag = *der.get(at)?;
        let first = *der.get(at + 1)? as usize;
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *der.get(at + 2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let start = at + header;
        let end = start.checked_add(len)?;
        (end <= der.len()).then_some((tag, start..end))
    }
    let (tag, outer) = element(der, 0)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, version) = element(der, outer.start)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, algorithm) = element(der, version.end)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, key) = element(der, algorithm.end)?;
    (tag == 0x04).then(|| &der[key])
}

/// A new opaque refresh token (256 random bits).
pub fn new_refresh_token() -> String {
    random_token(REFRESH_TOKEN_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn claims(iat: i64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "i".into(),
            exp: iat + 60,
            iat,
            nbf: iat,
            jti: "j".into(),
            sid: "x".into(),
            tenant: "t".into(),
            roles: vec![],
            amr: vec![],
            acr: None,
            client_id: None,
            scope: None,
        }
    }

    /// After ALGORITHM changed, the old algorithm's key signs access tokens until the new
    /// one's time; the RSA key (id_tokens) never signs them.
    #[test]
    fn a_pending_key_of_a_new_algorithm_does_not_sign_yet() {
        let secrets = Secrets::derive(&SecretString::from("x".repeat(40)));
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(KEY_PUBLISH_AHEAD_SECONDS);
        let mut eddsa = generate_key(
            Algorithm::EdDSA,
            "t",
            &secrets,
            now - chrono::Duration::days(1),
            None,
        );
        eddsa.retired_at = Some(later);
        let rsa = generate_key(
            Algorithm::RS256,
            "t",
            &secrets,
            now - chrono::Duration::days(1),
            None,
        );
        let es256 = generate_key(Algorithm::ES256, "t", &secrets, now, Some(later));
        let set = KeySet::load(
            Algorithm::ES256,
            "t",
            &[es256.clone(), rsa, eddsa.clone()],
            &secrets,
            now,
        )
        .unwrap()
        .unwrap();
        let token = set.sign(&claims(now.timestamp()), now).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.unwrap(),
            eddsa.kid
        );
        let token = set
            .sign(
                &claims(later.timestamp() + 1),
                later + chrono::Duration::seconds(1),
            )
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.unwrap(),
            es256.kid
        );
    }
}
