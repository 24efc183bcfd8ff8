//! The actors: one per tenant (serializing its state changes) and the registry supervising
//! them. Only this module names ractor types; callers use the typed handles.

pub mod auth_cache;
pub mod change_feed;
pub mod email;
pub mod feed_follower;
pub mod registry;
pub mod tenant;

pub use email::Mailer;
pub use registry::TenantRegistry;
pub use tenant::Tenant;

/// Time a caller waits for an actor's reply before answering 503.
const CALL_TIMEOUT_MS: u64 = 15_000;
