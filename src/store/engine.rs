//! Opening and closing the store.
//!
//! Embedded engines (`rocksdb://`, `mem://`) are built here, not by the SDK's URL connector:
//! the SDK closes a datastore it built from a task it spawns when the last handle drops, and
//! nothing can await that task, so a process could exit with the engine half shut down (the
//! loss that made us leave SurrealKV, README "Durability"). Owning the `Datastore` lets
//! [`Store::close`] wait until the SDK has shut it down and then close RocksDB itself.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use surrealdb::Surreal;
use surrealdb::engine::local::Db as Local;
use surrealdb_cnf::ConfigMap;
use surrealdb_core::kvs::Datastore;

use super::db::{Db, Health};
use super::url::StoreUrl;
use super::{StoreError, StoreResult};

/// RocksDB settings latchkey starts from; a `rocksdb_*` option in `DATABASE_URL` overrides
/// any of them. SurrealDB sizes its own defaults from the machine's memory (on 24 GiB: a
/// 11 GiB block cache and up to 32 memtables of 128 MiB), which suits a database server, not
/// an identity server that shares its host: these keep the engine to ~100 MiB. Durability
/// does not depend on them: every commit is fsynced to the write-ahead log (`sync=every`).
const ROCKSDB_DEFAULTS: &[(&str, &str)] = &[
    // Reads of hot rows (users, sessions) stay cached; the OS page cache backs the rest.
    ("rocksdb_block_cache_size", "33554432"),
    // 16 MiB memtables, at most 3 (one filling, two flushing).
    ("rocksdb_write_buffer_size", "16777216"),
    ("rocksdb_max_write_buffer_number", "3"),
    ("rocksdb_min_write_buffer_number_to_merge", "1"),
];

/// How long start-up waits for another process (a server being restarted) to let go of an
/// embedded database's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How long [`Store::close`] waits for the SDK to release the datastore.
const CLOSE_WAIT: Duration = Duration::from_secs(60);

/// The opened store: the root session and, for embedded engines, the datastore to close.
pub struct Store {
    root: Db,
    datastore: Option<Arc<Datastore>>,
    /// A SurrealDB server's link watch (`store::link`), stopped with the store.
    watch: Option<tokio::task::JoinHandle<()>>,
}

impl Store {
    /// Opens the store `url` names; root credentials are used for a server.
    pub async fn open(
        url: &StoreUrl,
        credentials: Option<&(String, SecretString)>,
    ) -> StoreResult<Store> {
        let health = Arc::new(Health::default());
        match url {
            StoreUrl::Remote(address) => {
                let session = surrealdb::engine::any::connect(address.as_str())
                    .await
                    .map_err(|e| {
                        StoreError::Unavailable(format!("cannot reach {address}: {}", e.message()))
                    })?;
                let root = Db::remote(session, health);
                if let Some((user, pass)) = credentials {
                    root.signin_root(user.clone(), pass.expose_secret().to_string())
                        .await?;
                }
                let watch = Some(super::link::watch(root.clone(), address));
                Ok(Store {
                    root,
                    datastore: None,
                    watch,
                })
            }
            StoreUrl::Memory => open_local("memory", ConfigMap::empty(), health).await,
            StoreUrl::RocksDb { path, options } => {
                refuse_surrealkv_directory(path)?;
                prepare_dir(path)?;
                let mut config = ConfigMap::empty();
                for (k, v) in ROCKSDB_DEFAULTS {
                    config = config.with_key_value(*k, *v);
                }
                let mut sync = "every".to_string();
                for (k, v) in options {
                    if k == "sync" {
                        sync = v.clone();
                    } else {
                        config = config.with_key_value(k.as_str(), v.as_str());
                    }
                }
                let target = format!("rocksdb://{path}?sync={sync}");
                open_waiting_for_lock(&target, config, health).await
            }
            StoreUrl::SurrealKv { path, options } => {
                let mut query: Vec<String> =
                    options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if !options.iter().any(|(k, _)| k == "sync") {
                    query.push("sync=every".into());
                }
                let target = format!("surrealkv://{path}?{}", query.join("&"));
                open_waiting_for_lock(&target, ConfigMap::empty(), health).await
            }
        }
    }

    /// The root session (no namespace or database selected).
    pub fn root(&self) -> &Db {
        &self.root
    }

    /// Closes the store: waits until every other session has been dropped and the SDK has
    /// shut the datastore down (memtables flushed), then closes the engine, releasing its
    /// lock. Call after everything holding a [`Db`] has stopped.
    pub async fn close(self) {
        let Store {
            root,
            datastore,
            watch,
        } = self;
        if let Some(w) = watch {
            w.abort();
            let _ = w.await;
        }
        drop(root);
        let Some(ds) = datastore else { return };
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        while Arc::strong_count(&ds) > 1 {
            if tokio::time::Instant::now() >= deadline {
                // Commits are fsynced when answered, so nothing acknowledged is at stake; the
                // engine closes when the last holder drops it.
                tracing::error!(
                    holders = Arc::strong_count(&ds) - 1,
                    "the store is still in use after {CLOSE_WAIT:?}; exiting without closing it"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Dropping the last reference closes RocksDB (a blocking call).
        let _ = tokio::task::spawn_blocking(move || drop(ds)).await;
        tracing::debug!("store closed");
    }
}

/// The old default `surrealkv://./data/latchkey.db` and the new `rocksdb://./data/latchkey.db`
/// name the same directory: RocksDB would start an empty database beside SurrealKV's files and
/// the server would serve nothing of the old data. Refused, pointing at the copy.
fn refuse_surrealkv_directory(path: &str) -> StoreResult<()> {
    let dir = std::path::Path::new(path);
    let surrealkv = ["wal", "sstables", "manifest"]
        .iter()
        .any(|d| dir.join(d).is_dir());
    if surrealkv && !dir.join("CURRENT").exists() {
        return Err(StoreError::Unavailable(format!(
            "{path} holds a SurrealKV database (the old default engine), not RocksDB: copy it once with `latchkey store copy --from surrealkv://{path} --to rocksdb://{}` and set DATABASE_URL to the new one (README \"Durability\")",
            copy_target(path)
        )));
    }
    Ok(())
}

/// Where README suggests copying a SurrealKV store at `path`: `x.db` becomes `x.rocksdb`.
pub fn copy_target(path: &str) -> String {
    match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}.rocksdb"),
        None => format!("{path}.rocksdb"),
    }
}

/// Creates the parent directory of an embedded database, with a message naming the path.
fn prepare_dir(path: &str) -> StoreResult<()> {
    let dir = std::path::Path::new(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))
}

/// Opens an embedded engine. A database is locked by the process using it, and a server that
/// was just stopped may still be releasing it, so a lock held elsewhere is waited for.
async fn open_waiting_for_lock(
    target: &str,
    config: ConfigMap,
    health: Arc<Health>,
) -> StoreResult<Store> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match open_local(target, config.clone(), health.clone()).await {
            Err(StoreError::Unavailable(m))
                if is_lock_error(&m) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(StoreError::Unavailable(m)) if is_lock_error(&m) => {
                return Err(StoreError::Unavailable(format!(
                    "the database {} is in use by another process (a running latchkey server?): stop it first, or make the change through the running server's API",
                    target.split('?').next().unwrap_or(target)
                )));
            }
            other => return other,
        }
    }
}

fn is_lock_error(message: &str) -> bool {
    message.contains("lock") && (message.contains("LOCK") || message.contains("already locked"))
}

/// Builds, checks and bootstraps a datastore, in the order the SDK's own connector uses:
/// maintenance tasks start only after the version key is written.
async fn open_local(target: &str, config: ConfigMap, health: Arc<Health>) -> StoreResult<Store> {
    let fail = |e: anyhow::Error| {
        let shown = target.split('?').next().unwrap_or(target);
        StoreError::Unavailable(format!("cannot open {shown}: {e:#}"))
    };
    let (tx, rx) = surrealdb::channel::bounded(surrealdb_cnf::NOTIFICATIONS_CHANNEL_SIZE);
    let ds = Datastore::builder()
        .with_config(config)
        .with_notify(tx)
        .with_auth(false)
        .without_maintenance_tasks()
        .build_with_path(target)
        .await
        .map_err(fail)?;
    ds.check_version().await.map_err(fail)?;
    ds.bootstrap().await.map_err(fail)?;
    ds.start_maintenance_tasks();
    // Not covered by SurrealDB's semver promise (hidden); pinned with `surrealdb = "=3.3.5"`.
    let session = Surreal::<Local>::unstable_from_datastore(ds.clone(), Some(rx))
        .await
        .map_err(|e| StoreError::Unavailable(e.message().to_string()))?;
    Ok(Store {
        root: Db::local(session, health),
        datastore: Some(ds),
        watch: None,
    })
}
