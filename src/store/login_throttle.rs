//! The `login_throttle` table: consecutive failed logins per account and the lockout they
//! caused. Written only by the tenant actor, which serializes check-and-increment.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// An account's failure state.
#[derive(Clone, Debug, Default, SurrealValue)]
pub struct ThrottleRow {
    /// Consecutive failures since the last success.
    pub failures: i64,
    /// No attempt is evaluated before this instant.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The state of `key`; a never-failed account has the default (zero) state.
pub async fn get(db: &Db, key: &str) -> StoreResult<ThrottleRow> {
    let mut res = db
        .query("SELECT failures, locked_until FROM ONLY $rid")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .await?;
    let row: Option<ThrottleRow> = res.take(0)?;
    Ok(row.unwrap_or_default())
}

/// Stores the state of `key`.
pub async fn put(db: &Db, key: &str, row: &ThrottleRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPSERT $rid SET failures = $failures, locked_until = $locked, updated_at = $now")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .bind(("failures", row.failures))
        .bind(("locked", row.locked_until))
        .bind(("now", now))
        .await?;
    Ok(())
}

/// Forgets `key`'s failures (after a successful login or a password reset).
pub async fn clear(db: &Db, key: &str) -> StoreResult<()> {
    db.query("DELETE $rid")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .await?;
    Ok(())
}
