//! The edge kernel: what the capabilities' GraphQL resolvers and HTTP handlers share, below
//! them all: request context and error mapping for resolvers ([`gql`]), GraphQL scalars and the
//! shared object types ([`scalars`], [`types`]), Relay connections ([`connection`]), the hosted
//! pages' assets ([`assets`]) and the caller's address ([`client`]).
//!
//! Capabilities import from here; `graphql/` and `http/` at the top compose them. Nothing here
//! imports a capability.

pub mod assets;
pub mod client;
pub mod connection;
pub mod gql;
pub mod scalars;
pub mod types;
