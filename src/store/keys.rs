//! The `signing_key` table.
//! Written through the tenant actor (`RotateKey`, `EnsureKey`), which keeps the key set.

use chrono::{DateTime, Utc};
use surrealdb::types::RecordId;

use super::{Db, StoreResult, events};
use crate::domain::events::EventKind;
use crate::domain::keys::KeyRow;

/// All keys, newest first.
pub async fn list(db: &Db) -> StoreResult<Vec<KeyRow>> {
    db.query("SELECT kid, alg, private_sealed, public_jwk, created_at, activates_at, retired_at, revoked_at FROM signing_key ORDER BY created_at DESC")
        .take(0)
        .await
}

/// Stores a new key.
pub async fn insert(db: &Db, key: KeyRow) -> StoreResult<()> {
    db.query("CREATE $rid CONTENT $key")
        .bind(("rid", RecordId::new("signing_key", key.kid.clone())))
        .bind(("key", key))
        .exec()
        .await
}

/// Stores new keys, atomically retiring the keys of the algorithms `retire` that sign until
/// they start (their `activates_at`, or now). With `revoke`, those keys are revoked instead:
/// they stop verifying at once (a compromised key).
pub async fn rotate(
    db: &Db,
    new: Vec<KeyRow>,
    retire: Vec<String>,
    revoke: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let starts = new.first().and_then(|k| k.activates_at).unwrap_or(now);
    let retire_sql = if revoke {
        "UPDATE signing_key SET retired_at = $now, revoked_at = $now
             WHERE alg IN $algs AND revoked_at IS NONE AND (retired_at IS NONE OR retired_at > $now);"
    } else {
        "UPDATE signing_key SET retired_at = $starts
             WHERE alg IN $algs AND revoked_at IS NONE AND (retired_at IS NONE OR retired_at > $starts);"
    };
    let mut sql = format!("BEGIN TRANSACTION;\n{retire_sql}\n");
    for i in 0..new.len() {
        sql.push_str(&format!("CREATE $rid{i} CONTENT $key{i};\n"));
    }
    sql.push_str(&events::emit(
        EventKind::SigningKeyRotated,
        "{ kids: $kids, emergency: $revoke, signs_from: $starts }",
    ));
    sql.push_str("\nCOMMIT TRANSACTION;");
    let kids: Vec<String> = new.iter().map(|k| k.kid.clone()).collect();
    let mut q = db
        .query(sql)
        .bind(("algs", retire))
        .bind(("now", now))
        .bind(("starts", starts))
        .bind(("kids", kids))
        .bind(("revoke", revoke));
    for (i, key) in new.into_iter().enumerate() {
        q = q
            .bind((
                format!("rid{i}"),
                RecordId::new("signing_key", key.kid.clone()),
            ))
            .bind((format!("key{i}"), key));
    }
    q.exec().await
}

/// Replaces a key's sealed private half (re-encryption under a new master secret).
pub async fn reseal(db: &Db, kid: &str, sealed: String) -> StoreResult<()> {
    db.query("UPDATE $rid SET private_sealed = $sealed")
        .bind(("rid", RecordId::new("signing_key", kid)))
        .bind(("sealed", sealed))
        .exec()
        .await
}
