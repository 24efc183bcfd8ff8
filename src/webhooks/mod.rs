//! Webhooks (issue 25): a tenant's other systems hear what happened, signed to the Standard
//! Webhooks spec. Endpoints and their secrets (`service.rs`), the tables (`store.rs`), the
//! actor that delivers with retries and claims (`delivery.rs`), the GraphQL operations
//! (`graphql.rs`). Events are written by the store functions of the changes that cause them
//! (`store::events`, `fn::emit`), in the same transaction; the catalogue is
//! `domain::events` with a JSON schema per type in `schema/events/`.

pub mod delivery;
pub mod graphql;
pub mod service;
pub mod store;

pub use service::WebhookService;
