//! SurrealDB access: one module per table family, each a set of plain async functions over a
//! [`Db`] session already bound to the right namespace and database.

pub mod audit;
pub mod connect;
pub mod keys;
pub mod login_throttle;
pub mod migrate;
pub mod one_time_tokens;
pub mod outbox;
pub mod sessions;
pub mod tenants;
pub mod users;

pub use connect::connect;

/// A SurrealDB session (any engine). Each clone has its own `use_ns`/`use_db`.
pub type Db = surrealdb::Surreal<surrealdb::engine::any::Any>;

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
    /// Anything else: a bug or a schema mismatch.
    #[error("database error: {0}")]
    Other(String),
}

impl From<surrealdb::Error> for StoreError {
    fn from(e: surrealdb::Error) -> Self {
        let msg = e.message().to_string();
        if e.is_connection() {
            return StoreError::Unavailable(msg);
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
    let db = root.clone();
    db.use_ns(NAMESPACE).use_db(tenant_database(slug)).await?;
    Ok(db)
}

/// The database name of a tenant.
pub fn tenant_database(slug: &str) -> String {
    format!("t_{}", slug.replace('-', "_"))
}
