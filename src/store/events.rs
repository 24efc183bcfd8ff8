//! Emitting webhook events from inside a store transaction: the statement that calls
//! `fn::emit` (schema/surreal/tenant/013_webhooks.surql), which writes one delivery per
//! subscribed endpoint in the same transaction as the change. The kind comes from the fixed
//! catalogue; `data` is an object expression over the statement's bound variables, written by
//! the store function that emits (never a value from outside: no injection).

use crate::domain::events::EventKind;

/// `fn::emit('{kind}', {data}, $now);` — the transaction must bind `$now`.
pub fn emit(kind: EventKind, data: &str) -> String {
    format!("fn::emit('{}', {data}, $now);", kind.as_str())
}
