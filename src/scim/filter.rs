//! SCIM filters (RFC 7644 §3.4.2.2), parsed into a tree, never pasted into a query: the
//! store turns each comparison into SurrealQL with the value as a bound parameter, so a
//! filter cannot inject anything. Bounded in length and depth; anything else is
//! `invalidFilter`.
//!
//! Grammar (precedence: `not` over `and` over `or`; parentheses group):
//! `attrPath pr`, `attrPath op value` with op one of eq ne co sw ew gt ge lt le, and
//! `attrPath[filter]` (a value path such as `emails[type eq "work"]`, read here as a filter on
//! the sub-attributes of the multi-valued attribute).

use std::fmt;

/// Longest filter accepted.
pub const MAX_FILTER_LEN: usize = 1024;
/// Deepest nesting accepted (parentheses, `not`, value paths).
const MAX_DEPTH: usize = 16;
/// Most comparisons in one filter.
const MAX_TERMS: usize = 32;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less or equal.
    Le,
}

/// A literal compared against.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A JSON string.
    Str(String),
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed filter. Attribute paths are lower-cased (SCIM attribute names are
/// case-insensitive) and stripped of the core schema URN.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `attr pr`.
    Present(String),
    /// `attr op value`.
    Compare(String, Op, Literal),
}

/// Why a filter was refused (`scimType: invalidFilter`).
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidFilter(pub String);

impl fmt::Display for InvalidFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(why: impl Into<String>) -> InvalidFilter {
    InvalidFilter(why.into())
}

/// The core schemas' URN prefixes, which attribute paths may carry.
const CORE_URNS: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn lex(s: &str) -> Result<Vec<Tok>, InvalidFilter> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '[' => {
                chars.next();
                out.push(Tok::OpenBracket);
            }
            ']' => {
                chars.next();
                out.push(Tok::CloseBracket);
            }
            '"' => {
                // A JSON string, escapes and all.
                let mut raw = String::from('"');
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    raw.push(c);
                    if c == '\\' {
                        match chars.next() {
                            Some(n) => raw.push(n),
                            None => break,
                        }
                    } else if c == '"' {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(bad("a string is not closed"));
                }
                let v: String =
                    serde_json::from_str(&raw).map_err(|_| bad("a string is malformed"))?;
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn or(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        let mut left = self.and(depth)?;
        while self.keyword("or") {
            self.next();
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            self.next();
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        if depth > MAX_DEPTH {
            return Err(bad("the filter is nested too deeply"));
        }
        if self.keyword("not") {
            self.next();
            if self.next() != Some(Tok::Open) {
                return Err(bad("`not` must be followed by a parenthesised filter"));
            }
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::Close) {
                return Err(bad("a parenthesis is not closed"));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.next();
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::Close) {
                return Err(bad("a parenthesis is not closed"));
            }
            return Ok(inner);
        }
        let Some(Tok::Word(attr)) = self.next() else {
            return Err(bad("an attribute name is expected"));
        };
        let attr = attr_path(&attr)?;
        if self.peek() == Some(&Tok::OpenBracket) {
            // attr[sub-filter]: a filter on attr's sub-attributes.
            self.next();
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::CloseBracket) {
                return Err(bad("a bracket is not closed"));
            }
            return Ok(prefix(&attr, inner));
        }
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(bad(format!("at most {MAX_TERMS} comparisons")));
        }
        let Some(Tok::Word(op)) = self.next() else {
            return Err(bad(format!("an operator is expected after {attr}")));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(attr)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(bad(format!("unknown operator {other}"))),
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => Literal::Str(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => Literal::Num(
                    w.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| bad(format!("{w} is not a value")))?,
                ),
            },
            _ => return Err(bad(format!("a value is expected after {attr}"))),
        };
        Ok(Filter::Compare(attr, op, value))
    }
}

/// `attr` lower-cased, without a core schema's URN; letters, digits, `_`, `-`, `$` and
/// one `.` for a sub-attribute.
fn attr_path(raw: &str) -> Result<String, InvalidFilter> {
    let lower = raw.to_ascii_lowercase();
    let path = CORE_URNS
        .iter()
        .find_map(|u| lower.strip_prefix(u))
        .unwrap_or(&lower);
    let ok = !path.is_empty()
        && path.len() <= 100
        && path.split('.').count() <= 2
        && path.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$'))
        });
    if ok {
        Ok(path.to_string())
    } else {
        Err(bad(format!("{raw} is not an attribute path")))
    }
}

/// The filter inside `attr[...]`, its attribute names read as sub-attributes of `attr`.
fn prefix(attr: &str, f: Filter) -> Filter {
    match f {
        Filter::And(a, b) => Filter::And(Box::new(prefix(attr, *a)), Box::new(prefix(attr, *b))),
        Filter::Or(a, b) => Filter::Or(Box::new(prefix(attr, *a)), Box::new(prefix(attr, *b))),
        Filter::Not(a) => Filter::Not(Box::new(prefix(attr, *a))),
        Filter::Present(p) => Filter::Present(format!("{attr}.{p}")),
        Filter::Compare(p, op, v) => Filter::Compare(format!("{attr}.{p}"), op, v),
    }
}

/// Parses a filter.
pub fn parse(s: &str) -> Result<Filter, InvalidFilter> {
    if s.len() > MAX_FILTER_LEN {
        return Err(bad(format!("a filter is at most {MAX_FILTER_LEN} bytes")));
    }
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err(bad("the filter is empty"));
    }
    let mut p = Parser {
        toks,
        at: 0,
        terms: 0,
    };
    let f = p.or(0)?;
    if p.at != p.toks.len() {
        return Err(bad("unexpected text after the filter"));
    }
    Ok(f)
}

/// Attributes compared exactly (RFC 7643 `caseExact: true`); every other string is compared
/// without regard to case.
const CASE_EXACT: [&str; 3] = ["id", "externalid", "members.value"];

/// Whether `doc` (a resource as answered) satisfies `f`. A multi-valued attribute matches when
/// any of its values does (RFC 7644 §3.4.2.2).
pub fn matches(f: &Filter, doc: &serde_json::Value) -> bool {
    match f {
        Filter::And(a, b) => matches(a, doc) && matches(b, doc),
        Filter::Or(a, b) => matches(a, doc) || matches(b, doc),
        Filter::Not(a) => !matches(a, doc),
        Filter::Present(p) => values_at(doc, p).iter().any(|v| present(v)),
        Filter::Compare(p, Op::Eq, Literal::Null) => !values_at(doc, p).iter().any(|v| present(v)),
        Filter::Compare(p, Op::Ne, Literal::Null) => values_at(doc, p).iter().any(|v| present(v)),
        Filter::Compare(p, Op::Ne, lit) => {
            !matches(&Filter::Compare(p.clone(), Op::Eq, lit.clone()), doc)
        }
        Filter::Compare(p, op, lit) => {
            let exact = CASE_EXACT.contains(&p.as_str());
            values_at(doc, p)
                .iter()
                .any(|v| compare(v, *op, lit, exact))
        }
    }
}

fn present(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The values at a lower-cased path (`a` or `a.b`), arrays flattened, keys matched without
/// regard to case.
fn values_at<'a>(doc: &'a serde_json::Value, path: &str) -> Vec<&'a serde_json::Value> {
    let mut here = vec![doc];
    for part in path.split('.') {
        let mut next = Vec::new();
        for v in here {
            let items: Vec<&serde_json::Value> = match v {
                serde_json::Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for item in items {
                if let Some(o) = item.as_object()
                    && let Some((_, found)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case(part))
                {
                    next.push(found);
                }
            }
        }
        here = next;
    }
    here.into_iter()
        .flat_map(|v| match v {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        })
        .collect()
}

fn compare(v: &serde_json::Value, op: Op, lit: &Literal, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (serde_json::Value::String(s), Literal::Str(l)) => {
            let (s, l) = if exact {
                (s.clone(), l.clone())
            } else {
                (s.to_lowercase(), l.to_lowercase())
            };
            match op {
                Op::Co => return s.contains(&l),
                Op::Sw => return s.starts_with(&l),
                Op::Ew => return s.ends_with(&l),
                _ => Some(s.cmp(&l)),
            }
        }
        (serde_json::Value::Bool(b), Literal::Bool(l)) => match op {
            Op::Eq => return b == l,
            _ => return false,
        },
        (serde_json::Value::Number(n), Literal::Num(l)) => {
            n.as_f64().and_then(|n| n.partial_cmp(l))
        }
        _ => None,
    };
    let Some(ord) = ord else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, op: Op, v: Literal) -> Filter {
        Filter::Compare(a.into(), op, v)
    }

    #[test]
    fn the_rfcs_examples_and_the_directories_shapes_parse() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#).unwrap(),
            cmp("username", Op::Eq, Literal::Str("bjensen".into()))
        );
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#).unwrap(),
            cmp("username", Op::Sw, Literal::Str("J".into()))
        );
        assert_eq!(parse("title pr").unwrap(), Filter::Present("title".into()));
        assert_eq!(
            parse(r#"userName eq "a" and active eq true or externalId pr"#).unwrap(),
            Filter::Or(
                Box::new(Filter::And(
                    Box::new(cmp("username", Op::Eq, Literal::Str("a".into()))),
                    Box::new(cmp("active", Op::Eq, Literal::Bool(true)))
                )),
                Box::new(Filter::Present("externalid".into()))
            )
        );
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap(),
            Filter::And(
                Box::new(cmp("emails.type", Op::Eq, Literal::Str("work".into()))),
                Box::new(cmp(
                    "emails.value",
                    Op::Co,
                    Literal::Str("@example.com".into())
                ))
            )
        );
        assert_eq!(
            parse(r#"not (userName eq "x\"y")"#).unwrap(),
            Filter::Not(Box::new(cmp(
                "username",
                Op::Eq,
                Literal::Str("x\"y".into())
            )))
        );
        assert_eq!(
            parse("meta.lastModified gt 2011").unwrap(),
            cmp("meta.lastmodified", Op::Gt, Literal::Num(2011.0))
        );
    }

    #[test]
    fn malformed_hostile_and_oversized_filters_are_refused() {
        for f in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "x""#,
            r#"userName eq "x"#,
            r#"(userName eq "x""#,
            r#"userName eq "x") or (1=1"#,
            r#"userName eq "x"; DELETE user"#,
            r#"user$Name eq x"#,
            "a.b.c eq 1",
            r#"emails[type eq "work""#,
            "not userName pr",
        ] {
            assert!(parse(f).is_err(), "{f}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).is_err());
        let long = format!(r#"userName eq "{}""#, "x".repeat(2000));
        assert!(parse(&long).is_err());
        let many = vec![r#"userName eq "x""#; 40].join(" or ");
        assert!(parse(&many).is_err());
    }
}
