//! SurrealDB access: one module per table family, each a set of plain async functions over a
//! [`Db`] session already bound to the right namespace and database.
//!
//! Who writes where (README "Layout"): through the tenant actor, the tables whose writes must
//! be serialized within a node: `user`, `session`, `refresh_token`, `signing_key`,
//! `login_throttle`, `one_time_token`; straight from the services, as conditional writes or
//! appends that the database alone decides: the MFA and OIDC tables (their capabilities'
//! `store.rs`), `audit_event`, `outbox`, and on the platform database `tenant`. Every module
//! says which it is, and the exceptions (`sessions`).

pub mod audit;
pub mod changes;
pub mod copy;
pub mod db;
pub mod engine;
pub mod events;
pub mod feed;
pub mod keys;
pub mod link;
pub mod login_throttle;
pub mod memberships;
pub mod migrate;
pub mod one_time_tokens;
pub mod org_policy;
pub mod outbox;
pub mod secret_check;
pub mod sessions;
pub mod tenants;
pub mod url;
pub mod users;

pub use db::Db;
pub use engine::Store;
pub use url::StoreUrl;

/// The namespace all of latchkey's databases live in.
pub const NAMESPACE: &str = "latchkey";
/// The database holding the tenant registry.
pub const PLATFORM_DB: &str = "platform";

/// Why a store call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique index rejected the write; carries the index name.
    #[error("unique index `{0}` violated")]
    Conflict(String),
    /// A conditional write found its precondition false (e.g. a token already used).
    #[error("precondition failed: {0}")]
    Precondition(String),
    /// Another transaction changed what this one read: it can be run again. Surfaces only
    /// when repeated retries kept losing.
    #[error("transaction conflict: {0}")]
    Busy(String),
    /// The engine failed to read or write its files (full disk, read-only remount, EIO).
    #[error("store I/O error: {0}")]
    Io(String),
    /// The namespace, database or table is gone or was never made (a tenant deleted while a
    /// request used it, or never opened).
    #[error("database gone: {0}")]
    Missing(String),
    /// Anything else: a bug or a schema mismatch.
    #[error("database error: {0}")]
    Other(String),
}

/// Whether an engine message reports a failed file operation. RocksDB writes `IO error: ...`;
/// the OS reasons are matched too for engines that pass them on bare.
pub(crate) fn is_io_error(message: &str) -> bool {
    [
        "IO error",
        "No space left on device",
        "Read-only file system",
        "Input/output error",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Whether an engine message reports a transaction conflict (RocksDB: "Transaction conflict:
/// Resource busy. This transaction can be retried"; SurrealKV: "Transaction write conflict").
pub(crate) fn is_conflict(message: &str) -> bool {
    message.contains("Transaction conflict") || message.contains("Transaction write conflict")
}

impl From<surrealdb::Error> for StoreError {
    fn from(e: surrealdb::Error) -> Self {
        let msg = e.message().to_string();
        if e.is_connection() {
            return StoreError::Unavailable(msg);
        }
        if is_io_error(&msg) {
            return StoreError::Io(msg);
        }
        if matches!(
            e.query_details(),
            Some(surrealdb::types::QueryError::TransactionConflict)
        ) || is_conflict(&msg)
        {
            return StoreError::Busy(msg);
        }
        // A tenant's database removed under a request that still held its session, or one
        // never opened (SurrealDB 3 refuses to read a table that was never defined).
        if ["database", "namespace", "table"]
            .iter()
            .any(|w| msg.contains(w))
            && msg.contains("does not exist")
        {
            return StoreError::Missing(msg);
        }
        // The engine reports unique-index violations as
        // "Database index `NAME` already contains ...".
        if msg.contains("already contains") {
            let name = msg.split('`').nth(1).unwrap_or_default().to_string();
            return StoreError::Conflict(name);
        }
        if e.is_thrown() {
            return StoreError::Precondition(msg);
        }
        StoreError::Other(msg)
    }
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Binds `db` to a tenant's own database: `t_<slug>` (one database per tenant).
pub async fn tenant_session(root: &Db, slug: &str) -> StoreResult<Db> {
    root.bound_to(NAMESPACE, &tenant_database(slug)).await
}

/// The database name of a tenant.
pub fn tenant_database(slug: &str) -> String {
    format!("t_{}", slug.replace('-', "_"))
}
