//! Listing and searching resources (RFC 7644 §3.4.2, §3.4.3): the query's parameters, from
//! the URL or a `/.search` body, and the ListResponse page cut from the matches.

use serde_json::{Value, json};

use super::error::ScimError;
use super::filter::{self, Filter};
use super::schema::{LIST_SCHEMA, Projection, SEARCH_SCHEMA};

/// Most resources in one page (advertised as `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;
/// Most resources a filter is evaluated over; beyond it a filter that no index answers is
/// refused with `tooMany` rather than read without bound.
pub const MAX_SCAN: usize = 20_000;

/// A list request.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// `filter`.
    pub filter: Option<Filter>,
    /// 1-based `startIndex`.
    pub start: usize,
    /// `count`.
    pub count: usize,
    /// `attributes` / `excludedAttributes`.
    pub projection: Projection,
}

impl ListQuery {
    /// From the URL's parameters (strings as given).
    pub fn from_params(
        filter: Option<&str>,
        start: Option<&str>,
        count: Option<&str>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let number = |name: &str, v: Option<&str>| -> Result<Option<i64>, ScimError> {
            match v {
                None => Ok(None),
                Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                    ScimError::bad("invalidValue", format!("{name} must be an integer"))
                }),
            }
        };
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(filter::parse(f).map_err(|e| ScimError::bad("invalidFilter", e.0))?),
            None => None,
        };
        Ok(Self {
            filter,
            // "A value less than 1 SHALL be interpreted as 1" (RFC 7644 §3.4.2.4).
            start: number("startIndex", start)?.unwrap_or(1).max(1) as usize,
            // Negative counts are 0; more than the maximum are the maximum.
            count: number("count", count)?
                .unwrap_or(MAX_RESULTS as i64)
                .clamp(0, MAX_RESULTS as i64) as usize,
            projection: Projection::new(attributes, excluded),
        })
    }

    /// From a `/.search` body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let ok = body
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_SCHEMA)));
        if !ok {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("schemas must be [\"{SEARCH_SCHEMA}\"]"),
            ));
        }
        let text = |k: &str| -> Result<Option<String>, ScimError> {
            match body.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(a)) => Ok(Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(ScimError::bad("invalidValue", format!("{k} is malformed"))),
            }
        };
        Self::from_params(
            text("filter")?.as_deref(),
            text("startIndex")?.as_deref(),
            text("count")?.as_deref(),
            text("attributes")?.as_deref(),
            text("excludedAttributes")?.as_deref(),
        )
    }

    /// The ListResponse of what was found: a page the store cut, or every match to cut here.
    pub fn answer(&self, found: Found) -> Value {
        let (total, page): (usize, Vec<Value>) = match found.paged_total {
            Some(total) => (total, found.resources),
            None => (
                found.resources.len(),
                found
                    .resources
                    .into_iter()
                    .skip(self.start - 1)
                    .take(self.count)
                    .collect(),
            ),
        };
        let page: Vec<Value> = page.into_iter().map(|r| self.projection.apply(r)).collect();
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": self.start,
            "itemsPerPage": page.len(),
            "Resources": page,
        })
    }
}

/// Resources a list request found.
pub struct Found {
    /// The resources, rendered.
    pub resources: Vec<Value>,
    /// `Some(total)`: `resources` is already the requested page of `total`; `None`: they are
    /// every match, in order.
    pub paged_total: Option<usize>,
}
