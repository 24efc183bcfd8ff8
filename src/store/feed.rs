//! A database's change feed: SurrealDB keeps, for every table defined with `CHANGEFEED`, the
//! records each transaction wrote, stored in the same transaction as the data (migrations
//! tenant/022 and platform/012). Unlike `LIVE SELECT` (`store::changes`), which hears only
//! writes made through the same SurrealDB process, the feed is in the key-value store: every
//! SurrealDB process over one datastore (TiKV) reads the same feed. `SHOW CHANGES` reads it.
//!
//! What SurrealDB 3.3.5 does here, read in its code (`surrealdb-core/src/cf/reader.rs`) and
//! checked by the tests below: `SINCE` is inclusive and must be a literal (a versionstamp or a
//! `d"…"` datetime, no parameter); `LIMIT` (at most 1000) counts stored entries, one per table
//! and versionstamp, before any table filter; entries older than the table's retention are
//! removed by the datastore's garbage collector without any sign to a reader.

use surrealdb::types::{Number, RecordIdKey, Value};

use super::{Db, StoreError, StoreResult};

/// The most entries one read asks for (SurrealDB caps `LIMIT` at 1000).
pub const PAGE: u32 = 1000;

/// One record written by one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeedChange {
    /// Its table.
    pub table: String,
    /// Its key (e.g. a user id).
    pub key: String,
}

/// What one transaction (one versionstamp) wrote to followed tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSet {
    /// The transaction's versionstamp: ordered, but on TiKV taken before the commit, so a
    /// lower one can become visible after a higher one.
    pub version: u128,
    /// The records it wrote.
    pub changes: Vec<FeedChange>,
}

/// One read of a feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The change sets read, by versionstamp.
    pub sets: Vec<ChangeSet>,
    /// Stored entries the read consumed (what `LIMIT` counted: one per table per
    /// versionstamp). Fewer than the limit: the feed's end was reached.
    pub entries: usize,
}

impl Page {
    /// Whether the read reached the end of the feed (otherwise read again from its last
    /// versionstamp, inclusive: a versionstamp's entries can be split between two pages).
    pub fn is_last(&self, limit: u32) -> bool {
        self.entries < limit as usize
    }
}

/// Reads `db`'s feed from the versionstamp `since` (inclusive), at most `limit` entries.
///
/// Only versionstamps, never `SINCE d"…"`: the in-memory engine stamps entries with a hybrid
/// clock (milliseconds << 16) but reads a datetime as nanoseconds, so a datetime finds
/// nothing there; a follower learns positions from the versionstamps it has read.
pub async fn read(db: &Db, since: u128, limit: u32) -> StoreResult<Page> {
    // `SINCE` takes no parameter: the literal is a number, never input.
    let sql = format!("SHOW CHANGES FOR DATABASE SINCE {since} LIMIT {limit}");
    let sets: Vec<Value> = db.query(sql).take(0).await?;
    parse(sets)
}

/// The change sets of a `SHOW CHANGES` answer. A change that names no record latchkey keys
/// (a table definition) is skipped; a set without a readable versionstamp fails the read (a
/// follower must not move past what it could not read).
fn parse(sets: Vec<Value>) -> StoreResult<Page> {
    let mut page = Page::default();
    for set in sets {
        let version = match &set {
            Value::Object(o) => o.get("versionstamp").and_then(version),
            _ => None,
        };
        let (Value::Object(set), Some(version)) = (set, version) else {
            return Err(StoreError::Other(
                "a change set without a versionstamp".into(),
            ));
        };
        let mut changes = Vec::new();
        let mut tables: Vec<String> = Vec::new();
        if let Some(Value::Array(list)) = set.get("changes") {
            for change in list.iter() {
                let Some(c) = record_of(change) else { continue };
                if !tables.contains(&c.table) {
                    tables.push(c.table.clone());
                }
                changes.push(c);
            }
        }
        // One stored entry per table of the set; a set with only a definition change still
        // took one.
        page.entries += tables.len().max(1);
        page.sets.push(ChangeSet { version, changes });
    }
    Ok(page)
}

fn version(v: &Value) -> Option<u128> {
    match v {
        Value::Number(Number::Int(i)) => u128::try_from(*i).ok(),
        Value::Number(Number::Decimal(d)) => d.to_string().parse().ok(),
        _ => None,
    }
}

/// The record an entry of `changes` names: `{update: {id, …}}` (or `{current: {id, …}}` with
/// a diff) for a write, `{delete: {id}}` for a deletion.
fn record_of(change: &Value) -> Option<FeedChange> {
    let Value::Object(o) = change else {
        return None;
    };
    let row = ["delete", "current", "update"]
        .iter()
        .find_map(|k| match o.get(*k) {
            Some(Value::Object(row)) => Some(row),
            _ => None,
        })?;
    let Some(Value::RecordId(r)) = row.get("id") else {
        return None;
    };
    let key = match &r.key {
        RecordIdKey::String(s) => s.clone(),
        RecordIdKey::Number(n) => n.to_string(),
        RecordIdKey::Uuid(u) => u.to_string(),
        _ => return None,
    };
    Some(FeedChange {
        table: r.table.as_str().to_string(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded engine's feed, read as a follower would: what a write, an update and a
    /// deletion leave, `SINCE` inclusive, and `LIMIT` counting entries before the end.
    #[tokio::test]
    async fn a_feed_holds_what_each_transaction_wrote() {
        let store = crate::store::Store::open(&crate::store::StoreUrl::Memory, None)
            .await
            .unwrap();
        let db = store.root().bound_to("t", "feed").await.unwrap();
        db.query(
            "DEFINE TABLE user SCHEMALESS CHANGEFEED 15m; DEFINE TABLE session SCHEMALESS CHANGEFEED 15m; DEFINE TABLE quiet SCHEMALESS;",
        )
        .exec()
        .await
        .unwrap();
        db.query("CREATE user:ann SET n = 1; CREATE quiet:q SET n = 1")
            .exec()
            .await
            .unwrap();
        db.query("BEGIN; UPDATE user:ann SET n = 2; CREATE session:s1 SET u = 1; COMMIT")
            .exec()
            .await
            .unwrap();
        db.query("DELETE user:ann").exec().await.unwrap();

        let page = read(&db, 0, PAGE).await.unwrap();
        let tables: Vec<Vec<(String, String)>> = page
            .sets
            .iter()
            .map(|s| {
                s.changes
                    .iter()
                    .map(|c| (c.table.clone(), c.key.clone()))
                    .filter(|(t, _)| t != "quiet")
                    .collect()
            })
            .filter(|v: &Vec<_>| !v.is_empty())
            .collect();
        let ann = || ("user".to_string(), "ann".to_string());
        assert_eq!(
            tables,
            vec![
                vec![ann()],
                // Within a set, by table.
                vec![("session".to_string(), "s1".to_string()), ann()],
                vec![ann()]
            ],
            "{page:?}"
        );
        assert!(page.is_last(PAGE));
        assert!(page.sets.windows(2).all(|w| w[0].version < w[1].version));

        // Inclusive: from the last set's versionstamp, that set again.
        let last = page.sets.last().unwrap().version;
        let again = read(&db, last, PAGE).await.unwrap();
        assert_eq!(again.sets.first().map(|s| s.version), Some(last));
        // A limit of 1 counts one entry: the two-table set is cut in two pages.
        let two = page.sets.iter().find(|s| s.changes.len() == 2).unwrap();
        let cut = read(&db, two.version, 1).await.unwrap();
        assert_eq!(cut.sets.len(), 1);
        assert_eq!(cut.sets[0].changes.len(), 1, "{cut:?}");
        assert!(!cut.is_last(1));
        drop(db);
        store.close().await;
    }

    /// Every table a node caches from has its feed once all migrations ran (an `OVERWRITE`
    /// in a later migration would drop it silently).
    #[tokio::test]
    async fn the_cached_tables_keep_their_change_feeds() {
        use crate::store::migrate;
        let store = crate::store::Store::open(&crate::store::StoreUrl::Memory, None)
            .await
            .unwrap();
        for (name, migrations, tables) in [
            (
                "tenant",
                migrate::TENANT,
                &["user", "session", "signing_key"][..],
            ),
            ("platform", migrate::PLATFORM, &["tenant"][..]),
        ] {
            let db = store.root().bound_to("t", name).await.unwrap();
            migrate::apply(&db, migrations).await.unwrap();
            let info: Value = db.query("INFO FOR DB").take(0).await.unwrap();
            let Value::Object(info) = info else {
                panic!("{info:?}")
            };
            let Some(Value::Object(defs)) = info.get("tables") else {
                panic!("{info:?}")
            };
            for t in tables {
                let def = format!("{:?}", defs.get(*t));
                assert!(def.contains("CHANGEFEED 5m"), "{name}.{t}: {def}");
            }
        }
        store.close().await;
    }
}
