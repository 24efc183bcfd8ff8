//! Reading REST request bodies the way FastAPI does: every missing or mistyped field is
//! reported at once as a 422 with its `loc`, unknown fields are ignored, and nothing the
//! client sends can make the handler fail in any other way.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use super::error::{RestError, issue};
use super::types::ValidationIssue;

/// The REST bodies are a few hundred bytes; 64 KiB is generous and keeps a flood cheap.
pub const REST_BODY_LIMIT: usize = 64 * 1024;

/// Reads the whole body, refusing more than [`REST_BODY_LIMIT`] bytes with 413 (early when
/// `Content-Length` already says so, while reading when the body is chunked).
pub async fn read(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, RestError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > REST_BODY_LIMIT as u64) {
        return Err(RestError::TooLarge);
    }
    axum::body::to_bytes(body, REST_BODY_LIMIT)
        .await
        .map_err(|_| RestError::TooLarge)
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/json` or any `+json` type.
pub fn is_json(headers: &HeaderMap) -> bool {
    let m = media_type(headers);
    m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

/// A JSON object body. Another media type, malformed JSON or a non-object is a 422, as
/// FastAPI answers for a body model. Only JSON is accepted: a cross-site page can send a
/// form or `text/plain` without a CORS preflight, but not `application/json`.
pub fn json_object(headers: &HeaderMap, bytes: &[u8]) -> Result<Map<String, Value>, RestError> {
    if !is_json(headers) {
        return Err(RestError::invalid(
            "",
            "model_attributes_type",
            "Input should be a JSON object sent with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(RestError::invalid(
            "",
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
        Err(e) => Err(RestError::invalid(
            "",
            "json_invalid",
            &format!("JSON decode error: {e}"),
        )),
    }
}

/// Collects typed fields from a JSON object, remembering every problem.
pub struct Fields {
    obj: Map<String, Value>,
    issues: Vec<ValidationIssue>,
}

/// A JSON object body, ready to read: an extractor so every JSON handler refuses an oversized
/// (413) or malformed (422) body alike, and only after its tenant was found.
impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = RestError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read(&parts.headers, body).await?;
        Ok(Fields::new(json_object(&parts.headers, &bytes)?))
    }
}

impl Fields {
    /// Starts reading `obj`.
    pub fn new(obj: Map<String, Value>) -> Self {
        Self {
            obj,
            issues: Vec::new(),
        }
    }

    /// A required string.
    pub fn string(&mut self, name: &str) -> String {
        match self.obj.get(name) {
            None => {
                self.issues.push(issue(name, "missing", "Field required"));
                String::new()
            }
            Some(v) => typed(&mut self.issues, name, v).unwrap_or_default(),
        }
    }

    /// An optional string (`null` counts as absent).
    pub fn optional_string(&mut self, name: &str) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => typed(&mut self.issues, name, v),
        }
    }

    /// Ok when every field read so far was present and well typed.
    pub fn finish(self) -> Result<(), RestError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(RestError::Invalid(self.issues))
        }
    }
}

/// The string `v`, or `None` with an issue: a free function, not a method, as `v` borrows
/// the object held by the same [`Fields`].
fn typed(issues: &mut Vec<ValidationIssue>, name: &str, v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            issues.push(issue(name, "string_type", "Input should be a valid string"));
            None
        }
    }
}

/// An `application/x-www-form-urlencoded` body as a map (first occurrence of a name wins).
/// Another media type is a 422: FastAPI's form fields would all be missing.
pub fn form(headers: &HeaderMap, bytes: &[u8]) -> Result<HashMap<String, String>, RestError> {
    if media_type(headers) != "application/x-www-form-urlencoded" {
        return Err(RestError::invalid(
            "",
            "model_attributes_type",
            "Input should be a form sent with Content-Type: application/x-www-form-urlencoded",
        ));
    }
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    Ok(map)
}
