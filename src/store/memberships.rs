//! What sessions need from the `org_member` table (schema/surreal/tenant/014_organizations.surql):
//! a membership's record key and its roles. The organizations capability owns the table and
//! writes it (`organizations/store.rs`); the session service reads a membership at every
//! org-scoped sign-in and refresh, so a removed member's session cannot refresh.

use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// A membership's record: one per (organization, user), so a race of two adds or two
/// accepted invitations makes one row.
pub fn member_key(org: &str, user: &str) -> RecordId {
    RecordId::new("org_member", format!("{org}/{user}"))
}

/// A membership as a session sees it.
#[derive(SurrealValue)]
pub struct Membership {
    /// The user's org roles.
    pub roles: Vec<String>,
    /// The organization requires a second factor of its members' sessions.
    pub mfa_required: bool,
}

/// The user's membership of the organization; `None` when they are not a member.
pub async fn membership(db: &Db, org: &str, user: &str) -> StoreResult<Option<Membership>> {
    db.query(
        "SELECT roles, type::record('organization', org).mfa_required ?? false AS mfa_required
         FROM ONLY $rid",
    )
    .bind(("rid", member_key(org, user)))
    .take(0)
    .await
}
