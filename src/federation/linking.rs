//! What a federated sign-in does with the account it finds: the rules that keep account
//! linking from handing one person's account to another (the part of federation that gets
//! identity servers CVEs). A pure decision over the facts, so every rule is a unit test; the
//! sign-in flow reads the facts from the store and carries the decision out.
//!
//! - A linked identity (provider, upstream subject; for Microsoft Entra the directory and
//!   object ids, never the `email` claim) signs in as its account, whatever the address says.
//! - No linked identity, no account with the address: a new account if the provider may
//!   create them; its address counts as verified only if the upstream asserts it and this
//!   provider's assertion is trusted.
//! - An account with the address exists: never linked silently. Automatically only when the
//!   provider is set to, the upstream asserts a verified address that is trusted, and the
//!   local address is verified; otherwise the user proves the local account first (its
//!   password and second factor, or a passkey).
//! - A local account whose address was never verified: possibly registered by someone else
//!   with the victim's address, waiting for the victim (pre-account hijacking). Never linked
//!   as it is: refused, or, where the tenant allows it, taken over by a trusted verified
//!   identity after its password, factors and sessions are removed.

/// How a provider may join its identities to existing accounts (per provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPolicy {
    /// Never: a sign-in whose address has an account is refused.
    Never,
    /// After the user proves the local account.
    Prove,
    /// At once when both addresses are verified (and the upstream's assertion is trusted);
    /// otherwise after proof.
    Automatic,
}

/// What the provider's configuration says (per provider).
#[derive(Debug, Clone, Copy)]
pub struct ProviderRules {
    /// Just-in-time sign-up: may a sign-in create an account.
    pub may_create: bool,
    /// How identities join existing accounts.
    pub link: LinkPolicy,
    /// Whether this provider's `email_verified` is believed (false for Microsoft Entra's
    /// `email` claim, which Entra does not verify).
    pub trusts_email: bool,
    /// Whether the tenant lets a trusted verified identity take over an account whose
    /// address was never verified (after its credentials are removed).
    pub take_over_unverified: bool,
}

/// What the upstream said about the user.
#[derive(Debug, Clone)]
pub struct UpstreamUser {
    /// Their address, if given.
    pub email: Option<String>,
    /// Whether the upstream says the address is verified.
    pub email_verified: bool,
}

/// The local account an address belongs to.
#[derive(Debug, Clone)]
pub struct LocalAccount {
    /// Its id.
    pub id: String,
    /// Whether its address was verified.
    pub email_verified: bool,
}

/// What the sign-in does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sign in as the linked account.
    SignIn(String),
    /// Create an account (the address verified or not) and link the identity to it.
    Create {
        /// Whether the new account's address counts as verified.
        email_verified: bool,
    },
    /// Link to this account now, then sign in.
    Link(String),
    /// Ask the user to prove this account (password and second factor, or passkey), then link.
    Prove(String),
    /// Remove this unverified account's password, factors and sessions, mark its address
    /// verified, link, then sign in.
    TakeOver(String),
    /// Refuse, with the reason shown to the user.
    Refuse(&'static str),
}

/// The decision for a sign-in through a provider with `rules`, by `upstream`, where `linked`
/// is the account the identity is already linked to and `by_email` the account that has the
/// upstream's address (if any).
pub fn decide(
    rules: ProviderRules,
    upstream: &UpstreamUser,
    linked: Option<&str>,
    by_email: Option<&LocalAccount>,
) -> Decision {
    if let Some(id) = linked {
        return Decision::SignIn(id.to_string());
    }
    let verified = upstream.email_verified && rules.trusts_email;
    if upstream.email.is_none() {
        return Decision::Refuse("the provider gave no email address");
    }
    let Some(local) = by_email else {
        return if rules.may_create {
            Decision::Create {
                email_verified: verified,
            }
        } else {
            Decision::Refuse("this provider may not create accounts")
        };
    };
    if rules.link == LinkPolicy::Never {
        return Decision::Refuse("an account with this address exists; sign in with it");
    }
    if !local.email_verified {
        // Pre-account hijacking: whoever set that account's password may not be its owner.
        return if rules.take_over_unverified && verified {
            Decision::TakeOver(local.id.clone())
        } else {
            Decision::Refuse(
                "an account with this address exists but its address was never confirmed",
            )
        };
    }
    if rules.link == LinkPolicy::Automatic && verified {
        Decision::Link(local.id.clone())
    } else {
        Decision::Prove(local.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: ProviderRules = ProviderRules {
        may_create: true,
        link: LinkPolicy::Automatic,
        trusts_email: true,
        take_over_unverified: false,
    };

    fn user(verified: bool) -> UpstreamUser {
        UpstreamUser {
            email: Some("ada@example.com".into()),
            email_verified: verified,
        }
    }

    fn local(verified: bool) -> LocalAccount {
        LocalAccount {
            id: "u1".into(),
            email_verified: verified,
        }
    }

    #[test]
    fn a_linked_identity_signs_in_as_its_account_whatever_the_address() {
        let other = LocalAccount {
            id: "u2".into(),
            email_verified: true,
        };
        assert_eq!(
            decide(RULES, &user(false), Some("u1"), Some(&other)),
            Decision::SignIn("u1".into())
        );
    }

    #[test]
    fn a_new_address_makes_an_account_only_where_allowed_verified_only_when_trusted() {
        assert_eq!(
            decide(RULES, &user(true), None, None),
            Decision::Create {
                email_verified: true
            }
        );
        assert_eq!(
            decide(RULES, &user(false), None, None),
            Decision::Create {
                email_verified: false
            }
        );
        let untrusted = ProviderRules {
            trusts_email: false,
            ..RULES
        };
        assert_eq!(
            decide(untrusted, &user(true), None, None),
            Decision::Create {
                email_verified: false
            },
            "an untrusted assertion (Entra's email claim) does not verify the address"
        );
        let closed = ProviderRules {
            may_create: false,
            ..RULES
        };
        assert!(matches!(
            decide(closed, &user(true), None, None),
            Decision::Refuse(_)
        ));
        let no_email = UpstreamUser {
            email: None,
            email_verified: false,
        };
        assert!(matches!(
            decide(RULES, &no_email, None, None),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn an_existing_account_is_never_linked_silently() {
        // Automatic only with both addresses verified and the assertion trusted.
        assert_eq!(
            decide(RULES, &user(true), None, Some(&local(true))),
            Decision::Link("u1".into())
        );
        assert_eq!(
            decide(RULES, &user(false), None, Some(&local(true))),
            Decision::Prove("u1".into()),
            "unverified upstream address: prove the local account"
        );
        let untrusted = ProviderRules {
            trusts_email: false,
            ..RULES
        };
        assert_eq!(
            decide(untrusted, &user(true), None, Some(&local(true))),
            Decision::Prove("u1".into()),
            "Entra-shaped: the email claim is not trusted (nOAuth)"
        );
        let prove = ProviderRules {
            link: LinkPolicy::Prove,
            ..RULES
        };
        assert_eq!(
            decide(prove, &user(true), None, Some(&local(true))),
            Decision::Prove("u1".into())
        );
        let never = ProviderRules {
            link: LinkPolicy::Never,
            ..RULES
        };
        assert!(matches!(
            decide(never, &user(true), None, Some(&local(true))),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn an_unverified_local_account_is_not_linked_as_it_is() {
        // The pre-account-hijacking attack: someone registered the victim's address with a
        // password they know; the victim then signs in with a verified upstream identity.
        assert!(matches!(
            decide(RULES, &user(true), None, Some(&local(false))),
            Decision::Refuse(_)
        ));
        let takeover = ProviderRules {
            take_over_unverified: true,
            ..RULES
        };
        assert_eq!(
            decide(takeover, &user(true), None, Some(&local(false))),
            Decision::TakeOver("u1".into())
        );
        assert!(
            matches!(
                decide(takeover, &user(false), None, Some(&local(false))),
                Decision::Refuse(_)
            ),
            "no take-over on an unverified upstream address"
        );
        let takeover_untrusted = ProviderRules {
            trusts_email: false,
            ..takeover
        };
        assert!(matches!(
            decide(takeover_untrusted, &user(true), None, Some(&local(false))),
            Decision::Refuse(_)
        ));
    }
}
