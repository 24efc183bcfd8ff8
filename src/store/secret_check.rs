//! The `secret_check` table of the platform database: one value sealed under `SECRET_KEY`.

use chrono::{DateTime, Utc};
use surrealdb::types::RecordId;

use super::{Db, StoreResult};

fn rid() -> RecordId {
    RecordId::new("secret_check", "master")
}

/// The sealed check value, if the store has one yet.
pub async fn get(platform: &Db) -> StoreResult<Option<String>> {
    let mut res = platform
        .query("SELECT VALUE sealed FROM ONLY $rid")
        .bind(("rid", rid()))
        .await?;
    Ok(res.take(0)?)
}

/// Stores the sealed check value.
pub async fn put(platform: &Db, sealed: String, now: DateTime<Utc>) -> StoreResult<()> {
    platform
        .query("UPSERT $rid SET sealed = $sealed, updated_at = $now")
        .bind(("rid", rid()))
        .bind(("sealed", sealed))
        .bind(("now", now))
        .await?;
    Ok(())
}
