//! Standard Webhooks signatures (https://www.standardwebhooks.com, the spec Svix, Resend, Clerk
//! and others follow), for the webhooks a tenant's other systems receive (issue 25).
//!
//! A signing secret is `whsec_` and the base64 of 24 to 64 random bytes (32 here). A delivery
//! carries `webhook-id` (stable across retries: the receiver's idempotency key),
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,` and the base64 of
//! HMAC-SHA256 over `{id}.{timestamp}.{body}`, several space-separated when more than one secret
//! signs (during a rotation's grace period both the old and the new). Pure, so the spec's test
//! vector and the rotation rule are unit tests; receivers verify with the reference library
//! (PyPI/npm `standardwebhooks`) in the integration tests, never with this code.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::secrets::random_bytes;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// How many random bytes a new secret has (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// Why a secret cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not `whsec_` and base64.
    #[error("a webhook secret is whsec_ followed by base64")]
    Malformed,
    /// Outside the spec's 24 to 64 bytes.
    #[error("a webhook secret holds 24 to 64 bytes")]
    Length,
}

/// A new signing secret, as shown once to the admin who made it.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(random_bytes(SECRET_BYTES)))
}

/// The key bytes of a `whsec_` secret.
fn key_of(secret: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SecretError::Malformed)?;
    let key = B64.decode(b64).map_err(|_| SecretError::Malformed)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretError::Length);
    }
    Ok(key)
}

/// One `v1,` signature of a delivery by `secret`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_of(secret)?);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    Ok(format!("v1,{}", B64.encode(ctx.sign().as_ref())))
}

/// The `webhook-signature` header: one signature per secret (the current one first; during a
/// rotation's grace period the previous one too), space-separated as the spec allows.
pub fn header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    let sigs: Result<Vec<String>, SecretError> = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect();
    Ok(sigs?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (also what the reference library computes).
    #[test]
    fn the_specs_test_vector() {
        let got = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(got, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_current_first() {
        let (old, new) = (new_secret(), new_secret());
        let h = header(&[&new, &old], "msg_1", 1_700_000_000, b"{}").unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, "msg_1", 1_700_000_000, b"{}").unwrap());
        assert_eq!(parts[1], sign(&old, "msg_1", 1_700_000_000, b"{}").unwrap());
    }

    #[test]
    fn secrets_are_whsec_and_24_to_64_bytes() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(key_of(&s).unwrap().len(), 32);
        assert_eq!(sign("nope", "i", 0, b""), Err(SecretError::Malformed));
        assert_eq!(sign("whsec_!!", "i", 0, b""), Err(SecretError::Malformed));
        let short = format!("whsec_{}", B64.encode([1u8; 8]));
        assert_eq!(sign(&short, "i", 0, b""), Err(SecretError::Length));
    }
}
