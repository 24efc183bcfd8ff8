//! Signing keys: rotation, the first key of an algorithm on demand, and reloading the key
//! set from the database.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::TenantShared;
use crate::domain::keys::{KeyRow, KeySet};
use crate::error::ServiceError;
use crate::store::keys;

/// Persists the new key (retiring, or with `revoke` revoking, the ones it replaces) and swaps
/// in the reloaded key set.
pub(super) async fn rotate_keys(
    t: &TenantShared,
    new: Vec<KeyRow>,
    revoke: bool,
) -> Result<String, ServiceError> {
    let kid = new.first().map(|k| k.kid.clone()).unwrap_or_default();
    let algs = new.iter().map(|k| k.alg.clone()).collect();
    let now = t.clock.now();
    keys::rotate(&t.db, new, algs, revoke, now).await?;
    reload_keys(t, now).await?;
    Ok(kid)
}

/// Creates a key of `alg` that signs at once if the tenant has none. Made on first use, not
/// when the tenant opens (an RSA key takes a while to generate, and most tenants never issue
/// an id_token); signing at once is safe for a first key: no verifier can have cached an
/// earlier one of this algorithm.
pub(super) async fn ensure_key(
    t: &TenantShared,
    alg: crate::domain::Algorithm,
) -> Result<(), ServiceError> {
    if t.keys.read().expect("key lock").has_signer(alg) {
        return Ok(());
    }
    let now = t.clock.now();
    let key = crate::domain::keygen::generate_key(alg, t.slug.as_str(), &t.secrets, now, None);
    keys::rotate(&t.db, vec![key], vec![alg.as_str().to_string()], false, now).await?;
    reload_keys(t, now).await
}

/// Rebuilds the key set from the database (after a rotation here or on another node).
pub(in crate::actors) async fn reload_keys(
    t: &TenantShared,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let rows = keys::list(&t.db).await?;
    let alg = t.keys.read().expect("key lock").algorithm();
    let set = KeySet::load(alg, t.slug.as_str(), &rows, &t.secrets, now)?
        .ok_or_else(|| ServiceError::Internal("rotated key does not load".into()))?;
    *t.keys.write().expect("key lock") = Arc::new(set);
    Ok(())
}
