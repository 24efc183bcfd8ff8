//! SCIM PATCH (RFC 7644 §3.5.2) over a resource's kept attributes: `add`, `replace` and
//! `remove`, with or without `path`, including value filters (`emails[type eq "work"].value`,
//! `members[value eq "…"]`) and the shapes directories actually send: Entra ID's capitalised
//! ops and `"False"` strings, Okta's `replace` without a path whose value carries the `id`.
//! Pure: the service reads the resource, applies the operations here and writes the result
//! back conditionally, so concurrent PATCHes never lose each other's changes.

use serde_json::{Map, Value};

use super::filter::{self, Filter, Literal, Op};
use super::schema::{self, Attr, Kind};

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;

/// One operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// What it does.
    pub op: OpKind,
    /// Where; `None`: the resource.
    pub path: Option<String>,
    /// With what.
    pub value: Option<Value>,
}

/// The three operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Add values.
    Add,
    /// Replace values.
    Replace,
    /// Remove values.
    Remove,
}

/// Why a PATCH was refused, as SCIM's `scimType` and a sentence.
#[derive(Debug)]
pub struct PatchError {
    /// `invalidPath`, `invalidValue`, `invalidSyntax`, `noTarget` or `mutability`.
    pub scim_type: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn err(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

/// The operations of a PatchOp body.
pub fn operations(body: &Value) -> Result<Vec<Operation>, PatchError> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(schema::PATCH_SCHEMA)));
    if !schemas_ok {
        return Err(err(
            "invalidSyntax",
            format!("schemas must be [\"{}\"]", schema::PATCH_SCHEMA),
        ));
    }
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| err("invalidSyntax", "Operations must be a list"))?;
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(err(
            "invalidSyntax",
            format!("Operations must hold 1..={MAX_OPERATIONS} operations"),
        ));
    }
    ops.iter()
        .map(|o| {
            let kind = match o
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(k) if k == "add" => OpKind::Add,
                Some(k) if k == "replace" => OpKind::Replace,
                Some(k) if k == "remove" => OpKind::Remove,
                _ => return Err(err("invalidSyntax", "op must be add, replace or remove")),
            };
            let path = match o.get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(p.trim().to_string()),
                Some(_) => return Err(err("invalidPath", "path must be a string")),
            };
            let value = o.get("value").cloned();
            if kind != OpKind::Remove && value.is_none() {
                return Err(err("invalidValue", "add and replace need a value"));
            }
            if kind == OpKind::Remove && path.is_none() {
                return Err(err("noTarget", "remove needs a path"));
            }
            Ok(Operation {
                op: kind,
                path,
                value,
            })
        })
        .collect()
}

/// A parsed path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
struct Target<'a> {
    attr: &'a Attr,
    filter: Option<Filter>,
    sub: Option<&'a Attr>,
}

/// Parses `path` against `attrs`; `Ok(None)` for an attribute latchkey does not keep
/// (ignored, as on create) and for a bare schema URN (the whole resource).
fn target<'a>(attrs: &'a [Attr], path: &str) -> Result<Option<Target<'a>>, PatchError> {
    let lower = path.to_ascii_lowercase();
    let mut rest = path;
    for urn in [schema::USER_SCHEMA, schema::GROUP_SCHEMA] {
        let u = urn.to_ascii_lowercase();
        if lower == u {
            return Ok(None);
        }
        if lower.starts_with(&format!("{u}:")) {
            rest = &path[u.len() + 1..];
        }
    }
    if rest.starts_with("urn:") {
        // An extension latchkey does not declare.
        return Ok(None);
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest
                .rfind(']')
                .filter(|c| *c > open)
                .ok_or_else(|| err("invalidPath", format!("{path}: a bracket is not closed")))?;
            let f = filter::parse(&rest[open + 1..close])
                .map_err(|e| err("invalidFilter", format!("{path}: {e}")))?;
            let tail = rest[close + 1..].strip_prefix('.').map(str::to_string);
            if !rest[close + 1..].is_empty() && tail.is_none() {
                return Err(err("invalidPath", format!("{path} is not a path")));
            }
            (rest[..open].to_string(), Some(f), tail)
        }
        None => match rest.split_once('.') {
            Some((h, t)) => (h.to_string(), None, Some(t.to_string())),
            None => (rest.to_string(), None, None),
        },
    };
    let Some(attr) = schema::find(attrs, &head) else {
        if head.eq_ignore_ascii_case("externalId") && filter.is_none() && tail.is_none() {
            return Ok(Some(Target {
                attr: &EXTERNAL_ID,
                filter: None,
                sub: None,
            }));
        }
        return Ok(None);
    };
    if filter.is_some() && !attr.multi {
        return Err(err(
            "invalidPath",
            format!("{} is not multi-valued", attr.name),
        ));
    }
    let sub = match tail {
        None => None,
        Some(t) => match schema::find(attr.sub, &t) {
            Some(s) => Some(s),
            None if attr.kind == Kind::Complex => return Ok(None),
            None => return Err(err("invalidPath", format!("{path} is not a path"))),
        },
    };
    Ok(Some(Target { attr, filter, sub }))
}

/// `externalId`, writable like a declared string.
static EXTERNAL_ID: Attr = Attr {
    name: "externalId",
    kind: Kind::Str,
    multi: false,
    required: false,
    immutable: false,
    case_exact: true,
    unique: false,
    sub: &[],
    reference_types: &[],
    canonical: &[],
    description: "",
};

fn coerce(a: &Attr, v: &Value) -> Result<Value, PatchError> {
    schema::coerce(a, v).map_err(|e| err("invalidValue", e.0))
}

/// Applies `ops` to `doc` (the resource's kept attributes) in order.
pub fn apply(
    attrs: &[Attr],
    doc: &mut Map<String, Value>,
    ops: &[Operation],
) -> Result<(), PatchError> {
    for o in ops {
        match &o.path {
            None => {
                let Some(Value::Object(values)) = &o.value else {
                    return Err(err(
                        "invalidValue",
                        "without a path, the value must be an object of attributes",
                    ));
                };
                for (k, v) in values {
                    // Okta repeats the id and schemas; Entra may name `name.givenName`.
                    if ["id", "schemas", "meta"]
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(k))
                    {
                        continue;
                    }
                    if let Some(t) = target(attrs, k)? {
                        one(doc, o.op, &t, Some(v))?;
                    }
                }
            }
            Some(p) => {
                if let Some(t) = target(attrs, p)? {
                    one(doc, o.op, &t, o.value.as_ref())?;
                } else if o.op != OpKind::Remove
                    && [schema::USER_SCHEMA, schema::GROUP_SCHEMA]
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(p))
                {
                    // A bare core URN names the resource itself.
                    let op = Operation {
                        path: None,
                        ..o.clone()
                    };
                    apply(attrs, doc, std::slice::from_ref(&op))?;
                }
            }
        }
    }
    // An emptied attribute is an absent one.
    doc.retain(|_, v| match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
        _ => true,
    });
    Ok(())
}

fn one(
    doc: &mut Map<String, Value>,
    op: OpKind,
    t: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let name = t.attr.name.to_string();
    match (&t.filter, t.sub) {
        (None, None) => {
            if op == OpKind::Remove {
                match (t.attr.multi, value, doc.get_mut(&name)) {
                    // Entra's older shape removes members with a value instead of a filter:
                    // only those go (RFC 7644 names no value on remove; ignoring it would
                    // empty the attribute).
                    (true, Some(v), Some(Value::Array(items))) if !v.is_null() => {
                        let gone = coerce(t.attr, v)?;
                        let gone = gone.as_array().cloned().unwrap_or_default();
                        items.retain(|i| !gone.iter().any(|g| same_item(g, i)));
                    }
                    _ => {
                        doc.remove(&name);
                    }
                }
                return Ok(());
            }
            let v = coerce(t.attr, value.unwrap_or(&Value::Null))?;
            if v.is_null() {
                doc.remove(&name);
                return Ok(());
            }
            match (t.attr.multi, t.attr.kind, doc.get_mut(&name)) {
                (true, _, Some(Value::Array(existing))) if op == OpKind::Add => {
                    let new = v.as_array().cloned().unwrap_or_default();
                    if new.iter().any(is_primary) {
                        existing.iter_mut().for_each(clear_primary);
                    }
                    for item in new {
                        if !existing.contains(&item) {
                            existing.push(item);
                        }
                    }
                }
                (false, Kind::Complex, Some(Value::Object(existing))) => {
                    // Sub-attributes not given are left as they are (RFC 7644 §3.5.2.3).
                    if let Value::Object(new) = v {
                        existing.extend(new);
                    }
                }
                _ => {
                    doc.insert(name, v);
                }
            }
        }
        (None, Some(sub)) => {
            let v = match op {
                OpKind::Remove => Value::Null,
                _ => coerce(sub, value.unwrap_or(&Value::Null))?,
            };
            match doc.get_mut(&name) {
                Some(Value::Array(items)) => {
                    for i in items.iter_mut() {
                        set_sub(i, sub.name, &v);
                    }
                }
                Some(existing @ Value::Object(_)) => set_sub(existing, sub.name, &v),
                _ if !v.is_null() => {
                    let mut o = Map::new();
                    o.insert(sub.name.to_string(), v);
                    let item = Value::Object(o);
                    doc.insert(
                        name,
                        if t.attr.multi {
                            Value::Array(vec![item])
                        } else {
                            item
                        },
                    );
                }
                _ => {}
            }
        }
        (Some(f), sub) => {
            let items = match doc.get_mut(&name) {
                Some(Value::Array(items)) => items,
                _ => {
                    doc.insert(name.clone(), Value::Array(Vec::new()));
                    doc.get_mut(&name)
                        .and_then(Value::as_array_mut)
                        .expect("just put")
                }
            };
            let hits: Vec<usize> = (0..items.len())
                .filter(|i| filter::matches(f, &items[*i]))
                .collect();
            match (op, sub) {
                (OpKind::Remove, None) => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                }
                (OpKind::Remove, Some(sub)) => {
                    for i in hits {
                        set_sub(&mut items[i], sub.name, &Value::Null);
                    }
                }
                (_, None) => {
                    let single = Attr {
                        multi: false,
                        ..*t.attr
                    };
                    let v = coerce(&single, value.unwrap_or(&Value::Null))?;
                    let Value::Object(new) = v else {
                        return Err(err(
                            "invalidValue",
                            format!("{name}: an object is expected"),
                        ));
                    };
                    if hits.is_empty() {
                        items.push(Value::Object(new));
                    } else {
                        for i in hits {
                            if let Value::Object(o) = &mut items[i] {
                                o.extend(new.clone());
                            }
                        }
                    }
                }
                (_, Some(sub)) => {
                    let v = coerce(sub, value.unwrap_or(&Value::Null))?;
                    if hits.is_empty() {
                        // Entra adds `emails[type eq "work"].value` to a user without one: the
                        // element the filter describes, with the value.
                        let mut o = Map::new();
                        for (k, lit) in equalities(f) {
                            if let Some(a) = schema::find(t.attr.sub, &k) {
                                o.insert(a.name.to_string(), lit);
                            }
                        }
                        o.insert(sub.name.to_string(), v);
                        items.push(Value::Object(o));
                    } else {
                        for i in hits {
                            set_sub(&mut items[i], sub.name, &v);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `given` names `item`: by `value` when it has one, else equal.
fn same_item(given: &Value, item: &Value) -> bool {
    match given.get("value") {
        Some(v) => item.get("value") == Some(v),
        None => given == item,
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary").and_then(Value::as_bool) == Some(true)
}

fn clear_primary(v: &mut Value) {
    if let Some(o) = v.as_object_mut()
        && o.contains_key("primary")
    {
        o.insert("primary".into(), Value::Bool(false));
    }
}

fn set_sub(item: &mut Value, sub: &str, v: &Value) {
    if let Value::Object(o) = item {
        if v.is_null() {
            o.remove(sub);
        } else {
            o.insert(sub.to_string(), v.clone());
        }
    }
}

/// The `attr eq value` terms of a filter made of `and`s.
fn equalities(f: &Filter) -> Vec<(String, Value)> {
    match f {
        Filter::And(a, b) => {
            let mut v = equalities(a);
            v.extend(equalities(b));
            v
        }
        Filter::Compare(p, Op::Eq, lit) => {
            let v = match lit {
                Literal::Str(s) => Value::String(s.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Num(n) => {
                    serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
                }
                Literal::Null => Value::Null,
            };
            vec![(p.clone(), v)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::USER_ATTRS;

    fn run(doc: Value, ops: Value) -> Value {
        let mut d = doc.as_object().cloned().unwrap();
        let body = json!({"schemas": [schema::PATCH_SCHEMA], "Operations": ops});
        apply(USER_ATTRS, &mut d, &operations(&body).unwrap()).unwrap();
        Value::Object(d)
    }

    #[test]
    fn entra_shapes() {
        let d = json!({"userName": "a", "active": true});
        // Capitalised op, a boolean as a string.
        let d = run(
            d,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        );
        assert_eq!(d["active"], json!(false));
        // An address added through a value filter on a user without one.
        let d = run(
            d,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@x.org"}]),
        );
        assert_eq!(d["emails"], json!([{"type": "work", "value": "a@x.org"}]));
        // And replaced through the same filter.
        let d = run(
            d,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.org"}]),
        );
        assert_eq!(d["emails"], json!([{"type": "work", "value": "b@x.org"}]));
        let d = run(
            d,
            json!([{"op": "replace", "path": "name.givenName", "value": "Ada"}]),
        );
        assert_eq!(d["name"], json!({"givenName": "Ada"}));
    }

    #[test]
    fn okta_shapes() {
        let d =
            json!({"userName": "a", "active": true, "name": {"givenName": "A", "familyName": "B"}});
        let d = run(
            d,
            json!([{"op": "replace", "value": {"id": "123", "active": false}}]),
        );
        assert_eq!(d["active"], json!(false));
        assert!(d.get("id").is_none());
        // Without a path, a complex value merges.
        let d = run(
            d,
            json!([{"op": "replace", "value": {"name": {"givenName": "C"}}}]),
        );
        assert_eq!(d["name"], json!({"givenName": "C", "familyName": "B"}));
    }

    #[test]
    fn remove_by_filter_and_absent() {
        let d = json!({"userName": "a", "emails": [{"value": "a@x.org", "type": "work"}, {"value": "b@x.org"}]});
        let d = run(
            d,
            json!([{"op": "remove", "path": "emails[value eq \"A@X.ORG\"]"}]),
        );
        assert_eq!(d["emails"], json!([{"value": "b@x.org"}]));
        // Removing what is not there succeeds.
        let d = run(d, json!([{"op": "remove", "path": "displayName"}]));
        let d = run(d, json!([{"op": "remove", "path": "emails"}]));
        assert!(d.get("emails").is_none());
    }

    #[test]
    fn entras_older_remove_with_a_value_removes_only_those_members() {
        let mut d = json!({"displayName": "g", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]})
            .as_object()
            .cloned()
            .unwrap();
        let body = json!({"schemas": [schema::PATCH_SCHEMA], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": "b"}]}
        ]});
        apply(
            crate::scim::schema::GROUP_ATTRS,
            &mut d,
            &operations(&body).unwrap(),
        )
        .unwrap();
        assert_eq!(d["members"], json!([{"value": "a"}, {"value": "c"}]));
    }

    #[test]
    fn refused() {
        let body =
            json!({"schemas": [schema::PATCH_SCHEMA], "Operations": [{"op": "move", "path": "a"}]});
        assert_eq!(operations(&body).unwrap_err().scim_type, "invalidSyntax");
        let body = json!({"schemas": [schema::PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]});
        let mut d = Map::new();
        let e = apply(USER_ATTRS, &mut d, &operations(&body).unwrap()).unwrap_err();
        assert_eq!(e.scim_type, "invalidValue");
        let body = json!({"schemas": [schema::PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "emails[value eq]"}]});
        let e = apply(USER_ATTRS, &mut d, &operations(&body).unwrap()).unwrap_err();
        assert_eq!(e.scim_type, "invalidFilter");
    }
}
