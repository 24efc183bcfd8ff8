//! What latchkey's SCIM resources are made of (RFC 7643): the attributes it declares for
//! Users and Groups, the discovery documents built from them (`/Schemas`, `/ResourceTypes`),
//! and the two things every request needs from the declaration: an incoming resource reduced
//! to the declared attributes under their canonical names, and an answer trimmed by
//! `attributes` / `excludedAttributes`.
//!
//! Why so few attributes: a directory writes what the server declares and reads back what it
//! wrote, so every declared attribute is one latchkey keeps. These are the ones Entra ID's and
//! Okta's default mappings send and that latchkey has a use for (the address signs in and
//! receives mail; the names are shown; `active` disables). Undeclared attributes are ignored,
//! as RFC 7644 §3.3 allows.

use serde_json::{Map, Value, json};

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// A list answer.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A `/.search` request.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// An attribute's type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A string.
    Str,
    /// A boolean.
    Bool,
    /// A reference (a URI).
    Reference,
    /// An object of sub-attributes.
    Complex,
}

/// A declared attribute.
#[derive(Debug)]
pub struct Attr {
    /// Canonical name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Multi-valued.
    pub multi: bool,
    /// Required on create and replace.
    pub required: bool,
    /// `readWrite` or `immutable`.
    pub immutable: bool,
    /// Compared with case.
    pub case_exact: bool,
    /// `uniqueness: server`.
    pub unique: bool,
    /// Sub-attributes of a complex attribute.
    pub sub: &'static [Attr],
    /// What a reference may point at.
    pub reference_types: &'static [&'static str],
    /// Canonical values, when the RFC names them.
    pub canonical: &'static [&'static str],
    /// What it is.
    pub description: &'static str,
}

const fn attr(name: &'static str, kind: Kind, description: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        immutable: false,
        case_exact: false,
        unique: false,
        sub: &[],
        reference_types: &[],
        canonical: &[],
        description,
    }
}

const NAME_SUB: &[Attr] = &[
    attr(
        "formatted",
        Kind::Str,
        "The full name, formatted for display.",
    ),
    attr("familyName", Kind::Str, "The family name."),
    attr("givenName", Kind::Str, "The given name."),
];

const EMAIL_SUB: &[Attr] = &[
    Attr {
        required: true,
        ..attr(
            "value",
            Kind::Str,
            "The address. The primary one (or the first) is the account's.",
        )
    },
    Attr {
        canonical: &["work", "home", "other"],
        ..attr("type", Kind::Str, "A label: work, home or other.")
    },
    attr("primary", Kind::Bool, "The address the account uses."),
];

/// The User attributes latchkey keeps.
pub const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..attr(
            "userName",
            Kind::Str,
            "Unique in the tenant; the directory's identifier for the person (often the address).",
        )
    },
    Attr {
        sub: NAME_SUB,
        ..attr("name", Kind::Complex, "The person's name.")
    },
    attr("displayName", Kind::Str, "The name shown."),
    attr(
        "active",
        Kind::Bool,
        "false disables the account and ends every session at once.",
    ),
    // Required: every latchkey account has an address (sign-in, reset mail).
    Attr {
        multi: true,
        required: true,
        sub: EMAIL_SUB,
        ..attr("emails", Kind::Complex, "Mail addresses; at least one.")
    },
];

const MEMBER_SUB: &[Attr] = &[
    Attr {
        immutable: true,
        case_exact: true,
        ..attr("value", Kind::Str, "The member's id (a User).")
    },
    Attr {
        immutable: true,
        reference_types: &["User"],
        ..attr("$ref", Kind::Reference, "The member's URI.")
    },
    Attr {
        immutable: true,
        canonical: &["User"],
        ..attr("type", Kind::Str, "The member's resource type: User.")
    },
];

/// The Group attributes latchkey keeps (a Group is an organization).
pub const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..attr(
            "displayName",
            Kind::Str,
            "The organization's name; unique among provisioned groups.",
        )
    },
    Attr {
        multi: true,
        sub: MEMBER_SUB,
        ..attr(
            "members",
            Kind::Complex,
            "The organization's members (Users).",
        )
    },
];

fn attr_json(a: &Attr) -> Value {
    let mut o = json!({
        "name": a.name,
        "type": match a.kind {
            Kind::Str => "string",
            Kind::Bool => "boolean",
            Kind::Reference => "reference",
            Kind::Complex => "complex",
        },
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": if a.immutable { "immutable" } else { "readWrite" },
        "returned": "default",
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if !a.sub.is_empty() {
        o["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    if !a.reference_types.is_empty() {
        o["referenceTypes"] = json!(a.reference_types);
    }
    if !a.canonical.is_empty() {
        o["canonicalValues"] = json!(a.canonical);
    }
    o
}

/// The `/Schemas` entries (RFC 7643 §7), located under `base`.
pub fn schemas(base: &str) -> Vec<Value> {
    [
        (USER_SCHEMA, "User", "A person's account.", USER_ATTRS),
        (
            GROUP_SCHEMA,
            "Group",
            "An organization and its members.",
            GROUP_ATTRS,
        ),
    ]
    .into_iter()
    .map(|(id, name, description, attrs)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attrs.iter().map(attr_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
        })
    })
    .collect()
}

/// The `/ResourceTypes` entries (RFC 7643 §6).
pub fn resource_types(base: &str) -> Vec<Value> {
    [
        ("User", "/Users", USER_SCHEMA, "A person's account."),
        ("Group", "/Groups", GROUP_SCHEMA, "An organization."),
    ]
    .into_iter()
    .map(|(id, endpoint, schema, description)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "description": description,
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
        })
    })
    .collect()
}

/// The declared attribute named `name` (any case).
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Most values a multi-valued attribute holds (a group's members).
pub const MAX_VALUES: usize = 1000;

/// Why a value was refused (`invalidValue`).
#[derive(Debug)]
pub struct InvalidValue(pub String);

/// `v` as attribute `a`'s type. Booleans also come as the strings "True"/"False" (Entra ID).
pub fn coerce(a: &Attr, v: &Value) -> Result<Value, InvalidValue> {
    if a.multi {
        let items = match v {
            Value::Array(items) => items.clone(),
            Value::Null => return Ok(Value::Null),
            one => vec![one.clone()],
        };
        // Bounded, so a PATCH's merge (quadratic in the items) stays small.
        if items.len() > MAX_VALUES {
            return Err(InvalidValue(format!(
                "{} holds at most {MAX_VALUES} values",
                a.name
            )));
        }
        let single = Attr { multi: false, ..*a };
        return items
            .iter()
            .map(|i| coerce(&single, i))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    let bad = || InvalidValue(format!("{} must be a {:?} value", a.name, a.kind).to_lowercase());
    match (a.kind, v) {
        (_, Value::Null) => Ok(Value::Null),
        (Kind::Str | Kind::Reference, Value::String(s)) => Ok(Value::String(s.clone())),
        (Kind::Bool, Value::Bool(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        (Kind::Complex, Value::Object(o)) => Ok(Value::Object(keep_declared(a.sub, o)?)),
        _ => Err(bad()),
    }
}

/// The declared sub-attributes of `o` under their canonical names, coerced; the rest dropped.
fn keep_declared(
    attrs: &[Attr],
    o: &Map<String, Value>,
) -> Result<Map<String, Value>, InvalidValue> {
    let mut out = Map::new();
    for (k, v) in o {
        if let Some(a) = find(attrs, k) {
            let v = coerce(a, v)?;
            if !v.is_null() {
                out.insert(a.name.to_string(), v);
            }
        }
    }
    Ok(out)
}

/// A written resource reduced to what latchkey keeps: its declared attributes under their
/// canonical names, coerced, and `externalId`; `id`, `meta`, `schemas`, a `password` and
/// anything undeclared dropped.
pub fn resource_attrs(
    attrs: &[Attr],
    o: &Map<String, Value>,
) -> Result<Map<String, Value>, InvalidValue> {
    let mut out = keep_declared(attrs, o)?;
    if let Some((_, v)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case("externalId")) {
        match v {
            Value::String(s) => {
                out.insert("externalId".into(), Value::String(s.clone()));
            }
            Value::Null => {}
            _ => return Err(InvalidValue("externalId must be a string".into())),
        }
    }
    Ok(out)
}

/// `attributes=` / `excludedAttributes=` of a request (comma-separated, any case).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    /// Only these (and `schemas`, `id`).
    pub only: Vec<String>,
    /// All but these.
    pub except: Vec<String>,
}

impl Projection {
    /// From the two query parameters.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| -> Vec<String> {
            s.unwrap_or("")
                .split(',')
                .map(|p| {
                    let p = p.trim().to_ascii_lowercase();
                    for urn in [USER_SCHEMA, GROUP_SCHEMA] {
                        if let Some(rest) =
                            p.strip_prefix(&format!("{}:", urn.to_ascii_lowercase()))
                        {
                            return rest.to_string();
                        }
                    }
                    p
                })
                .filter(|p| !p.is_empty())
                .collect()
        };
        Self {
            only: split(attributes),
            except: split(excluded),
        }
    }

    /// `doc` trimmed. `schemas` and `id` are always returned (RFC 7643 §7 `returned: always`).
    pub fn apply(&self, doc: Value) -> Value {
        let Value::Object(o) = doc else { return doc };
        let always = |k: &str| k == "schemas" || k == "id";
        let named = |list: &[String], k: &str| {
            list.iter().any(|p| {
                p.split('.')
                    .next()
                    .is_some_and(|top| top.eq_ignore_ascii_case(k))
            })
        };
        let sub_named = |list: &[String], k: &str| -> Vec<String> {
            list.iter()
                .filter_map(|p| {
                    let (top, sub) = p.split_once('.')?;
                    top.eq_ignore_ascii_case(k).then(|| sub.to_string())
                })
                .collect()
        };
        let mut out = Map::new();
        for (k, v) in o {
            if always(&k) {
                out.insert(k, v);
                continue;
            }
            if !self.only.is_empty() {
                if !named(&self.only, &k) {
                    continue;
                }
                let subs = sub_named(&self.only, &k);
                let whole = self.only.iter().any(|p| p.eq_ignore_ascii_case(&k));
                out.insert(
                    k,
                    if whole || subs.is_empty() {
                        v
                    } else {
                        keep_subs(v, &subs)
                    },
                );
                continue;
            }
            if self.except.iter().any(|p| p.eq_ignore_ascii_case(&k)) {
                continue;
            }
            let subs = sub_named(&self.except, &k);
            out.insert(
                k,
                if subs.is_empty() {
                    v
                } else {
                    drop_subs(v, &subs)
                },
            );
        }
        Value::Object(out)
    }
}

fn map_objects(v: Value, f: &dyn Fn(Map<String, Value>) -> Map<String, Value>) -> Value {
    match v {
        Value::Object(o) => Value::Object(f(o)),
        Value::Array(a) => Value::Array(a.into_iter().map(|i| map_objects(i, f)).collect()),
        other => other,
    }
}

fn keep_subs(v: Value, subs: &[String]) -> Value {
    map_objects(v, &|o| {
        o.into_iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .collect()
    })
}

fn drop_subs(v: Value, subs: &[String]) -> Value {
    map_objects(v, &|o| {
        o.into_iter()
            .filter(|(k, _)| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .collect()
    })
}
