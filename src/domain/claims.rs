//! What an access token says: its claims, and how the session behind it was authenticated.

use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp`/`nbf`/`iat` (ASVS asks for a small, bounded leeway).
pub const JWT_LEEWAY_SECONDS: i64 = 30;
/// `typ` of access tokens (RFC 9068), so no other JWT can be replayed as one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Claims of an access token (API.md "Tokens"). Every time claim is a required integer: a
/// string-typed `exp` fails to deserialize instead of being skipped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// `{PUBLIC_URL}/t/{tenant}`.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Audience: the issuer URL (tokens are for this tenant's APIs).
    pub aud: String,
    /// Expiry (seconds since epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Session id.
    pub sid: String,
    /// Tenant slug.
    pub tenant: String,
    /// Role names at issue time.
    pub roles: Vec<String>,
    /// How the session was authenticated (RFC 8176 values, e.g. `["pwd", "otp"]`).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The assurance level the session reached: `aal1` (one factor) or `aal2` (two, or a
    /// passkey with user verification), NIST SP 800-63B's levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The OAuth client the token was issued to (RFC 9068), for tokens of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted, space-separated (RFC 9068), for tokens of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The upstream identity provider (its id) a federated session signed in through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The organization the token is for (its session is scoped to it), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The caller's roles in that organization at issue time (the tenant `roles` unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_roles: Option<Vec<String>>,
    /// Claims the tenant's token hook added (never one of the above: the hook's answer is
    /// refused when it names one).
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// How a session was authenticated; decides its `amr` and `acr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A password alone.
    Password,
    /// A password, then a TOTP or recovery code.
    PasswordAndOtp,
    /// A passkey with user verification: possession of the key plus the authenticator's
    /// PIN or biometric, so multi-factor on its own.
    Passkey,
    /// A password, then a passkey.
    PasswordAndPasskey,
    /// An upstream identity provider (`fed`, as Microsoft's tokens say it: RFC 8176 has no
    /// value for it).
    Federated,
    /// An upstream provider whose own multi-factor sign-in the provider's settings trust.
    FederatedMfa,
    /// An upstream provider, then latchkey's own second factor.
    FederatedAndOtp,
}

impl AuthMethod {
    /// RFC 8176 `amr` values.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethod::Password => &["pwd"],
            AuthMethod::PasswordAndOtp => &["pwd", "otp", "mfa"],
            AuthMethod::Passkey => &["pop", "hwk", "user", "mfa"],
            AuthMethod::PasswordAndPasskey => &["pwd", "pop", "hwk", "mfa"],
            AuthMethod::Federated => &["fed"],
            AuthMethod::FederatedMfa => &["fed", "mfa"],
            AuthMethod::FederatedAndOtp => &["fed", "otp", "mfa"],
        }
    }

    /// The `acr` value.
    pub fn acr(self) -> &'static str {
        match self {
            AuthMethod::Password | AuthMethod::Federated => "aal1",
            _ => "aal2",
        }
    }

    /// The method a session's stored `amr` records (sessions from before `amr`: a password).
    pub fn from_amr(amr: &[String]) -> Self {
        let has = |v: &str| amr.iter().any(|a| a == v);
        if has("fed") {
            return match (has("otp"), has("mfa")) {
                (true, _) => AuthMethod::FederatedAndOtp,
                (false, true) => AuthMethod::FederatedMfa,
                _ => AuthMethod::Federated,
            };
        }
        match (has("pwd"), has("otp"), has("pop")) {
            (true, true, _) => AuthMethod::PasswordAndOtp,
            (true, _, true) => AuthMethod::PasswordAndPasskey,
            (false, _, true) => AuthMethod::Passkey,
            _ => AuthMethod::Password,
        }
    }
}
