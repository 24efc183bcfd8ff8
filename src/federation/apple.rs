//! Sign in with Apple's rules. Apple has no client secret to copy: the secret is a JWT the
//! client signs (ES256) with a private key from Apple's developer console (a `.p8` file),
//! naming the team (`iss`), the Services ID (`sub`) and Apple (`aud`), valid at most six
//! months. latchkey makes a fresh one, valid five minutes, for each code exchange, so a
//! secret that leaks from a log is soon worthless. Apple answers with `response_mode=
//! form_post` when names or addresses are asked for, and sends the user's name only on the
//! first sign-in, in a `user` form field beside the code (never in the id_token).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;

/// Apple's issuer (also the client secret's audience).
pub const ISSUER: &str = "https://appleid.apple.com";

/// How long a client secret made here is valid.
const SECRET_SECONDS: i64 = 300;

/// The signing key of a `.p8` file (PKCS#8 PEM, P-256), or why not.
pub fn signing_key(p8: &str) -> Result<EncodingKey, &'static str> {
    EncodingKey::from_ec_pem(p8.trim().as_bytes())
        .map_err(|_| "must be the .p8 file's text: an EC P-256 private key in PEM")
}

/// The client secret for a token request: an ES256 JWT by `team_id`'s key `key_id` for the
/// Services ID `client_id`, to `audience` (Apple's issuer).
pub fn client_secret(
    team_id: &str,
    key_id: &str,
    client_id: &str,
    p8: &str,
    audience: &str,
    now: i64,
) -> Result<String, &'static str> {
    let key = signing_key(p8)?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key_id.to_string());
    let claims = json!({
        "iss": team_id,
        "iat": now,
        "exp": now + SECRET_SECONDS,
        "aud": audience,
        "sub": client_id,
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(|_| "the key cannot sign")
}

/// The `user` field of Apple's first answer: `{"name": {"firstName", "lastName"}, "email"}`.
#[derive(Debug, Deserialize)]
struct FirstAnswerUser {
    #[serde(default)]
    name: Option<FirstAnswerName>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirstAnswerName {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// The display name in Apple's `user` field, if any. Only the name is taken from it: the
/// address is taken from the signed id_token, not from this unsigned field.
pub fn first_answer_name(user: &str) -> Option<String> {
    let u: FirstAnswerUser = serde_json::from_str(user).ok()?;
    let n = u.name?;
    let full = [n.first_name, n.last_name]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!full.is_empty() && full.chars().count() <= 200 && !full.chars().any(char::is_control))
        .then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_the_first_answers_user_field_only_when_well_formed() {
        let user = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"x@privaterelay.appleid.com"}"#;
        assert_eq!(first_answer_name(user).as_deref(), Some("Ada Lovelace"));
        assert_eq!(first_answer_name(r#"{"email":"x@y.example"}"#), None);
        assert_eq!(first_answer_name("not json"), None);
        assert_eq!(
            first_answer_name(r#"{"name":{"firstName":"A\u0007"}}"#),
            None
        );
    }

    #[test]
    fn a_key_that_is_not_a_p8_is_refused() {
        assert!(
            signing_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
        );
        assert!(client_secret("T", "K", "c", "nope", ISSUER, 0).is_err());
    }
}
