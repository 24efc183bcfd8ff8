//! Randomness, derived keys, token hashing and at-rest encryption (aws-lc-rs).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use secrecy::{ExposeSecret, SecretString};

/// Keys derived from `SECRET_KEY`, one per purpose, so no key is used for two jobs.
pub struct Secrets {
    token_hash_key: hmac::Key,
    /// The raw token-hash key, so that `keys rekey` can keep it (sealed) as a retired key.
    token_hash_raw: [u8; 32],
    /// Token-hash keys of earlier `SECRET_KEY`s, newest first (see [`Secrets::hash_candidates`]).
    retired_hash_keys: Vec<hmac::Key>,
    key_encryption_key: LessSafeKey,
}

impl Secrets {
    /// Derives the purpose keys with HKDF-SHA256 (the master secret may be a passphrase).
    pub fn derive(master: &SecretString) -> Self {
        let token_hash = derive_bytes(master, b"latchkey/v1/token-hash");
        let kek = derive_bytes(master, b"latchkey/v1/signing-key-encryption");
        Self {
            token_hash_key: hmac::Key::new(hmac::HMAC_SHA256, &token_hash),
            token_hash_raw: token_hash,
            retired_hash_keys: Vec::new(),
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

    /// Adds the token-hash keys of earlier secrets (raw, newest first), as `keys rekey` left them.
    pub fn with_retired_hash_keys(mut self, raw: &[Vec<u8>]) -> Self {
        self.retired_hash_keys = raw
            .iter()
            .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k))
            .collect();
        self
    }

    /// The raw token-hash key (only for `keys rekey`, which seals it into the store).
    pub(crate) fn token_hash_raw(&self) -> &[u8; 32] {
        &self.token_hash_raw
    }

    /// `token`'s hash under the current key, then under each retired key. For the long-lived
    /// secrets a user or an app keeps across a `SECRET_KEY` change (recovery codes, OIDC client
    /// secrets): only their hashes are stored, so they cannot be re-hashed under the new key,
    /// and without the retired keys they would all stop working. Short-lived tokens (refresh,
    /// reset, verification) are looked up by the current key only: after a rekey users sign in
    /// again, as with a leaked secret one wants.
    pub fn hash_candidates(&self, token: &str) -> Vec<String> {
        std::iter::once(&self.token_hash_key)
            .chain(&self.retired_hash_keys)
            .map(|k| B64.encode(hmac::sign(k, token.as_bytes()).as_ref()))
            .collect()
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
