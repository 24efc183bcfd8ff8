//! The `org_invitation` table (schema/surreal/tenant/015_org_invitations.surql): invitations
//! to an organization. Made with their mail in one transaction (the outbox delivers it), and
//! accepted in one transaction that spends the invitation and makes the membership, so the
//! same invitation accepted twice at once makes one membership and one success.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::store::MemberRow;
use crate::store::memberships::member_key;
use crate::store::outbox::{self, QueuedMail};
use crate::store::{Db, StoreResult};

/// An invitation as stored (its token only as a keyed hash, never read back).
#[derive(Clone, Debug, SurrealValue)]
pub struct InvitationRow {
    /// Record key (UUIDv7).
    pub id: String,
    /// The organization.
    pub org: String,
    /// The invited address, lower-cased.
    pub email: String,
    /// Org roles the membership gets.
    pub roles: Vec<String>,
    /// Who invited.
    pub invited_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Unusable from then on.
    pub expires_at: DateTime<Utc>,
    /// Accepted when, by whom.
    pub accepted_at: Option<DateTime<Utc>>,
    /// The user who accepted.
    pub accepted_by: Option<String>,
    /// Revoked (or superseded by a newer invitation of the address) when.
    pub revoked_at: Option<DateTime<Utc>>,
}

const FIELDS: &str = "record::id(id) AS id, org, email, roles, invited_by, created_at, expires_at, \
    accepted_at, accepted_by, revoked_at";

fn rid(id: &str) -> RecordId {
    RecordId::new("org_invitation", id)
}

/// Stores an invitation and queues its mail, in one transaction; an earlier open invitation of
/// the same address to the same organization is revoked in it (a new one supersedes it, so
/// one link is live per address).
pub async fn create(
    db: &Db,
    inv: &InvitationRow,
    token_hash: &str,
    mail: QueuedMail,
) -> StoreResult<()> {
    db.query(
        "BEGIN TRANSACTION;
         UPDATE org_invitation SET revoked_at = $now
             WHERE org = $org AND email = $email AND accepted_at IS NONE AND revoked_at IS NONE;
         CREATE $rid SET org = $org, email = $email, roles = $roles, token_hash = $hash,
             invited_by = $by, created_at = $now, expires_at = $expires;
         CREATE $oid CONTENT $mail;
         COMMIT TRANSACTION;",
    )
    .bind(("rid", rid(&inv.id)))
    .bind(("org", inv.org.clone()))
    .bind(("email", inv.email.clone()))
    .bind(("roles", inv.roles.clone()))
    .bind(("hash", token_hash.to_string()))
    .bind(("by", inv.invited_by.clone()))
    .bind(("now", inv.created_at))
    .bind(("expires", inv.expires_at))
    .bind(("oid", outbox::rid(&mail.id)))
    .bind(("mail", mail.mail))
    .exec()
    .await
}

/// Invitations made for an organization since `since` (the per-organization mail budget).
pub async fn made_since(db: &Db, org: &str, since: DateTime<Utc>) -> StoreResult<usize> {
    db.query(
        "SELECT count() AS n FROM org_invitation WHERE org = $org AND created_at > $since GROUP ALL",
    )
    .bind(("org", org.to_string()))
    .bind(("since", since))
    .count()
    .await
}

/// One invitation by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<InvitationRow>> {
    db.query(format!("SELECT {FIELDS} FROM ONLY $rid"))
        .bind(("rid", rid(id)))
        .take(0)
        .await
}

/// The invitation whose token hashes to `hash`.
pub async fn by_token(db: &Db, hash: &str) -> StoreResult<Option<InvitationRow>> {
    db.query(format!(
        "SELECT {FIELDS} FROM org_invitation WHERE token_hash = $hash LIMIT 1"
    ))
    .bind(("hash", hash.to_string()))
    .take(0)
    .await
    .map(|mut v: Vec<InvitationRow>| v.pop())
}

/// A page of an organization's invitations, oldest first (ids are UUIDv7), after `after`.
pub async fn list(
    db: &Db,
    org: &str,
    limit: usize,
    after: Option<&str>,
) -> StoreResult<Vec<InvitationRow>> {
    let after_clause = if after.is_some() {
        " AND record::id(id) > $after"
    } else {
        ""
    };
    db.query(format!(
        "SELECT {FIELDS} FROM org_invitation WHERE org = $org{after_clause} ORDER BY id LIMIT $limit"
    ))
    .bind(("org", org.to_string()))
    .bind(("after", after.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Number of an organization's invitations.
pub async fn count(db: &Db, org: &str) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM org_invitation WHERE org = $org GROUP ALL")
        .bind(("org", org.to_string()))
        .count()
        .await
}

/// Revokes an open invitation; false when it was accepted or revoked already.
pub async fn revoke(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let done: Option<RecordId> = db
        .query(
            "UPDATE ONLY $rid SET revoked_at = $now
                 WHERE record::exists($rid) AND accepted_at IS NONE AND revoked_at IS NONE
                 RETURN VALUE id",
        )
        .bind(("rid", rid(id)))
        .bind(("now", now))
        .take(0)
        .await?;
    Ok(done.is_some())
}

/// Spends an open, unexpired invitation of an existing organization and makes `user` a member
/// with its roles (added to the roles of a membership the user already has), in one
/// transaction. `None` when the invitation was no longer open: accepted (also by a racing
/// request a moment ago), revoked, expired, or its organization deleted.
pub async fn accept(
    db: &Db,
    inv: &InvitationRow,
    user: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<MemberRow>> {
    db.query(
        "BEGIN TRANSACTION;
         LET $inv = (UPDATE ONLY $rid SET accepted_at = $now, accepted_by = $user
             WHERE record::exists($rid) AND accepted_at IS NONE AND revoked_at IS NONE
                 AND expires_at > $now AND record::exists(type::record('organization', org))
             RETURN AFTER);
         LET $m = IF $inv = NONE { NONE }
             ELSE IF record::exists($mid) {
                 (UPDATE ONLY $mid SET roles = array::union(roles, $inv.roles)
                     RETURN org, user, roles, created_at)
             } ELSE {
                 (CREATE ONLY $mid SET org = $inv.org, user = $user, roles = $inv.roles,
                     created_at = $now RETURN org, user, roles, created_at)
             };
         COMMIT TRANSACTION;
         RETURN $m;",
    )
    .bind(("rid", rid(&inv.id)))
    .bind(("mid", member_key(&inv.org, user)))
    .bind(("user", user.to_string()))
    .bind(("now", now))
    .take_last()
    .await
}
