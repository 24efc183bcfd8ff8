//! Randomness, derived keys, token hashing and at-rest encryption (aws-lc-rs).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use secrecy::{ExposeSecret, SecretString};

/// Keys derived from `SECRET_KEY`, one per purpose, so no key is used for two jobs.
pub struct Secrets {
    token_hash_key: hmac::Key,
    key_encryption_key: LessSafeKey,
}

impl Secrets {
    /// Derives the purpose keys with HKDF-SHA256 (the master secret may be a passphrase).
    pub fn derive(master: &SecretString) -> Self {
        let token_hash = derive_bytes(master, b"latchkey/v1/token-hash");
        let kek = derive_bytes(master, b"latchkey/v1/signing-key-encryption");
        Self {
            token_hash_key: hmac::Key::new(hmac::HMAC_SHA256, &token_hash),
            key_encryption_key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &kek).expect("32-byte key fits AES-256-GCM"),
            ),
        }
    }

    /// The at-rest form of an opaque token: HMAC-SHA256 under a server key, so a database
    /// leak yields neither usable tokens nor a way to test guesses offline.
    pub fn hash_token(&self, token: &str) -> String {
        B64.encode(hmac::sign(&self.token_hash_key, token.as_bytes()).as_ref())
    }

    /// Encrypts `plain` with AES-256-GCM, binding it to `context` (tenant and key id) so a
    /// ciphertext copied to another row or tenant does not decrypt.
    pub fn seal(&self, context: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).expect("system randomness");
        let mut buf = plain.to_vec();
        self.key_encryption_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        B64.encode(out)
    }

    /// Reverses [`Secrets::seal`]; `None` when the data was tampered with or the key differs.
    pub fn open(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .key_encryption_key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn derive_bytes(master: &SecretString, info: &[u8]) -> [u8; 32] {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"latchkey");
    let prk = salt.extract(master.expose_secret().as_bytes());
    let info = [info];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .expect("32 bytes is a valid HKDF length");
    let mut out = [0u8; 32];
    okm.fill(&mut out).expect("32 bytes is a valid HKDF length");
    out
}

/// `n` random bytes from the OS CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf).expect("system randomness");
    buf
}

/// An opaque token of `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    B64.encode(random_bytes(bytes))
}

/// `bytes` random bytes as lower-case hex (for the development secret file).
pub fn random_token_hex(bytes: usize) -> String {
    random_bytes(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Base64url without padding, as JOSE uses.
pub fn b64url(data: &[u8]) -> String {
    B64.encode(data)
}
