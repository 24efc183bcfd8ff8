//! The tenant tables of organizations (schema/surreal/tenant/014_organizations.surql):
//! `organization`, `org_role` (the tenant's organization template) and `org_member` (one row
//! per membership, keyed by organization and user). Written straight by the organization
//! service; ending a membership or an organization revokes the sessions scoped to it in the
//! same transaction, and the change feed brings those revocations to every node's cache.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::domain::events::EventKind;
use crate::store::memberships::member_key as member;
use crate::store::sessions::REVOKED_DATA;
use crate::store::{Db, StoreResult, events};

/// An organization.
#[derive(Clone, Debug, SurrealValue)]
pub struct OrgRow {
    /// Record key (UUIDv7); the `org_id` claim.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unique, lower-case handle.
    pub slug: String,
    /// Members need a second factor.
    pub mfa_required: bool,
    /// Roles of a member who joins by a verified domain.
    pub jit_roles: Vec<String>,
    /// Its own identity provider (offered to its domains).
    pub idp: Option<String>,
    /// Its domains' people must sign in through `idp`, not with a password.
    pub sso_required: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const ORG_FIELDS: &str = "record::id(id) AS id, name, slug, mfa_required, jit_roles ?? [] AS jit_roles, idp, \
     sso_required ?? false AS sso_required, created_at";

fn org(id: &str) -> RecordId {
    RecordId::new("organization", id)
}

/// Stores an organization (new or changed); a taken slug is `StoreError::Conflict`.
pub async fn put(db: &Db, o: &OrgRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "UPSERT $rid SET name = $name, name_norm = string::lowercase($name), slug = $slug,
             mfa_required = $mfa, jit_roles = $jit, idp = $idp, sso_required = $sso,
             created_at = $created, updated_at = $now",
    )
    .bind(("rid", org(&o.id)))
    .bind(("name", o.name.clone()))
    .bind(("slug", o.slug.clone()))
    .bind(("mfa", o.mfa_required))
    .bind(("jit", o.jit_roles.clone()))
    .bind(("idp", o.idp.clone()))
    .bind(("sso", o.sso_required))
    .bind(("created", o.created_at))
    .bind(("now", now))
    .exec()
    .await
}

/// A field of an organization an update names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgField {
    /// `name` (and its search copy).
    Name,
    /// `slug`.
    Slug,
    /// `mfa_required`.
    MfaRequired,
    /// `jit_roles`.
    JitRoles,
    /// `idp`.
    Idp,
    /// `sso_required`.
    SsoRequired,
}

/// Writes `fields` of `o` to its existing record and nothing else, so a concurrent write to
/// another field (a provider's deletion clearing `idp`, a role's deletion trimming
/// `jit_roles`) is kept, and an organization deleted meanwhile is not brought back (`false`).
/// A taken slug is `StoreError::Conflict`.
pub async fn update(
    db: &Db,
    o: &OrgRow,
    fields: &[OrgField],
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut sets = vec!["updated_at = $now"];
    for f in fields {
        sets.push(match f {
            OrgField::Name => "name = $name, name_norm = string::lowercase($name)",
            OrgField::Slug => "slug = $slug",
            OrgField::MfaRequired => "mfa_required = $mfa",
            OrgField::JitRoles => "jit_roles = $jit",
            OrgField::Idp => "idp = $idp",
            OrgField::SsoRequired => "sso_required = $sso",
        });
    }
    let changed: Option<i64> = db
        .query(format!(
            "LET $u = (UPDATE $rid SET {} WHERE record::exists($rid) RETURN AFTER);
             RETURN array::len($u);",
            sets.join(", ")
        ))
        .bind(("rid", org(&o.id)))
        .bind(("name", o.name.clone()))
        .bind(("slug", o.slug.clone()))
        .bind(("mfa", o.mfa_required))
        .bind(("jit", o.jit_roles.clone()))
        .bind(("idp", o.idp.clone()))
        .bind(("sso", o.sso_required))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(changed.unwrap_or(0) > 0)
}

/// One organization.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<OrgRow>> {
    db.query(format!("SELECT {ORG_FIELDS} FROM ONLY $rid"))
        .bind(("rid", org(id)))
        .take(0)
        .await
}

/// Several organizations by id (a user's memberships), in no particular order.
pub async fn get_many(db: &Db, ids: &[String]) -> StoreResult<Vec<OrgRow>> {
    let rids: Vec<RecordId> = ids.iter().map(|i| org(i)).collect();
    db.query(format!("SELECT {ORG_FIELDS} FROM $rids"))
        .bind(("rids", rids))
        .take(0)
        .await
}

/// A page of organizations by id after `after`, whose name or slug contains `search`.
pub async fn list(
    db: &Db,
    limit: usize,
    after: Option<&str>,
    search: Option<&str>,
) -> StoreResult<Vec<OrgRow>> {
    db.query(format!(
        "SELECT {ORG_FIELDS} FROM organization{} ORDER BY id LIMIT $limit",
        filter(after.is_some(), search.is_some())
    ))
    .bind(("after", after.unwrap_or("").to_string()))
    .bind(("search", search.unwrap_or("").to_lowercase()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Number of organizations matching `search`.
pub async fn count(db: &Db, search: Option<&str>) -> StoreResult<usize> {
    // Without a search, no WHERE: the count index (019_org_count.surql) answers it.
    let sql = if search.is_some() {
        format!(
            "SELECT count() AS n FROM organization{} GROUP ALL",
            filter(false, true)
        )
    } else {
        "SELECT count() AS n FROM organization GROUP ALL".to_string()
    };
    db.query(sql)
        .bind(("search", search.unwrap_or("").to_lowercase()))
        .count()
        .await
}

/// The WHERE clause of a page (empty without conditions: the first page of a plain listing then
/// reads the table in key order and stops at the limit, instead of filtering every row).
fn filter(after: bool, search: bool) -> String {
    let mut w = Vec::new();
    if after {
        // On the record id itself, not `record::id(id)`: a key range the engine can seek to.
        w.push("id > type::record('organization', $after)");
    }
    if search {
        w.push("(name_norm CONTAINS $search OR slug CONTAINS $search)");
    }
    if w.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", w.join(" AND "))
    }
}

/// Deletes an organization with its memberships, invitations and domains, and revokes the sessions scoped to it, in
/// one transaction. Answers the revoked sessions' ids (the caller forgets them in this node's
/// cache), or `None` when there was no such organization.
pub async fn delete(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<Option<Vec<String>>> {
    let emit = events::emit(EventKind::SessionRevoked, REVOKED_DATA);
    let ended: Option<Ended> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $gone = (DELETE $rid RETURN BEFORE);
             DELETE org_member WHERE org = $key;
             DELETE org_invitation WHERE org = $key;
             DELETE org_domain WHERE org = $key;
             UPDATE scim_token SET revoked_at = $now WHERE org = $key AND revoked_at IS NONE;
             LET $revoked = (UPDATE session SET revoked_at = $now, revoked_reason = $reason
                 WHERE org = $key AND revoked_at IS NONE RETURN record::id(id) AS id, user);
             FOR $s IN $revoked {{ {emit} }};
             COMMIT TRANSACTION;
             RETURN {{ gone: array::len($gone), revoked: $revoked.id }};"
        ))
        .bind(("rid", org(id)))
        .bind(("key", id.to_string()))
        .bind(("reason", ORG_DELETED.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(ended.filter(|e| e.gone > 0).map(|e| e.revoked))
}

/// What a delete of an organization or a membership did.
#[derive(SurrealValue)]
struct Ended {
    /// Rows deleted (0: there was none).
    gone: i64,
    /// Sessions revoked.
    revoked: Vec<String>,
}

/// The revocation reason of sessions scoped to a deleted organization.
pub const ORG_DELETED: &str = "organization_deleted";
/// The revocation reason of a removed member's sessions scoped to the organization.
pub const MEMBER_REMOVED: &str = "organization_membership_removed";

/// A role of the organization template.
#[derive(Clone, Debug, SurrealValue)]
pub struct OrgRoleRow {
    /// The role name (record key).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Holders administer their own organization.
    pub administers: bool,
}

/// The organization template, by name.
pub async fn roles(db: &Db) -> StoreResult<Vec<OrgRoleRow>> {
    db.query("SELECT record::id(id) AS name, description, administers FROM org_role ORDER BY id")
        .take(0)
        .await
}

/// Adds or changes a role of the template.
pub async fn put_role(db: &Db, r: &OrgRoleRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "UPSERT $rid SET description = $description, administers = $administers,
             created_at = created_at ?? $now",
    )
    .bind(("rid", RecordId::new("org_role", r.name.as_str())))
    .bind(("description", r.description.clone()))
    .bind(("administers", r.administers))
    .bind(("now", now))
    .exec()
    .await
}

/// Removes a role from the template, from every membership that holds it, from every
/// organization's roles for joining by domain and from open invitations, in one
/// transaction; false when there was no such role.
pub async fn delete_role(db: &Db, name: &str) -> StoreResult<bool> {
    let gone: Vec<RecordId> = db
        .query(
            "BEGIN TRANSACTION;
             LET $gone = (DELETE $rid RETURN BEFORE);
             UPDATE org_member SET roles = array::complement(roles, [$name]) WHERE roles CONTAINS $name;
             UPDATE organization SET jit_roles = array::complement(jit_roles, [$name])
                 WHERE jit_roles CONTAINS $name;
             UPDATE org_invitation SET roles = array::complement(roles, [$name])
                 WHERE roles CONTAINS $name AND accepted_at IS NONE;
             COMMIT TRANSACTION;
             RETURN $gone.id;",
        )
        .bind(("rid", RecordId::new("org_role", name)))
        .bind(("name", name.to_string()))
        .take_last()
        .await?;
    Ok(!gone.is_empty())
}

/// A membership.
#[derive(Clone, Debug, SurrealValue)]
pub struct MemberRow {
    /// The organization.
    pub org: String,
    /// The user.
    pub user: String,
    /// Org roles.
    pub roles: Vec<String>,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

const MEMBER_FIELDS: &str = "org, user, roles, created_at";

/// One membership.
pub async fn membership(db: &Db, org_id: &str, user: &str) -> StoreResult<Option<MemberRow>> {
    db.query(format!("SELECT {MEMBER_FIELDS} FROM ONLY $rid"))
        .bind(("rid", member(org_id, user)))
        .take(0)
        .await
}

/// A user's memberships, oldest first.
pub async fn memberships_of(db: &Db, user: &str) -> StoreResult<Vec<MemberRow>> {
    db.query(format!(
        "SELECT {MEMBER_FIELDS} FROM org_member WHERE user = $user ORDER BY created_at"
    ))
    .bind(("user", user.to_string()))
    .take(0)
    .await
}

/// Adds a membership if there is none; false when the user already was a member (the
/// existing row is left as it was) or is gone (deleted meanwhile: a user's deletion removes
/// their memberships in its transaction, and this one reads the user in its own).
pub async fn add_member(db: &Db, m: &MemberRow) -> StoreResult<bool> {
    let created: Vec<RecordId> = db
        .query(
            "BEGIN TRANSACTION;
             LET $created = IF record::exists($rid) OR !record::exists(type::record('user', $user)) { [] } ELSE {
                 (CREATE $rid SET org = $org, user = $user, roles = $roles, created_at = $now
                     RETURN id)
             };
             COMMIT TRANSACTION;
             RETURN $created.id;",
        )
        .bind(("rid", member(&m.org, &m.user)))
        .bind(("org", m.org.clone()))
        .bind(("user", m.user.clone()))
        .bind(("roles", m.roles.clone()))
        .bind(("now", m.created_at))
        .take_last()
        .await?;
    Ok(!created.is_empty())
}

/// Sets a member's roles; `None` when they are not a member.
pub async fn set_member_roles(
    db: &Db,
    org_id: &str,
    user: &str,
    roles: &[String],
) -> StoreResult<Option<MemberRow>> {
    db.query(format!(
        "UPDATE ONLY $rid SET roles = $roles WHERE record::exists($rid) RETURN {MEMBER_FIELDS}"
    ))
    .bind(("rid", member(org_id, user)))
    .bind(("roles", roles.to_vec()))
    .take(0)
    .await
}

/// Ends a membership and revokes the user's sessions scoped to the organization, in one
/// transaction. Answers the revoked sessions' ids, or `None` when there was no membership.
pub async fn remove_member(
    db: &Db,
    org_id: &str,
    user: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Vec<String>>> {
    let emit = events::emit(EventKind::SessionRevoked, REVOKED_DATA);
    let ended: Option<Ended> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $gone = (DELETE $rid RETURN BEFORE);
             LET $revoked = IF array::len($gone) > 0 {{
                 (UPDATE session SET revoked_at = $now, revoked_reason = $reason
                     WHERE user = $user AND org = $key AND revoked_at IS NONE
                     RETURN record::id(id) AS id, user)
             }} ELSE {{ [] }};
             FOR $s IN $revoked {{ {emit} }};
             COMMIT TRANSACTION;
             RETURN {{ gone: array::len($gone), revoked: $revoked.id }};"
        ))
        .bind(("rid", member(org_id, user)))
        .bind(("key", org_id.to_string()))
        .bind(("user", user.to_string()))
        .bind(("reason", MEMBER_REMOVED.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(ended.filter(|e| e.gone > 0).map(|e| e.revoked))
}

/// A member as an organization's member list shows them.
#[derive(Clone, Debug, SurrealValue)]
pub struct MemberView {
    /// The user's id (also the page key).
    pub user: String,
    /// Their address.
    pub email: String,
    /// Their username.
    pub username: String,
    /// Org roles.
    pub roles: Vec<String>,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

/// A page of an organization's members by user id after `after`, whose address or username
/// contains `search`.
pub async fn members(
    db: &Db,
    org_id: &str,
    limit: usize,
    after: Option<&str>,
    search: Option<&str>,
) -> StoreResult<Vec<MemberView>> {
    // The user's fields are read per row of the page only (`LIMIT` before the projection's
    // record reads), except under a search, which has to look at each member's address.
    let mut w = vec!["org = $key"];
    if after.is_some() {
        w.push("user > $after");
    }
    if search.is_some() {
        w.push(
            "(string::lowercase(type::record('user', user).email) CONTAINS $search
              OR string::lowercase(type::record('user', user).username) CONTAINS $search)",
        );
    }
    db.query(format!(
        "SELECT user, type::record('user', user).email AS email,
             type::record('user', user).username AS username, roles, created_at
         FROM org_member WHERE {} ORDER BY user LIMIT $limit",
        w.join(" AND ")
    ))
    .bind(("key", org_id.to_string()))
    .bind(("after", after.unwrap_or("").to_string()))
    .bind(("search", search.unwrap_or("").to_lowercase()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Members per organization of `ids` (a page of the list): one query, not one per
/// organization. Organizations without members are absent.
pub async fn member_counts(db: &Db, ids: &[String]) -> StoreResult<Vec<OrgCount>> {
    db.query("SELECT org, count() AS n FROM org_member WHERE org IN $ids GROUP BY org")
        .bind(("ids", ids.to_vec()))
        .take(0)
        .await
}

/// An organization's member count.
#[derive(SurrealValue)]
pub struct OrgCount {
    /// The organization.
    pub org: String,
    /// Its members.
    pub n: i64,
}

/// Number of an organization's members (matching `search`).
pub async fn member_count(db: &Db, org_id: &str, search: Option<&str>) -> StoreResult<usize> {
    let search_clause = if search.is_some() {
        " AND (string::lowercase(type::record('user', user).email) CONTAINS $search
              OR string::lowercase(type::record('user', user).username) CONTAINS $search)"
    } else {
        ""
    };
    db.query(format!(
        "SELECT count() AS n FROM org_member WHERE org = $key{search_clause} GROUP ALL"
    ))
    .bind(("key", org_id.to_string()))
    .bind(("search", search.unwrap_or("").to_lowercase()))
    .count()
    .await
}

/// A verified domain of an organization.
#[derive(Clone, Debug, SurrealValue)]
pub struct DomainRow {
    /// The domain, lower-cased (record key: one organization per domain in the tenant).
    pub domain: String,
    /// The organization.
    pub org: String,
    /// How it was verified (`admin_assertion`).
    pub verification: String,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

const DOMAIN_FIELDS: &str = "record::id(id) AS domain, org, verification, created_at";

/// An organization's domains, by name.
pub async fn domains(db: &Db, org_id: &str) -> StoreResult<Vec<DomainRow>> {
    db.query(format!(
        "SELECT {DOMAIN_FIELDS} FROM org_domain WHERE org = $key ORDER BY id"
    ))
    .bind(("key", org_id.to_string()))
    .take(0)
    .await
}

/// Gives a domain to an organization; `Ok(false)` when the tenant has it already (this or
/// another organization's) or the organization is gone.
pub async fn add_domain(db: &Db, d: &DomainRow, added_by: &str) -> StoreResult<bool> {
    let made: Vec<RecordId> = db
        .query(
            "BEGIN TRANSACTION;
             LET $made = IF record::exists($rid) OR !record::exists(type::record('organization', $org)) { [] } ELSE {
                 (CREATE $rid SET org = $org, verification = $verification, added_by = $by,
                     created_at = $now RETURN id)
             };
             COMMIT TRANSACTION;
             RETURN $made.id;",
        )
        .bind(("rid", RecordId::new("org_domain", d.domain.as_str())))
        .bind(("org", d.org.clone()))
        .bind(("verification", d.verification.clone()))
        .bind(("by", added_by.to_string()))
        .bind(("now", d.created_at))
        .take_last()
        .await?;
    Ok(!made.is_empty())
}

/// Takes a domain from an organization; false when it had no such domain.
pub async fn remove_domain(db: &Db, org_id: &str, domain: &str) -> StoreResult<bool> {
    let gone: Option<i64> = db
        .query(
            "LET $gone = (DELETE $rid WHERE org = $key RETURN BEFORE);
             RETURN array::len($gone);",
        )
        .bind(("rid", RecordId::new("org_domain", domain)))
        .bind(("key", org_id.to_string()))
        .take_last()
        .await?;
    Ok(gone.unwrap_or(0) > 0)
}
