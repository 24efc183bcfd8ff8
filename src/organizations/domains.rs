//! Verified domains of an organization: a tenant admin gives a domain to an organization, and
//! a user whose *confirmed* address is in it joins the organization with its `jitRoles` when
//! they first become such a user (the session service does the joining: at the first
//! sign-in, and when an address is confirmed).
//!
//! How a domain is verified today: by the tenant admin's assertion (`ADMIN_ASSERTION`), which
//! is why only tenant admins, not an organization's own admins, add domains: a customer's
//! admin claiming `bigbank.com` would otherwise pull a competitor's people into their
//! organization. DNS TXT verification (a record under `_latchkey.{domain}` that the
//! organization's admin publishes) is the next step, and would let org admins add domains.

use super::OrganizationService;
use super::store::{self, DomainRow};
use crate::actors::Tenant;
use crate::domain::is_domain_name;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;

/// The verification every domain has today.
pub const ADMIN_ASSERTION: &str = "admin_assertion";

/// Domains of public mail providers: no organization owns the people with such an address,
/// so they never take part in membership by domain (Logto refuses them alike).
const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
];

impl OrganizationService {
    /// An organization's domains (whoever may see the organization).
    pub async fn domains(
        &self,
        tenant: &Tenant,
        org_id: &str,
    ) -> Result<Vec<DomainRow>, ServiceError> {
        Ok(store::domains(tenant.db(), org_id).await?)
    }

    /// Gives a domain to an organization (tenant admin): users whose confirmed address is in
    /// it join the organization from then on, at their first sign-in or confirmation.
    pub async fn add_domain(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        domain: &str,
        client: &ClientInfo,
    ) -> Result<DomainRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let org = self.existing(tenant, org_id).await?;
        let domain = checked_domain(domain)?;
        let row = DomainRow {
            domain: domain.clone(),
            org: org.id.clone(),
            verification: ADMIN_ASSERTION.to_string(),
            created_at: self.clock.now(),
        };
        if !store::add_domain(tenant.db(), &row, &admin.user.id).await? {
            return Err(ServiceError::bad_input(
                "domain",
                "belongs to an organization of this tenant already",
            ));
        }
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("organization {org_id}; domain {domain}"));
        self.audit(tenant, "organization_domain_added", info).await;
        Ok(row)
    }

    /// Takes a domain from an organization (tenant admin); its members stay members.
    pub async fn remove_domain(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        domain: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let domain = domain.trim().to_ascii_lowercase();
        if org_id.len() > 64
            || domain.len() > 253
            || !store::remove_domain(tenant.db(), org_id, &domain).await?
        {
            return Ok(false);
        }
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("organization {org_id}; domain {domain}"));
        self.audit(tenant, "organization_domain_removed", info)
            .await;
        Ok(true)
    }
}

/// A domain name as stored (lower case, the grammar email addresses' domains have); not a
/// public mail provider's.
fn checked_domain(raw: &str) -> Result<String, ServiceError> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if !is_domain_name(&d) {
        return Err(ServiceError::bad_input(
            "domain",
            "is not a domain name (like acme.com)",
        ));
    }
    if PUBLIC_MAIL_DOMAINS.contains(&d.as_str()) {
        return Err(ServiceError::bad_input(
            "domain",
            "is a public mail provider's: its users belong to no organization",
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::checked_domain;

    #[test]
    fn a_domain_is_lower_cased_ldh_with_a_tld_and_not_a_public_mail_providers() {
        assert_eq!(
            checked_domain(" Initech.Example. ").unwrap(),
            "initech.example"
        );
        for bad in [
            "localhost",
            "acme..com",
            "-acme.com",
            "acme.123",
            "a b.com",
            "gmail.com",
            "",
        ] {
            assert!(checked_domain(bad).is_err(), "{bad}");
        }
    }
}
