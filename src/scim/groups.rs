//! SCIM Groups as organizations.
//!
//! Why organizations and not tenant roles: a directory's group is a set of people, and an
//! organization is latchkey's set of people that reaches tokens (`org_id`, `org_roles`) and
//! that a B2B customer owns. Tenant roles grant powers over latchkey's API (`admin`): a
//! directory must not be able to hand those out by adding someone to a group.
//!
//! A group made here is a new organization named by `displayName`; a member added gets the
//! organization's joining roles (`jitRoles`, `member` by default); a member removed loses the
//! membership at once on latchkey's APIs and in the sessions scoped to the organization, and
//! their next refresh carries no `org_id`. A tenant token manages groups; an organization's
//! token sees and changes only its own organization's group (and makes or deletes none).
//! `members` lists the provisioned users among the organization's members, as the directory
//! wrote them; people who joined by invitation or domain are not the directory's to see.

use serde_json::{Map, Value, json};

use super::ScimService;
use super::error::ScimError;
use super::filter::{Filter, Literal, Op};
use super::listing::ListQuery;
use super::patch;
use super::resource_store::{self as rs, ResourceRow, Table};
use super::schema::{self, GROUP_ATTRS, GROUP_SCHEMA};
use super::service::ScimCaller;
use super::users::meta;
use crate::actors::Tenant;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::organizations::service::OrgSpec;
use crate::organizations::store as orgs;
use crate::store::StoreError;

/// Longest displayName (an organization's name).
const MAX_NAME: usize = 100;
/// Times a write is retried when a concurrent write came first.
const WRITE_RETRIES: usize = 20;
/// Most members one request may name.
const MAX_MEMBERS: usize = 1000;

fn norm(name: &str) -> String {
    name.trim().to_lowercase()
}

struct Written {
    doc: Map<String, Value>,
    name: String,
    external_id: Option<String>,
}

fn written(doc: Map<String, Value>) -> Result<Written, ScimError> {
    let name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::bad("invalidValue", "displayName is required"))?
        .to_string();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ScimError::bad(
            "invalidValue",
            format!("displayName must be 1..={MAX_NAME} printable characters"),
        ));
    }
    if member_ids(&doc).len() > MAX_MEMBERS {
        return Err(ScimError::bad(
            "invalidValue",
            format!("at most {MAX_MEMBERS} members per request"),
        ));
    }
    let external_id = doc
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Written {
        doc,
        name,
        external_id,
    })
}

/// The member ids written, in order, once each.
fn member_ids(doc: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in doc
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(v) = m.get("value").and_then(Value::as_str)
            && !out.iter().any(|o| o == v)
        {
            out.push(v.to_string());
        }
    }
    out
}

fn body_doc(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(o) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    schema::resource_attrs(GROUP_ATTRS, o).map_err(|e| ScimError::bad("invalidValue", e.0))
}

impl ScimService {
    /// The group `id`, if this caller may see it.
    async fn visible_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
    ) -> Result<Option<ResourceRow>, ScimError> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        if caller.org.as_deref().is_some_and(|o| o != id) {
            return Ok(None);
        }
        let Some(row) = rs::get(tenant.db(), Table::Group, id).await? else {
            return Ok(None);
        };
        if orgs::get(tenant.db(), id).await?.is_none() {
            // Deleted through GraphQL: the SCIM record goes with it.
            rs::delete(tenant.db(), Table::Group, id).await?;
            return Ok(None);
        }
        Ok(Some(row))
    }

    /// The group as answered: what was written, its members those still members.
    async fn render_group(&self, tenant: &Tenant, row: &ResourceRow) -> Result<Value, ScimError> {
        let mut doc: Map<String, Value> = serde_json::from_str(&row.doc).unwrap_or_default();
        if let Some(Value::Array(members)) = doc.get("members").cloned() {
            let mut kept = Vec::new();
            for m in members {
                let Some(v) = m.get("value").and_then(Value::as_str) else {
                    continue;
                };
                if orgs::membership(tenant.db(), &row.id, v).await?.is_some() {
                    kept.push(m);
                }
            }
            if kept.is_empty() {
                doc.remove("members");
            } else {
                doc.insert("members".into(), Value::Array(kept));
            }
        }
        doc.insert("schemas".into(), json!([GROUP_SCHEMA]));
        doc.insert("id".into(), Value::String(row.id.clone()));
        let location = format!("{}/Groups/{}", self.base(tenant), row.id);
        doc.insert(
            "meta".into(),
            meta("Group", &location, row.created_at, row.updated_at),
        );
        Ok(Value::Object(doc))
    }

    /// Every member id must be a provisioned user this caller sees.
    async fn check_members(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        ids: &[String],
    ) -> Result<(), ScimError> {
        for id in ids {
            if self.visible_user(tenant, caller, id).await?.is_none() {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("members: no such user {id}"),
                ));
            }
        }
        Ok(())
    }

    /// Brings the organization's membership in line: `add` joined, `remove` removed.
    async fn sync_members(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        org: &str,
        add: &[String],
        remove: &[String],
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        let actor = format!("scim:{}", caller.token_id);
        let roles = self.join_roles(tenant, org).await?;
        for u in add {
            if orgs::membership(tenant.db(), org, u).await?.is_none() {
                match self
                    .organizations
                    .add_member_by(tenant, &actor, org, u, roles.clone(), client)
                    .await
                {
                    // A concurrent request added them first.
                    Err(crate::error::ServiceError::BadInput {
                        field: "userId", ..
                    }) => {}
                    r => {
                        r?;
                    }
                }
            }
        }
        for u in remove {
            self.organizations
                .remove_member_by(tenant, &actor, org, u, client)
                .await?;
        }
        Ok(())
    }

    /// `POST /Groups`: a new organization.
    pub async fn create_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        if caller.org.is_some() {
            return Err(ScimError::forbidden(
                "an organization's SCIM token cannot make groups (organizations)",
            ));
        }
        let w = written(body_doc(body)?)?;
        let members = member_ids(&w.doc);
        self.check_members(tenant, caller, &members).await?;
        let db = tenant.db();
        if rs::by_unique(db, Table::Group, &norm(&w.name))
            .await?
            .is_some()
        {
            return Err(ScimError::taken("displayName is taken"));
        }
        let actor = format!("scim:{}", caller.token_id);
        let spec = OrgSpec {
            name: Some(w.name.clone()),
            ..Default::default()
        };
        let org = self
            .organizations
            .create_by(tenant, &actor, spec, client)
            .await?;
        let now = self.clock.now();
        let doc = Value::Object(w.doc.clone()).to_string();
        if let Err(e) = rs::create(
            db,
            Table::Group,
            &org.id,
            &norm(&w.name),
            w.external_id.as_deref(),
            None,
            &doc,
            now,
        )
        .await
        {
            // A concurrent POST with the same displayName won: undo this organization.
            self.organizations
                .delete_by(tenant, &actor, &org.id, client)
                .await?;
            return Err(match e {
                StoreError::Conflict(_) => ScimError::taken("displayName is taken"),
                other => other.into(),
            });
        }
        self.sync_members(tenant, caller, &org.id, &members, &[], client)
            .await?;
        let row = ResourceRow {
            id: org.id,
            org: None,
            doc,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.render_group(tenant, &row).await
    }

    /// `GET /Groups/{id}`.
    pub async fn get_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
    ) -> Result<Value, ScimError> {
        let row = self
            .visible_group(tenant, caller, id)
            .await?
            .ok_or_else(|| ScimError::not_found("group"))?;
        self.render_group(tenant, &row).await
    }

    /// `PUT` / `PATCH /Groups/{id}`: written conditionally (see `write_user`), then the
    /// organization's name and members brought in line.
    pub async fn write_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
        change: super::users::Change<'_>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let db = tenant.db();
        for _ in 0..WRITE_RETRIES {
            let row = self
                .visible_group(tenant, caller, id)
                .await?
                .ok_or_else(|| ScimError::not_found("group"))?;
            let shown = self.render_group(tenant, &row).await?;
            let old: Map<String, Value> = serde_json::from_str(&row.doc).unwrap_or_default();
            let new = match &change {
                super::users::Change::Replace(body) => body_doc(body)?,
                super::users::Change::Patch(ops) => {
                    // Patched from what is answered, so a member removed elsewhere stays out.
                    let mut d: Map<String, Value> = old.clone();
                    match shown.get("members") {
                        Some(m) => {
                            d.insert("members".into(), m.clone());
                        }
                        None => {
                            d.remove("members");
                        }
                    }
                    patch::apply(GROUP_ATTRS, &mut d, ops)
                        .map_err(|e| ScimError::bad(e.scim_type, e.detail))?;
                    d
                }
            };
            let w = written(new)?;
            let before: Vec<String> = shown.as_object().map(member_ids).unwrap_or_default();
            let after = member_ids(&w.doc);
            let add: Vec<String> = after
                .iter()
                .filter(|a| !before.contains(a))
                .cloned()
                .collect();
            let remove: Vec<String> = before
                .iter()
                .filter(|b| !after.contains(b))
                .cloned()
                .collect();
            self.check_members(tenant, caller, &add).await?;
            let doc = Value::Object(w.doc.clone()).to_string();
            let now = self.clock.now();
            let version = match rs::update(
                db,
                Table::Group,
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
                    return Err(ScimError::taken("displayName is taken"));
                }
                Err(e) => return Err(e.into()),
            };
            let actor = format!("scim:{}", caller.token_id);
            let old_name = old.get("displayName").and_then(Value::as_str);
            if old_name.map(str::trim) != Some(w.name.as_str()) {
                let spec = OrgSpec {
                    name: Some(w.name.clone()),
                    ..Default::default()
                };
                self.organizations
                    .update_by(tenant, &actor, id, spec, client)
                    .await?;
            }
            self.sync_members(tenant, caller, id, &add, &remove, client)
                .await?;
            let info = AuditInfo::by(&actor, client).with_detail(format!("SCIM group {id}"));
            self.audit(tenant, "scim_group_updated", info).await;
            let row = ResourceRow {
                doc,
                version,
                updated_at: now,
                ..row
            };
            return self.render_group(tenant, &row).await;
        }
        Err(ScimError {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            scim_type: None,
            detail: "the group is being changed by many requests at once; retry".into(),
        })
    }

    /// `DELETE /Groups/{id}`: the organization deleted with its memberships (the users stay).
    pub async fn delete_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        if caller.org.is_some() {
            return Err(ScimError::forbidden(
                "an organization's SCIM token cannot delete its organization",
            ));
        }
        self.visible_group(tenant, caller, id)
            .await?
            .ok_or_else(|| ScimError::not_found("group"))?;
        let actor = format!("scim:{}", caller.token_id);
        rs::delete(tenant.db(), Table::Group, id).await?;
        self.organizations
            .delete_by(tenant, &actor, id, client)
            .await?;
        Ok(())
    }

    /// The groups matching a list request's filter, in id order (`GET /Groups`, `/.search`).
    pub async fn find_groups(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        q: &ListQuery,
    ) -> Result<Vec<Value>, ScimError> {
        let db = tenant.db();
        let rows: Vec<ResourceRow> = match (&caller.org, q.filter.as_ref().and_then(name_eq)) {
            (Some(org), _) => rs::get(db, Table::Group, org).await?.into_iter().collect(),
            (None, Some(name)) => rs::by_unique(db, Table::Group, &norm(name))
                .await?
                .into_iter()
                .collect(),
            (None, None) => {
                let mut all = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = rs::page(db, Table::Group, None, after.as_deref(), 500).await?;
                    let short = page.len() < 500;
                    after = page.last().map(|r| r.id.clone());
                    all.extend(page);
                    if all.len() > super::listing::MAX_SCAN && q.filter.is_some() {
                        return Err(ScimError::bad(
                            "tooMany",
                            "this filter would read too many groups; filter by displayName",
                        ));
                    }
                    if short {
                        break;
                    }
                }
                all
            }
        };
        let mut out = Vec::new();
        for row in &rows {
            if orgs::get(db, &row.id).await?.is_none() {
                continue;
            }
            let r = self.render_group(tenant, row).await?;
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

/// `displayName eq "x"` alone.
fn name_eq(f: &Filter) -> Option<&str> {
    match f {
        Filter::Compare(p, Op::Eq, Literal::Str(s)) if p == "displayname" => Some(s),
        _ => None,
    }
}
