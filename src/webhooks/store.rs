//! The tenant tables of webhooks (schema/surreal/tenant/013_webhooks.surql): `webhook` (the
//! endpoints), `webhook_delivery` (one per event and endpoint, written by `fn::emit` inside the
//! change's transaction) and `webhook_attempt` (each try, for the admin's log). Written straight
//! by the webhook service and the delivery actor, never through the tenant actor: deliveries
//! are claimed with conditional writes, so of several nodes one sends each at a time.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::store::outbox::{self, QueuedMail};
use crate::store::{Db, StoreResult};

/// An endpoint.
#[derive(Clone, Debug, SurrealValue)]
pub struct WebhookRow {
    /// Record key.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Kinds it subscribes to (`*`: all).
    pub events: Vec<String>,
    /// The admin's note.
    pub description: String,
    /// Receives deliveries.
    pub enabled: bool,
    /// The signing secret, sealed.
    pub secret_sealed: String,
    /// The secret before the last rotation, sealed; signs too until `previous_until`.
    pub previous_sealed: Option<String>,
    /// End of the rotation's grace period.
    pub previous_until: Option<DateTime<Utc>>,
    /// Why the server disabled it.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const HOOK_FIELDS: &str = "record::id(id) AS id, url, events, description, enabled, secret_sealed, \
    previous_sealed, previous_until, disabled_reason, failing_since, created_at";

fn hook(id: &str) -> RecordId {
    RecordId::new("webhook", id)
}

/// Stores an endpoint (new or changed).
pub async fn put(db: &Db, w: &WebhookRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "UPSERT $rid SET url = $url, events = $events, description = $description,
             enabled = $enabled, secret_sealed = $secret, previous_sealed = $previous,
             previous_until = $until, disabled_reason = $reason, failing_since = $failing,
             created_at = $created, updated_at = $now",
    )
    .bind(("rid", hook(&w.id)))
    .bind(("url", w.url.clone()))
    .bind(("events", w.events.clone()))
    .bind(("description", w.description.clone()))
    .bind(("enabled", w.enabled))
    .bind(("secret", w.secret_sealed.clone()))
    .bind(("previous", w.previous_sealed.clone()))
    .bind(("until", w.previous_until))
    .bind(("reason", w.disabled_reason.clone()))
    .bind(("failing", w.failing_since))
    .bind(("created", w.created_at))
    .bind(("now", now))
    .exec()
    .await
}

/// One endpoint.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<WebhookRow>> {
    db.query(format!("SELECT {HOOK_FIELDS} FROM ONLY $rid"))
        .bind(("rid", hook(id)))
        .take(0)
        .await
}

/// A page of endpoints by id, after `after`.
pub async fn list(db: &Db, limit: usize, after: Option<&str>) -> StoreResult<Vec<WebhookRow>> {
    let filter = if after.is_some() {
        "WHERE record::id(id) > $after"
    } else {
        ""
    };
    db.query(format!(
        "SELECT {HOOK_FIELDS} FROM webhook {filter} ORDER BY id LIMIT $limit"
    ))
    .bind(("after", after.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Every endpoint (`keys rekey` re-seals their secrets).
pub async fn all(db: &Db) -> StoreResult<Vec<WebhookRow>> {
    db.query(format!("SELECT {HOOK_FIELDS} FROM webhook"))
        .take(0)
        .await
}

/// Number of endpoints.
pub async fn count(db: &Db) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM webhook GROUP ALL")
        .count()
        .await
}

/// Deletes an endpoint with its deliveries and their attempts; false when there was none.
pub async fn delete(db: &Db, id: &str) -> StoreResult<bool> {
    let gone: Vec<RecordId> = db
        .query(
            "BEGIN TRANSACTION;
             LET $deliveries = (SELECT VALUE record::id(id) FROM webhook_delivery WHERE webhook = $key);
             DELETE webhook_attempt WHERE delivery IN $deliveries;
             DELETE webhook_delivery WHERE webhook = $key;
             LET $gone = (DELETE $rid RETURN BEFORE);
             COMMIT TRANSACTION;
             RETURN $gone.id;",
        )
        .bind(("rid", hook(id)))
        .bind(("key", id.to_string()))
        .take_last()
        .await?;
    Ok(!gone.is_empty())
}

/// A delivery: one event for one endpoint.
#[derive(Clone, Debug, SurrealValue)]
pub struct DeliveryRow {
    /// Record key.
    pub id: String,
    /// The endpoint's id.
    pub webhook: String,
    /// The message id (`webhook-id`), the same on every retry.
    pub msg_id: String,
    /// Event kind.
    pub kind: String,
    /// The event's data.
    pub data: serde_json::Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending).
    pub next_attempt_at: DateTime<Utc>,
    /// When it succeeded or finally failed.
    pub finished_at: Option<DateTime<Utc>>,
}

const DELIVERY_FIELDS: &str = "record::id(id) AS id, webhook, msg_id, kind, data, created_at, status, \
    attempts, next_attempt_at, finished_at";

fn delivery(id: &str) -> RecordId {
    RecordId::new("webhook_delivery", id)
}

/// A delivery written directly (the admin's test event and redelivery), not by `fn::emit`:
/// the event of `occurred`, due `now`.
pub async fn create_delivery(
    db: &Db,
    webhook: &str,
    kind: &str,
    data: serde_json::Value,
    msg_id: &str,
    occurred: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<DeliveryRow> {
    let rows: Vec<DeliveryRow> = db
        .query(format!(
            "CREATE webhook_delivery SET webhook = $webhook, msg_id = $msg, kind = $kind, data = $data,
                 created_at = $occurred, status = 'pending', attempts = 0, next_attempt_at = $now
             RETURN {DELIVERY_FIELDS}"
        ))
        .bind(("occurred", occurred))
        .bind(("webhook", webhook.to_string()))
        .bind(("msg", msg_id.to_string()))
        .bind(("kind", kind.to_string()))
        .bind(("data", data))
        .bind(("now", now))
        .take(0)
        .await?;
    rows.into_iter().next().ok_or_else(|| {
        crate::store::StoreError::Other("CREATE webhook_delivery returned nothing".into())
    })
}

/// One delivery.
pub async fn get_delivery(db: &Db, id: &str) -> StoreResult<Option<DeliveryRow>> {
    db.query(format!("SELECT {DELIVERY_FIELDS} FROM ONLY $rid"))
        .bind(("rid", delivery(id)))
        .take(0)
        .await
}

/// A page of an endpoint's deliveries, newest first (ids are time-ordered), optionally of
/// one status.
pub async fn deliveries(
    db: &Db,
    webhook: &str,
    limit: usize,
    before: Option<&str>,
    status: Option<&str>,
) -> StoreResult<Vec<DeliveryRow>> {
    let mut cond = vec!["webhook = $webhook"];
    if before.is_some() {
        cond.push("id < $before");
    }
    if status.is_some() {
        cond.push("status = $status");
    }
    db.query(format!(
        "SELECT {DELIVERY_FIELDS} FROM webhook_delivery WHERE {} ORDER BY id DESC LIMIT $limit",
        cond.join(" AND ")
    ))
    .bind(("webhook", webhook.to_string()))
    .bind(("before", delivery(before.unwrap_or(""))))
    .bind(("status", status.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Number of an endpoint's deliveries (of one status).
pub async fn count_deliveries(db: &Db, webhook: &str, status: Option<&str>) -> StoreResult<usize> {
    let filter = if status.is_some() {
        "AND status = $status"
    } else {
        ""
    };
    db.query(format!(
        "SELECT count() AS n FROM webhook_delivery WHERE webhook = $webhook {filter} GROUP ALL"
    ))
    .bind(("webhook", webhook.to_string()))
    .bind(("status", status.unwrap_or("").to_string()))
    .count()
    .await
}

/// Ids of pending deliveries due by `now`, oldest first (the `webhook_delivery_due` index).
pub async fn due(db: &Db, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<String>> {
    db.query(
        "SELECT VALUE record::id(id) FROM webhook_delivery
         WHERE status = 'pending' AND next_attempt_at <= $now ORDER BY next_attempt_at LIMIT $limit",
    )
    .bind(("now", now))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Claims a pending, due delivery for `node` until `until`: `None` when it is not pending,
/// not due, or another node's claim still runs. One conditional write: of two nodes, one sends.
pub async fn claim(
    db: &Db,
    id: &str,
    node: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Option<DeliveryRow>> {
    let rows: Vec<DeliveryRow> = db
        .query(format!(
            "UPDATE $rid SET claimed_by = $node, claimed_until = $until
             WHERE status = 'pending' AND next_attempt_at <= $now
               AND (claimed_until IS NONE OR claimed_until <= $now OR claimed_by = $node)
             RETURN {DELIVERY_FIELDS}"
        ))
        .bind(("rid", delivery(id)))
        .bind(("node", node.to_string()))
        .bind(("now", now))
        .bind(("until", until))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// One attempt's outcome.
#[derive(Clone, Debug, SurrealValue)]
pub struct AttemptRow {
    /// Record key.
    pub id: String,
    /// The delivery.
    pub delivery: String,
    /// When it started.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// The network error, timeout or refusal, if it did not.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// The start of the answer's body.
    pub response_excerpt: Option<String>,
}

/// What the actor decided after an attempt.
pub enum Next {
    /// Succeeded: done.
    Succeeded,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// No more attempts (schedule spent, or the endpoint is gone).
    Failed,
}

/// Records an attempt and its consequence on the delivery, ending the claim; with `disable`,
/// the endpoint is disabled for that reason in the same transaction (410 Gone, days of
/// failures), and `notices` (mail to the tenant's admins saying so) are queued in the outbox
/// only by the write that turns the endpoint off, so two attempts failing at once mail once.
pub async fn record_attempt(
    db: &Db,
    a: &AttemptRow,
    next: Next,
    webhook: &str,
    disable: Option<&str>,
    notices: &[QueuedMail],
) -> StoreResult<()> {
    let (status, next_at, failed) = match next {
        Next::Succeeded => ("succeeded", None, false),
        Next::RetryAt(t) => ("pending", Some(t), true),
        Next::Failed => ("failed", None, true),
    };
    // One CREATE per notice, each with its own bound id and content (a handful of admins).
    let queue: String = (0..notices.len())
        .map(|i| format!("CREATE $oid{i} CONTENT $mail{i};"))
        .collect();
    let mut q = db
        .query(format!(
            "BEGIN TRANSACTION;
         CREATE webhook_attempt SET delivery = $delivery, at = $at, http_status = $http,
             error = $error, duration_ms = $ms, response_excerpt = $excerpt;
         UPDATE $did SET attempts += 1, status = $status,
             next_attempt_at = IF $next_at = NONE {{ next_attempt_at }} ELSE {{ $next_at }},
             finished_at = IF $status = 'pending' {{ NONE }} ELSE {{ $at }},
             claimed_by = NONE, claimed_until = NONE;
         IF $failed {{
             UPDATE $hid SET failing_since = $at WHERE failing_since IS NONE;
         }} ELSE {{
             UPDATE $hid SET failing_since = NONE;
         }};
         IF $disable != NONE {{
             LET $was = (SELECT VALUE enabled FROM ONLY $hid);
             UPDATE $hid SET enabled = false, disabled_reason = $disable;
             IF $was = true {{ {queue} }};
         }};
         COMMIT TRANSACTION;"
        ))
        .bind(("delivery", a.delivery.clone()))
        .bind(("did", delivery(&a.delivery)))
        .bind(("hid", hook(webhook)))
        .bind(("at", a.at))
        .bind(("http", a.http_status))
        .bind(("error", a.error.clone()))
        .bind(("ms", a.duration_ms))
        .bind(("excerpt", a.response_excerpt.clone()))
        .bind(("status", status.to_string()))
        .bind(("next_at", next_at))
        .bind(("failed", failed))
        .bind(("disable", disable.map(str::to_string)));
    for (i, n) in notices.iter().enumerate() {
        q = q
            .bind((format!("oid{i}"), outbox::rid(&n.id)))
            .bind((format!("mail{i}"), n.mail.clone()));
    }
    q.exec().await
}

/// The attempts of a delivery, oldest first.
pub async fn attempts(db: &Db, delivery_id: &str) -> StoreResult<Vec<AttemptRow>> {
    db.query(
        "SELECT record::id(id) AS id, delivery, at, http_status, error, duration_ms, response_excerpt
         FROM webhook_attempt WHERE delivery = $delivery ORDER BY at",
    )
    .bind(("delivery", delivery_id.to_string()))
    .take(0)
    .await
}

/// Whether any endpoint exists (the actor scans only tenants that have one).
pub async fn any(db: &Db) -> StoreResult<bool> {
    Ok(count(db).await? > 0)
}
