//! Multi-factor sign-in: TOTP with recovery codes, passkeys (WebAuthn) and the tenant's MFA
//! policy. A capability of its own: the GraphQL operations (`graphql`), the rules
//! (`service`), the two factor mechanisms (`totp`, `passkeys`) and their tables (`store`).
//!
//! A login whose account has a factor ends, after the right password, in `MFA_REQUIRED` with
//! a single-use token; `verifyMfa` with one factor completes it. A passkey sign-in needs no
//! second step. Wrong codes count toward the same lockout as wrong passwords.

pub mod graphql;
pub mod passkeys;
pub mod service;
pub mod store;
pub mod totp;
