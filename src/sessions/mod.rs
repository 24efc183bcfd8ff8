//! Sessions: issuing access and refresh tokens, refresh rotation with reuse detection,
//! authenticating a bearer token, logout; and the gate every credential check passes
//! (per-account lockout and per-address throttling).

pub mod bruteforce;
pub mod graphql;
pub mod service;
pub mod tokens;
