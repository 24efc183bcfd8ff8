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
use super::listing::{Found, ListQuery};
use super::resource::{self, Change, WRITE_RETRIES, Written, actor, doc_of, meta, norm};
use super::resource_store::{self as rs, ResourceRow, Table};
use super::schema::{GROUP_ATTRS, GROUP_SCHEMA};
use super::service::ScimCaller;
use crate::actors::Tenant;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::organizations::service::OrgSpec;
use crate::organizations::store as orgs;
use crate::store::StoreError;

/// Longest displayName (an organization's name).
const MAX_NAME: usize = 100;
/// Most members one request may name.
const MAX_MEMBERS: usize = 1000;

/// The kept attributes with `displayName` required and the members bounded.
fn written(doc: Map<String, Value>) -> Result<Written, ScimError> {
    let w = resource::written(doc, "displayName", MAX_NAME)?;
    let named = w
        .doc
        .get("members")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if named > MAX_MEMBERS {
        return Err(ScimError::bad(
            "invalidValue",
            format!("at most {MAX_MEMBERS} members per group"),
        ));
    }
    Ok(w)
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
        // The record goes with its organization (an event in the same transaction).
        Ok(rs::get(tenant.db(), Table::Group, id).await?)
    }

    /// The group as answered: what was written, its members those still members that this
    /// caller may see.
    async fn render_group(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        row: &ResourceRow,
    ) -> Result<Value, ScimError> {
        let mut doc = doc_of(row);
        if let Some(Value::Array(members)) = doc.get("members").cloned() {
            let mut kept = Vec::new();
            for m in members {
                let Some(v) = m.get("value").and_then(Value::as_str) else {
                    continue;
                };
                if orgs::membership(tenant.db(), &row.id, v).await?.is_some()
                    && (caller.org.is_none()
                        || self.visible_user(tenant, caller, v).await?.is_some())
                {
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

    /// Brings the organization's membership in line: `add` joined, `remove` (of the people
    /// this caller may see: a directory removes only its own) removed.
    async fn sync_members(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        org: &str,
        add: &[String],
        remove: &[String],
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        let actor = actor(&caller.token_id);
        let roles = self.join_roles(tenant, org).await?;
        for u in add {
            if orgs::membership(tenant.db(), org, u).await?.is_some() {
                continue;
            }
            let added = self
                .organizations
                .add_member_by(tenant, &actor, org, u, roles.clone(), client)
                .await;
            // A concurrent request may have added them first: that is what was asked.
            if let Err(e) = added
                && orgs::membership(tenant.db(), org, u).await?.is_none()
            {
                return Err(e.into());
            }
        }
        for u in remove {
            if self.visible_user(tenant, caller, u).await?.is_none() {
                continue;
            }
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
        let w = written(resource::body_doc(GROUP_ATTRS, body)?)?;
        let members = member_ids(&w.doc);
        self.check_members(tenant, caller, &members).await?;
        let db = tenant.db();
        if rs::by_unique(db, Table::Group, &norm(&w.name))
            .await?
            .is_some()
        {
            return Err(ScimError::taken("displayName is taken"));
        }
        let actor = actor(&caller.token_id);
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
        self.render_group(tenant, caller, &row).await
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
        self.render_group(tenant, caller, &row).await
    }

    /// `PUT` / `PATCH /Groups/{id}`: written conditionally (see `write_user`), then the
    /// organization's name and members brought in line. A change applies to the members as
    /// answered, so a member removed elsewhere stays out.
    pub async fn write_group(
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
            let row = self
                .visible_group(tenant, caller, id)
                .await?
                .ok_or_else(|| ScimError::not_found("group"))?;
            let shown = self.render_group(tenant, caller, &row).await?;
            let mut old = doc_of(&row);
            match shown.get("members") {
                Some(m) => old.insert("members".into(), m.clone()),
                None => old.remove("members"),
            };
            let w = written(change.apply(GROUP_ATTRS, &old)?)?;
            let before = member_ids(&old);
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
            return self.render_group(tenant, caller, &row).await;
        }
        Err(resource::busy("group"))
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
        // Its SCIM record goes in the same transaction (an event on `organization`).
        self.organizations
            .delete_by(tenant, &actor(&caller.token_id), id, client)
            .await?;
        Ok(())
    }

    /// The groups a list request asks for (`GET /Groups`, `/.search`). An organization's
    /// token sees its own organization's group only.
    pub async fn find_groups(
        &self,
        tenant: &Tenant,
        caller: &ScimCaller,
        q: &ListQuery,
    ) -> Result<Found, ScimError> {
        let db = tenant.db();
        let (rows, paged_total) = match &caller.org {
            Some(org) => (
                rs::get(db, Table::Group, org).await?.into_iter().collect(),
                None,
            ),
            None => {
                let c = resource::candidates(db, Table::Group, None, "displayname", q).await?;
                (c.rows, c.paged_total)
            }
        };
        let mut resources: Vec<Value> = Vec::new();
        for row in &rows {
            let r = self.render_group(tenant, caller, row).await?;
            if q.filter
                .as_ref()
                .is_none_or(|f| super::filter::matches(f, &r))
            {
                resources.push(r);
            }
        }
        Ok(Found {
            resources,
            paged_total,
        })
    }
}
