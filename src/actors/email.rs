//! `EmailActor`: sends queued mail from the tenants' outboxes over SMTP (lettre), retries
//! failures with exponential backoff and jitter, and marks rows sent. At start it resumes
//! every unsent row, so neither a crash nor an SMTP outage loses mail.
//!
//! Without `SMTP_URL` mail is written to the log, clearly marked as not sent.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use super::TenantRegistry;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::TenantSlug;
use crate::store::{self, Db, outbox};

/// First retry delay; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest wait between attempts during an outage.
const RETRY_CAP: Duration = Duration::from_secs(300);
/// SMTP conversations at once.
const MAX_CONCURRENT_SENDS: usize = 4;
/// A hung SMTP server must not hold a send slot forever.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest one whole SMTP conversation may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// The email actor's messages.
pub enum EmailMsg {
    /// Send (or retry) one outbox row of a tenant.
    Deliver(TenantSlug, String),
    /// An attempt finished.
    Attempted(TenantSlug, String, Result<(), String>),
    /// Look through every tenant for unsent mail (start-up).
    ResumeAll,
}

/// Handle used by services to wake the actor after queueing mail.
#[derive(Clone)]
pub struct Mailer {
    actor: ActorRef<EmailMsg>,
}

struct EmailActor;

struct EmailState {
    registry: TenantRegistry,
    /// Root session: the resume scan binds its own session per tenant database.
    root: Db,
    platform: Db,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    clock: Clock,
    in_flight: HashSet<(TenantSlug, String)>,
    slots: Arc<Semaphore>,
    /// Who claims rows: a fresh id per process when several nodes share the store; a fixed
    /// one with an embedded store, whose only other claimant was this process before a
    /// restart (its claims are taken over at once).
    node: String,
    /// `OUTBOX_CLAIM_SECONDS`.
    claim_for: chrono::Duration,
}

/// What the actor needs.
pub struct EmailArgs {
    /// Tenants (outbox rows live in each tenant's database).
    pub registry: TenantRegistry,
    /// Root connection (cloned for the resume scan).
    pub root: Db,
    /// Platform database (tenant list).
    pub platform: Db,
    /// Configuration (SMTP_URL, MAIL_FROM).
    pub config: Arc<Config>,
}

impl Actor for EmailActor {
    type Msg = EmailMsg;
    type State = EmailState;
    type Arguments = EmailArgs;

    async fn pre_start(
        &self,
        me: ActorRef<EmailMsg>,
        args: EmailArgs,
    ) -> Result<EmailState, ActorProcessingErr> {
        let transport = match &args.config.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => None,
        };
        let from: Mailbox = args.config.mail_from.parse()?;
        me.send_message(EmailMsg::ResumeAll)?;
        let shared_store = !args.config.database.is_exclusive();
        // Shared store: rows whose node died (lapsed claims), or queued by a node that stopped
        // before sending, are looked for at half the claim period. The claim itself outlasts
        // an SMTP conversation (SMTP_TIMEOUT) many times, so it lapses only for a dead node.
        if shared_store {
            me.send_interval(args.config.outbox_claim / 2, || EmailMsg::ResumeAll);
        }
        let node = if shared_store {
            format!("node-{}", uuid::Uuid::new_v4())
        } else {
            "local".to_string()
        };
        Ok(EmailState {
            registry: args.registry,
            root: args.root,
            platform: args.platform,
            transport,
            from,
            clock: args.config.clock.clone(),
            in_flight: HashSet::new(),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_SENDS)),
            node,
            claim_for: chrono::Duration::from_std(args.config.outbox_claim).unwrap_or_default(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<EmailMsg>,
        msg: EmailMsg,
        st: &mut EmailState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            EmailMsg::ResumeAll => {
                if let Err(e) = resume_all(&me, st).await {
                    tracing::error!(error = %e, "scanning outboxes failed; retrying in a minute");
                    me.send_after(Duration::from_secs(60), || EmailMsg::ResumeAll);
                }
            }
            EmailMsg::Deliver(slug, id) => {
                if st.in_flight.contains(&(slug.clone(), id.clone())) {
                    return Ok(());
                }
                if let Err(e) = deliver(&me, st, slug.clone(), id.clone()).await {
                    // The database is unreachable: try again later rather than drop the mail.
                    tracing::warn!(tenant = %slug, mail = %id, error = %e, "cannot read outbox; will retry");
                    me.send_after(RETRY_CAP, move || EmailMsg::Deliver(slug, id));
                }
            }
            EmailMsg::Attempted(slug, id, result) => {
                st.in_flight.remove(&(slug.clone(), id.clone()));
                if let Err(e) = attempted(&me, st, slug, id, result).await {
                    tracing::error!(error = %e, "recording a mail attempt failed");
                }
            }
        }
        Ok(())
    }
}

async fn resume_all(me: &ActorRef<EmailMsg>, st: &mut EmailState) -> Result<(), store::StoreError> {
    for slug in store::tenants::slugs(&st.platform).await? {
        let scan = store::tenant_session(&st.root, &slug).await?;
        // A tenant whose database was never opened has no outbox table yet.
        let pending = outbox::pending_ids(&scan).await.unwrap_or_default();
        if pending.is_empty() {
            continue;
        }
        let Ok(slug) = TenantSlug::parse(&slug) else {
            continue;
        };
        tracing::info!(tenant = %slug, count = pending.len(), "resuming unsent mail");
        for id in pending {
            me.send_message(EmailMsg::Deliver(slug.clone(), id)).ok();
        }
    }
    tracing::debug!("outbox scan finished");
    Ok(())
}

async fn deliver(
    me: &ActorRef<EmailMsg>,
    st: &mut EmailState,
    slug: TenantSlug,
    id: String,
) -> Result<(), crate::error::ServiceError> {
    let tenant = match st.registry.get(&slug).await {
        Ok(t) => t,
        Err(crate::error::ServiceError::TenantNotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Claimed, not just read: another node may be sending the same row.
    let now = st.clock.now();
    let Some(row) = outbox::claim(tenant.db(), &id, &st.node, now, now + st.claim_for).await?
    else {
        return Ok(());
    };
    let Some(transport) = st.transport.clone() else {
        tracing::warn!(
            tenant = %slug, to = %row.recipient, subject = %row.subject,
            "MAIL NOT SENT (SMTP_URL is unset); it would have said:\n{}", row.text
        );
        outbox::mark(tenant.db(), &id, "logged", st.clock.now()).await?;
        return Ok(());
    };
    let message = match build_message(&st.from, &row) {
        Ok(m) => m,
        Err(e) => {
            // Addresses were validated before queueing; a row that still cannot be built would
            // fail forever, so it is recorded and left for an operator.
            tracing::error!(tenant = %slug, mail = %id, error = %e, "mail cannot be built; not retrying");
            outbox::record_failure(tenant.db(), &id, &e).await?;
            return Ok(());
        }
    };
    st.in_flight.insert((slug.clone(), id.clone()));
    let slots = st.slots.clone();
    let me = me.clone();
    tokio::spawn(async move {
        let _slot = slots.acquire_owned().await;
        // lettre's timeout covers each socket operation, not a session that is accepted and
        // then never served (a server out of worker threads): bound the whole conversation so
        // the row is released and retried instead of held in flight forever.
        let result = match tokio::time::timeout(SESSION_TIMEOUT, transport.send(message)).await {
            Ok(sent) => sent.map(|_| ()).map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no answer from the SMTP server in {SESSION_TIMEOUT:?}"
            )),
        };
        me.send_message(EmailMsg::Attempted(slug, id, result)).ok();
    });
    Ok(())
}

async fn attempted(
    me: &ActorRef<EmailMsg>,
    st: &mut EmailState,
    slug: TenantSlug,
    id: String,
    result: Result<(), String>,
) -> Result<(), crate::error::ServiceError> {
    let tenant = st.registry.get(&slug).await?;
    match result {
        Ok(()) => {
            outbox::mark(tenant.db(), &id, "sent", st.clock.now()).await?;
            tracing::info!(tenant = %slug, mail = %id, "mail sent");
        }
        Err(e) => {
            outbox::record_failure(tenant.db(), &id, &e).await?;
            let attempts = outbox::get(tenant.db(), &id)
                .await?
                .map_or(1, |r| r.attempts);
            let delay = backoff(attempts);
            tracing::warn!(tenant = %slug, mail = %id, attempts, retry_in_ms = delay.as_millis() as u64, error = %e, "mail not sent; will retry");
            me.send_after(delay, move || EmailMsg::Deliver(slug, id));
        }
    }
    Ok(())
}

/// `RETRY_BASE * 2^(attempts-1)`, capped, with ±50% jitter so a recovering SMTP server is not
/// hit by every queued mail at the same instant.
fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    let base = RETRY_BASE
        .saturating_mul(1u32 << exp.min(16))
        .min(RETRY_CAP);
    let jitter = 0.5 + (crate::domain::secrets::random_bytes(1)[0] as f64 / 255.0);
    base.mul_f64(jitter)
}

fn build_message(from: &Mailbox, row: &outbox::OutboxRow) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    // A generated Message-ID: mail without one is often scored as spam.
    Message::builder()
        .message_id(None)
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            row.text.clone(),
            row.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

impl Mailer {
    /// Starts the actor; it resumes unsent mail at once.
    pub async fn start(args: EmailArgs) -> Result<Self, crate::error::ServiceError> {
        let (actor, _join) = Actor::spawn(None, EmailActor, args)
            .await
            .map_err(|e| crate::error::ServiceError::Internal(format!("spawn email actor: {e}")))?;
        Ok(Self { actor })
    }

    /// Wakes the actor for a freshly queued row. Losing this message loses nothing: the row is
    /// durable and the next start resumes it.
    pub fn notify(&self, tenant: &TenantSlug, id: &str) {
        self.actor
            .send_message(EmailMsg::Deliver(tenant.clone(), id.to_string()))
            .ok();
    }

    /// Stops the actor.
    pub async fn shutdown(&self) {
        let _ = self.actor.stop_and_wait(None, None).await;
    }
}
