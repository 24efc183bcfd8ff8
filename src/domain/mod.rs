//! The types every layer shares, below all of them: names and addresses (tenant slug, email,
//! username, password), the signing algorithm, key sets and key generation, token claims,
//! the lockout policy and sealed secrets.
//!
//! Nothing here touches the network, the database or an actor; the store, the actors, the
//! services and the edges import from here, never the other way round.

pub mod claims;
pub mod events;
pub mod keygen;
pub mod keys;
pub mod lockout;
pub mod password_policy;
pub mod secrets;
pub mod values;
pub mod webhook_signature;

pub use values::*;

/// The role that may administer a tenant.
pub const ADMIN_ROLE: &str = "admin";

/// A value that failed validation: which input field, and what is wrong with it in words a
/// person can act on. The service layer maps it to `BAD_USER_INPUT` with `extensions.field`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct InvalidInput {
    /// The input field's name, as in the GraphQL schema.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl InvalidInput {
    /// A rejection of `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// JWT signing algorithm for tenants' access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (default): small keys, fast, no nonce pitfalls.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// HMAC-SHA256 with a per-tenant secret; cannot be published in the JWKS.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256 (2048-bit keys): what OpenID Connect requires every
    /// provider to offer for id_tokens; every tenant has one beside its own algorithm's key.
    RS256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::HS256 => "HS256",
            Algorithm::RS256 => "RS256",
        }
    }

    /// Parses a JOSE `alg` name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "EDDSA" => Some(Algorithm::EdDSA),
            "ES256" => Some(Algorithm::ES256),
            "HS256" => Some(Algorithm::HS256),
            "RS256" => Some(Algorithm::RS256),
            _ => None,
        }
    }
}
