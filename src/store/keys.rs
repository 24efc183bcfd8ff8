//! The `signing_key` table.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreResult};

/// A signing key as stored (private half sealed).
#[derive(Clone, Debug, SurrealValue)]
pub struct KeyRow {
    /// JWT `kid`.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// AES-GCM sealed private key (PKCS#8 DER, or the HMAC secret).
    pub private_sealed: String,
    /// Public JWK as JSON (none for HS256).
    pub public_jwk: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stopped signing.
    pub retired_at: Option<DateTime<Utc>>,
}

/// All keys, newest first.
pub async fn list(db: &Db) -> StoreResult<Vec<KeyRow>> {
    let mut res = db
        .query("SELECT kid, alg, private_sealed, public_jwk, created_at, retired_at FROM signing_key ORDER BY created_at DESC")
        .await?
        .check()?;
    Ok(res.take(0)?)
}

/// Stores a new key.
pub async fn insert(db: &Db, key: KeyRow) -> StoreResult<()> {
    db.query("CREATE $rid CONTENT $key")
        .bind(("rid", RecordId::new("signing_key", key.kid.clone())))
        .bind(("key", key))
        .await?
        .check()?;
    Ok(())
}

/// Stores a new key and retires the ones signing until now, atomically.
pub async fn rotate(db: &Db, key: KeyRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "BEGIN TRANSACTION;
         UPDATE signing_key SET retired_at = $now WHERE retired_at IS NONE;
         CREATE $rid CONTENT $key;
         COMMIT TRANSACTION;",
    )
    .bind(("rid", RecordId::new("signing_key", key.kid.clone())))
    .bind(("key", key))
    .bind(("now", now))
    .await?
    .check()?;
    Ok(())
}
