//! The `login_throttle` table: consecutive failed logins per account and the lockout they
//! caused. Written only by the tenant actor, which serializes check-and-increment.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult, events};
use crate::domain::events::EventKind;
use crate::domain::lockout::ThrottleRow;

/// The `user.locked_out` event of a write that starts a lock on an existing account
/// (`$user`: its id; unknown identifiers are counted too but name nobody, so they emit nothing).
fn locked_out_event() -> String {
    events::emit(
        EventKind::UserLockedOut,
        "{ user_id: $user, failures: $failures, locked_until: $locked }",
    )
}

/// The state of `key`; a never-failed account has the default (zero) state.
pub async fn get(db: &Db, key: &str) -> StoreResult<ThrottleRow> {
    let row: Option<ThrottleRow> = db
        .query("SELECT failures, locked_until FROM ONLY $rid")
        .bind(("rid", RecordId::new("login_throttle", key)))
        .take(0)
        .await?;
    Ok(row.unwrap_or_default())
}

/// Stores the state of `key`; `locked_out` names the user whose account this write locks, and
/// its `user.locked_out` event is written in the same transaction.
pub async fn put(
    db: &Db,
    key: &str,
    row: &ThrottleRow,
    locked_out: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let upsert = "UPSERT $rid SET failures = $failures, locked_until = $locked, updated_at = $now;";
    let sql = match locked_out {
        None => upsert.to_string(),
        Some(_) => format!(
            "BEGIN TRANSACTION; {upsert} {} COMMIT TRANSACTION;",
            locked_out_event()
        ),
    };
    db.query(sql)
        .bind(("rid", RecordId::new("login_throttle", key)))
        .bind(("failures", row.failures))
        .bind(("locked", row.locked_until))
        .bind(("user", locked_out.map(str::to_string)))
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
/// `locked_out` names the user whose account this write locks: its `user.locked_out` event is
/// written in the same transaction, so only the node whose write won emits it.
pub async fn put_shared_if(
    db: &Db,
    key: &str,
    row: &SharedRow,
    locked_out: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let upsert =
        "UPSERT $rid SET failures = $failures, locked_until = $locked, reserved = $reserved,
                 version = $next, updated_at = $now
             WHERE (version ?? 0) = $expected RETURN VALUE version";
    let q = match locked_out {
        None => db.query(upsert),
        Some(_) => db.query(format!(
            "BEGIN TRANSACTION;
             LET $written = ({upsert});
             IF array::len($written) = 0 {{ THROW 'lost to another node' }};
             {}
             COMMIT TRANSACTION;",
            locked_out_event()
        )),
    };
    let q = q
        .bind(("rid", RecordId::new("login_throttle", key)))
        .bind(("failures", row.failures))
        .bind(("locked", row.locked_until))
        .bind(("reserved", row.reserved.clone()))
        .bind(("expected", row.version))
        .bind(("next", row.version + 1))
        .bind(("user", locked_out.map(str::to_string)))
        .bind(("now", now));
    if locked_out.is_some() {
        return q.applied().await;
    }
    let written: Vec<i64> = q.take(0).await?;
    Ok(!written.is_empty())
}
