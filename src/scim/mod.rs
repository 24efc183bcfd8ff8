//! SCIM 2.0 provisioning (issue 27): a customer's directory creates, updates and deprovisions
//! a tenant's users through `/t/{tenant}/scim/v2/`. Tokens (`service.rs`, `store.rs`, their
//! GraphQL in `graphql.rs`) and the HTTP endpoints (`routes.rs`). Built so far: tokens and the
//! service provider's configuration.

pub mod filter;
pub mod graphql;
pub mod routes;
pub mod service;
pub mod store;

pub use service::ScimService;
