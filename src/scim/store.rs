//! The `scim_token` table (schema/surreal/tenant/020_scim_tokens.surql): provisioning tokens,
//! by the keyed hash of their value.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::store::{Db, StoreResult};

/// A SCIM token as stored (never its value).
#[derive(Clone, Debug, SurrealValue)]
pub struct TokenRow {
    /// Record key (UUIDv7).
    pub id: String,
    /// What it is for ("Entra ID provisioning").
    pub name: String,
    /// The organization it is confined to; `None`: the whole tenant.
    pub org: Option<String>,
    /// The tenant admin who made it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last accepted request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked when.
    pub revoked_at: Option<DateTime<Utc>>,
}

const FIELDS: &str =
    "record::id(id) AS id, name, org, created_by, created_at, last_used_at, revoked_at";

fn rid(id: &str) -> RecordId {
    RecordId::new("scim_token", id)
}

/// Stores a new token under the hash of its value.
pub async fn create(db: &Db, t: &TokenRow, hash: &str) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET name = $name, org = $org, token_hash = $hash, created_by = $by,
             created_at = $now",
    )
    .bind(("rid", rid(&t.id)))
    .bind(("name", t.name.clone()))
    .bind(("org", t.org.clone()))
    .bind(("hash", hash.to_string()))
    .bind(("by", t.created_by.clone()))
    .bind(("now", t.created_at))
    .exec()
    .await
}

/// Every token, newest first.
pub async fn list(db: &Db) -> StoreResult<Vec<TokenRow>> {
    db.query(format!(
        "SELECT {FIELDS} FROM scim_token ORDER BY created_at DESC"
    ))
    .take(0)
    .await
}

/// Tokens not revoked.
pub async fn active_count(db: &Db) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM scim_token WHERE revoked_at IS NONE GROUP ALL")
        .count()
        .await
}

/// The live token whose value hashes to `hash`.
pub async fn by_hash(db: &Db, hash: &str) -> StoreResult<Option<TokenRow>> {
    let rows: Vec<TokenRow> = db
        .query(format!(
            "SELECT {FIELDS} FROM scim_token WHERE token_hash = $hash AND revoked_at IS NONE LIMIT 1"
        ))
        .bind(("hash", hash.to_string()))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// Revokes a token; false when there was none not revoked yet.
pub async fn revoke(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TokenRow>> {
    db.query(format!(
        "UPDATE ONLY $rid SET revoked_at = $now
             WHERE record::exists($rid) AND revoked_at IS NONE RETURN {FIELDS}"
    ))
    .bind(("rid", rid(id)))
    .bind(("now", now))
    .take(0)
    .await
}

/// Notes a use (the caller writes at most once a minute per token).
pub async fn touch(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPDATE $rid SET last_used_at = $now WHERE revoked_at IS NONE")
        .bind(("rid", rid(id)))
        .bind(("now", now))
        .exec()
        .await
}
