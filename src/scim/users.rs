//! SCIM Users (RFC 7644 §3.3-3.6): a directory's people as latchkey accounts.
//!
//! - An account made here has no password: it signs in through the organization's provider,
//!   or sets one through a reset mail. Its address is the one the directory gives, trusted as
//!   verified (the tenant admin connected that directory, as with a trusted upstream).
//! - A POST for an address that already has an account links that account (Okta's and
//!   Entra's "match existing users") if the token may see it: a tenant token always, an
//!   organization's token only when the account is already a member of its organization, so
//!   one customer's directory cannot take over another's people.
//! - `active: false` disables the account, which revokes every session at once (the tenant
//!   actor, on every node); DELETE deletes the account or only disables it, by the tenant's
//!   `scimDeprovision` setting.
//! - What the directory wrote is kept verbatim (`scim_user.doc`) and read back exactly; the
//!   truth about the account (disabled or not) overrides `active`.
//!
//! Every change is audited with the token as actor (`scim:<token id>`); the account's own
//! events (created, disabled, deleted) reach webhooks as they do from GraphQL.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::ScimService;
use super::error::ScimError;
use super::filter::{Filter, Literal, Op};
use super::listing::{ListQuery, MAX_SCAN};
use super::patch;
use super::resource_store::{self as rs, ResourceRow, Table};
use super::schema::{self, USER_ATTRS, USER_SCHEMA};
use super::service::ScimCaller;
use crate::actors::Tenant;
use crate::domain::Email;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::store::{StoreError, users};

/// Longest userName.
const MAX_USER_NAME: usize = 256;
/// Times a write is retried when a concurrent write came first.
const WRITE_RETRIES: usize = 20;

/// A user resource's kept attributes and the values derived from them.
struct Written {
    doc: Map<String, Value>,
    user_name: String,
    external_id: Option<String>,
}

fn written(doc: Map<String, Value>) -> Result<Written, ScimError> {
    let user_name = doc
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?
        .to_string();
    if user_name.chars().count() > MAX_USER_NAME || user_name.chars().any(char::is_control) {
        return Err(ScimError::bad(
            "invalidValue",
            format!("userName must be 1..={MAX_USER_NAME} printable characters"),
        ));
    }
    let external_id = doc
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Written {
        doc,
        user_name,
        external_id,
    })
}

/// The account's address: the primary email, else the first, else userName if it is one.
fn address(w: &Written) -> Result<Email, ScimError> {
    let emails: Vec<&Value> = w
        .doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let primary = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or(emails.first());
    let raw = primary
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .unwrap_or(&w.user_name);
    Email::parse("emails", raw).map_err(|_| {
        ScimError::bad(
            "invalidValue",
            "emails: a valid address is required (every account has one)",
        )
    })
}

fn active_of(doc: &Map<String, Value>) -> Option<bool> {
    doc.get("active").and_then(Value::as_bool)
}

fn norm(user_name: &str) -> String {
    user_name.to_lowercase()
}

/// The body as an object of kept attributes.
fn body_doc(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(o) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    schema::resource_attrs(USER_ATTRS, o).map_err(|e| ScimError::bad("invalidValue", e.0))
}

impl ScimService {
    fn actor(caller: &ScimCaller) -> String {
        format!("scim:{}", caller.token_id)
    }

    /// The resource as answered.
    pub(super) fn render_user(&self, tenant: &Tenant, row: &ResourceRow, disabled: bool) -> Value {
        let mut doc: Map<String, Value> = serde_json::from_str(&row.doc).unwrap_or_default();
        // The account's state is the truth: an admin may have disabled it since.
        if doc.contains_key("active") || disabled {
            doc.insert("active".into(), Value::Bool(!disabled));
        }
        doc.insert("schemas".into(), json!([USER_SCHEMA]));
        doc.insert("id".into(), Value::String(row.id.clone()));
        doc.insert(
            "meta".into(),
            meta(
                "User",
                &self.user_location(tenant, &row.id),
                row.created_at,
                row.updated_at,
            ),
        );
        Value::Object(doc)
    }

    /// Where a user resource lives.
    pub(super) fn user_location(&self, tenant: &Tenant, id: &str) -> String {
        format!("{}/Users/{id}", self.base(tenant))
    }

    /// The SCIM base URL of a tenant.
    pub(super) fn base(&self, tenant: &Tenant) -> String {
        format!("{}/t/{}/scim/v2", self.config.public_url, tenant.slug())
    }

    /// The stored user `id` and its account, if this caller may see them.
    pub(super) async fn visible_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
    ) -> Result<Option<(ResourceRow, users::UserRow)>, ScimError> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        let Some(row) = rs::get(tenant.db(), Table::User, id).await? else {
            return Ok(None);
        };
        if caller.org.is_some() && row.org != caller.org {
            return Ok(None);
        }
        let Some(account) = users::get(tenant.db(), id).await? else {
            // Deleted through GraphQL: the SCIM record goes with it.
            rs::delete(tenant.db(), Table::User, id).await?;
            return Ok(None);
        };
        Ok(Some((row, account)))
    }

    /// `POST /Users`.
    pub async fn create_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let w = written(body_doc(body)?)?;
        let email = address(&w)?;
        let db = tenant.db();
        if rs::by_unique(db, Table::User, &norm(&w.user_name))
            .await?
            .is_some()
        {
            return Err(ScimError::taken("userName is taken"));
        }
        let actor = Self::actor(caller);
        let existing = users::find_by_login(db, true, email.normalized()).await?;
        let (account, made) = match existing {
            Some(a) => {
                if rs::get(db, Table::User, &a.id).await?.is_some() {
                    return Err(ScimError::taken(
                        "emails: another provisioned user has this address",
                    ));
                }
                if let Some(org) = &caller.org
                    && crate::organizations::store::membership(db, org, &a.id)
                        .await?
                        .is_none()
                {
                    return Err(ScimError::taken(
                        "emails: an account outside this organization has this address",
                    ));
                }
                (a, false)
            }
            None => {
                let hint = w.user_name.split('@').next().unwrap_or(&w.user_name);
                let a = self
                    .accounts
                    .create_passwordless_from_hint(tenant, &email, Some(hint), true)
                    .await?;
                (a, true)
            }
        };
        let now = self.clock.now();
        let doc = Value::Object(w.doc.clone()).to_string();
        let stored = rs::create(
            db,
            Table::User,
            &account.id,
            &norm(&w.user_name),
            w.external_id.as_deref(),
            caller.org.as_deref(),
            &doc,
            now,
        )
        .await;
        if let Err(e) = stored {
            // A concurrent POST with the same userName won: undo the account this one made.
            if made {
                tenant.delete_user(account.id.clone()).await?;
            }
            return Err(match e {
                StoreError::Conflict(_) => ScimError::taken("userName is taken"),
                other => other.into(),
            });
        }
        let kind = if made {
            "user_created"
        } else {
            "scim_user_linked"
        };
        let info = AuditInfo::by(&actor, client)
            .on(&account.id)
            .with_detail(format!("SCIM userName {}", w.user_name));
        self.audit(tenant, kind, info).await;
        if let Some(org) = &caller.org
            && crate::organizations::store::membership(db, org, &account.id)
                .await?
                .is_none()
        {
            let roles = self.join_roles(tenant, org).await?;
            self.organizations
                .add_member_by(tenant, &actor, org, &account.id, roles, client)
                .await?;
        }
        let disabled = self
            .apply_active(tenant, &actor, &account, None, active_of(&w.doc), client)
            .await?;
        let row = ResourceRow {
            id: account.id.clone(),
            org: caller.org.clone(),
            doc,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        Ok(self.render_user(tenant, &row, disabled))
    }

    /// The roles someone provisioned into `org` gets: the organization's joining roles.
    pub(super) async fn join_roles(
        &self,
        tenant: &Tenant,
        org: &str,
    ) -> Result<Vec<String>, ScimError> {
        Ok(crate::organizations::store::get(tenant.db(), org)
            .await?
            .map(|o| o.jit_roles)
            .unwrap_or_default())
    }

    /// Disables or enables the account when `active` changed; answers whether it is disabled.
    async fn apply_active(
        &self,
        tenant: &Tenant,
        actor: &str,
        account: &users::UserRow,
        before: Option<bool>,
        after: Option<bool>,
        client: &ClientInfo,
    ) -> Result<bool, ScimError> {
        let want_disabled = match (before, after) {
            (b, a) if b == a => return Ok(account.disabled),
            (_, Some(false)) => true,
            // `active` was false and is now true or gone.
            (Some(false), _) => false,
            _ => return Ok(account.disabled),
        };
        if want_disabled == account.disabled {
            return Ok(account.disabled);
        }
        tenant
            .set_disabled(account.id.clone(), want_disabled, self.clock.now())
            .await?;
        let kind = if want_disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.audit(tenant, kind, AuditInfo::by(actor, client).on(&account.id))
            .await;
        Ok(want_disabled)
    }

    /// `GET /Users/{id}`.
    pub async fn get_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
    ) -> Result<Value, ScimError> {
        let (row, account) = self
            .visible_user(tenant, caller, id)
            .await?
            .ok_or_else(|| ScimError::not_found("user"))?;
        Ok(self.render_user(tenant, &row, account.disabled))
    }

    /// `PUT /Users/{id}` (`replace`) and `PATCH /Users/{id}` (`patch`): the new kept
    /// attributes computed from the stored ones, written only if nobody wrote in between
    /// (else read again and recomputed), then the account brought in line.
    pub async fn write_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
        change: Change<'_>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let db = tenant.db();
        for _ in 0..WRITE_RETRIES {
            let (row, account) = self
                .visible_user(tenant, caller, id)
                .await?
                .ok_or_else(|| ScimError::not_found("user"))?;
            let old: Map<String, Value> = serde_json::from_str(&row.doc).unwrap_or_default();
            let new = match &change {
                Change::Replace(body) => body_doc(body)?,
                Change::Patch(ops) => {
                    let mut d = old.clone();
                    patch::apply(USER_ATTRS, &mut d, ops)
                        .map_err(|e| ScimError::bad(e.scim_type, e.detail))?;
                    d
                }
            };
            let w = written(new)?;
            let email = address(&w)?;
            let moved = email.normalized()
                != Email::parse("email", &account.email)
                    .map(|e| e.normalized().to_string())
                    .unwrap_or_default();
            if moved
                && users::find_by_login(db, true, email.normalized())
                    .await?
                    .is_some_and(|other| other.id != id)
            {
                return Err(ScimError::taken("emails: another account has this address"));
            }
            let doc = Value::Object(w.doc.clone()).to_string();
            let now = self.clock.now();
            let version = match rs::update(
                db,
                Table::User,
                id,
                row.version,
                &norm(&w.user_name),
                w.external_id.as_deref(),
                &doc,
                now,
            )
            .await
            {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(StoreError::Conflict(_)) => {
                    return Err(ScimError::taken("userName is taken"));
                }
                Err(e) => return Err(e.into()),
            };
            let actor = Self::actor(caller);
            if moved {
                // The directory renamed the person's mailbox: the account follows, so sign-in
                // and reset mail use the address the company now gives.
                match users::set_email(db, id, email.as_str(), email.normalized(), now).await {
                    Err(StoreError::Conflict(_)) => {
                        return Err(ScimError::taken("emails: another account has this address"));
                    }
                    r => r?,
                }
                let info = AuditInfo::by(&actor, client)
                    .on(id)
                    .with_detail(format!("address changed to {}", email.as_str()));
                self.audit(tenant, "email_changed", info).await;
            }
            let info = AuditInfo::by(&actor, client).on(id);
            self.audit(tenant, "scim_user_updated", info).await;
            let disabled = self
                .apply_active(
                    tenant,
                    &actor,
                    &account,
                    active_of(&old),
                    active_of(&w.doc),
                    client,
                )
                .await?;
            let row = ResourceRow {
                doc,
                version,
                updated_at: now,
                ..row
            };
            return Ok(self.render_user(tenant, &row, disabled));
        }
        Err(ScimError {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            scim_type: None,
            detail: "the user is being changed by many requests at once; retry".into(),
        })
    }

    /// `DELETE /Users/{id}`: the account deleted, or disabled and kept (the tenant's
    /// `scimDeprovision`); either way the SCIM resource is gone.
    pub async fn delete_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        let (_, account) = self
            .visible_user(tenant, caller, id)
            .await?
            .ok_or_else(|| ScimError::not_found("user"))?;
        let actor = Self::actor(caller);
        let keep = self.settings(tenant).scim_deprovision_disables;
        if keep {
            if !account.disabled {
                tenant
                    .set_disabled(id.to_string(), true, self.clock.now())
                    .await?;
            }
            rs::delete(tenant.db(), Table::User, id).await?;
            let info = AuditInfo::by(&actor, client)
                .on(id)
                .with_detail("deprovisioned over SCIM: disabled and kept".into());
            self.audit(tenant, "user_disabled", info).await;
        } else {
            rs::delete(tenant.db(), Table::User, id).await?;
            tenant.delete_user(id.to_string()).await?;
            let info = AuditInfo::by(&actor, client)
                .on(id)
                .with_detail("deprovisioned over SCIM".into());
            self.audit(tenant, "user_deleted", info).await;
        }
        Ok(())
    }

    /// The users matching a list request's filter, in id order (`GET /Users`, `/.search`).
    pub async fn find_users(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        q: &ListQuery,
    ) -> Result<Vec<Value>, ScimError> {
        let db = tenant.db();
        let rows: Vec<ResourceRow> = match q.filter.as_ref().and_then(user_name_eq) {
            // The common lookup (Entra's and Okta's "does this user exist?"): the index.
            Some(name) => rs::by_unique(db, Table::User, &norm(name))
                .await?
                .into_iter()
                .filter(|r| caller.org.is_none() || r.org == caller.org)
                .collect(),
            None => {
                let mut all = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = rs::page(
                        db,
                        Table::User,
                        caller.org.as_deref(),
                        after.as_deref(),
                        500,
                    )
                    .await?;
                    let short = page.len() < 500;
                    after = page.last().map(|r| r.id.clone());
                    all.extend(page);
                    if all.len() > MAX_SCAN && q.filter.is_some() {
                        return Err(ScimError::bad(
                            "tooMany",
                            format!(
                                "this filter would read more than {MAX_SCAN} users; filter by userName"
                            ),
                        ));
                    }
                    if short {
                        break;
                    }
                }
                all
            }
        };
        let states =
            rs::account_states(db, &rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
        let mut out = Vec::new();
        for row in &rows {
            // No account: deleted through GraphQL, not a user any more.
            let Some(disabled) = states.get(&row.id) else {
                continue;
            };
            let r = self.render_user(tenant, row, *disabled);
            if q.filter
                .as_ref()
                .is_none_or(|f| super::filter::matches(f, &r))
            {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// What a write does.
pub enum Change<'a> {
    /// PUT: the whole resource.
    Replace(&'a Value),
    /// PATCH: operations.
    Patch(&'a [patch::Operation]),
}

/// `userName eq "x"` alone.
fn user_name_eq(f: &Filter) -> Option<&str> {
    match f {
        Filter::Compare(p, Op::Eq, Literal::Str(s)) if p == "username" => Some(s),
        _ => None,
    }
}

/// A resource's `meta`.
pub(super) fn meta(
    kind: &str,
    location: &str,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
) -> Value {
    json!({
        "resourceType": kind,
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location,
    })
}
