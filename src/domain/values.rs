//! Parse-don't-validate newtypes for every value that crosses the edge.
//!
//! A value of these types has been checked, so the service and the store never see a
//! malformed email, username, password or tenant slug. Each rejection names its field.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::InvalidInput;

/// A tenant slug: `^[a-z0-9][a-z0-9-]{1,62}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Checks the slug grammar of API.md.
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        let ok = (2..=63).contains(&s.len())
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidInput::new(
                "slug",
                "must match ^[a-z0-9][a-z0-9-]{1,62}$",
            ))
        }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest login identifier: an email address (RFC 5321 path limit).
pub const MAX_IDENTIFIER_LEN: usize = 254;

/// What a person types to sign in: an email address or a username, normalized as the stored
/// `email_norm`/`username_norm` are, so one lookup finds either. The one normaliser of
/// password sign-in, passkey sign-in and anything else that looks an account up by name.
pub struct LoginIdentifier {
    normalized: String,
    is_email: bool,
    searchable: bool,
}

impl LoginIdentifier {
    /// Trims and normalizes; an email address (it has an `@`) is compared in full Unicode
    /// lower case, a username in ASCII lower case.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        let is_email = raw.contains('@');
        Self {
            normalized: if is_email {
                raw.to_lowercase()
            } else {
                raw.to_ascii_lowercase()
            },
            is_email,
            searchable: !raw.is_empty()
                && raw.len() <= MAX_IDENTIFIER_LEN
                && !raw.chars().any(char::is_control),
        }
    }

    /// The normalized text.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// Whether it is an email address (else a username).
    pub fn is_email(&self) -> bool {
        self.is_email
    }

    /// Whether it can name an account at all: not empty, not too long, no control
    /// characters. One that cannot is looked up nowhere (and still costs a sign-in the same
    /// work, so the answer tells nothing).
    pub fn searchable(&self) -> bool {
        self.searchable
    }
}

/// A syntactically valid email address: trimmed, domain lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

/// RFC 5321 path limit.
const EMAIL_MAX: usize = 254;

/// Whether `d` (lower case) is a domain name as addresses and organizations' domains use
/// them: at least two LDH labels of 1..=63, at most 253 in all, a top-level label with a
/// letter (no bare IP addresses).
pub fn is_domain_name(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() >= 2
        && d.len() <= 253
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

impl Email {
    /// Validates `local@domain` (dot-atom local part, LDH domain with a dot), rejecting control
    /// characters outright so no value can smuggle a header line into a mail.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(InvalidInput::new(field, "is required"));
        }
        if s.len() > EMAIL_MAX {
            return Err(InvalidInput::new(field, "is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InvalidInput::new(
                field,
                "must not contain spaces or control characters",
            ));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(InvalidInput::new(
                field,
                "is not an email address (missing @)",
            ));
        };
        let local_ok = (1..=64).contains(&local.len())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let domain = domain.to_ascii_lowercase();
        if !local_ok || !is_domain_name(&domain) {
            return Err(InvalidInput::new(field, "is not a valid email address"));
        }
        let display = format!("{local}@{domain}");
        // Uniqueness is case-insensitive on the whole address: mailbox providers treat the
        // local part case-insensitively, and two accounts differing only in case confuse people.
        let normalized = display.to_lowercase();
        Ok(Self {
            display,
            normalized,
        })
    }

    /// The address as the user wrote it (trimmed, domain lower-cased).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The lower-cased form unique indexes and lookups use.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.display.rsplit_once('@').map_or("", |(l, _)| l)
    }
}

/// A username: 3..=32 of `[A-Za-z0-9_.-]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Validates the username grammar.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(InvalidInput::new(field, "is required"));
        }
        if !(3..=32).contains(&s.chars().count()) {
            return Err(InvalidInput::new(field, "must be 3 to 32 characters long"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(InvalidInput::new(
                field,
                "may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(s.to_string()))
    }

    /// The username as chosen.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form unique indexes and lookups use.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Password length bounds (NIST SP 800-63B: at least 8, allow at least 64; 128 caps hashing
/// cost of hostile input).
pub const PASSWORD_MIN: usize = 8;
/// See [`PASSWORD_MIN`].
pub const PASSWORD_MAX: usize = 128;

/// A new password that meets the policy, NFKC-normalized so the same password typed on
/// different keyboards hashes the same.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Applies the length policy; no composition rules (NIST SP 800-63B).
    pub fn parse(field: &'static str, raw: &str, min_len: usize) -> Result<Self, InvalidInput> {
        let normalized: String = raw.nfkc().collect();
        let len = normalized.chars().count();
        if len == 0 {
            return Err(InvalidInput::new(field, "is required"));
        }
        if len < min_len {
            return Err(InvalidInput::new(
                field,
                &format!("is too short: use at least {min_len} characters"),
            ));
        }
        if len > PASSWORD_MAX {
            return Err(InvalidInput::new(
                field,
                &format!("is too long: use at most {PASSWORD_MAX} characters"),
            ));
        }
        Ok(Self(SecretString::from(normalized)))
    }

    /// The normalized password.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A password presented for verification: normalized like [`NewPassword`], never policy-checked
/// (policy changes must not lock out existing users), but bounded so hostile input costs little.
pub fn candidate_password(raw: &str) -> SecretString {
    let capped: String = raw.chars().take(PASSWORD_MAX * 4).collect();
    SecretString::from(capped.nfkc().collect::<String>())
}

/// Exposes a secret for hashing; kept here so call sites stay greppable.
pub fn expose(s: &SecretString) -> &str {
    s.expose_secret()
}
