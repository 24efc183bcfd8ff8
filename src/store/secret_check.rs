//! The `secret_check` table of the platform database: one value sealed under `SECRET_KEY`.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

fn rid() -> RecordId {
    RecordId::new("secret_check", "master")
}

/// The sealed check value, if the store has one yet.
pub async fn get(platform: &Db) -> StoreResult<Option<String>> {
    platform
        .query("SELECT VALUE sealed FROM ONLY $rid")
        .bind(("rid", rid()))
        .take(0)
        .await
}

/// Stores the sealed check value.
pub async fn put(platform: &Db, sealed: String, now: DateTime<Utc>) -> StoreResult<()> {
    platform
        .query("UPSERT $rid SET sealed = $sealed, updated_at = $now")
        .bind(("rid", rid()))
        .bind(("sealed", sealed))
        .bind(("now", now))
        .exec()
        .await
}

/// The retired token-hash keys, sealed, newest first.
pub async fn retired(platform: &Db) -> StoreResult<Vec<String>> {
    // A row, not `SELECT VALUE`: the SDK would take an array value for rows.
    #[derive(SurrealValue)]
    struct Row {
        retired: Option<Vec<String>>,
    }
    let row: Option<Row> = platform
        .query("SELECT retired FROM ONLY $rid")
        .bind(("rid", rid()))
        .take(0)
        .await?;
    Ok(row.and_then(|r| r.retired).unwrap_or_default())
}

/// Stores the check value under a new secret with the retired keys sealed under it, in one
/// write: a rekey interrupted before it leaves the store on the old secret.
pub async fn put_rekeyed(
    platform: &Db,
    sealed: String,
    retired: Vec<String>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    platform
        .query("UPSERT $rid SET sealed = $sealed, retired = $retired, updated_at = $now")
        .bind(("rid", rid()))
        .bind(("sealed", sealed))
        .bind(("retired", retired))
        .bind(("now", now))
        .exec()
        .await
}
