//! What an upstream says about a user (an id_token's claims, or a plain OAuth2 server's
//! userinfo JSON), reduced to the few facts sign-in uses: subject, address, whether the
//! address is verified, name and a username hint. Which JSON member holds each is the
//! provider's claim mapping (a dotted path such as `id` or `profile.email`); GitHub's
//! `/user/emails` list gives the primary verified address. Pure, so every rule is a unit test.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where each fact is in the upstream's JSON; `None` is the OpenID Connect claim name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    /// The stable subject (default `sub`; GitHub: `id`).
    pub subject: Option<String>,
    /// The address (default `email`).
    pub email: Option<String>,
    /// Whether the upstream verified it (default `email_verified`).
    pub email_verified: Option<String>,
    /// Display name (default `name`).
    pub name: Option<String>,
    /// A username hint (default `preferred_username`; GitHub: `login`).
    pub username: Option<String>,
}

/// The facts, as mapped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapped {
    /// Subject.
    pub subject: String,
    /// Address.
    pub email: Option<String>,
    /// Verified by the upstream.
    pub email_verified: bool,
    /// Name.
    pub name: Option<String>,
    /// Username hint.
    pub username: Option<String>,
}

/// The longest path an admin may set, and its segments' shape (letters, digits, `_`, `-`, `:`).
const MAX_PATH: usize = 200;

/// Whether `path` is a dotted path this module can follow.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH
        && path.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b))
        })
}

/// The value at a dotted path (`a.b`, `emails.0`).
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// A value as text: strings as they are, numbers in decimal (GitHub's ids are numbers).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true` or the string `"true"` (some providers send booleans as strings).
pub fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || v.as_str() == Some("true")
}

/// Maps `raw` by `m`; refused when there is no usable subject.
pub fn apply(raw: &Value, m: &ClaimMapping) -> Result<Mapped, &'static str> {
    let at = |path: &Option<String>, default: &str| lookup(raw, path.as_deref().unwrap_or(default));
    let subject = at(&m.subject, "sub")
        .and_then(text)
        .ok_or("the upstream's answer has no subject")?;
    if subject.len() > 255 {
        return Err("the upstream's subject is malformed");
    }
    Ok(Mapped {
        subject,
        email: at(&m.email, "email").and_then(text),
        email_verified: at(&m.email_verified, "email_verified").is_some_and(truthy),
        name: at(&m.name, "name").and_then(text),
        username: at(&m.username, "preferred_username").and_then(text),
    })
}

/// GitHub's `/user/emails` answer (`[{email, primary, verified}]`): the primary address when
/// it is verified, else none. A verified secondary address is not taken instead: the primary
/// is the one the user chose to be reached at.
pub fn primary_verified_email(list: &Value) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|e| e["primary"] == Value::Bool(true))
        .filter(|e| e["verified"] == Value::Bool(true))
        .and_then(|e| e["email"].as_str())
        .map(str::to_string)
}

/// GitHub's `/user`: the numeric `id` is the subject (a `login` can be renamed and taken by
/// someone else), `login` the username hint. Its `email` is the public profile address and
/// carries no verification, so it is never trusted: the sign-in replaces it with the primary
/// verified address of `/user/emails` (or none).
pub fn github() -> ClaimMapping {
    ClaimMapping {
        subject: Some("id".into()),
        username: Some("login".into()),
        ..ClaimMapping::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_defaults_are_the_openid_claims() {
        let raw = json!({"sub": "u1", "email": "a@x.example", "email_verified": "true",
            "name": "Ada", "preferred_username": "ada"});
        let m = apply(&raw, &ClaimMapping::default()).unwrap();
        assert_eq!(m.subject, "u1");
        assert_eq!(m.email.as_deref(), Some("a@x.example"));
        assert!(m.email_verified);
        assert_eq!(m.username.as_deref(), Some("ada"));
    }

    #[test]
    fn a_github_user_is_keyed_by_its_numeric_id_and_its_public_email_is_not_verified() {
        let user = json!({"id": 583231, "login": "octocat", "name": "The Octocat",
            "email": "octocat@github.example"});
        let m = apply(&user, &github()).unwrap();
        assert_eq!(m.subject, "583231");
        assert_eq!(m.username.as_deref(), Some("octocat"));
        assert!(!m.email_verified);
    }

    #[test]
    fn only_a_verified_primary_address_is_taken_from_the_emails_list() {
        let list = json!([
            {"email": "old@x.example", "primary": false, "verified": true},
            {"email": "main@x.example", "primary": true, "verified": true},
        ]);
        assert_eq!(
            primary_verified_email(&list).as_deref(),
            Some("main@x.example")
        );
        let unverified = json!([
            {"email": "other@x.example", "primary": false, "verified": true},
            {"email": "main@x.example", "primary": true, "verified": false},
        ]);
        assert_eq!(primary_verified_email(&unverified), None);
        assert_eq!(
            primary_verified_email(&json!({"message": "Not Found"})),
            None
        );
    }

    #[test]
    fn nested_paths_and_missing_subjects() {
        let raw = json!({"data": {"user": {"uid": "9", "mail": "n@x.example"}}});
        let m = ClaimMapping {
            subject: Some("data.user.uid".into()),
            email: Some("data.user.mail".into()),
            ..ClaimMapping::default()
        };
        let got = apply(&raw, &m).unwrap();
        assert_eq!(got.subject, "9");
        assert_eq!(got.email.as_deref(), Some("n@x.example"));
        assert!(apply(&json!({"sub": ""}), &ClaimMapping::default()).is_err());
        assert!(apply(&json!({"sub": {"a": 1}}), &ClaimMapping::default()).is_err());
        assert!(valid_path("a.b_c.0") && !valid_path("a..b") && !valid_path("a b"));
    }
}
