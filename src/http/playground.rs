//! The GraphiQL page for `GET /graphql` and `GET /t/{tenant}/graphql` from a browser, loading
//! only the embedded GraphiQL bundle (no CDN). Its starting query walks through
//! register, login and me; `/admin/graphql` gets the same page with a platform query.

use axum::response::Response;

use super::assets::{escape, page};
use super::docs::html_page;

/// The query a first visit opens with. GraphiQL asks which operation to run.
pub const DEFAULT_QUERY: &str = r#"# Welcome to latchkey. Everything on this page is served by latchkey itself.
#
# 1. Press the run button (▶) and choose "Register" (or "Login" if the account exists).
# 2. Copy accessToken from the result into the Headers pane below, like this:
#      {"Authorization": "Bearer eyJ..."}
# 3. Press run again and choose "Me".

mutation Register {
  register(input: {email: "ada@example.com", username: "ada", password: "correct horse battery"}) {
    accessToken
    refreshToken
    expiresIn
    user { id email username }
  }
}

mutation Login {
  login(input: {identifier: "ada", password: "correct horse battery"}) {
    accessToken
    refreshToken
    expiresIn
  }
}

query Me {
  me { id email username emailVerified roles createdAt lastLoginAt }
}
"#;

/// The starting query of the platform API's page (`/admin/graphql`).
pub const PLATFORM_QUERY: &str = r#"# latchkey's platform API. Every request needs the admin key, the schema too
# (until then Docs and autocomplete show "Error fetching schema").
#
# 1. Put the admin key into the Headers pane below, like this:
#      {"Authorization": "Bearer <ADMIN_API_KEY>"}
# 2. Press "Re-fetch GraphQL schema" (the circling arrows, bottom left) to load the
#    schema with the key: Docs and autocomplete then work.
# 3. Press the run button (▶) to run the query.

query Tenants {
  tenants(first: 20) {
    totalCount
    edges { node { slug displayName } }
  }
}
"#;

/// The page for the tenant GraphQL endpoint at `endpoint` (a path on this origin).
pub fn page_for(endpoint: &str) -> Response {
    page_with(endpoint, DEFAULT_QUERY)
}

/// The page for `endpoint`, opening with `query`.
pub fn page_with(endpoint: &str, query: &'static str) -> Response {
    // The query goes into a non-executed text block; only `</script` could end it early,
    // and the constants have none.
    debug_assert!(!query.contains("</"));
    page(html_page(
        "latchkey GraphiQL",
        r#"<link rel="stylesheet" href="/assets/graphiql/graphiql.css">
<style>body { margin: 0; } #graphiql { height: 100vh; }</style>"#,
        &format!(
            r#"<div id="graphiql" data-endpoint="{endpoint}">Loading GraphiQL…</div>
<script type="text/plain" id="graphiql-default-query">{query}</script>
<script src="/assets/graphiql/graphiql.js"></script>"#,
            endpoint = escape(endpoint),
            query = query,
        ),
    ))
}
