//! `OrganizationService`: a tenant's organizations, its organization template (org roles),
//! memberships, and scoping a session to an organization (`switchOrganization`).
//!
//! Who may do what: tenant admins everything; a member holding a role of the template that
//! `administers` (delegated administration, `admin` by default) lists, adds, changes and
//! removes members of *that* organization and renames it, nothing else. Everyone else gets
//! `FORBIDDEN`; an organization a caller may not see answers the same as one that does not
//! exist. Every change is audited with the organization's id.

use std::sync::Arc;

use super::store::{self, MemberRow, MemberView, OrgRoleRow, OrgRow};
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::page::{Page, decode_cursor, page_size};
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::{AuthTokens, Principal, SessionService};
use crate::store::{StoreError, users};

/// Roles in a membership, at most.
const MAX_MEMBER_ROLES: usize = 20;
/// Roles in the template, at most.
const MAX_TEMPLATE_ROLES: usize = 50;
/// Longest organization name.
const MAX_NAME: usize = 100;
/// Longest search string.
const MAX_SEARCH: usize = 100;

/// What an admin gives for an organization; `None`: unchanged (or the default).
#[derive(Default)]
pub struct OrgSpec {
    /// Display name.
    pub name: Option<String>,
    /// Handle: 2..=48 of `[a-z0-9-]`, unique in the tenant.
    pub slug: Option<String>,
    /// Members need a second factor.
    pub mfa_required: Option<bool>,
    /// Roles of a member who joins by a verified domain (tenant admins only).
    pub jit_roles: Option<Vec<String>>,
    /// Its own identity provider (`Some(None)`: none) (tenant admins only).
    pub idp: Option<Option<String>>,
    /// Its domains must sign in through its provider (tenant admins only).
    pub sso_required: Option<bool>,
}

/// A user's membership with its organization.
pub struct Membership {
    /// The organization.
    pub organization: OrgRow,
    /// The user's org roles.
    pub roles: Vec<String>,
}

/// How the caller stands toward one organization.
pub(super) enum Standing {
    /// A tenant admin: everything.
    TenantAdmin(Principal),
    /// Holds an administering org role: this organization's members and name.
    OrgAdmin(Principal),
}

impl Standing {
    pub(super) fn principal(&self) -> &Principal {
        match self {
            Standing::TenantAdmin(p) | Standing::OrgAdmin(p) => p,
        }
    }
}

/// Organizations of a tenant.
#[derive(Clone)]
pub struct OrganizationService {
    infra: Arc<Infra>,
    pub(super) sessions: SessionService,
}

crate::infra::built_on!(OrganizationService);

impl OrganizationService {
    /// The service over the shared infrastructure.
    pub fn new(infra: Arc<Infra>, sessions: SessionService) -> Self {
        Self { infra, sessions }
    }

    /// A page of organizations with their member counts (tenant admin).
    pub async fn list(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<(OrgRow, usize)>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let search = search_term(search)?;
        let rows = store::list(tenant.db(), limit + 1, after.as_deref(), search).await?;
        let total = store::count(tenant.db(), search).await?;
        // The page's member counts in one query (a list screen shows them all).
        let ids: Vec<String> = rows.iter().map(|o| o.id.clone()).collect();
        let counts: std::collections::HashMap<String, i64> =
            store::member_counts(tenant.db(), &ids)
                .await?
                .into_iter()
                .map(|c| (c.org, c.n))
                .collect();
        let rows = rows
            .into_iter()
            .map(|o| {
                let n = counts.get(&o.id).copied().unwrap_or(0).max(0) as usize;
                (o, n)
            })
            .collect();
        Ok(Page::of(rows, limit, total, |(o, _)| o.id.as_str()))
    }

    /// One organization: for tenant admins and the organization's own admins; `None` for
    /// anyone else, as for an unknown id.
    pub async fn get(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<Option<OrgRow>, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        match self.standing(tenant, caller, id).await {
            Ok(_) => Ok(store::get(tenant.db(), id).await?),
            Err(ServiceError::Forbidden) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an organization (tenant admin).
    pub async fn create(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        spec: OrgSpec,
        client: &ClientInfo,
    ) -> Result<OrgRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        self.create_by(tenant, &admin.user.id, spec, client).await
    }

    /// Creates an organization on behalf of `actor` (a tenant admin, or a SCIM token that the
    /// caller authenticated).
    pub async fn create_by(
        &self,
        tenant: &Tenant,
        actor: &str,
        spec: OrgSpec,
        client: &ClientInfo,
    ) -> Result<OrgRow, ServiceError> {
        let now = self.clock.now();
        let name = spec
            .name
            .clone()
            .ok_or_else(|| ServiceError::bad_input("name", "is required"))?;
        // Joining by domain makes plain members unless the admin says otherwise.
        let jit_roles = match spec.jit_roles.clone() {
            Some(roles) => self.checked_jit_roles(tenant, roles).await?,
            // A template without `member` (deleted by an admin): nobody joins with a role.
            None => match self.checked_roles(tenant, vec!["member".into()]).await {
                Err(ServiceError::BadInput { .. }) => Vec::new(),
                r => r?,
            },
        };
        let mut o = OrgRow {
            id: uuid::Uuid::now_v7().to_string(),
            slug: slug_of(&name),
            name: String::new(),
            mfa_required: false,
            jit_roles,
            idp: None,
            sso_required: false,
            created_at: now,
        };
        self.check_provider(tenant, &spec).await?;
        apply(
            &mut o,
            OrgSpec {
                jit_roles: None,
                ..spec
            },
        )?;
        put(tenant, &o, now).await?;
        let info =
            AuditInfo::by(actor, client).with_detail(format!("organization {} ({})", o.id, o.slug));
        self.audit(tenant, "organization_created", info).await;
        Ok(o)
    }

    /// Changes an organization: tenant admins anything; its own admins the name only.
    pub async fn update(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        spec: OrgSpec,
        client: &ClientInfo,
    ) -> Result<OrgRow, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let standing = self.standing(tenant, caller, id).await?;
        if matches!(standing, Standing::OrgAdmin(_))
            && (spec.slug.is_some()
                || spec.mfa_required.is_some()
                || spec.jit_roles.is_some()
                || spec.idp.is_some()
                || spec.sso_required.is_some())
        {
            return Err(ServiceError::Forbidden);
        }
        self.update_by(tenant, &standing.principal().user.id, id, spec, client)
            .await
    }

    /// Changes an organization on behalf of `actor`, whose right to was checked by the caller.
    pub async fn update_by(
        &self,
        tenant: &Tenant,
        actor: &str,
        id: &str,
        spec: OrgSpec,
        client: &ClientInfo,
    ) -> Result<OrgRow, ServiceError> {
        let mut o = self.existing(tenant, id).await?;
        let jit_roles = match spec.jit_roles.clone() {
            Some(roles) => Some(self.checked_jit_roles(tenant, roles).await?),
            None => None,
        };
        self.check_provider(tenant, &spec).await?;
        let fields: Vec<store::OrgField> = [
            (spec.name.is_some(), store::OrgField::Name),
            (spec.slug.is_some(), store::OrgField::Slug),
            (spec.mfa_required.is_some(), store::OrgField::MfaRequired),
            (jit_roles.is_some(), store::OrgField::JitRoles),
            (spec.idp.is_some(), store::OrgField::Idp),
            (spec.sso_required.is_some(), store::OrgField::SsoRequired),
        ]
        .into_iter()
        .filter_map(|(given, f)| given.then_some(f))
        .collect();
        apply(&mut o, OrgSpec { jit_roles, ..spec })?;
        // Only the fields given are written (a concurrent change to the others stays).
        match store::update(tenant.db(), &o, &fields, self.clock.now()).await {
            Ok(true) => {}
            Ok(false) => return Err(ServiceError::bad_input("id", "no such organization")),
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::bad_input(
                    "slug",
                    "another organization of this tenant has it",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let info = AuditInfo::by(actor, client).with_detail(format!("organization {id}"));
        self.audit(tenant, "organization_updated", info).await;
        Ok(o)
    }

    /// Deletes an organization with its memberships (the users stay); the sessions scoped to
    /// it are revoked at once (tenant admin).
    pub async fn delete(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        self.delete_by(tenant, &admin.user.id, id, client).await
    }

    /// Deletes an organization on behalf of `actor`, whose right to was checked by the caller.
    pub async fn delete_by(
        &self,
        tenant: &Tenant,
        actor: &str,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        if id.len() > 64 {
            return Ok(false);
        }
        let Some(revoked) = store::delete(tenant.db(), id, self.clock.now()).await? else {
            return Ok(false);
        };
        tenant.forget_sessions(&revoked);
        let info = AuditInfo::by(actor, client).with_detail(format!(
            "organization {id}; {} sessions revoked",
            revoked.len()
        ));
        self.audit(tenant, "organization_deleted", info).await;
        Ok(true)
    }

    /// The organization template (anyone signed in to the tenant may read role names).
    pub async fn roles(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<Vec<OrgRoleRow>, ServiceError> {
        self.sessions.authenticate(tenant, bearer).await?;
        Ok(store::roles(tenant.db()).await?)
    }

    /// Adds a role to the template or changes one (tenant admin).
    pub async fn put_role(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        role: OrgRoleRow,
        client: &ClientInfo,
    ) -> Result<OrgRoleRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if !valid_role_name(&role.name) {
            return Err(ServiceError::bad_input(
                "name",
                "must be 1..=40 of a-z, 0-9, '_', '-', ':'",
            ));
        }
        if role.description.chars().count() > 200 {
            return Err(ServiceError::bad_input(
                "description",
                "is at most 200 characters",
            ));
        }
        let existing = store::roles(tenant.db()).await?;
        if existing.len() >= MAX_TEMPLATE_ROLES && !existing.iter().any(|r| r.name == role.name) {
            return Err(ServiceError::bad_input(
                "name",
                &format!("the template has at most {MAX_TEMPLATE_ROLES} roles"),
            ));
        }
        store::put_role(tenant.db(), &role, self.clock.now()).await?;
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("organization role {}", role.name));
        self.audit(tenant, "organization_role_saved", info).await;
        Ok(role)
    }

    /// Removes a role from the template and from every membership (tenant admin).
    pub async fn delete_role(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        name: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if !valid_role_name(name) || !store::delete_role(tenant.db(), name).await? {
            return Ok(false);
        }
        let info =
            AuditInfo::by(&admin.user.id, client).with_detail(format!("organization role {name}"));
        self.audit(tenant, "organization_role_deleted", info).await;
        Ok(true)
    }

    /// A page of an organization's members (its admins and tenant admins).
    pub async fn members(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        first: i32,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<MemberView>, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        self.standing(tenant, caller, org_id).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let search = search_term(search)?;
        let rows = store::members(tenant.db(), org_id, limit + 1, after.as_deref(), search).await?;
        let total = store::member_count(tenant.db(), org_id, search).await?;
        Ok(Page::of(rows, limit, total, |m| m.user.as_str()))
    }

    /// Members of an organization, for its `memberCount` (whoever may see the organization).
    pub async fn member_count(&self, tenant: &Tenant, org_id: &str) -> Result<usize, ServiceError> {
        Ok(store::member_count(tenant.db(), org_id, None).await?)
    }

    /// Adds a user to an organization with org roles (its admins and tenant admins).
    pub async fn add_member(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        user_id: &str,
        roles: Vec<String>,
        client: &ClientInfo,
    ) -> Result<MemberView, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let standing = self.standing(tenant, caller, org_id).await?;
        self.add_member_by(
            tenant,
            &standing.principal().user.id,
            org_id,
            user_id,
            roles,
            client,
        )
        .await
    }

    /// Adds a member on behalf of `actor`, whose right to was checked by the caller.
    pub async fn add_member_by(
        &self,
        tenant: &Tenant,
        actor: &str,
        org_id: &str,
        user_id: &str,
        roles: Vec<String>,
        client: &ClientInfo,
    ) -> Result<MemberView, ServiceError> {
        let roles = self.checked_roles(tenant, roles).await?;
        let user = match user_id.len() {
            1..=64 => users::get(tenant.db(), user_id).await?,
            _ => None,
        }
        .ok_or_else(|| ServiceError::bad_input("userId", "no such user"))?;
        let row = MemberRow {
            org: org_id.to_string(),
            user: user.id.clone(),
            roles,
            created_at: self.clock.now(),
        };
        if !store::add_member(tenant.db(), &row).await? {
            return Err(ServiceError::bad_input(
                "userId",
                "is already a member of this organization",
            ));
        }
        let info = AuditInfo::by(actor, client)
            .on(&user.id)
            .with_detail(format!(
                "organization {org_id}; roles {}",
                row.roles.join(",")
            ));
        self.audit(tenant, "organization_member_added", info).await;
        Ok(member_view(user, row))
    }

    /// Sets a member's org roles; their tokens carry them from the next refresh (its admins
    /// and tenant admins).
    pub async fn set_member_roles(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        user_id: &str,
        roles: Vec<String>,
        client: &ClientInfo,
    ) -> Result<MemberView, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let standing = self.standing(tenant, caller, org_id).await?;
        let roles = self.checked_roles(tenant, roles).await?;
        let not_member =
            || ServiceError::bad_input("userId", "is not a member of this organization");
        if user_id.is_empty() || user_id.len() > 64 {
            return Err(not_member());
        }
        let m = store::set_member_roles(tenant.db(), org_id, user_id, &roles)
            .await?
            .ok_or_else(not_member)?;
        let user = users::get(tenant.db(), user_id)
            .await?
            .ok_or_else(not_member)?;
        let info = AuditInfo::by(&standing.principal().user.id, client)
            .on(user_id)
            .with_detail(format!(
                "organization {org_id}; roles {}",
                m.roles.join(",")
            ));
        self.audit(tenant, "organization_member_roles_set", info)
            .await;
        Ok(member_view(user, m))
    }

    /// Ends a membership; the user's sessions scoped to the organization are revoked at once
    /// (its admins and tenant admins).
    pub async fn remove_member(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let standing = self.standing(tenant, caller, org_id).await?;
        self.remove_member_by(
            tenant,
            &standing.principal().user.id,
            org_id,
            user_id,
            client,
        )
        .await
    }

    /// Ends a membership on behalf of `actor`, whose right to was checked by the caller.
    pub async fn remove_member_by(
        &self,
        tenant: &Tenant,
        actor: &str,
        org_id: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        if user_id.is_empty() || user_id.len() > 64 {
            return Ok(false);
        }
        let now = self.clock.now();
        let Some(revoked) = store::remove_member(tenant.db(), org_id, user_id, now).await? else {
            return Ok(false);
        };
        tenant.forget_sessions(&revoked);
        let info = AuditInfo::by(actor, client)
            .on(user_id)
            .with_detail(format!(
                "organization {org_id}; {} sessions revoked",
                revoked.len()
            ));
        self.audit(tenant, "organization_member_removed", info)
            .await;
        Ok(true)
    }

    /// A user's memberships with their organizations (the user or a tenant admin).
    pub async fn memberships_of(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        user_id: &str,
    ) -> Result<Vec<Membership>, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        if caller.user.id != user_id && !caller.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let rows = store::memberships_of(tenant.db(), user_id).await?;
        let ids: Vec<String> = rows.iter().map(|m| m.org.clone()).collect();
        let mut orgs: std::collections::HashMap<String, OrgRow> =
            store::get_many(tenant.db(), &ids)
                .await?
                .into_iter()
                .map(|o| (o.id.clone(), o))
                .collect();
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                orgs.remove(&m.org).map(|organization| Membership {
                    organization,
                    roles: m.roles,
                })
            })
            .collect())
    }

    /// Scopes the caller's session to an organization they are a member of: a new token pair
    /// for the same session, carrying `org_id` and `org_roles` (`FORBIDDEN` for a
    /// non-member).
    pub async fn switch(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        org_id: &str,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let caller = self.sessions.authenticate(tenant, bearer).await?;
        let scope = self
            .sessions
            .org_scope(tenant, org_id, &caller.user.id)
            .await?;
        let user = caller.user.id.clone();
        let sid = caller.claims.sid.clone();
        let tokens = self.sessions.rescope(tenant, caller, Some(&scope)).await?;
        let info = AuditInfo::own(&user, client)
            .with_detail(format!("organization {org_id}; session {sid}"));
        self.audit(tenant, "organization_switched", info).await;
        Ok(tokens)
    }

    /// Whether the caller may administer `org_id`: a tenant admin, or a member holding a role
    /// that administers. `FORBIDDEN` otherwise, and for an organization that does not exist.
    pub(super) async fn standing(
        &self,
        tenant: &Tenant,
        caller: Principal,
        org_id: &str,
    ) -> Result<Standing, ServiceError> {
        if org_id.is_empty() || org_id.len() > 64 {
            return Err(ServiceError::Forbidden);
        }
        if caller.is_admin() {
            return Ok(Standing::TenantAdmin(caller));
        }
        let Some(m) = store::membership(tenant.db(), org_id, &caller.user.id).await? else {
            return Err(ServiceError::Forbidden);
        };
        let administering: Vec<String> = store::roles(tenant.db())
            .await?
            .into_iter()
            .filter(|r| r.administers)
            .map(|r| r.name)
            .collect();
        if m.roles.iter().any(|r| administering.contains(r)) {
            Ok(Standing::OrgAdmin(caller))
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    pub(super) async fn existing(&self, tenant: &Tenant, id: &str) -> Result<OrgRow, ServiceError> {
        let found = match id.len() {
            1..=64 => store::get(tenant.db(), id).await?,
            _ => None,
        };
        found.ok_or_else(|| ServiceError::bad_input("id", "no such organization"))
    }

    /// An `identityProviderId` given must be one of the tenant's providers.
    async fn check_provider(&self, tenant: &Tenant, spec: &OrgSpec) -> Result<(), ServiceError> {
        if let Some(Some(id)) = &spec.idp {
            let found = match id.len() {
                1..=64 => crate::federation::store::provider(tenant.db(), id).await?,
                _ => None,
            };
            if found.is_none() {
                return Err(ServiceError::bad_input(
                    "identityProviderId",
                    "no such identity provider",
                ));
            }
        }
        Ok(())
    }

    /// [`Self::checked_roles`] for `jitRoles`, named so in an error.
    async fn checked_jit_roles(
        &self,
        tenant: &Tenant,
        roles: Vec<String>,
    ) -> Result<Vec<String>, ServiceError> {
        self.checked_roles(tenant, roles)
            .await
            .map_err(|e| match e {
                ServiceError::BadInput { message, .. } => ServiceError::BadInput {
                    field: "jitRoles",
                    message,
                },
                e => e,
            })
    }

    /// `roles` deduplicated, each of the template.
    pub(super) async fn checked_roles(
        &self,
        tenant: &Tenant,
        roles: Vec<String>,
    ) -> Result<Vec<String>, ServiceError> {
        if roles.len() > MAX_MEMBER_ROLES {
            return Err(ServiceError::bad_input(
                "roles",
                &format!("at most {MAX_MEMBER_ROLES} roles"),
            ));
        }
        let template: Vec<String> = store::roles(tenant.db())
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let mut out: Vec<String> = Vec::new();
        for r in roles {
            if !template.contains(&r) {
                return Err(ServiceError::bad_input(
                    "roles",
                    "names a role that is not in the organization template",
                ));
            }
            if !out.contains(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// A member as the member list shows them: the user's fields beside the membership's.
pub(super) fn member_view(user: users::UserRow, m: MemberRow) -> MemberView {
    MemberView {
        user: user.id,
        email: user.email,
        username: user.username,
        roles: m.roles,
        created_at: m.created_at,
    }
}

/// Stores `o`; a slug another organization has is the admin's input error.
async fn put(
    tenant: &Tenant,
    o: &OrgRow,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    match store::put(tenant.db(), o, now).await {
        Err(StoreError::Conflict(_)) => Err(ServiceError::bad_input(
            "slug",
            "another organization of this tenant has it",
        )),
        r => Ok(r?),
    }
}

fn apply(o: &mut OrgRow, spec: OrgSpec) -> Result<(), ServiceError> {
    if let Some(name) = spec.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(ServiceError::bad_input(
                "name",
                &format!("must be 1..={MAX_NAME} printable characters"),
            ));
        }
        o.name = name.to_string();
    }
    if let Some(slug) = spec.slug {
        if !valid_slug(&slug) {
            return Err(ServiceError::bad_input(
                "slug",
                "must be 2..=48 of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        o.slug = slug;
    }
    if !valid_slug(&o.slug) {
        return Err(ServiceError::bad_input(
            "slug",
            "is required when the name gives none (2..=48 of a-z, 0-9 and '-')",
        ));
    }
    if let Some(m) = spec.mfa_required {
        o.mfa_required = m;
    }
    if let Some(roles) = spec.jit_roles {
        o.jit_roles = roles;
    }
    if let Some(idp) = spec.idp {
        o.idp = idp;
    }
    if let Some(required) = spec.sso_required {
        o.sso_required = required;
    }
    if o.sso_required && o.idp.is_none() {
        return Err(ServiceError::bad_input(
            "ssoRequired",
            "needs the organization's identityProviderId",
        ));
    }
    Ok(())
}

/// The slug a name suggests: lower-case ASCII letters and digits, other runs as one '-'.
fn slug_of(name: &str) -> String {
    let mut s = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
        if s.len() >= 48 {
            break;
        }
    }
    s.trim_end_matches('-').to_string()
}

fn valid_slug(s: &str) -> bool {
    (2..=48).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn valid_role_name(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b':')
        })
}

fn search_term(search: Option<&str>) -> Result<Option<&str>, ServiceError> {
    match search.map(str::trim) {
        Some(s) if s.chars().count() > MAX_SEARCH => Err(ServiceError::bad_input(
            "search",
            &format!("is at most {MAX_SEARCH} characters"),
        )),
        Some("") | None => Ok(None),
        Some(s) => Ok(Some(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_suggests_a_slug_of_its_letters_and_digits() {
        assert_eq!(slug_of("Acme, Inc."), "acme-inc");
        assert_eq!(slug_of("  Ünïcode Ltd "), "n-code-ltd");
        assert!(!valid_slug(&slug_of("!!")));
        assert!(valid_slug("acme-2"));
        assert!(!valid_slug("-acme"));
        assert!(!valid_slug("Acme"));
    }
}
