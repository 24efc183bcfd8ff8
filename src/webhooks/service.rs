//! `WebhookService`: a tenant admin's endpoints (create with a secret shown once, change,
//! rotate the secret with a grace period, delete), their deliveries and attempts, a test
//! event and a redelivery. The events themselves are written by the store functions of the
//! changes that cause them (`store::events`); the delivery actor (`delivery.rs`) sends them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::delivery::Deliveries;
use super::store::{self, AttemptRow, DeliveryRow, WebhookRow};
use crate::actors::Tenant;
use crate::domain::events::{ALL_EVENTS, EventKind, TEST_EVENT};
use crate::domain::secrets::random_token;
use crate::domain::webhook_signature;
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::page::{Page, decode_cursor, page_size};
use crate::infra::{ClientInfo, Infra};
use crate::sessions::service::SessionService;

/// How long the previous secret keeps signing after a rotation: receivers deploy the new
/// one meanwhile (Svix gives 24 hours too).
pub const ROTATION_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Endpoints per tenant.
const MAX_WEBHOOKS: usize = 50;

/// What an admin gives for an endpoint; `None`: unchanged (or the default when creating).
#[derive(Default)]
pub struct WebhookSpec {
    /// Where to POST.
    pub url: Option<String>,
    /// Event kinds, or `*`.
    pub events: Option<Vec<String>>,
    /// A note.
    pub description: Option<String>,
    /// Receives deliveries.
    pub enabled: Option<bool>,
}

/// An endpoint with its secret, shown once (creation, rotation).
pub struct CreatedWebhook {
    /// The endpoint.
    pub webhook: WebhookRow,
    /// `whsec_...`.
    pub secret: String,
}

/// A delivery with its attempts.
pub struct DeliveryWithAttempts {
    /// The delivery.
    pub delivery: DeliveryRow,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptRow>,
}

/// Webhooks of a tenant.
#[derive(Clone)]
pub struct WebhookService {
    infra: Arc<Infra>,
    sessions: SessionService,
    deliveries: Deliveries,
}

crate::infra::built_on!(WebhookService);

/// The sealing context of an endpoint's secrets: bound to the tenant and the endpoint.
pub fn secret_context(tenant: &str, id: &str) -> String {
    format!("webhook:{tenant}:{id}")
}

impl WebhookService {
    /// The service over the shared infrastructure, sending through `deliveries`.
    pub fn new(infra: Arc<Infra>, sessions: SessionService, deliveries: Deliveries) -> Self {
        Self {
            infra,
            sessions,
            deliveries,
        }
    }

    /// The delivery actor's handle.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// A page of endpoints.
    pub async fn list(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
    ) -> Result<Page<WebhookRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let rows = store::list(tenant.db(), limit + 1, after.as_deref()).await?;
        let total = store::count(tenant.db()).await?;
        Ok(Page::of(rows, limit, total, |w| w.id.as_str()))
    }

    /// One endpoint.
    pub async fn get(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<Option<WebhookRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        if id.len() > 64 {
            return Ok(None);
        }
        Ok(store::get(tenant.db(), id).await?)
    }

    /// Registers an endpoint; its signing secret is in the answer, only there.
    pub async fn create(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        spec: WebhookSpec,
        client: &ClientInfo,
    ) -> Result<CreatedWebhook, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if store::count(tenant.db()).await? >= MAX_WEBHOOKS {
            return Err(ServiceError::bad_input(
                "url",
                &format!("a tenant has at most {MAX_WEBHOOKS} webhooks"),
            ));
        }
        let now = self.clock.now();
        let id = random_token(12);
        let secret = webhook_signature::new_secret();
        let mut w = WebhookRow {
            id: id.clone(),
            url: String::new(),
            events: Vec::new(),
            description: String::new(),
            enabled: true,
            secret_sealed: self.secrets.seal(
                &secret_context(tenant.slug().as_str(), &id),
                secret.as_bytes(),
            ),
            previous_sealed: None,
            previous_until: None,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
        };
        if spec.url.is_none() {
            return Err(ServiceError::bad_input("url", "is required"));
        }
        if spec.events.is_none() {
            return Err(ServiceError::bad_input("events", "is required"));
        }
        self.apply(&mut w, spec)?;
        store::put(tenant.db(), &w, now).await?;
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("webhook {} -> {}", w.id, w.url));
        self.audit(tenant, "webhook_created", info).await;
        self.deliveries.watch(tenant.slug());
        Ok(CreatedWebhook { webhook: w, secret })
    }

    /// Changes an endpoint; enabling it again clears the server's reason for disabling it.
    pub async fn update(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        spec: WebhookSpec,
        client: &ClientInfo,
    ) -> Result<WebhookRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut w = self.existing(tenant, id).await?;
        if spec.enabled == Some(true) {
            w.disabled_reason = None;
            w.failing_since = None;
        }
        self.apply(&mut w, spec)?;
        store::put(tenant.db(), &w, self.clock.now()).await?;
        let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("webhook {id}"));
        self.audit(tenant, "webhook_updated", info).await;
        self.deliveries.watch(tenant.slug());
        Ok(w)
    }

    /// Deletes an endpoint with its deliveries.
    pub async fn delete(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if id.len() > 64 || !store::delete(tenant.db(), id).await? {
            return Ok(false);
        }
        let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("webhook {id}"));
        self.audit(tenant, "webhook_deleted", info).await;
        Ok(true)
    }

    /// A new signing secret (in the answer, only there); the previous one signs too for
    /// [`ROTATION_GRACE`], so deliveries carry both signatures meanwhile.
    pub async fn rotate(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<CreatedWebhook, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let mut w = self.existing(tenant, id).await?;
        let now = self.clock.now();
        let secret = webhook_signature::new_secret();
        w.previous_sealed = Some(w.secret_sealed.clone());
        w.previous_until = Some(now + ROTATION_GRACE);
        w.secret_sealed = self.secrets.seal(
            &secret_context(tenant.slug().as_str(), id),
            secret.as_bytes(),
        );
        store::put(tenant.db(), &w, now).await?;
        let info = AuditInfo::by(&admin.user.id, client).with_detail(format!("webhook {id}"));
        self.audit(tenant, "webhook_secret_rotated", info).await;
        Ok(CreatedWebhook { webhook: w, secret })
    }

    /// A page of an endpoint's deliveries, newest first, with their attempts.
    #[allow(clippy::too_many_arguments)]
    pub async fn deliveries_of(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        webhook: &str,
        first: i32,
        after: Option<&str>,
        status: Option<&str>,
    ) -> Result<Page<DeliveryWithAttempts>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = decode_cursor("after", after)?;
        let rows =
            store::deliveries(tenant.db(), webhook, limit + 1, after.as_deref(), status).await?;
        let total = store::count_deliveries(tenant.db(), webhook, status).await?;
        let mut out = Vec::with_capacity(rows.len());
        for d in rows {
            let attempts = store::attempts(tenant.db(), &d.id).await?;
            out.push(DeliveryWithAttempts {
                delivery: d,
                attempts,
            });
        }
        Ok(Page::of(out, limit, total, |d| d.delivery.id.as_str()))
    }

    /// Sends a delivery's event again as a new delivery with the same `webhook-id` (the
    /// receiver's idempotency key: it is the same message).
    pub async fn redeliver(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        delivery_id: &str,
        client: &ClientInfo,
    ) -> Result<DeliveryWithAttempts, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let old = match delivery_id.len() <= 64 {
            true => store::get_delivery(tenant.db(), delivery_id).await?,
            false => None,
        }
        .ok_or_else(|| ServiceError::bad_input("deliveryId", "no such delivery"))?;
        self.existing(tenant, &old.webhook).await?;
        let d = store::create_delivery(
            tenant.db(),
            &old.webhook,
            &old.kind,
            old.data.clone(),
            &old.msg_id,
            old.created_at,
            self.clock.now(),
        )
        .await?;
        let info = AuditInfo::by(&admin.user.id, client)
            .with_detail(format!("webhook {} delivery {} again", old.webhook, old.id));
        self.audit(tenant, "webhook_redelivered", info).await;
        self.deliveries.send_now(tenant.slug(), &d.id);
        Ok(DeliveryWithAttempts {
            delivery: d,
            attempts: Vec::new(),
        })
    }

    /// Sends a `webhook.test` event to one endpoint (enabled or not: the admin asked).
    pub async fn send_test(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<DeliveryWithAttempts, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let w = self.existing(tenant, id).await?;
        let now = self.clock.now();
        let data = serde_json::json!({
            "webhook_id": w.id,
            "message": "A test event sent by a tenant admin from latchkey.",
        });
        let msg = format!("msg_{}", uuid::Uuid::now_v7());
        let d =
            store::create_delivery(tenant.db(), &w.id, TEST_EVENT, data, &msg, now, now).await?;
        self.deliveries.send_now(tenant.slug(), &d.id);
        Ok(DeliveryWithAttempts {
            delivery: d,
            attempts: Vec::new(),
        })
    }

    async fn existing(&self, tenant: &Tenant, id: &str) -> Result<WebhookRow, ServiceError> {
        let w = match id.len() <= 64 {
            true => store::get(tenant.db(), id).await?,
            false => None,
        };
        w.ok_or_else(|| ServiceError::bad_input("id", "no such webhook"))
    }

    fn apply(&self, w: &mut WebhookRow, spec: WebhookSpec) -> Result<(), ServiceError> {
        if let Some(url) = spec.url {
            let url = url.trim();
            if url.len() > 2000 {
                return Err(ServiceError::bad_input(
                    "url",
                    "is longer than 2000 characters",
                ));
            }
            let parsed = self
                .outbound
                .check(url)
                .map_err(|e| ServiceError::bad_input("url", &e.to_string()))?;
            if !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed.fragment().is_some()
            {
                return Err(ServiceError::bad_input(
                    "url",
                    "must carry no credentials or fragment",
                ));
            }
            w.url = parsed.to_string();
        }
        if let Some(events) = spec.events {
            let mut kinds: Vec<String> = Vec::new();
            for e in events {
                let e = e.trim().to_string();
                if e != ALL_EVENTS && EventKind::parse(&e).is_none() {
                    return Err(ServiceError::bad_input(
                        "events",
                        &format!(
                            "{} is not an event (see the catalogue, or * for all)",
                            e.chars().take(64).collect::<String>()
                        ),
                    ));
                }
                if !kinds.contains(&e) {
                    kinds.push(e);
                }
            }
            if kinds.is_empty() {
                return Err(ServiceError::bad_input(
                    "events",
                    "names at least one event, or *",
                ));
            }
            w.events = kinds;
        }
        if let Some(d) = spec.description {
            if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') {
                return Err(ServiceError::bad_input(
                    "description",
                    "is at most 500 characters without control characters",
                ));
            }
            w.description = d;
        }
        if let Some(e) = spec.enabled {
            w.enabled = e;
        }
        Ok(())
    }
}

/// The secrets a delivery is signed with now: the current one, and the previous one during a
/// rotation's grace period.
pub fn signing_secrets(
    infra: &Infra,
    tenant: &str,
    w: &WebhookRow,
    now: DateTime<Utc>,
) -> Vec<String> {
    let context = secret_context(tenant, &w.id);
    let open = |sealed: &str| {
        infra
            .secrets
            .open(&context, sealed)
            .and_then(|b| String::from_utf8(b).ok())
    };
    let mut out: Vec<String> = open(&w.secret_sealed).into_iter().collect();
    if let (Some(prev), Some(until)) = (&w.previous_sealed, w.previous_until)
        && until > now
        && let Some(p) = open(prev)
    {
        out.push(p);
    }
    out
}
