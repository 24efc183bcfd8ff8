//! SCIM 2.0 provisioning (issue 27): a customer's directory creates, updates and deprovisions
//! a tenant's users and groups through `/t/{tenant}/scim/v2/`.
//!
//! - Tokens: `service.rs` (made, listed, revoked; authenticating a request), `store.rs`, their
//!   GraphQL in `graphql.rs`.
//! - Resources: `users.rs` (Users as accounts), `groups.rs` (Groups as organizations), what
//!   they share in `resource.rs`, kept in `resource_store.rs`; what they are made of in `schema.rs`; PATCH in `patch.rs`; filters
//!   in `filter.rs`; listing in `listing.rs`.
//! - The HTTP edge: `routes.rs`, with the error type of this layer in `error.rs`.

pub mod error;
pub mod filter;
pub mod graphql;
pub mod groups;
pub mod listing;
pub mod patch;
pub mod resource;
pub mod resource_store;
pub mod routes;
pub mod schema;
pub mod service;
pub mod store;
pub mod users;

pub use service::ScimService;
