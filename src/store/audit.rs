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

/// Which events a listing wants: about or by one user, of one kind, in a time range.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Done by or concerning this user id.
    pub user: Option<String>,
    /// Of this kind (`login_failure`, ...).
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// The WHERE conditions of the filter (bound by [`AuditFilter::bind`]).
    fn conditions(&self) -> Vec<&'static str> {
        let mut cond = vec!["true"];
        if self.user.is_some() {
            cond.push("(subject = $user OR actor = $user)");
        }
        if self.kind.is_some() {
            cond.push("kind = $kind");
        }
        if self.since.is_some() {
            cond.push("at >= $since");
        }
        if self.until.is_some() {
            cond.push("at < $until");
        }
        cond
    }

    fn bind<'a>(&self, q: super::db::Query<'a>) -> super::db::Query<'a> {
        q.bind(("user", self.user.clone().unwrap_or_default()))
            .bind(("kind", self.kind.clone().unwrap_or_default()))
            .bind(("since", self.since.unwrap_or_default()))
            .bind(("until", self.until.unwrap_or_default()))
    }
}

/// Events newest first, `limit` of them after cursor `before` (an event id), those `filter`
/// wants.
pub async fn list(
    db: &Db,
    limit: usize,
    before: Option<&str>,
    filter: &AuditFilter,
) -> StoreResult<Vec<AuditRow>> {
    let mut cond = filter.conditions();
    if before.is_some() {
        cond.push("id < $before");
    }
    let q = db.query(format!(
        "SELECT record::id(id) AS id, at, kind, actor, subject, ip, detail FROM audit_event WHERE {} ORDER BY id DESC LIMIT $limit",
        cond.join(" AND ")
    ));
    filter
        .bind(q)
        .bind(("before", RecordId::new("audit_event", before.unwrap_or(""))))
        .bind(("limit", limit as i64))
        .take(0)
        .await
}

/// Number of events `filter` wants.
pub async fn count(db: &Db, filter: &AuditFilter) -> StoreResult<usize> {
    let q = db.query(format!(
        "SELECT count() AS n FROM audit_event WHERE {} GROUP ALL",
        filter.conditions().join(" AND ")
    ));
    filter.bind(q).count().await
}
