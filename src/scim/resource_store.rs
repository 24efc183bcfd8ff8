//! The `scim_user` and `scim_group` tables (schema/surreal/tenant/021_scim_resources.surql):
//! what a directory wrote about an account or an organization, under the same record key.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::store::{Db, StoreResult};

/// Which table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `scim_user` (key: the user's id).
    User,
    /// `scim_group` (key: the organization's id).
    Group,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::User => "scim_user",
            Table::Group => "scim_group",
        }
    }

    /// The field holding the normalised unique name.
    fn unique(self) -> &'static str {
        match self {
            Table::User => "user_name_norm",
            Table::Group => "display_name_norm",
        }
    }
}

/// A resource as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct ResourceRow {
    /// Record key: the account's or organization's id.
    pub id: String,
    /// The organization of the token that provisioned it (users only).
    pub org: Option<String>,
    /// What the directory wrote (JSON of the kept attributes).
    pub doc: String,
    /// Bumped by every write.
    pub version: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last written.
    pub updated_at: DateTime<Utc>,
}

/// The columns of a [`ResourceRow`] (a group has no `org`).
fn fields(t: Table) -> &'static str {
    match t {
        Table::User => "record::id(id) AS id, org, doc, version, created_at, updated_at",
        Table::Group => "record::id(id) AS id, NONE AS org, doc, version, created_at, updated_at",
    }
}

fn rid(t: Table, id: &str) -> RecordId {
    RecordId::new(t.name(), id)
}

/// Stores a new resource; `StoreError::Conflict` when its unique name is taken.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: &Db,
    t: Table,
    id: &str,
    unique: &str,
    external_id: Option<&str>,
    org: Option<&str>,
    doc: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let org_clause = if t == Table::User { ", org = $org" } else { "" };
    db.query(format!(
        "CREATE $rid SET {} = $unique, external_id = $ext{org_clause}, doc = $doc, version = 1,
             created_at = $now, updated_at = $now",
        t.unique()
    ))
    .bind(("rid", rid(t, id)))
    .bind(("unique", unique.to_string()))
    .bind(("ext", external_id.map(str::to_string)))
    .bind(("org", org.map(str::to_string)))
    .bind(("doc", doc.to_string()))
    .bind(("now", now))
    .exec()
    .await
}

/// One resource.
pub async fn get(db: &Db, t: Table, id: &str) -> StoreResult<Option<ResourceRow>> {
    db.query(format!("SELECT {} FROM ONLY $rid", fields(t)))
        .bind(("rid", rid(t, id)))
        .take(0)
        .await
}

/// Writes a resource if it is still at `version`; `Ok(None)` when another write came first
/// (or it is gone), so the caller reads again and retries.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    t: Table,
    id: &str,
    version: i64,
    unique: &str,
    external_id: Option<&str>,
    doc: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<i64>> {
    let rows: Vec<i64> = db
        .query(format!(
            "UPDATE $rid SET {} = $unique, external_id = $ext, doc = $doc,
                 version = version + 1, updated_at = $now
                 WHERE version = $v RETURN VALUE version",
            t.unique()
        ))
        .bind(("rid", rid(t, id)))
        .bind(("v", version))
        .bind(("unique", unique.to_string()))
        .bind(("ext", external_id.map(str::to_string)))
        .bind(("doc", doc.to_string()))
        .bind(("now", now))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// Forgets a resource; false when there was none.
pub async fn delete(db: &Db, t: Table, id: &str) -> StoreResult<bool> {
    let rows: Vec<String> = db
        .query("SELECT VALUE record::id(id) FROM $rid; DELETE $rid;")
        .bind(("rid", rid(t, id)))
        .take(0)
        .await?;
    Ok(!rows.is_empty())
}

/// The resource whose normalised unique name is `unique`.
pub async fn by_unique(db: &Db, t: Table, unique: &str) -> StoreResult<Option<ResourceRow>> {
    let rows: Vec<ResourceRow> = db
        .query(format!(
            "SELECT {} FROM {} WHERE {} = $u LIMIT 1",
            fields(t),
            t.name(),
            t.unique()
        ))
        .bind(("u", unique.to_string()))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// `WHERE org = $org` when a scope is given.
fn scope(org: Option<&str>) -> &'static str {
    if org.is_some() {
        "WHERE org = $org"
    } else {
        ""
    }
}

/// Resources of a scope (`org`: one organization's users; `None`: all) in id order, `limit`
/// of them from the `start`-th (0-based).
pub async fn slice(
    db: &Db,
    t: Table,
    org: Option<&str>,
    start: usize,
    limit: usize,
) -> StoreResult<Vec<ResourceRow>> {
    db.query(format!(
        "SELECT {} FROM {} {} ORDER BY id LIMIT $limit START $start",
        fields(t),
        t.name(),
        scope(org)
    ))
    .bind(("org", org.map(str::to_string)))
    .bind(("start", start as i64))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// How many resources a scope has.
pub async fn count(db: &Db, t: Table, org: Option<&str>) -> StoreResult<usize> {
    db.query(format!(
        "SELECT count() AS n FROM {} {} GROUP ALL",
        t.name(),
        scope(org)
    ))
    .bind(("org", org.map(str::to_string)))
    .count()
    .await
}
