//! Refresh token values: opaque, 256 random bits, stored only as a hash.

use crate::domain::secrets::random_token;

/// Refresh tokens carry 256 random bits.
const REFRESH_TOKEN_BYTES: usize = 32;

/// A new opaque refresh token (256 random bits).
pub fn new_refresh_token() -> String {
    random_token(REFRESH_TOKEN_BYTES)
}
