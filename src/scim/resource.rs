//! What Users and Groups share: a write as PUT or PATCH, the conditional-write retry bound,
//! the `meta` of an answer, the body reduced to the kept attributes, and reading the
//! resources a list request needs (an index for `name eq "x"`, a page for no filter, a
//! bounded scan for any other filter).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::{Filter, Literal, Op};
use super::listing::{ListQuery, MAX_SCAN};
use super::patch;
use super::resource_store::{self as rs, ResourceRow, Table};
use super::schema::{self, Attr};
use crate::store::Db;

/// Times a conditional write is tried again when a concurrent write came first.
pub const WRITE_RETRIES: usize = 20;

/// What a write does.
pub enum Change<'a> {
    /// PUT: the whole resource.
    Replace(&'a Value),
    /// PATCH: operations.
    Patch(&'a [patch::Operation]),
}

impl Change<'_> {
    /// The kept attributes after this change to `old`.
    pub fn apply(
        &self,
        attrs: &[Attr],
        old: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ScimError> {
        match self {
            Change::Replace(body) => body_doc(attrs, body),
            Change::Patch(ops) => {
                let mut d = old.clone();
                patch::apply(attrs, &mut d, ops)
                    .map_err(|e| ScimError::bad(e.scim_type, e.detail))?;
                Ok(d)
            }
        }
    }
}

/// A resource's kept attributes and what is derived from them: its unique name (userName,
/// displayName) and externalId.
pub struct Written {
    /// The kept attributes.
    pub doc: Map<String, Value>,
    /// The unique name, trimmed.
    pub name: String,
    /// `externalId`.
    pub external_id: Option<String>,
}

/// `doc` with its unique name `attr` required: 1..=`max` printable characters.
pub fn written(doc: Map<String, Value>, attr: &str, max: usize) -> Result<Written, ScimError> {
    let name = doc
        .get(attr)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::bad("invalidValue", format!("{attr} is required")))?
        .to_string();
    if name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(ScimError::bad(
            "invalidValue",
            format!("{attr} must be 1..={max} printable characters"),
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

/// Every try lost to a concurrent write.
pub fn busy(what: &str) -> ScimError {
    ScimError::Unavailable(format!(
        "the {what} is being changed by many requests at once; retry"
    ))
}

/// The body as an object of kept attributes.
pub fn body_doc(attrs: &[Attr], body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(o) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    schema::resource_attrs(attrs, o).map_err(|e| ScimError::bad("invalidValue", e.0))
}

/// What a stored resource's document holds.
pub fn doc_of(row: &ResourceRow) -> Map<String, Value> {
    serde_json::from_str(&row.doc).unwrap_or_default()
}

/// A unique name as its index keeps it (compared without case).
pub fn norm(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The audit actor of a SCIM request.
pub fn actor(token_id: &str) -> String {
    format!("scim:{token_id}")
}

/// A resource's `meta`.
pub fn meta(kind: &str, location: &str, created: DateTime<Utc>, modified: DateTime<Utc>) -> Value {
    json!({
        "resourceType": kind,
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location,
    })
}

/// `attr eq "x"` alone (`attr` lower-cased).
fn eq_on<'f>(f: &'f Filter, attr: &str) -> Option<&'f str> {
    match f {
        Filter::Compare(p, Op::Eq, Literal::Str(s)) if p == attr => Some(s),
        _ => None,
    }
}

/// The rows a list request is answered from, and whether they are already the page (no
/// filter: the store pages, and `total` counts the scope) or every candidate to filter.
pub struct Candidates {
    /// Rows read.
    pub rows: Vec<ResourceRow>,
    /// `Some(total)` when `rows` is the requested page of an unfiltered list.
    pub paged_total: Option<usize>,
}

/// Reads the candidates of `q` in a scope: the unique index for `unique_attr eq "x"`, a page
/// for no filter, else the scope in id order up to [`MAX_SCAN`] (`tooMany` beyond).
pub async fn candidates(
    db: &Db,
    t: Table,
    org: Option<&str>,
    unique_attr: &str,
    q: &ListQuery,
) -> Result<Candidates, ScimError> {
    let Some(f) = &q.filter else {
        let total = rs::count(db, t, org).await?;
        let rows = rs::slice(db, t, org, q.start - 1, q.count).await?;
        return Ok(Candidates {
            rows,
            paged_total: Some(total),
        });
    };
    if let Some(name) = eq_on(f, unique_attr) {
        let rows = rs::by_unique(db, t, &norm(name))
            .await?
            .into_iter()
            .filter(|r| org.is_none() || r.org.as_deref() == org)
            .collect();
        return Ok(Candidates {
            rows,
            paged_total: None,
        });
    }
    if rs::count(db, t, org).await? > MAX_SCAN {
        return Err(ScimError::bad(
            "tooMany",
            format!(
                "this filter would read more than {MAX_SCAN} resources; filter by {unique_attr} eq"
            ),
        ));
    }
    let rows = rs::slice(db, t, org, 0, MAX_SCAN).await?;
    Ok(Candidates {
        rows,
        paged_total: None,
    })
}
