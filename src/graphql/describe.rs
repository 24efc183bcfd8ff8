//! The schemas' own descriptions. async-graphql answers `__schema { description }` with the
//! doc text of its built-in `__Schema` type ("A GraphQL Schema defines the capabilities of a
//! GraphQL server..."), which GraphiQL and code generators then show as our API's
//! description; this extension puts ours in its place, and [`sdl`] writes the same text into
//! the exported SDL, so `schema/*.graphql` and introspection agree.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Response, SDLExportOptions, Value};

/// What async-graphql 7 answers for every schema.
const BUILT_IN: &str = "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available types and directives on the server, as well as the entry points for query, mutation, and subscription operations.";

/// Answers `__schema { description }` with `0`.
pub struct Describe(pub &'static str);

impl ExtensionFactory for Describe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DescribeExt(self.0))
    }
}

struct DescribeExt(&'static str);

#[async_trait::async_trait]
impl Extension for DescribeExt {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut resp = next.run(ctx, operation_name).await;
        // `__schema` is a root field; its `description` sits one level down (under any alias).
        if let Value::Object(top) = &mut resp.data {
            for field in top.values_mut() {
                if let Value::Object(inner) = field {
                    for value in inner.values_mut() {
                        if matches!(value, Value::String(s) if s == BUILT_IN) {
                            *value = Value::String(self.0.to_string());
                        }
                    }
                }
            }
        }
        resp
    }
}

/// The options our SDL files are exported with (`@specifiedBy` kept, as introspection has it).
pub fn sdl_options() -> SDLExportOptions {
    SDLExportOptions::new().include_specified_by()
}

/// Puts `description` on the `schema { ... }` definition of an exported SDL.
pub fn sdl(exported: String, description: &str) -> String {
    match exported.rfind("\nschema {") {
        Some(at) => format!(
            "{}\n\"\"\"\n{description}\n\"\"\"{}",
            &exported[..at],
            &exported[at..]
        ),
        None => exported,
    }
}
