//! `latchkey store copy`: moves every database of latchkey's namespace from one embedded
//! store to another (SurrealKV to RocksDB, for servers upgrading from the old default), by
//! SurrealDB's own export and import, and checks that every table has as many rows after.

use std::collections::BTreeMap;

use surrealdb::types::Value;

use super::{Db, NAMESPACE, Store, StoreError, StoreResult};

/// Rows per table, per database.
pub type Counts = BTreeMap<String, BTreeMap<String, i64>>;

/// Copies all of latchkey's databases from `from` into `to`, which must not hold them yet.
/// Returns the row counts, which were checked equal on both sides.
pub async fn copy(from: &Store, to: &Store, work_dir: &std::path::Path) -> StoreResult<Counts> {
    let databases = databases(from.root()).await?;
    let existing = databases_or_none(to.root()).await?;
    if let Some(taken) = databases.iter().find(|d| existing.contains(d)) {
        return Err(StoreError::Other(format!(
            "the target already has database `{taken}`: copy into an empty store"
        )));
    }
    let mut counts = Counts::new();
    for name in &databases {
        let source = from.root().bound_to(NAMESPACE, name).await?;
        let target = to.root().bound_to(NAMESPACE, name).await?;
        let file = work_dir.join(format!("{name}.surql"));
        source.export_to(&file).await?;
        target.import_from(&file).await?;
        let _ = std::fs::remove_file(&file);
        let before = table_counts(&source).await?;
        let after = table_counts(&target).await?;
        if before != after {
            return Err(StoreError::Other(format!(
                "database `{name}`: rows before {before:?}, after {after:?}"
            )));
        }
        counts.insert(name.clone(), before);
    }
    Ok(counts)
}

/// The databases in latchkey's namespace.
async fn databases(root: &Db) -> StoreResult<Vec<String>> {
    let ns = root.in_namespace(NAMESPACE).await?;
    let info: Option<Value> = ns.query("INFO FOR NS").take(0).await?;
    Ok(keys_of(info, "databases"))
}

/// Like [`databases`], for a store that may not have the namespace yet.
async fn databases_or_none(root: &Db) -> StoreResult<Vec<String>> {
    match databases(root).await {
        Ok(d) => Ok(d),
        Err(StoreError::Missing(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Rows per table of one database.
async fn table_counts(db: &Db) -> StoreResult<BTreeMap<String, i64>> {
    let info: Option<Value> = db.query("INFO FOR DB").take(0).await?;
    let mut counts = BTreeMap::new();
    for table in keys_of(info, "tables") {
        let n = db
            .query("SELECT count() AS n FROM type::table($t) GROUP ALL")
            .bind(("t", table.clone()))
            .count()
            .await?;
        counts.insert(table, n as i64);
    }
    Ok(counts)
}

/// The keys of the object `info.{field}`.
fn keys_of(info: Option<Value>, field: &str) -> Vec<String> {
    match info {
        Some(Value::Object(o)) => match o.get(field) {
            Some(Value::Object(inner)) => inner.keys().cloned().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
