//! What a new password may not be, beyond its length (NIST SP 800-63B 3.1.1.2): a commonly
//! used password, or one built from the account's own username or email address. No
//! composition rules: they make passwords harder to remember, not to guess.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::InvalidInput;
use crate::domain::{NewPassword, expose};

/// 19,640 common passwords, lower-cased (Royce Williams' list as shipped by Django; see
/// `scripts/common-passwords.sh`, which regenerates the file).
const COMMON_PASSWORDS_TXT: &str = include_str!("../../assets/common-passwords.txt");

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| COMMON_PASSWORDS_TXT.lines().collect());

/// Names shorter than this are not checked for: "bob" inside a long passphrase is chance.
const MIN_NAME_LEN: usize = 3;

/// Number of passwords in the shipped list.
pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

/// Whether `password` (already NFKC-normalized) is in the common list, case-insensitively.
pub fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// Refuses a common password or one containing the username or the email's local part
/// (case-insensitive). `field` names the input in the error.
pub fn check(
    field: &'static str,
    password: &NewPassword,
    username: &str,
    email: &str,
) -> Result<(), InvalidInput> {
    let pw = expose(password.secret());
    if is_common(pw) {
        return Err(InvalidInput::new(
            field,
            "is too common: it is on the list of passwords attackers try first; choose a longer passphrase of unrelated words",
        ));
    }
    let lower = pw.to_lowercase();
    let contains = |name: &str| {
        let name = name.trim().to_lowercase();
        name.chars().count() >= MIN_NAME_LEN && lower.contains(&name)
    };
    if contains(username) {
        return Err(InvalidInput::new(
            field,
            "must not contain your username: choose a passphrase unrelated to your account",
        ));
    }
    let local = email.rsplit_once('@').map_or(email, |(l, _)| l);
    if contains(local) {
        return Err(InvalidInput::new(
            field,
            "must not contain your email address: choose a passphrase unrelated to your account",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_large_and_matches_case_insensitively() {
        assert!(common_password_count() >= 10_000);
        assert!(is_common("password1"));
        assert!(is_common("PassWord1"));
        assert!(!is_common("correct horse battery"));
    }
}
