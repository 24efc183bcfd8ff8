//! Checks every GraphQL document goes through before and after parsing.
//!
//! Before: the text size and the bracket nesting of the raw query. The parser recurses on
//! nested value literals (`[[[...]]]`, `{a:{a:...}}`) without a bound, so ~2,000 levels in a
//! 4 KB request would overflow the stack and abort the process; the scan is iterative.
//! After: with introspection disabled, `__schema`/`__type` are refused with an error instead
//! of answering `null`.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Longest query text accepted (OWASP GraphQL: bound the document size).
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Deepest `[`/`{`/`(` nesting accepted in a query text.
pub const MAX_NESTING: usize = 64;

/// The guard extension.
pub struct Guard {
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExt {
            introspection: self.introspection,
        })
    }
}

struct GuardExt {
    introspection: bool,
}

#[async_trait::async_trait]
impl Extension for GuardExt {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
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
