//! The `outbox` table: mail queued by a state change, sent by the email actor.
//! Written in the transaction of the change that queues the mail (actor or service), claimed
//! and marked sent by the email actor with conditional updates.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// A mail to queue. Written inside the transaction of the change that needs it.
#[derive(Clone, Debug, SurrealValue)]
pub struct NewMail {
    /// What it is (`reset`, `verify`, `password_changed`), for logs.
    pub kind: String,
    /// Recipient address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Always `pending` when queued.
    pub status: String,
    /// Send attempts so far.
    pub attempts: i64,
    /// Queue time.
    pub created_at: DateTime<Utc>,
}

/// A queued mail and the id it is queued under.
#[derive(Clone, Debug)]
pub struct QueuedMail {
    /// Outbox record key.
    pub id: String,
    /// The mail.
    pub mail: NewMail,
}

/// A queued mail as read back for sending.
#[derive(Clone, Debug, SurrealValue)]
pub struct OutboxRow {
    /// Record key.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// `pending`, `sent` or `logged`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
}

/// The record id of an outbox row.
pub fn rid(id: &str) -> RecordId {
    RecordId::new("outbox", id)
}

/// Loads a row.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<OutboxRow>> {
    db.query("SELECT record::id(id) AS id, kind, recipient, subject, text, html, status, attempts FROM $rid")
        .bind(("rid", rid(id)))
        .take(0)
        .await
}

/// Ids of rows not yet sent, oldest first.
pub async fn pending_ids(db: &Db) -> StoreResult<Vec<String>> {
    db.query("SELECT VALUE record::id(id) FROM outbox WHERE status = 'pending' ORDER BY created_at")
        .take(0)
        .await
}

/// Claims a pending row for `node` until `until`: `None` when it is sent already or another
/// node's claim is still running. One conditional write, so of two nodes only one sends.
pub async fn claim(
    db: &Db,
    id: &str,
    node: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Option<OutboxRow>> {
    let rows: Vec<OutboxRow> = db
        .query(
            "UPDATE $rid SET claimed_by = $node, claimed_until = $until
             WHERE status = 'pending'
               AND (claimed_until IS NONE OR claimed_until <= $now OR claimed_by = $node)
             RETURN record::id(id) AS id, kind, recipient, subject, text, html, status, attempts",
        )
        .bind(("rid", rid(id)))
        .bind(("node", node.to_string()))
        .bind(("now", now))
        .bind(("until", until))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// Marks a row `sent` or `logged` and ends the claim.
pub async fn mark(db: &Db, id: &str, status: &str, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "UPDATE $rid SET status = $status, sent_at = $now, attempts += 1, last_error = NONE,
             claimed_by = NONE, claimed_until = NONE",
    )
    .bind(("rid", rid(id)))
    .bind(("status", status.to_string()))
    .bind(("now", now))
    .exec()
    .await
}

/// Records a failed attempt and ends the claim (the retry claims it again).
pub async fn record_failure(db: &Db, id: &str, error: &str) -> StoreResult<()> {
    let error: String = error.chars().take(500).collect();
    db.query("UPDATE $rid SET attempts += 1, last_error = $error, claimed_by = NONE, claimed_until = NONE")
        .bind(("rid", rid(id)))
        .bind(("error", error))
        .exec()
        .await
}
