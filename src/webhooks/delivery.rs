//! The webhook delivery actor: sends the deliveries `fn::emit` wrote, beside the email actor
//! and in its manner. A delivery is claimed with a conditional write before it is sent, so of
//! several nodes one sends it at a time, and a node that dies mid-send leaves a claim that
//! lapses ([`CLAIM`]) for another node (or its own restart) to take.
//!
//! When: every second the actor looks for due deliveries in the tenants that have an endpoint
//! (learnt at start by a scan of every tenant, again every claim period on a shared store,
//! and at once when this node creates or changes one), and at once for a test event or a
//! redelivery. Retries follow the Standard Webhooks schedule ([`SCHEDULE`]): after the 8th
//! failed attempt a delivery has failed. A 410 Gone disables the endpoint; so does an endpoint
//! that has failed every attempt for [`FAILING_DISABLES_AFTER`].
//!
//! Isolation: at most [`PER_TENANT`] requests in flight per tenant and [`TOTAL`] in all, and at
//! most [`SCAN_BATCH`] deliveries of a tenant queued at once, so a dead endpoint (15 s per
//! attempt) holds only its own tenant's slots; nothing here runs on a request's path or in a
//! tenant actor's mailbox. [`TOTAL`] bounds the node's outbound connections, not fairness: it
//! takes `TOTAL / PER_TENANT` tenants whose endpoints all hang at once to fill it. Order: deliveries are started in the order they became due, but up
//! to [`PER_TENANT`] run at once and a failed one waits for its retry while later ones go on:
//! a receiver must not rely on order (each payload carries its event time).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::Semaphore;

use super::service::signing_secrets;
use super::store::{self, AttemptRow, DeliveryRow, Next};
use crate::domain::TenantSlug;
use crate::domain::webhook_signature;
use crate::infra::Infra;
use crate::infra::mail::{self, MailContext, Template};
use crate::store::outbox::QueuedMail;
use crate::store::{self as db_store, Db};

/// Waits before the 2nd..8th attempt (the Standard Webhooks schedule; the 1st is at once).
pub const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// An endpoint whose every attempt has failed this long is disabled.
pub const FAILING_DISABLES_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(5);
/// Requests in flight per tenant.
const PER_TENANT: usize = 4;
/// Requests in flight in all: a bound on the node's outbound connections (each a task and a
/// socket, some kilobytes), set so that 64 tenants with hanging endpoints at once are needed
/// before one tenant waits for another's.
const TOTAL: usize = 256;
/// Due deliveries of one tenant taken per look.
const SCAN_BATCH: usize = 50;
/// How long a claim holds: the 15 s request timeout many times over, so it lapses only for a
/// node that died.
const CLAIM: chrono::TimeDelta = chrono::TimeDelta::seconds(90);
/// How often the watched tenants are looked at.
const TICK: Duration = Duration::from_secs(1);

/// The actor's messages.
pub enum DeliveryMsg {
    /// Every watched tenant: look for due deliveries.
    Tick,
    /// Find the tenants that have endpoints (start-up; periodically on a shared store).
    ResumeAll,
    /// This tenant has (or may have) endpoints now.
    Watch(TenantSlug),
    /// Send one delivery now if it is due.
    Deliver(TenantSlug, String),
    /// An attempt finished and is recorded (a retry is due at its `next_attempt_at`, which
    /// the tick finds).
    Attempted(TenantSlug, String),
}

/// The outcome of one attempt, recorded by the task that made it.
struct Attempt {
    webhook: String,
    url: String,
    started: DateTime<Utc>,
    took: Duration,
    answer: Result<(u16, String), String>,
    attempts_before: i64,
    failing_since: Option<DateTime<Utc>>,
}

/// The handle services use.
#[derive(Clone)]
pub struct Deliveries {
    actor: ActorRef<DeliveryMsg>,
}

impl Deliveries {
    /// Starts the actor over the shared infrastructure.
    pub async fn start(infra: Arc<Infra>) -> Result<Self, crate::error::ServiceError> {
        let (actor, _join) = Actor::spawn(None, DeliveryActor, infra)
            .await
            .map_err(|e| {
                crate::error::ServiceError::Internal(format!("spawn webhook actor: {e}"))
            })?;
        Ok(Self { actor })
    }

    /// `tenant` has endpoints now: look at it every tick.
    pub fn watch(&self, tenant: &TenantSlug) {
        self.actor
            .send_message(DeliveryMsg::Watch(tenant.clone()))
            .ok();
    }

    /// Sends a fresh delivery without waiting for the tick. Losing this message loses
    /// nothing: the delivery is durable and due.
    pub fn send_now(&self, tenant: &TenantSlug, id: &str) {
        self.actor
            .send_message(DeliveryMsg::Deliver(tenant.clone(), id.to_string()))
            .ok();
    }

    /// Stops the actor (attempts in flight finish or are retried after a restart).
    pub async fn shutdown(&self) {
        let _ = self.actor.stop_and_wait(None, None).await;
    }
}

struct DeliveryActor;

/// The actor's state.
pub struct DeliveryState {
    infra: Arc<Infra>,
    node: String,
    watched: HashSet<TenantSlug>,
    sessions: HashMap<TenantSlug, Db>,
    in_flight: HashSet<(TenantSlug, String)>,
    per_tenant: HashMap<TenantSlug, Arc<Semaphore>>,
    total: Arc<Semaphore>,
}

impl Actor for DeliveryActor {
    type Msg = DeliveryMsg;
    type State = DeliveryState;
    type Arguments = Arc<Infra>;

    async fn pre_start(
        &self,
        me: ActorRef<DeliveryMsg>,
        infra: Arc<Infra>,
    ) -> Result<DeliveryState, ActorProcessingErr> {
        let shared_store = !infra.config.database.is_exclusive();
        me.send_message(DeliveryMsg::ResumeAll)?;
        me.send_interval(TICK, || DeliveryMsg::Tick);
        if shared_store {
            // Endpoints other nodes create, and deliveries whose node died.
            me.send_interval(infra.config.outbox_claim, || DeliveryMsg::ResumeAll);
        }
        let node = if shared_store {
            format!("node-{}", uuid::Uuid::new_v4())
        } else {
            "local".to_string()
        };
        Ok(DeliveryState {
            infra,
            node,
            watched: HashSet::new(),
            sessions: HashMap::new(),
            in_flight: HashSet::new(),
            per_tenant: HashMap::new(),
            total: Arc::new(Semaphore::new(TOTAL)),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<DeliveryMsg>,
        msg: DeliveryMsg,
        st: &mut DeliveryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DeliveryMsg::ResumeAll => {
                if let Err(e) = resume_all(st).await {
                    tracing::warn!(error = %e, "webhooks: scanning tenants failed; retrying in a minute");
                    me.send_after(Duration::from_secs(60), || DeliveryMsg::ResumeAll);
                }
            }
            DeliveryMsg::Watch(slug) => {
                st.watched.insert(slug.clone());
                scan(&me, st, &slug).await;
            }
            DeliveryMsg::Tick => {
                let slugs: Vec<TenantSlug> = st.watched.iter().cloned().collect();
                for slug in slugs {
                    scan(&me, st, &slug).await;
                }
            }
            DeliveryMsg::Deliver(slug, id) => {
                st.watched.insert(slug.clone());
                if let Err(e) = deliver(&me, st, slug.clone(), id.clone()).await {
                    // The store failed; the delivery stays due and the next tick takes it.
                    tracing::warn!(tenant = %slug, delivery = %id, error = %e, "webhooks: the tenant's database does not open");
                }
            }
            DeliveryMsg::Attempted(slug, id) => {
                st.in_flight.remove(&(slug, id));
            }
        }
        Ok(())
    }
}

impl DeliveryState {
    async fn db(&mut self, slug: &TenantSlug) -> Result<Db, db_store::StoreError> {
        if let Some(db) = self.sessions.get(slug) {
            return Ok(db.clone());
        }
        let db = db_store::tenant_session(&self.infra.root, slug.as_str()).await?;
        self.sessions.insert(slug.clone(), db.clone());
        Ok(db)
    }
}

async fn resume_all(st: &mut DeliveryState) -> Result<(), db_store::StoreError> {
    for slug in db_store::tenants::slugs(&st.infra.platform).await? {
        let Ok(slug) = TenantSlug::parse(&slug) else {
            continue;
        };
        let db = db_store::tenant_session(&st.infra.root, slug.as_str()).await?;
        // A tenant not opened since webhooks arrived has no such table: no endpoints.
        if store::any(&db).await.unwrap_or(false) {
            st.sessions.insert(slug.clone(), db);
            st.watched.insert(slug);
        }
    }
    Ok(())
}

/// Queues the due deliveries of one tenant.
async fn scan(me: &ActorRef<DeliveryMsg>, st: &mut DeliveryState, slug: &TenantSlug) {
    let Ok(db) = st.db(slug).await else {
        return;
    };
    let now = st.infra.clock.now();
    match store::due(&db, now, SCAN_BATCH).await {
        Ok(ids) => {
            for id in ids {
                if !st.in_flight.contains(&(slug.clone(), id.clone())) {
                    me.send_message(DeliveryMsg::Deliver(slug.clone(), id)).ok();
                }
            }
        }
        Err(e) => tracing::debug!(tenant = %slug, error = %e, "webhooks: no due deliveries read"),
    }
}

/// Starts one delivery on its own task, unless this node already has it in hand. The task
/// waits for a slot of its tenant and then one of the process, and only then claims the
/// delivery: a claim starts its lease when the request is about to go out, so a delivery
/// queued behind a tenant's hanging endpoint never outlives its claim while it waits (another
/// node would take it over and both would send).
async fn deliver(
    me: &ActorRef<DeliveryMsg>,
    st: &mut DeliveryState,
    slug: TenantSlug,
    id: String,
) -> Result<(), db_store::StoreError> {
    if st.in_flight.contains(&(slug.clone(), id.clone())) {
        return Ok(());
    }
    let db = st.db(&slug).await?;
    st.in_flight.insert((slug.clone(), id.clone()));
    let tenant_slots = st
        .per_tenant
        .entry(slug.clone())
        .or_insert_with(|| Arc::new(Semaphore::new(PER_TENANT)))
        .clone();
    let total = st.total.clone();
    let infra = st.infra.clone();
    let node = st.node.clone();
    let me = me.clone();
    tokio::spawn(async move {
        // The tenant's slot is held until the attempt is recorded, so at most PER_TENANT
        // deliveries of a tenant are ever sent and not yet recorded: what a crash can repeat.
        let _tenant = tenant_slots.acquire_owned().await;
        let _total = total.acquire_owned().await;
        if let Err(e) = attempt(&infra, &db, &node, &slug, &id).await {
            // The store failed; the delivery stays due (or its claim lapses) and a later tick
            // takes it: at least once, possibly twice.
            tracing::warn!(tenant = %slug, delivery = %id, error = %e, "webhooks: an attempt was not made or not recorded");
        }
        me.send_message(DeliveryMsg::Attempted(slug, id)).ok();
    });
    Ok(())
}

/// Claims the delivery, sends it once and records the outcome. Nothing when it is no longer
/// due or another node holds it.
async fn attempt(
    infra: &Infra,
    db: &Db,
    node: &str,
    slug: &TenantSlug,
    id: &str,
) -> Result<(), db_store::StoreError> {
    let now = infra.clock.now();
    let Some(d) = store::claim(db, id, node, now, now + CLAIM).await? else {
        return Ok(());
    };
    let Some(w) = store::get(db, &d.webhook).await? else {
        return Ok(());
    };
    // A test event goes to a disabled endpoint too (the admin asked); events do not.
    if !w.enabled && d.kind != crate::domain::events::TEST_EVENT {
        let a = AttemptRow {
            id: String::new(),
            delivery: d.id.clone(),
            at: now,
            http_status: None,
            error: Some("the webhook is disabled".into()),
            duration_ms: 0,
            response_excerpt: None,
        };
        return store::record_attempt(db, &a, Next::Failed, &w.id, None, &[]).await;
    }
    let secrets = signing_secrets(infra, slug.as_str(), &w, now);
    let body = body_of(&d);
    let timestamp = now.timestamp();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = match webhook_signature::header(&refs, &d.msg_id, timestamp, &body) {
        Ok(s) if !refs.is_empty() => s,
        _ => {
            tracing::error!(tenant = %slug, webhook = %w.id, "webhooks: the endpoint's secret does not open (SECRET_KEY changed?)");
            return Ok(());
        }
    };
    let timer = Instant::now();
    let headers = [
        ("webhook-id", d.msg_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    let answer = infra
        .outbound
        .post_webhook(&w.url, &headers, body)
        .await
        .map(|a| (a.status, a.excerpt))
        .map_err(|e| e.to_string());
    let attempt = Attempt {
        webhook: w.id.clone(),
        url: w.url.clone(),
        started: now,
        took: timer.elapsed(),
        answer,
        attempts_before: d.attempts,
        failing_since: w.failing_since,
    };
    record(infra, db, slug, id, attempt).await
}

/// The body: the Standard Webhooks envelope, the same bytes on every attempt (the stored
/// event serialized with its keys in order).
pub fn body_of(d: &DeliveryRow) -> Vec<u8> {
    let envelope = serde_json::json!({
        "type": d.kind,
        "timestamp": d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": d.data,
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Records an attempt and its consequence (the retry's time, or the end).
async fn record(
    infra: &Infra,
    db: &Db,
    slug: &TenantSlug,
    id: &str,
    a: Attempt,
) -> Result<(), db_store::StoreError> {
    let now = infra.clock.now();
    let (http_status, error, excerpt) = match &a.answer {
        Ok((status, body)) => (Some(*status as i64), None, Some(body.clone())),
        Err(e) => (None, Some(e.chars().take(500).collect::<String>()), None),
    };
    let ok = matches!(a.answer, Ok((s, _)) if (200..300).contains(&s));
    let gone = matches!(a.answer, Ok((410, _)));
    let attempts = a.attempts_before + 1;
    let failing_for = a.failing_since.map(|since| now - since);
    let (next, disable) = if ok {
        (Next::Succeeded, None)
    } else if gone {
        (Next::Failed, Some("the endpoint answered 410 Gone"))
    } else if failing_for.is_some_and(|d| d >= FAILING_DISABLES_AFTER) {
        (Next::Failed, Some("every attempt failed for 5 days"))
    } else {
        match SCHEDULE.get((attempts - 1).max(0) as usize) {
            Some(wait) => (
                Next::RetryAt(now + chrono::Duration::from_std(*wait).unwrap_or_default()),
                None,
            ),
            None => (Next::Failed, None),
        }
    };
    let row = AttemptRow {
        id: String::new(),
        delivery: id.to_string(),
        at: a.started,
        http_status,
        error,
        duration_ms: a.took.as_millis() as i64,
        response_excerpt: excerpt,
    };
    let retry_in = match &next {
        Next::RetryAt(t) => Some((*t - now).to_std().unwrap_or_default()),
        _ => None,
    };
    let notices = match disable {
        Some(reason) => admin_notices(infra, db, slug, &a.url, reason).await,
        None => Vec::new(),
    };
    store::record_attempt(db, &row, next, &a.webhook, disable, &notices).await?;
    if let Some(reason) = disable {
        tracing::warn!(tenant = %slug, webhook = %a.webhook, reason, "webhooks: endpoint disabled");
        // Queued only if this attempt's write was the one that disabled it; a wake-up for a
        // mail that was not queued finds nothing.
        for n in &notices {
            infra.mailer.notify(slug, &n.id);
        }
    }
    if let Some(wait) = retry_in {
        tracing::info!(tenant = %slug, delivery = %id, attempts, retry_in_s = wait.as_secs(), "webhooks: delivery failed; will retry");
    }
    Ok(())
}

/// Admins told about an endpoint latchkey disabled: enough for a team, bounded so a tenant
/// with thousands of admin accounts does not turn one 410 into thousands of mails.
const NOTIFIED_ADMINS: usize = 20;

/// The mail telling the tenant's admins that an endpoint was disabled and why (the issue:
/// "the tenant's admins are mailed"). Best effort: without the admins' addresses the endpoint
/// is still disabled, and the console shows why.
async fn admin_notices(
    infra: &Infra,
    db: &Db,
    slug: &TenantSlug,
    url: &str,
    reason: &str,
) -> Vec<QueuedMail> {
    let admins = match db_store::users::admins(db, NOTIFIED_ADMINS).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(tenant = %slug, error = %e, "webhooks: no admin to tell about a disabled endpoint");
            return Vec::new();
        }
    };
    let name = match infra.registry.get(slug).await {
        Ok(t) => t.row().display_name.clone(),
        Err(_) => slug.as_str().to_string(),
    };
    let now = infra.clock.now();
    admins
        .iter()
        .map(|u| {
            let ctx = MailContext {
                tenant_name: &name,
                username: &u.username,
                link: None,
                valid_for: "",
            };
            mail::render(
                Template::WebhookDisabled { url, reason },
                &u.email,
                &ctx,
                now,
            )
        })
        .collect()
}
