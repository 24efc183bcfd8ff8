//! The `audit_event` table: append-only security and admin events.
//! Appended straight by `infra::audit` (no actor: an append races with nothing).

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// An event as stored and listed.
#[derive(Clone, Debug, SurrealValue)]
pub struct AuditRow {
    /// Record key (UUIDv7: time-ordered, the pagination cursor).
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What (`login_failure`, `user_disabled`, ...).
    pub kind: String,
    /// Who did it.
    pub actor: Option<String>,
    /// Whom it concerns.
    pub subject: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Free-form detail (never a secret).
    pub detail: Option<String>,
}

/// Appends an event.
pub async fn record(db: &Db, e: AuditRow) -> StoreResult<()> {
    db.query("CREATE $rid SET at = $at, kind = $kind, actor = $actor, subject = $subject, ip = $ip, detail = $detail")
        .bind(("rid", RecordId::new("audit_event", e.id.as_str())))
        .bind(("at", e.at))
        .bind(("kind", e.kind))
        .bind(("actor", e.actor))
        .bind(("subject", e.subject))
        .bind(("ip", e.ip))
        .bind(("detail", e.detail))
        .exec()
        .await
}

/// Events newest first, `limit` of them after cursor `before` (an event id), optionally only
/// those concerning or done by `user`.
pub async fn list(
    db: &Db,
    limit: usize,
    before: Option<&str>,
    user: Option<&str>,
) -> StoreResult<Vec<AuditRow>> {
    let mut cond = vec!["true"];
    if before.is_some() {
        cond.push("id < $before");
    }
    if user.is_some() {
        cond.push("(subject = $user OR actor = $user)");
    }
    db.query(format!(
        "SELECT record::id(id) AS id, at, kind, actor, subject, ip, detail FROM audit_event WHERE {} ORDER BY id DESC LIMIT $limit",
        cond.join(" AND ")
    ))
    .bind(("before", RecordId::new("audit_event", before.unwrap_or(""))))
    .bind(("user", user.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Number of events (optionally for one user).
pub async fn count(db: &Db, user: Option<&str>) -> StoreResult<usize> {
    let filter = if user.is_some() {
        "WHERE subject = $user OR actor = $user"
    } else {
        ""
    };
    db.query(format!(
        "SELECT count() AS n FROM audit_event {filter} GROUP ALL"
    ))
    .bind(("user", user.unwrap_or("").to_string()))
    .count()
    .await
}
