//! SCIM Users (RFC 7644 §3.3-3.6): a directory's people as latchkey accounts.
//!
//! - An account made here has no password: it signs in through the organization's provider,
//!   or sets one through a reset mail. Its address is trusted as verified when the directory
//!   may vouch for it: a tenant token always (the tenant admin connected that directory), an
//!   organization's token only inside that organization's verified domains (the rule for an
//!   organization's own identity provider); otherwise the account gets the verification mail.
//! - A POST for an address that already has an account links that account (Okta's and
//!   Entra's "match existing users") only when the directory could have made it: no tenant
//!   roles (a directory must not come to manage an admin), and for an organization's token a
//!   member of that organization and of no other. Anything else is `409 uniqueness`, so one
//!   customer's directory cannot take over another's people.
//! - `active` is brought to what the directory says when it changes (and on create), which
//!   disables the account and revokes every session at once (the tenant actor, on every
//!   node). DELETE deletes the account or only disables it, by the tenant's
//!   `scimDeprovision` setting.
//! - What the directory wrote is kept verbatim (`scim_user.doc`) and read back exactly; the
//!   truth about the account (disabled or not) overrides `active`.
//!
//! Every change is audited with the token as actor (`scim:<token id>`); the account's own
//! events (created, disabled, updated, deleted) reach webhooks as they do from GraphQL.

use serde_json::{Map, Value, json};

use super::ScimService;
use super::error::ScimError;
use super::listing::{Found, ListQuery};
use super::resource::{self, Change, WRITE_RETRIES, Written, actor, doc_of, meta, norm};
use super::resource_store::{self as rs, ResourceRow, Table};
use super::schema::{USER_ATTRS, USER_SCHEMA};
use super::service::ScimCaller;
use crate::actors::Tenant;
use crate::domain::Email;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::organizations::store as orgs;
use crate::store::{StoreError, users};

/// Longest userName.
const MAX_USER_NAME: usize = 256;

fn written(doc: Map<String, Value>) -> Result<Written, ScimError> {
    resource::written(doc, "userName", MAX_USER_NAME)
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
        .unwrap_or(&w.name);
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

impl ScimService {
    /// The resource as answered.
    fn render_user(&self, tenant: &Tenant, row: &ResourceRow, disabled: bool) -> Value {
        let mut doc = doc_of(row);
        // The account's state is the truth: an admin may have disabled it since.
        if doc.contains_key("active") || disabled {
            doc.insert("active".into(), Value::Bool(!disabled));
        }
        doc.insert("schemas".into(), json!([USER_SCHEMA]));
        doc.insert("id".into(), Value::String(row.id.clone()));
        let location = format!("{}/Users/{}", self.base(tenant), row.id);
        doc.insert(
            "meta".into(),
            meta("User", &location, row.created_at, row.updated_at),
        );
        Value::Object(doc)
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
        // The record goes with its account (an event in the same transaction); a row without
        // one is not a user.
        let Some(account) = users::get(tenant.db(), id).await? else {
            return Ok(None);
        };
        Ok(Some((row, account)))
    }

    /// Whether the directory behind `caller` may vouch for `email` (mark it verified).
    async fn vouches_for(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        email: &Email,
    ) -> Result<bool, ScimError> {
        let Some(org) = &caller.org else {
            return Ok(true);
        };
        let domain = crate::store::org_policy::domain_of(email.as_str());
        Ok(orgs::domains(tenant.db(), org)
            .await?
            .iter()
            .any(|d| Some(&d.domain) == domain.as_ref()))
    }

    /// Whether an existing account (not made over SCIM) may be linked by `caller`.
    async fn may_link(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        account: &users::UserRow,
    ) -> Result<bool, ScimError> {
        if !account.roles.is_empty() {
            return Ok(false);
        }
        let Some(org) = &caller.org else {
            return Ok(true);
        };
        let memberships = orgs::memberships_of(tenant.db(), &account.id).await?;
        Ok(memberships.len() == 1 && &memberships[0].org == org)
    }

    /// `POST /Users`.
    pub async fn create_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let w = written(resource::body_doc(USER_ATTRS, body)?)?;
        let email = address(&w)?;
        let db = tenant.db();
        if rs::by_unique(db, Table::User, &norm(&w.name))
            .await?
            .is_some()
        {
            return Err(ScimError::taken("userName is taken"));
        }
        let actor = actor(&caller.token_id);
        let existing = users::find_by_login(db, true, email.normalized()).await?;
        let (account, made) = match existing {
            Some(a) => {
                if rs::get(db, Table::User, &a.id).await?.is_some()
                    || !self.may_link(tenant, caller, &a).await?
                {
                    return Err(ScimError::taken(
                        "emails: an account this directory does not manage has this address",
                    ));
                }
                (a, false)
            }
            None => {
                let hint = w.name.split('@').next().unwrap_or(&w.name);
                let verified = self.vouches_for(tenant, caller, &email).await?;
                let a = self
                    .accounts
                    .create_passwordless_from_hint(tenant, &email, Some(hint), verified)
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
            &norm(&w.name),
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
            .with_detail(format!("SCIM userName {}", w.name));
        self.audit(tenant, kind, info).await;
        if let Some(org) = &caller.org
            && orgs::membership(db, org, &account.id).await?.is_none()
        {
            let roles = self.join_roles(tenant, org).await?;
            self.organizations
                .add_member_by(tenant, &actor, org, &account.id, roles, client)
                .await?;
        }
        let disabled = self
            .converge_active(tenant, &actor, &account.id, active_of(&w.doc), client)
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
        Ok(orgs::get(tenant.db(), org)
            .await?
            .map(|o| o.jit_roles)
            .unwrap_or_default())
    }

    /// Brings the account to `active` (read fresh, so a concurrent write's outcome is not
    /// undone from a stale copy); `None` leaves it. Answers whether it is disabled.
    async fn converge_active(
        &self,
        tenant: &Tenant,
        actor: &str,
        id: &str,
        active: Option<bool>,
        client: &ClientInfo,
    ) -> Result<bool, ScimError> {
        let account = users::get(tenant.db(), id)
            .await?
            .ok_or_else(|| ScimError::not_found("user"))?;
        let Some(active) = active else {
            return Ok(account.disabled);
        };
        if account.disabled == !active {
            return Ok(account.disabled);
        }
        tenant
            .set_disabled(id.to_string(), !active, self.clock.now())
            .await?;
        let kind = if active {
            "user_enabled"
        } else {
            "user_disabled"
        };
        self.audit(tenant, kind, AuditInfo::by(actor, client).on(id))
            .await;
        Ok(!active)
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

    /// `PUT` / `PATCH /Users/{id}`: the new kept attributes computed from the stored ones,
    /// written only if nobody wrote in between (else read again and recomputed), then the
    /// account brought in line.
    pub async fn write_user(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
        change: Change<'_>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let db = tenant.db();
        let actor = actor(&caller.token_id);
        for _ in 0..WRITE_RETRIES {
            let (row, account) = self
                .visible_user(tenant, caller, id)
                .await?
                .ok_or_else(|| ScimError::not_found("user"))?;
            let old = doc_of(&row);
            let w = written(change.apply(USER_ATTRS, &old)?)?;
            let email = address(&w)?;
            let moved = Email::parse("email", &account.email)
                .map_or(true, |e| e.normalized() != email.normalized());
            if moved {
                // The directory renamed the person's mailbox: the account follows, so sign-in
                // and reset mail use the address the company now gives. Before the document,
                // so a refused address leaves both as they were.
                let verified = self.vouches_for(tenant, caller, &email).await?;
                let now = self.clock.now();
                match users::set_email(db, id, email.as_str(), email.normalized(), verified, now)
                    .await
                {
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
            let doc = Value::Object(w.doc.clone()).to_string();
            let now = self.clock.now();
            let version = match rs::update(
                db,
                Table::User,
                id,
                row.version,
                &norm(&w.name),
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
            let info = AuditInfo::by(&actor, client).on(id);
            self.audit(tenant, "scim_user_updated", info).await;
            let (before, after) = (active_of(&old), active_of(&w.doc));
            let disabled = if before == after {
                account.disabled
            } else {
                // `active` removed from a user marked inactive: no longer marked, so enabled
                // (the attribute's absence is not a "false").
                let target = after.or(before.filter(|b| !b).map(|_| true));
                self.converge_active(tenant, &actor, id, target, client)
                    .await?
            };
            let row = ResourceRow {
                doc,
                version,
                updated_at: now,
                ..row
            };
            return Ok(self.render_user(tenant, &row, disabled));
        }
        Err(resource::busy("user"))
    }

    /// `DELETE /Users/{id}`: the account deleted, or disabled and kept (the tenant's
    /// `scimDeprovision`); either way the SCIM resource is gone. The account first: if that
    /// fails the directory's retry finds the resource still there.
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
        let actor = actor(&caller.token_id);
        if self.settings(tenant).scim_deprovision_disables {
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
            // Its SCIM record goes in the same transaction (an event on `user`).
            tenant.delete_user(id.to_string()).await?;
            let info = AuditInfo::by(&actor, client)
                .on(id)
                .with_detail("deprovisioned over SCIM".into());
            self.audit(tenant, "user_deleted", info).await;
        }
        Ok(())
    }

    /// The users a list request asks for (`GET /Users`, `/.search`).
    pub async fn find_users(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        q: &ListQuery,
    ) -> Result<Found, ScimError> {
        let db = tenant.db();
        let c = resource::candidates(db, Table::User, caller.org.as_deref(), "username", q).await?;
        let ids: Vec<String> = c.rows.iter().map(|r| r.id.clone()).collect();
        let states = users::disabled_of(db, &ids).await?;
        let mut resources = Vec::new();
        for row in &c.rows {
            let Some(disabled) = states.get(&row.id) else {
                continue;
            };
            let r = self.render_user(tenant, row, *disabled);
            if q.filter
                .as_ref()
                .is_none_or(|f| super::filter::matches(f, &r))
            {
                resources.push(r);
            }
        }
        Ok(Found {
            resources,
            paged_total: c.paged_total,
        })
    }
}
