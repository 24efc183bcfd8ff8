//! Webhooks' GraphQL operations (names fixed by API.md "Third round"), tenant admin only.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject};

use super::WebhookService;
use super::service::{CreatedWebhook as Created, DeliveryWithAttempts, WebhookSpec};
use super::store::{AttemptRow, WebhookRow};
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;

/// An endpoint that receives a tenant's events.
#[derive(SimpleObject)]
pub struct Webhook {
    /// Its id.
    pub id: ID,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types it receives (`*`: every type of the catalogue).
    pub events: Vec<String>,
    /// The admin's note.
    pub description: String,
    /// Receives deliveries.
    pub enabled: bool,
    /// Why latchkey disabled it (410 Gone, failing for 5 days); null when an admin did, or
    /// when it is enabled.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null after a success.
    pub failing_since: Option<DateTime>,
    /// Until when the previous secret signs too (after `rotateWebhookSecret`).
    pub previous_secret_until: Option<DateTime>,
    /// Creation time.
    pub created_at: DateTime,
}

impl From<WebhookRow> for Webhook {
    fn from(w: WebhookRow) -> Self {
        Self {
            id: ID(w.id),
            url: w.url,
            events: w.events,
            description: w.description,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            failing_since: w.failing_since.map(Into::into),
            previous_secret_until: w.previous_until.map(Into::into),
            created_at: w.created_at.into(),
        }
    }
}

crate::relay_connection!(
    WebhookConnection,
    WebhookEdge,
    Webhook,
    "A page of webhooks.",
    "The webhooks.",
    "Webhooks of the tenant.",
    "A webhook in a list.",
    "The webhook."
);

/// An endpoint with its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct CreatedWebhook {
    /// The endpoint.
    pub webhook: Webhook,
    /// The signing secret (`whsec_...`, Standard Webhooks): verify deliveries with it.
    pub secret: String,
}

impl From<Created> for CreatedWebhook {
    fn from(c: Created) -> Self {
        Self {
            webhook: c.webhook.into(),
            secret: c.secret,
        }
    }
}

/// Where a delivery is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Attempts continue (the next one at `nextAttemptAt`).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Attempts spent, or the endpoint gone or disabled.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn of(s: &str) -> Self {
        match s {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One attempt of a delivery.
#[derive(SimpleObject)]
pub struct WebhookAttempt {
    /// When it started.
    pub at: DateTime,
    /// The endpoint's HTTP status; null when it did not answer.
    pub http_status: Option<i32>,
    /// The network error, timeout or refusal; null when it answered.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
    /// The start of the endpoint's answer (1 KiB at most).
    pub response_excerpt: Option<String>,
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(a: AttemptRow) -> Self {
        Self {
            at: a.at.into(),
            http_status: a.http_status.map(|s| s as i32),
            error: a.error,
            duration_ms: a.duration_ms.clamp(0, i32::MAX as i64) as i32,
            response_excerpt: a.response_excerpt,
        }
    }
}

/// One event for one endpoint, with its attempts.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// Its id (`redeliverWebhook` takes it).
    pub id: ID,
    /// The endpoint.
    pub webhook_id: ID,
    /// The `webhook-id` header: the same on every attempt (the receiver's idempotency key).
    pub message_id: String,
    /// The event type (`user.created`, ..., `webhook.test`).
    pub event_type: String,
    /// The body sent: `{type, timestamp, data}`.
    pub payload: Json<serde_json::Value>,
    /// Where it is.
    pub status: DeliveryStatus,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime>,
    /// When the event happened.
    pub created_at: DateTime,
    /// When it succeeded or finally failed.
    pub finished_at: Option<DateTime>,
    /// Every attempt, oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

impl From<DeliveryWithAttempts> for WebhookDelivery {
    fn from(d: DeliveryWithAttempts) -> Self {
        let payload = serde_json::from_slice(&super::delivery::body_of(&d.delivery))
            .unwrap_or(serde_json::Value::Null);
        let r = d.delivery;
        let status = DeliveryStatus::of(&r.status);
        Self {
            id: ID(r.id),
            webhook_id: ID(r.webhook),
            message_id: r.msg_id,
            event_type: r.kind,
            payload: Json(payload),
            status,
            next_attempt_at: (status == DeliveryStatus::Pending).then(|| r.next_attempt_at.into()),
            created_at: r.created_at.into(),
            finished_at: r.finished_at.map(Into::into),
            attempts: d.attempts.into_iter().map(Into::into).collect(),
        }
    }
}

crate::relay_connection!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery,
    "A page of deliveries, newest first.",
    "The deliveries.",
    "Deliveries matching, on all pages.",
    "A delivery in a list.",
    "The delivery."
);

/// A new endpoint.
#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// Where to POST (HTTPS, a public address, unless OUTBOUND_ALLOW_PRIVATE_NETWORKS).
    pub url: String,
    /// Event types of the catalogue, or `*` for all.
    pub events: Vec<String>,
    /// A note for admins.
    pub description: Option<String>,
    /// Receives deliveries (default true).
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; omitted fields stay.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    /// Where to POST.
    pub url: Option<String>,
    /// Event types, or `*`.
    pub events: Option<Vec<String>>,
    /// A note.
    pub description: Option<String>,
    /// Receives deliveries; enabling clears latchkey's reason for disabling it.
    pub enabled: Option<bool>,
}

/// Webhook queries.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The tenant's webhooks (tenant admin).
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<WebhookConnection> {
        let (s, req) = parts::<WebhookService>(ctx);
        let page = s
            .list(
                &req.tenant,
                req.bearer.as_deref(),
                first.unwrap_or(20),
                after.as_deref(),
            )
            .await
            .map_err(gql_err(req))?;
        Ok(page.into())
    }

    /// One webhook (tenant admin).
    async fn webhook(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Webhook>> {
        let (s, req) = parts::<WebhookService>(ctx);
        let w = s
            .get(&req.tenant, req.bearer.as_deref(), &id)
            .await
            .map_err(gql_err(req))?;
        Ok(w.map(Into::into))
    }

    /// A webhook's deliveries, newest first, each with its attempts (tenant admin).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        status: Option<DeliveryStatus>,
    ) -> Result<WebhookDeliveryConnection> {
        let (s, req) = parts::<WebhookService>(ctx);
        let page = s
            .deliveries_of(
                &req.tenant,
                req.bearer.as_deref(),
                &webhook_id,
                first.unwrap_or(20),
                after.as_deref(),
                status.map(DeliveryStatus::as_str),
            )
            .await
            .map_err(gql_err(req))?;
        Ok(page.into())
    }
}

/// Webhook mutations.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers a webhook; its signing secret is in the answer, only there (tenant admin).
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> Result<CreatedWebhook> {
        let (s, req) = parts::<WebhookService>(ctx);
        let spec = WebhookSpec {
            url: Some(input.url),
            events: Some(input.events),
            description: input.description,
            enabled: input.enabled,
        };
        let c = s
            .create(&req.tenant, req.bearer.as_deref(), spec, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(c.into())
    }

    /// Changes a webhook (tenant admin).
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookInput,
    ) -> Result<Webhook> {
        let (s, req) = parts::<WebhookService>(ctx);
        let spec = WebhookSpec {
            url: input.url,
            events: input.events,
            description: input.description,
            enabled: input.enabled,
        };
        let w = s
            .update(&req.tenant, req.bearer.as_deref(), &id, spec, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(w.into())
    }

    /// Deletes a webhook with its deliveries (tenant admin).
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<WebhookService>(ctx);
        s.delete(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// A new signing secret, in the answer only; for 24 hours the previous one signs too
    /// (two signatures in `webhook-signature`), so receivers can switch (tenant admin).
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> Result<CreatedWebhook> {
        let (s, req) = parts::<WebhookService>(ctx);
        let c = s
            .rotate(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))?;
        Ok(c.into())
    }

    /// Sends a delivery's event again, as a new delivery with the same `webhook-id`
    /// (tenant admin).
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<WebhookDelivery> {
        let (s, req) = parts::<WebhookService>(ctx);
        let d = s
            .redeliver(
                &req.tenant,
                req.bearer.as_deref(),
                &delivery_id,
                &req.client,
            )
            .await
            .map_err(gql_err(req))?;
        Ok(d.into())
    }

    /// Sends a `webhook.test` event to the webhook now (tenant admin).
    async fn send_test_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        let (s, req) = parts::<WebhookService>(ctx);
        let d = s
            .send_test(&req.tenant, req.bearer.as_deref(), &id)
            .await
            .map_err(gql_err(req))?;
        Ok(d.into())
    }
}
