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

/// Makes `user` a member of the organization that owns `domain`, with the organization's
/// `jit_roles`, unless they are a member already or there is no such organization; in one
/// transaction, so two sign-ins at once make one membership. The organization's id when a
/// membership was made.
pub async fn join_by_domain(
    db: &Db,
    user: &str,
    domain: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<Option<String>> {
    let made: Vec<String> = db
        .query(
            "BEGIN TRANSACTION;
             LET $org = $did.org;
             LET $made = IF $org != NONE
                 AND record::exists(type::record('organization', $org))
                 AND record::exists(type::record('user', $user))
                 AND !record::exists(type::record('org_member', $org + '/' + $user)) {
                 (CREATE type::record('org_member', $org + '/' + $user) SET org = $org,
                     user = $user, roles = type::record('organization', $org).jit_roles ?? [],
                     created_at = $now RETURN VALUE org)
             } ELSE { [] };
             COMMIT TRANSACTION;
             RETURN $made;",
        )
        .bind(("did", RecordId::new("org_domain", domain)))
        .bind(("user", user.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(made.into_iter().next())
}
