//! The `login_throttle` table: consecutive failed logins per account and the lockout they
//! caused. Written only by the tenant actor, which serializes check-and-increment.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};
use crate::domain::lockout::ThrottleRow;

/// The state of `key`; a never-failed account has the default (zero) state.
pub async fn get(db: &Db, key: &str) -> StoreResult<ThrottleRow> {
    let row: Option<ThrottleRow> = db
        .query("SELECT failures, locked_until FROM ONLY $rid")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .take(0)
        .await?;
    Ok(row.unwrap_or_default())
}

/// Stores the state of `key`.
pub async fn put(db: &Db, key: &str, row: &ThrottleRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPSERT $rid SET failures = $failures, locked_until = $locked, updated_at = $now")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .bind(("failures", row.failures))
        .bind(("locked", row.locked_until))
        .bind(("now", now))
        .exec()
        .await
}

/// Forgets `key`'s failures (after a successful login or a password reset).
pub async fn clear(db: &Db, key: &str) -> StoreResult<()> {
    db.query("DELETE $rid")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .exec()
        .await
}

/// A login attempt admitted on some node and not yet decided, as the database holds it when
/// several nodes share the store.
#[derive(Clone, Debug, SurrealValue)]
pub struct Reservation {
    /// Its id (the node that made it removes it with the verdict).
    pub id: String,
    /// When it was admitted; it lapses after `IN_FLIGHT_TTL_SECS` (a node that died).
    pub at: DateTime<Utc>,
}

/// An account's state with the attempts in flight on every node, and the version a
/// conditional write compares.
#[derive(Clone, Debug, Default, SurrealValue)]
pub struct SharedRow {
    /// Consecutive failures since the last success.
    pub failures: i64,
    /// No attempt is evaluated before this instant.
    pub locked_until: Option<DateTime<Utc>>,
    /// Attempts admitted, not yet decided.
    pub reserved: Vec<Reservation>,
    /// Bumped by every write; 0 for an account never written.
    pub version: i64,
}

impl SharedRow {
    /// The failure state alone, for the lockout policy.
    pub fn throttle(&self) -> ThrottleRow {
        ThrottleRow {
            failures: self.failures,
            locked_until: self.locked_until,
        }
    }
}

/// The shared state of `key` (the default for an account never written).
pub async fn get_shared(db: &Db, key: &str) -> StoreResult<SharedRow> {
    let row: Option<SharedRow> = db
        .query(
            "SELECT failures, locked_until, reserved ?? [] AS reserved, version ?? 0 AS version
             FROM ONLY $rid",
        )
        .bind(("rid", RecordId::new("login_throttle", key)))
        .take(0)
        .await?;
    Ok(row.unwrap_or_default())
}

/// Writes `row` as the next version of `key` if the stored version is still `row.version`
/// (compare-and-set: the check and the write are one transaction, so of two nodes that read
/// the same version only one writes; the other reads again). `false` when it lost.
pub async fn put_shared_if(
    db: &Db,
    key: &str,
    row: &SharedRow,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let written: Vec<i64> = db
        .query(
            "UPSERT $rid SET failures = $failures, locked_until = $locked, reserved = $reserved,
                 version = $next, updated_at = $now
             WHERE (version ?? 0) = $expected RETURN VALUE version",
        )
        .bind(("rid", RecordId::new("login_throttle", key)))
        .bind(("failures", row.failures))
        .bind(("locked", row.locked_until))
        .bind(("reserved", row.reserved.clone()))
        .bind(("expected", row.version))
        .bind(("next", row.version + 1))
        .bind(("now", now))
        .take(0)
        .await?;
    Ok(!written.is_empty())
}
