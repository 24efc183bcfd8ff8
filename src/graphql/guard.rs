//! Checks every GraphQL document goes through before and after parsing.
//!
//! Before: the text size and the bracket nesting of the raw query. The parser recurses on
//! nested value literals (`[[[...]]]`, `{a:{a:...}}`) without a bound, so ~2,000 levels in a
//! 4 KB request would overflow the stack and abort the process; the scan is iterative.
//! After: with introspection disabled, `__schema`/`__type` are refused with an error instead
//! of answering `null`; and aliases are bounded (OWASP GraphQL cheat sheet: alias-based
//! batching turns one request into hundreds of password guesses or expensive resolver runs).
//! Depth and complexity are bounded by the schema's own limits (see `tenant_schema`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult, Variables};

/// Longest query text accepted (OWASP GraphQL: bound the document size).
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Deepest `[`/`{`/`(` nesting accepted in a query text.
pub const MAX_NESTING: usize = 64;

/// Most times one field may be selected in one selection set (through aliases, inline
/// fragments or fragment spreads). Ten `login`s in one request are already ten guesses.
pub const MAX_SAME_FIELD: usize = 10;
/// `__schema` selections allowed per selection set. async-graphql leaves introspection out
/// of its complexity count, so ten aliased full-schema dumps would pass every other limit;
/// GraphiQL and code generators ask once.
pub const MAX_SCHEMA_INTROSPECTIONS: usize = 1;
/// Most aliases in one document.
pub const MAX_ALIASES: usize = 30;
/// Deepest nesting of fields, as the schema's own depth limit counts it (`MAX_DEPTH`): only
/// fields add a level; fragment spreads and inline fragments are expanded in place. The
/// introspection query every tool sends (graphql-js `getIntrospectionQuery`, 9 levels of
/// `ofType` through the `TypeRef` fragment) is 14 deep.
const MAX_FIELD_DEPTH: usize = super::MAX_DEPTH;
/// Longest chain of fragment spreads followed (a fragment spreading one that spreads
/// another ...). Real documents chain a few; a cycle (which validation refuses later, but
/// this walk runs before validation) ends here.
const MAX_SPREAD_CHAIN: usize = 32;
/// Selections visited when counting, fragments expanded. Spreads can multiply a small text
/// exponentially (each fragment spreading the next one ten times), so the walk itself is
/// bounded; real documents visit a few hundred at most.
const MAX_VISITS: usize = 20_000;

/// Distinct query texts whose parsed documents are kept.
const MAX_CACHED_DOCUMENTS: usize = 256;
/// Longer query texts are parsed every time (clients send the same few short ones).
const MAX_CACHED_QUERY_BYTES: usize = 4 * 1024;

/// The guard extension.
pub struct Guard {
    introspection: bool,
    documents: Arc<Documents>,
}

impl Guard {
    /// A guard; `introspection` says whether `__schema` and `__type` may be queried.
    pub fn new(introspection: bool) -> Self {
        Guard {
            introspection,
            documents: Arc::new(Documents::default()),
        }
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExt {
            introspection: self.introspection,
            documents: self.documents.clone(),
        })
    }
}

struct GuardExt {
    introspection: bool,
    documents: Arc<Documents>,
}

/// Parsed documents that passed the alias checks, by query text. A frontend sends the same
/// handful of documents over and over, and parsing is the largest part of answering a small
/// query such as `me`. Bounded: when full it starts over, so unique texts cost a parse each
/// (as without the cache) and never memory.
#[derive(Default)]
struct Documents(RwLock<HashMap<String, ExecutableDocument>>);

impl Documents {
    fn get(&self, query: &str) -> Option<ExecutableDocument> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(query)
            .cloned()
    }

    fn put(&self, query: &str, doc: &ExecutableDocument) {
        if query.len() > MAX_CACHED_QUERY_BYTES {
            return;
        }
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED_DOCUMENTS {
            map.clear();
        }
        map.insert(query.to_string(), doc.clone());
    }
}

#[async_trait::async_trait]
impl Extension for GuardExt {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let query = request.query.as_str();
        if query.len() > MAX_QUERY_BYTES {
            return Err(ServerError::new(
                format!("query is larger than {MAX_QUERY_BYTES} bytes"),
                None,
            ));
        }
        if nesting_depth(query) > MAX_NESTING {
            return Err(ServerError::new(
                format!("query nests deeper than {MAX_NESTING} levels"),
                None,
            ));
        }
        // Aliases and fragment expansion are checked here, on a document parsed before the
        // engine's checks: async-graphql's recursive-depth check (in the parse step) expands
        // fragment spreads without memoization, so F0 spreading F1 ten times, F1 spreading
        // F2 ten times, ... pins a core for hours with a 2 KB document. The parsed document
        // stays in the request, so the engine does not parse it again; a document that does
        // not parse is left to the engine, which reports the syntax error.
        let known = self.documents.get(query);
        let doc = match known {
            Some(doc) => Some(doc),
            None => match async_graphql::parser::parse_query(query) {
                Ok(doc) => {
                    check_aliases(&doc).map_err(|m| ServerError::new(m, None))?;
                    self.documents.put(query, &doc);
                    Some(doc)
                }
                Err(_) => None,
            },
        };
        if let Some(doc) = doc {
            request.set_parsed_query(doc);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if !self.introspection && uses_introspection(&doc) {
            return Err(ServerError::new("introspection is disabled", None));
        }
        Ok(doc)
    }
}

/// Maximum nesting of brackets outside strings and comments.
pub fn nesting_depth(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

fn uses_introspection(doc: &ExecutableDocument) -> bool {
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|s| match &s.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                name == "__schema" || name == "__type" || walk(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| walk(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| walk(&f.node.selection_set.node))
}

/// Refuses documents with more than [`MAX_ALIASES`] aliases, or with one field selected more
/// than [`MAX_SAME_FIELD`] times in a selection set (fragments expanded in place).
pub fn check_aliases(doc: &ExecutableDocument) -> Result<(), String> {
    let aliases = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .chain(
            doc.fragments
                .values()
                .map(|f| count_aliases(&f.node.selection_set.node)),
        )
        .sum::<usize>();
    if aliases > MAX_ALIASES {
        return Err(format!(
            "the document uses {aliases} aliases; at most {MAX_ALIASES} are allowed"
        ));
    }
    let mut budget = MAX_VISITS;
    for (_, op) in doc.operations.iter() {
        check_set(doc, &op.node.selection_set.node, 1, &mut budget)?;
    }
    Ok(())
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Checks one selection set (and, recursively, those below it) at field depth `depth`.
fn check_set(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    depth: usize,
    budget: &mut usize,
) -> Result<(), String> {
    if depth > MAX_FIELD_DEPTH {
        return Err(format!(
            "query nests fields deeper than {MAX_FIELD_DEPTH} levels"
        ));
    }
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let mut fields = Vec::new();
    flatten(doc, set, 0, &mut counts, &mut fields, budget)?;
    if counts
        .get("__schema")
        .is_some_and(|n| *n > MAX_SCHEMA_INTROSPECTIONS)
    {
        return Err(format!(
            "`__schema` may be selected at most {MAX_SCHEMA_INTROSPECTIONS} time per request"
        ));
    }
    if let Some((name, n)) = counts.into_iter().find(|(_, n)| *n > MAX_SAME_FIELD) {
        return Err(format!(
            "field `{name}` is selected {n} times in one selection; at most {MAX_SAME_FIELD} (use fewer aliases)"
        ));
    }
    for field in fields {
        if !field.selection_set.node.items.is_empty() {
            check_set(doc, &field.selection_set.node, depth + 1, budget)?;
        }
    }
    Ok(())
}

/// The fields selected at this level, fragments expanded in place (`chain` spreads deep),
/// counted by name.
fn flatten<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    chain: usize,
    counts: &mut std::collections::HashMap<&'a str, usize>,
    fields: &mut Vec<&'a Field>,
    budget: &mut usize,
) -> Result<(), String> {
    for item in &set.items {
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| "query is too complex (fragments expand too far)".to_string())?;
        match &item.node {
            Selection::Field(f) => {
                *counts.entry(f.node.name.node.as_str()).or_default() += 1;
                fields.push(&f.node);
            }
            Selection::InlineFragment(f) => flatten(
                doc,
                &f.node.selection_set.node,
                chain,
                counts,
                fields,
                budget,
            )?,
            Selection::FragmentSpread(s) => {
                if chain >= MAX_SPREAD_CHAIN {
                    return Err(format!(
                        "fragments spread each other more than {MAX_SPREAD_CHAIN} deep"
                    ));
                }
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                    flatten(
                        doc,
                        &frag.node.selection_set.node,
                        chain + 1,
                        counts,
                        fields,
                        budget,
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_fragments_stop_quickly() {
        let mut doc = String::from("query { ...F0 }");
        for i in 0..12 {
            doc.push_str(&format!(
                " fragment F{i} on Query {{ {} }}",
                format!("...F{} ", i + 1).repeat(10)
            ));
        }
        doc.push_str(" fragment F12 on Query { __typename }");
        let parsed = async_graphql::parser::parse_query(&doc).unwrap();
        assert!(check_aliases(&parsed).is_err());
    }
}
