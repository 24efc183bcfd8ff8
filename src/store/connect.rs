//! Opening the database: `mem://`, `surrealkv://PATH` or `ws://HOST:PORT`, all through the
//! SDK's `any` engine so the rest of the code is engine-agnostic.

use std::time::Duration;

use secrecy::ExposeSecret;
use surrealdb::opt::auth::Root;

use super::{Db, StoreError, StoreResult};
use crate::config::Config;

/// Connects to the configured database.
pub async fn connect(config: &Config) -> StoreResult<Db> {
    let url = durable_url(&config.database_url);
    if let Some(path) = url.strip_prefix("surrealkv://") {
        let dir = path.split('?').next().unwrap_or(path);
        if let Some(parent) = std::path::Path::new(dir).parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
    }
    let db = open_waiting_for_lock(&url).await?;
    if let Some((user, pass)) = &config.database_credentials {
        db.signin(Root {
            username: user.clone(),
            password: pass.expose_secret().to_string(),
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sign-in failed: {}", e.message())))?;
    }
    Ok(db)
}

/// How long start-up waits for a previous server on the same embedded database to let go of it.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Opens the engine. An embedded database is locked by the process using it, and a server
/// that was just stopped releases it asynchronously (the engine shuts down after its last
/// handle is dropped), so a restart waits for the lock to be released, up to [`LOCK_WAIT`].
async fn open_waiting_for_lock(url: &str) -> StoreResult<Db> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match surrealdb::engine::any::connect(url).await {
            Ok(db) => return Ok(db),
            Err(e)
                if e.message().contains("already locked")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(StoreError::Unavailable(e.message().to_string())),
        }
    }
}

/// A registration that was answered must survive a crash: make SurrealKV fsync every commit
/// unless the operator chose a sync mode explicitly.
fn durable_url(url: &str) -> String {
    if url.starts_with("surrealkv://") && !url.contains("sync=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sync=every")
    } else {
        url.to_string()
    }
}
