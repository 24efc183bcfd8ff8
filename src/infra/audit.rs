//! Recording audit events. A failed write is logged, never turned into a failed request:
//! the action already happened and the caller must learn its outcome.

use chrono::{DateTime, Utc};

use crate::actors::Tenant;
use crate::infra::ClientInfo;
use crate::store::audit::{self, AuditRow};

/// What an audit event records besides its kind.
#[derive(Default)]
pub struct AuditInfo<'a> {
    /// Who acted (user id).
    pub actor: Option<&'a str>,
    /// Whom it concerns (user id).
    pub subject: Option<&'a str>,
    /// The client.
    pub client: Option<&'a ClientInfo>,
    /// Detail (never a secret).
    pub detail: Option<String>,
}

// The few shapes an event takes, so a call site names who and what in one line instead of
// spelling out the four fields.
impl<'a> AuditInfo<'a> {
    /// A user acting on their own account.
    pub fn own(user: &'a str, client: &'a ClientInfo) -> Self {
        Self {
            actor: Some(user),
            subject: Some(user),
            client: Some(client),
            detail: None,
        }
    }

    /// An event about an account (when one is known) that no signed-in user caused: a failed
    /// sign-in, a mailed link used.
    pub fn about(subject: Option<&'a str>, client: &'a ClientInfo) -> Self {
        Self {
            subject,
            client: Some(client),
            ..Default::default()
        }
    }

    /// `actor` (an admin) acting on the tenant; [`AuditInfo::on`] names the account concerned.
    pub fn by(actor: &'a str, client: &'a ClientInfo) -> Self {
        Self {
            actor: Some(actor),
            client: Some(client),
            ..Default::default()
        }
    }

    /// The same event, concerning `subject`.
    pub fn on(self, subject: &'a str) -> Self {
        Self {
            subject: Some(subject),
            ..self
        }
    }

    /// The same event, with `detail`.
    pub fn with_detail(self, detail: String) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }
}

/// Appends an audit event to the tenant's log and to the process log.
pub async fn record(tenant: &Tenant, at: DateTime<Utc>, kind: &str, info: AuditInfo<'_>) {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        kind: kind.to_string(),
        actor: info.actor.map(str::to_string),
        subject: info.subject.map(str::to_string),
        ip: info.client.and_then(|c| c.ip.clone()),
        detail: info.detail,
    };
    let none = "-";
    tracing::info!(
        target: "audit",
        tenant = %tenant.slug(),
        kind,
        actor = row.actor.as_deref().unwrap_or(none),
        subject = row.subject.as_deref().unwrap_or(none),
        ip = row.ip.as_deref().unwrap_or(none),
        "audit"
    );
    if let Err(e) = audit::record(tenant.db(), row).await {
        tracing::error!(tenant = %tenant.slug(), kind, error = %e, "audit event not recorded");
    }
}
