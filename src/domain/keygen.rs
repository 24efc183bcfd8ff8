//! Making signing keys: a fresh key pair of the tenant's algorithm, sealed for storage.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use chrono::{DateTime, Utc};

use super::Algorithm;
use super::keys::KeyRow;
use super::secrets::{Secrets, b64url, random_bytes, random_token};

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
        Algorithm::HS256 => (random_bytes(32), None),
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
