//! latchkey as an OpenID Connect provider, per tenant under `/t/{tenant}/`: clients managed by
//! tenant admins (`clients`, `graphql`), the authorization code flow with PKCE and its hosted
//! pages (`flow`, `pages`, `routes`), the token endpoint (`token`), userinfo, revocation,
//! introspection and logout (`endpoints`), discovery (`discovery`), and their tables
//! (`store`). The GraphQL and REST APIs are unchanged by it.

pub mod clients;
pub mod discovery;
pub mod endpoints;
pub mod flow;
pub mod graphql;
pub mod pages;
pub mod routes;
pub mod store;
pub mod token;
