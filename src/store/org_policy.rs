//! What sign-in needs from organizations (schema/surreal/tenant/016_org_domains.surql and
//! 018_org_sso.surql): the policy of an address's domain (its organization, that
//! organization's identity provider, whether its members must sign in through it), and which
//! providers are an organization's own (offered only to its domains). The organizations
//! capability writes these tables; password sign-in, the hosted page and `signInOptions` read
//! them here.

use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// The sign-in policy of a domain that belongs to an organization.
#[derive(Clone, Debug, SurrealValue)]
pub struct DomainPolicy {
    /// The organization's id.
    pub org: String,
    /// Its name (for messages).
    pub org_name: String,
    /// Its identity provider's id, while that provider exists and is enabled.
    pub provider: Option<String>,
    /// The provider's display name.
    pub provider_name: Option<String>,
    /// Members must sign in through the provider (in force only with `provider`).
    pub sso_required: bool,
}

impl DomainPolicy {
    /// The provider a password sign-in must go through instead, when the policy is in force.
    pub fn required_provider(&self) -> Option<&str> {
        self.provider.as_deref().filter(|_| self.sso_required)
    }
}

/// The policy of `domain` (lower case); `None` when no organization has it.
pub async fn of_domain(db: &Db, domain: &str) -> StoreResult<Option<DomainPolicy>> {
    db.query(
        "LET $org = $did.org;
         LET $o = IF $org != NONE { type::record('organization', $org) } ELSE { NONE };
         LET $p = IF $o.idp != NONE { type::record('identity_provider', $o.idp) } ELSE { NONE };
         RETURN IF $org = NONE OR $o.name = NONE { NONE } ELSE { {
             org: $org,
             org_name: $o.name,
             provider: IF $p.enabled = true { record::id($p) } ELSE { NONE },
             provider_name: $p.name,
             sso_required: $o.sso_required ?? false
         } };",
    )
    .bind(("did", RecordId::new("org_domain", domain)))
    .take_last()
    .await
}

/// The ids of the identity providers that are an organization's own.
pub async fn org_providers(db: &Db) -> StoreResult<Vec<String>> {
    db.query("SELECT VALUE idp FROM organization WHERE idp != NONE")
        .take(0)
        .await
}

/// The domain of an address, lower-cased (`None` without an `@`).
pub fn domain_of(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}
