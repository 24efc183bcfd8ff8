//! Multi-factor sign-in: TOTP with recovery codes, passkeys (WebAuthn) and the tenant's MFA
//! policy. A capability of its own: the GraphQL operations (`graphql`), the rules
//! (`service`), the two factor mechanisms (`totp`, `passkeys`) and their tables (`store`).
//! The rules are one `MfaService` spread over a file per job: the service and what concerns
//! every factor (`service`), the tokens of a second step or a ceremony (`challenge`), the
//! second-step policy (`policy`), and one file per factor (`totp_factor`, `recovery_codes`,
//! `passkey_factor`).
//!
//! A login whose account has a factor ends, after the right password, in `MFA_REQUIRED` with
//! a single-use token; `verifyMfa` with one factor completes it. A passkey sign-in needs no
//! second step. Wrong codes count toward the same lockout as wrong passwords.

pub mod challenge;
pub mod graphql;
pub mod passkey_factor;
pub mod passkeys;
pub mod policy;
pub mod recovery_codes;
pub mod service;
pub mod store;
pub mod totp;
pub mod totp_factor;
