//! Emitting webhook events from inside a store transaction: the statement that calls
//! `fn::emit` (schema/surreal/tenant/013_webhooks.surql), which writes one delivery per
//! subscribed endpoint in the same transaction as the change. The kind comes from the fixed
//! catalogue; `data` is an object expression over the statement's bound variables, written by
//! the store function that emits (never a value from outside: no injection).

use chrono::{DateTime, Utc};

use super::{Db, StoreResult};
use crate::domain::events::EventKind;

/// `fn::emit('{kind}', {data}, $now);` — the transaction must bind `$now`.
pub fn emit(kind: EventKind, data: &str) -> String {
    format!("fn::emit('{}', {data}, $now);", kind.as_str())
}

/// Emits an event on its own, right after a change made in another database (the platform's
/// tenant settings): no transaction spans both, so a crash between the two loses the event.
/// Only for such changes; everything a tenant's database holds emits in its transaction.
pub async fn emit_after(
    db: &Db,
    kind: EventKind,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.query("fn::emit($kind, $data, $now)")
        .bind(("kind", kind.as_str().to_string()))
        .bind(("data", data))
        .bind(("now", now))
        .exec()
        .await
}
