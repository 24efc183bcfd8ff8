//! Organizations (issue 26): the customer companies inside a tenant. Organizations, the
//! tenant's organization template (org roles) and memberships (`service.rs`), invitations (`invitations.rs`), verified domains (`domains.rs`), their
//! tables (`store.rs`, `invitation_store.rs`), the GraphQL operations (`graphql.rs`). A session scoped to an organization
//! (`switchOrganization`, `login(organization:)`) lives in the sessions capability: its tokens
//! carry `org_id` and `org_roles`, and ending the membership revokes it.

mod domains;
pub mod graphql;
pub mod invitation_store;
mod invitations;
pub mod service;
pub mod store;

pub use invitations::{INVITATION_TTL_DAYS, InvitationState, InvitationView};
pub use service::OrganizationService;
