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

/// The user's roles in the organization; `None` when they are not a member.
pub async fn org_roles(db: &Db, org: &str, user: &str) -> StoreResult<Option<Vec<String>>> {
    #[derive(SurrealValue)]
    struct Row {
        roles: Vec<String>,
    }
    let row: Option<Row> = db
        .query("SELECT roles FROM ONLY $rid")
        .bind(("rid", member_key(org, user)))
        .take(0)
        .await?;
    Ok(row.map(|r| r.roles))
}
