//! Organizations' GraphQL operations (names fixed by API.md "Third round"): tenant admins
//! manage organizations and the organization template; an organization's own admins manage
//! its members; a signed-in member scopes their session to it (`switchOrganization`).

use async_graphql::{
    ComplexObject, Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject,
};

use super::OrganizationService;
use super::invitations::{InvitationState, InvitationView};
use super::service::{Membership, OrgSpec};
use super::store::{DomainRow, MemberView, OrgRoleRow, OrgRow};
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::edge::types::AuthPayload;

/// A customer company inside the tenant: its members hold org roles, and a session may be
/// scoped to it (tokens with `org_id` and `org_roles`).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Organization {
    /// Its id (the `org_id` claim).
    pub id: ID,
    /// Display name.
    pub name: String,
    /// Unique handle in the tenant (lower-case letters, digits, '-').
    pub slug: String,
    /// Members must sign in with a second factor.
    pub mfa_required: bool,
    /// Org roles of a member who joins by one of its verified domains.
    pub jit_roles: Vec<String>,
    /// Its own identity provider: offered to addresses of its domains (`signInOptions`).
    pub identity_provider_id: Option<ID>,
    /// Addresses of its domains must sign in through its provider: a password sign-in is
    /// refused and the hosted sign-in page sends them there.
    pub sso_required: bool,
    /// Creation time.
    pub created_at: DateTime,
    /// The member count when the list read it with the page.
    #[graphql(skip)]
    pub known_member_count: Option<i64>,
}

impl From<(OrgRow, usize)> for Organization {
    fn from((o, n): (OrgRow, usize)) -> Self {
        Self {
            known_member_count: Some(n as i64),
            ..o.into()
        }
    }
}

impl From<OrgRow> for Organization {
    fn from(o: OrgRow) -> Self {
        Self {
            id: ID(o.id),
            name: o.name,
            slug: o.slug,
            mfa_required: o.mfa_required,
            jit_roles: o.jit_roles,
            identity_provider_id: o.idp.map(ID),
            sso_required: o.sso_required,
            created_at: o.created_at.into(),
            known_member_count: None,
        }
    }
}

#[ComplexObject]
impl Organization {
    /// Its verified domains: a user whose confirmed address is in one joins it with
    /// `jitRoles` at their first sign-in or when they confirm the address.
    async fn domains(&self, ctx: &Context<'_>) -> Result<Vec<OrgDomain>> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let rows = s
            .domains(&req.tenant, &self.id)
            .await
            .map_err(gql_err(req))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many members it has.
    async fn member_count(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(n) = self.known_member_count {
            return Ok(n);
        }
        let (s, req) = parts::<OrganizationService>(ctx);
        let n = s
            .member_count(&req.tenant, &self.id)
            .await
            .map_err(gql_err(req))?;
        Ok(n as i64)
    }

    /// Its members by user id, optionally those whose address or username contains `search`
    /// (tenant admins and the organization's admins).
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<OrganizationMemberConnection> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let page = s
            .members(
                &req.tenant,
                req.bearer.as_deref(),
                &self.id,
                first.unwrap_or(20),
                after.as_deref(),
                search.as_deref(),
            )
            .await
            .map_err(gql_err(req))?;
        Ok(page.into())
    }

    /// Its invitations in every state, oldest first (tenant admins and the organization's
    /// admins).
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<OrganizationInvitationConnection> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let page = s
            .invitations(
                &req.tenant,
                req.bearer.as_deref(),
                &self.id,
                first.unwrap_or(20),
                after.as_deref(),
            )
            .await
            .map_err(gql_err(req))?;
        Ok(page.into())
    }
}

/// How a domain was verified.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum DomainVerification {
    /// A tenant admin asserted it is the organization's (DNS TXT verification is the next
    /// step).
    AdminAssertion,
}

/// A verified domain of an organization.
#[derive(SimpleObject)]
pub struct OrgDomain {
    /// The domain (lower-case), e.g. `initech.com`.
    pub domain: String,
    /// Always true: a domain is listed once verified.
    pub verified: bool,
    /// How it was verified.
    pub verification: DomainVerification,
    /// Since when.
    pub created_at: DateTime,
}

impl From<DomainRow> for OrgDomain {
    fn from(d: DomainRow) -> Self {
        Self {
            domain: d.domain,
            verified: true,
            verification: DomainVerification::AdminAssertion,
            created_at: d.created_at.into(),
        }
    }
}

/// Where an invitation stands.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "InvitationState")]
pub enum OrganizationInvitationState {
    /// Sent; the link works until `expiresAt`.
    Pending,
    /// Accepted: the invitee became a member.
    Accepted,
    /// Revoked by an admin, or superseded by a newer invitation of the same address.
    Revoked,
    /// Its link's time ran out.
    Expired,
}

/// An invitation to an organization, mailed to an address with a single-use link.
#[derive(SimpleObject)]
pub struct OrganizationInvitation {
    /// Its id (for `revokeInvitation`).
    pub id: ID,
    /// The organization.
    pub organization_id: ID,
    /// The invited address (lower-cased).
    pub email: String,
    /// Org roles the membership gets.
    pub roles: Vec<String>,
    /// Where it stands.
    pub state: OrganizationInvitationState,
    /// The user who invited.
    pub invited_by: ID,
    /// When it was sent.
    pub created_at: DateTime,
    /// When its link stops working.
    pub expires_at: DateTime,
    /// When it was accepted.
    pub accepted_at: Option<DateTime>,
}

impl From<InvitationView> for OrganizationInvitation {
    fn from(v: InvitationView) -> Self {
        let i = v.row;
        Self {
            id: ID(i.id),
            organization_id: ID(i.org),
            email: i.email,
            roles: i.roles,
            state: v.state.into(),
            invited_by: ID(i.invited_by),
            created_at: i.created_at.into(),
            expires_at: i.expires_at.into(),
            accepted_at: i.accepted_at.map(Into::into),
        }
    }
}

crate::relay_connection!(
    OrganizationInvitationConnection,
    OrganizationInvitationEdge,
    OrganizationInvitation,
    "A page of an organization's invitations.",
    "The invitations.",
    "Invitations, on all pages.",
    "An invitation in a list.",
    "The invitation."
);

crate::relay_connection!(
    OrganizationConnection,
    OrganizationEdge,
    Organization,
    "A page of organizations.",
    "The organizations.",
    "Organizations matching, on all pages.",
    "An organization in a list.",
    "The organization."
);

/// A user's membership of an organization, as the organization's admins see it.
#[derive(SimpleObject)]
pub struct OrganizationMember {
    /// The user's id.
    pub user_id: ID,
    /// The user's email address.
    pub email: String,
    /// The user's username.
    pub username: String,
    /// Org roles (from the organization template).
    pub roles: Vec<String>,
    /// When they joined.
    pub joined_at: DateTime,
}

impl From<MemberView> for OrganizationMember {
    fn from(m: MemberView) -> Self {
        Self {
            user_id: ID(m.user),
            email: m.email,
            username: m.username,
            roles: m.roles,
            joined_at: m.created_at.into(),
        }
    }
}

crate::relay_connection!(
    OrganizationMemberConnection,
    OrganizationMemberEdge,
    OrganizationMember,
    "A page of an organization's members.",
    "The members.",
    "Members matching, on all pages.",
    "A member in a list.",
    "The member."
);

/// One of the user's organizations, with the user's roles in it (`User.organizations`).
#[derive(SimpleObject)]
pub struct OrganizationMembership {
    /// The organization.
    pub organization: Organization,
    /// The user's org roles.
    pub roles: Vec<String>,
}

impl From<Membership> for OrganizationMembership {
    fn from(m: Membership) -> Self {
        Self {
            organization: m.organization.into(),
            roles: m.roles,
        }
    }
}

/// A role of the organization template: every organization of the tenant can assign it.
#[derive(SimpleObject)]
pub struct OrganizationRole {
    /// The name (in `org_roles`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Holders administer their own organization: its members and its name.
    pub administers_organization: bool,
}

impl From<OrgRoleRow> for OrganizationRole {
    fn from(r: OrgRoleRow) -> Self {
        Self {
            name: r.name,
            description: r.description,
            administers_organization: r.administers,
        }
    }
}

/// A new organization.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Display name.
    pub name: String,
    /// Unique handle (default: from the name).
    pub slug: Option<String>,
    /// Members must sign in with a second factor (default false).
    pub mfa_required: Option<bool>,
    /// Org roles of a member who joins by a verified domain (default `["member"]`).
    pub jit_roles: Option<Vec<String>>,
    /// Its own identity provider (one of the tenant's).
    pub identity_provider_id: Option<ID>,
    /// Its domains must sign in through that provider (default false).
    pub sso_required: Option<bool>,
}

/// Changes to an organization; omitted fields stay. Its own admins may change the name only.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// Display name.
    pub name: Option<String>,
    /// Unique handle.
    pub slug: Option<String>,
    /// Members must sign in with a second factor.
    pub mfa_required: Option<bool>,
    /// Org roles of a member who joins by a verified domain (tenant admins only).
    pub jit_roles: Option<Vec<String>>,
    /// Its own identity provider; null: none (tenant admins only).
    pub identity_provider_id: MaybeUndefined<ID>,
    /// Its domains must sign in through that provider (tenant admins only).
    pub sso_required: Option<bool>,
}

/// A role of the organization template.
#[derive(InputObject)]
pub struct OrganizationRoleInput {
    /// The name: 1..=40 of a-z, 0-9, '_', '-', ':'.
    pub name: String,
    /// What it is for.
    #[graphql(default)]
    pub description: String,
    /// Holders administer their own organization (default false).
    #[graphql(default)]
    pub administers_organization: bool,
}

/// `User.organizations`: the user's memberships (the user or a tenant admin).
pub async fn user_organizations(
    ctx: &Context<'_>,
    user_id: &str,
) -> Result<Vec<OrganizationMembership>> {
    let (s, req) = parts::<OrganizationService>(ctx);
    let rows = s
        .memberships_of(&req.tenant, req.bearer.as_deref(), user_id)
        .await
        .map_err(gql_err(req))?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Organization queries.
#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// The tenant's organizations by id, optionally those whose name or slug contains
    /// `search` (tenant admin).
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<OrganizationConnection> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let page = s
            .list(
                &req.tenant,
                req.bearer.as_deref(),
                first.unwrap_or(20),
                after.as_deref(),
                search.as_deref(),
            )
            .await
            .map_err(gql_err(req))?;
        Ok(page.into())
    }

    /// One organization (tenant admins, and the organization's own admins); null when
    /// there is none the caller may see.
    async fn organization(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let o = s
            .get(&req.tenant, req.bearer.as_deref(), &id)
            .await
            .map_err(gql_err(req))?;
        Ok(o.map(Into::into))
    }

    /// The organization template: the org roles every organization can assign (signed in).
    async fn organization_roles(&self, ctx: &Context<'_>) -> Result<Vec<OrganizationRole>> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let rows = s
            .roles(&req.tenant, req.bearer.as_deref())
            .await
            .map_err(gql_err(req))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Organization mutations.
#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Creates an organization (tenant admin).
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> Result<Organization> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let spec = OrgSpec {
            name: Some(input.name),
            slug: input.slug,
            mfa_required: input.mfa_required,
            jit_roles: input.jit_roles,
            idp: input.identity_provider_id.map(|i| Some(i.0)),
            sso_required: input.sso_required,
        };
        let o = s
            .create(&req.tenant, req.bearer.as_deref(), spec, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(o.into())
    }

    /// Changes an organization (tenant admin; its own admins the name only).
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateOrganizationInput,
    ) -> Result<Organization> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let spec = OrgSpec {
            name: input.name,
            slug: input.slug,
            mfa_required: input.mfa_required,
            jit_roles: input.jit_roles,
            idp: match input.identity_provider_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(i) => Some(Some(i.0)),
            },
            sso_required: input.sso_required,
        };
        let o = s
            .update(&req.tenant, req.bearer.as_deref(), &id, spec, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(o.into())
    }

    /// Deletes an organization with its memberships (the users stay); sessions scoped to it
    /// end at once (tenant admin).
    async fn delete_organization(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<OrganizationService>(ctx);
        s.delete(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Adds a role to the organization template, or changes one (tenant admin).
    async fn save_organization_role(
        &self,
        ctx: &Context<'_>,
        input: OrganizationRoleInput,
    ) -> Result<OrganizationRole> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let role = OrgRoleRow {
            name: input.name,
            description: input.description,
            administers: input.administers_organization,
        };
        let r = s
            .put_role(&req.tenant, req.bearer.as_deref(), role, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(r.into())
    }

    /// Removes a role from the template and from every membership (tenant admin).
    async fn delete_organization_role(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        let (s, req) = parts::<OrganizationService>(ctx);
        s.delete_role(&req.tenant, req.bearer.as_deref(), &name, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Adds a user to an organization with org roles (tenant admin, or the organization's
    /// admins).
    async fn add_organization_member(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        user_id: ID,
        roles: Vec<String>,
    ) -> Result<OrganizationMember> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let m = s
            .add_member(
                &req.tenant,
                req.bearer.as_deref(),
                &org_id,
                &user_id,
                roles,
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(m.into())
    }

    /// Sets a member's org roles; their tokens carry them from the next refresh (tenant
    /// admin, or the organization's admins).
    async fn set_organization_member_roles(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        user_id: ID,
        roles: Vec<String>,
    ) -> Result<OrganizationMember> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let m = s
            .set_member_roles(
                &req.tenant,
                req.bearer.as_deref(),
                &org_id,
                &user_id,
                roles,
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(m.into())
    }

    /// Ends a membership; the user's sessions scoped to the organization end at once
    /// (tenant admin, or the organization's admins).
    async fn remove_organization_member(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        user_id: ID,
    ) -> Result<bool> {
        let (s, req) = parts::<OrganizationService>(ctx);
        s.remove_member(
            &req.tenant,
            req.bearer.as_deref(),
            &org_id,
            &user_id,
            &req.client,
        )
        .await
        .map_err(gql_err(req))
    }

    /// Gives a verified domain to an organization, by your assertion that it is theirs
    /// (tenant admin): from then on a user whose confirmed address is in it joins the
    /// organization with its `jitRoles` at their first sign-in or when they confirm the
    /// address. A domain belongs to one organization; public mail providers' are refused.
    async fn add_organization_domain(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        domain: String,
    ) -> Result<OrgDomain> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let d = s
            .add_domain(
                &req.tenant,
                req.bearer.as_deref(),
                &org_id,
                &domain,
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(d.into())
    }

    /// Takes a domain from an organization; its members stay (tenant admin).
    async fn remove_organization_domain(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        domain: String,
    ) -> Result<bool> {
        let (s, req) = parts::<OrganizationService>(ctx);
        s.remove_domain(
            &req.tenant,
            req.bearer.as_deref(),
            &org_id,
            &domain,
            &req.client,
        )
        .await
        .map_err(gql_err(req))
    }

    /// Invites an address to an organization with org roles: mails a single-use link (to the
    /// tenant's `invitationUrlTemplate`) that works for 7 days; a newer invitation of the same
    /// address supersedes an open one (tenant admin, or the organization's admins).
    async fn invite_to_organization(
        &self,
        ctx: &Context<'_>,
        org_id: ID,
        email: String,
        roles: Vec<String>,
    ) -> Result<OrganizationInvitation> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let i = s
            .invite(
                &req.tenant,
                req.bearer.as_deref(),
                &org_id,
                &email,
                roles,
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(i.into())
    }

    /// Revokes an open invitation; false when there is none the caller may revoke (tenant
    /// admin, or the organization's admins).
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<OrganizationService>(ctx);
        s.revoke_invitation(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Accepts an invitation with the token from its mail: the caller becomes a member with
    /// its roles. Signed in, with the invited address, confirmed (`FORBIDDEN` for another
    /// address, `ACCOUNT_NOT_VERIFIED` before it is confirmed, `INVALID_TOKEN` when the
    /// invitation was used, revoked or expired).
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<OrganizationMember> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let m = s
            .accept_invitation(&req.tenant, req.bearer.as_deref(), &token, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(m.into())
    }

    /// Scopes the caller's session to an organization they are a member of: new tokens for
    /// the same session, carrying `org_id` and `org_roles`; the session's earlier tokens stop
    /// working (signed in; `FORBIDDEN` for a non-member).
    async fn switch_organization(&self, ctx: &Context<'_>, org_id: ID) -> Result<AuthPayload> {
        let (s, req) = parts::<OrganizationService>(ctx);
        let t = s
            .switch(&req.tenant, req.bearer.as_deref(), &org_id, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(t.into())
    }
}
