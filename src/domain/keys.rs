//! A tenant's signing keys as one set (which key signs now, which verify) and the strict
//! verification of access tokens against it.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use surrealdb::types::SurrealValue;

use super::Algorithm;
use super::claims::{ACCESS_TOKEN_TYP, AccessClaims, JWT_LEEWAY_SECONDS};
use super::keygen::key_context;
use super::secrets::Secrets;

/// No legitimate access token comes near this; bigger input is refused before parsing.
const MAX_JWT_LEN: usize = 8 * 1024;
/// Access tokens whose signature a key set remembers having checked (per tenant).
const MAX_VERIFIED_TOKENS: usize = 8_192;

/// A signing key as stored (private half sealed).
#[derive(Clone, Debug, SurrealValue)]
pub struct KeyRow {
    /// JWT `kid`.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// AES-GCM sealed private key (PKCS#8 DER, or the HMAC secret).
    pub private_sealed: String,
    /// Public JWK as JSON (none for HS256).
    pub public_jwk: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it starts signing (published before); `None`: from its creation.
    pub activates_at: Option<DateTime<Utc>>,
    /// When it stops (or stopped) signing; it verifies for a token lifetime longer.
    pub retired_at: Option<DateTime<Utc>>,
    /// Set by an emergency rotation: the key neither signs nor verifies any more.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a token cannot be signed or is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, forged, expired or not this tenant's (`UNAUTHENTICATED`).
    #[error("{0}")]
    Rejected(&'static str),
    /// The key set cannot sign (a bug or a broken key: `INTERNAL`).
    #[error("{0}")]
    Broken(String),
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
    fn signer(&self, alg: Algorithm, now: DateTime<Utc>) -> Result<&Signer, TokenError> {
        let of_alg = || self.signers.iter().filter(move |s| s.alg == alg);
        of_alg()
            .find(|s| s.from <= now && s.until.is_none_or(|u| now < u))
            .or_else(|| of_alg().last())
            .ok_or_else(|| TokenError::Broken(format!("the tenant has no {} key", alg.as_str())))
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
    ) -> Result<String, TokenError> {
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
    pub fn sign(&self, claims: &AccessClaims, now: DateTime<Utc>) -> Result<String, TokenError> {
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
    ) -> Result<String, TokenError> {
        self.encode(typ, payload, Utc::now())
    }

    fn encode<T: Serialize>(
        &self,
        typ: Option<&str>,
        payload: &T,
        at: DateTime<Utc>,
    ) -> Result<String, TokenError> {
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
    ) -> Result<String, TokenError> {
        let signer = self.signer(alg, at)?;
        let mut header = Header::new(jwt_alg(signer.alg));
        header.kid = Some(signer.kid.clone());
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, payload, &signer.key)
            .map_err(|e| TokenError::Broken(format!("jwt encode: {e}")))
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
    ) -> Result<AccessClaims, TokenError> {
        if token.is_empty() || token.len() > MAX_JWT_LEN {
            return Err(TokenError::Rejected("malformed access token"));
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
            Some(_) => return Err(TokenError::Rejected("invalid access token")),
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
    fn verify_signed(&self, token: &str, issuer: &str) -> Result<AccessClaims, TokenError> {
        let bad = |why: &'static str| TokenError::Rejected(why);
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
fn check_claims(claims: AccessClaims, tenant: &str, now: i64) -> Result<AccessClaims, TokenError> {
    let bad = |why: &'static str| TokenError::Rejected(why);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keygen::generate_key;
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
            idp: None,
            org_id: None,
            org_roles: None,
            extra: Default::default(),
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
