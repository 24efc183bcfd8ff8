//! The webhook event catalogue (issue 25): every kind of event a tenant's endpoints can
//! subscribe to, by its fixed name. Each has a JSON schema of its `data` in
//! `schema/events/{kind}.json` (version 1); `tests/api/webhooks` checks emitted payloads
//! against them. Payloads never carry password hashes, tokens, secrets, TOTP seeds or
//! recovery codes: the store builds each `data` field by field.

/// An event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An account was created (sign-up, an admin, a federated sign-in).
    UserCreated,
    /// Profile, roles or verified address changed.
    UserUpdated,
    /// An admin disabled the account.
    UserDisabled,
    /// An admin enabled the account.
    UserEnabled,
    /// The account was deleted.
    UserDeleted,
    /// The user changed their password.
    UserPasswordChanged,
    /// The password was reset by a mailed link.
    UserPasswordReset,
    /// A second factor was added.
    UserMfaEnrolled,
    /// A second factor was removed.
    UserMfaRemoved,
    /// An upstream identity was linked.
    UserIdentityLinked,
    /// An upstream identity was unlinked.
    UserIdentityUnlinked,
    /// A sign-in started a session.
    SessionCreated,
    /// A session ended (logout, an admin, a password change).
    SessionRevoked,
    /// A spent refresh token came back: the session was revoked.
    SessionTokenReuseDetected,
    /// Failed sign-ins locked the account.
    UserLockedOut,
    /// An OAuth client was registered.
    ClientCreated,
    /// An OAuth client changed.
    ClientUpdated,
    /// An OAuth client was deleted.
    ClientDeleted,
    /// Tenant settings changed.
    TenantSettingsUpdated,
    /// The signing key was rotated.
    SigningKeyRotated,
}

impl EventKind {
    /// Every kind, in catalogue order.
    pub const ALL: [EventKind; 20] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserDeleted,
        Self::UserPasswordChanged,
        Self::UserPasswordReset,
        Self::UserMfaEnrolled,
        Self::UserMfaRemoved,
        Self::UserIdentityLinked,
        Self::UserIdentityUnlinked,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::SessionTokenReuseDetected,
        Self::UserLockedOut,
        Self::ClientCreated,
        Self::ClientUpdated,
        Self::ClientDeleted,
        Self::TenantSettingsUpdated,
        Self::SigningKeyRotated,
    ];

    /// The event's `type` on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserDeleted => "user.deleted",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserPasswordReset => "user.password_reset",
            Self::UserMfaEnrolled => "user.mfa_enrolled",
            Self::UserMfaRemoved => "user.mfa_removed",
            Self::UserIdentityLinked => "user.identity_linked",
            Self::UserIdentityUnlinked => "user.identity_unlinked",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
            Self::SessionTokenReuseDetected => "session.token_reuse_detected",
            Self::UserLockedOut => "user.locked_out",
            Self::ClientCreated => "client.created",
            Self::ClientUpdated => "client.updated",
            Self::ClientDeleted => "client.deleted",
            Self::TenantSettingsUpdated => "tenant.settings_updated",
            Self::SigningKeyRotated => "signing_key.rotated",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What an endpoint subscribes to: kinds of the catalogue, or `*` for all of them.
pub const ALL_EVENTS: &str = "*";

/// The event an admin's "send test" delivers to one endpoint (not in the catalogue: nothing
/// happened).
pub const TEST_EVENT: &str = "webhook.test";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert!(seen.insert(k.as_str()), "{}", k.as_str());
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("user.nope"), None);
    }
}
