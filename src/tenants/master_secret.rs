//! `SECRET_KEY` and the store must agree: signing keys are sealed under a key derived from it.
//! A server started with another secret refuses to start with one clear line, instead of
//! saying "ready" and answering `INTERNAL` to every request whose keys no longer decrypt;
//! `latchkey keys rekey` moves a store to a new secret deliberately.

use chrono::{DateTime, Utc};

use crate::domain::keygen::key_context;
use crate::domain::secrets::Secrets;
use crate::store::{self, Db, StoreError, keys, secret_check, tenants};

const CHECK_CONTEXT: &str = "secret-check/v1";
const RETIRED_CONTEXT: &str = "retired-token-hash/v1";
/// Retired token-hash keys kept: every one is tried for each recovery code and client secret
/// presented, and a store rekeyed more often than this has older codes re-issued anyway.
const MAX_RETIRED: usize = 8;
const CHECK_VALUE: &[u8] = b"latchkey: this store is sealed under this SECRET_KEY";

/// Why the secret and the store disagree.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The store was sealed under another secret.
    #[error(
        "SECRET_KEY is not the secret this database's keys are sealed under: start with the original SECRET_KEY, or move the database to the new one with `latchkey keys rekey` (README \"Changing SECRET_KEY\")"
    )]
    Mismatch,
    /// `rekey`: the old secret given does not open the store either.
    #[error("the old secret does not open this database's keys either")]
    OldMismatch,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `secrets` against the store, recording the check value on a store that has none.
pub async fn ensure(
    platform: &Db,
    root: &Db,
    secrets: &Secrets,
    now: DateTime<Utc>,
) -> Result<(), SecretError> {
    if !opens(platform, root, secrets).await? {
        return Err(SecretError::Mismatch);
    }
    if secret_check::get(platform).await?.is_none() {
        secret_check::put(platform, secrets.seal(CHECK_CONTEXT, CHECK_VALUE), now).await?;
    }
    Ok(())
}

/// Whether `secrets` opens the store: its check value, or, for a store from before the check
/// existed, every tenant's signing keys.
async fn opens(platform: &Db, root: &Db, secrets: &Secrets) -> Result<bool, SecretError> {
    if let Some(sealed) = secret_check::get(platform).await? {
        return Ok(secrets.open(CHECK_CONTEXT, &sealed).as_deref() == Some(CHECK_VALUE));
    }
    for slug in tenants::slugs(platform).await? {
        for row in tenant_keys(root, &slug).await? {
            if secrets
                .open(&key_context(&slug, &row.kid), &row.private_sealed)
                .is_none()
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A tenant's keys; none for a tenant whose database was never opened.
async fn tenant_keys(
    root: &Db,
    slug: &str,
) -> Result<Vec<crate::domain::keys::KeyRow>, StoreError> {
    let db = store::tenant_session(root, slug).await?;
    match keys::list(&db).await {
        Err(StoreError::Missing(_)) => Ok(Vec::new()),
        other => other,
    }
}

/// Re-seals every tenant's signing keys from `old` to `new` and records the new check value
/// last, so an interrupted run can simply be repeated. Returns how many keys were re-sealed.
pub async fn rekey(
    platform: &Db,
    root: &Db,
    old: &Secrets,
    new: &Secrets,
    now: DateTime<Utc>,
) -> Result<Rekeyed, SecretError> {
    if !opens(platform, root, old).await? && !opens(platform, root, new).await? {
        return Err(SecretError::OldMismatch);
    }
    // The retired keys so far, under whichever secret holds them now (an interrupted run may
    // have left the store half moved), then the old secret's own key, newest first.
    let mut retired = Vec::new();
    for sealed in secret_check::retired(platform).await? {
        match old
            .open(RETIRED_CONTEXT, &sealed)
            .or_else(|| new.open(RETIRED_CONTEXT, &sealed))
        {
            Some(raw) => retired.push(raw),
            None => return Err(SecretError::OldMismatch),
        }
    }
    if opens(platform, root, old).await? {
        retired.insert(0, old.token_hash_raw().to_vec());
    }
    retired.dedup();
    retired.retain(|k| k.as_slice() != new.token_hash_raw().as_slice());
    retired.truncate(MAX_RETIRED);

    let mut done = Rekeyed {
        retired_hash_keys: retired.len(),
        ..Rekeyed::default()
    };
    for slug in tenants::slugs(platform).await? {
        let db = store::tenant_session(root, &slug).await?;
        done.totp_secrets += reseal_totp(&db, &slug, old, new).await?;
        done.provider_secrets += reseal_provider_secrets(&db, &slug, old, new).await?;
        done.webhook_secrets += reseal_webhook_secrets(&db, &slug, old, new).await?;
        for row in tenant_keys(root, &slug).await? {
            let context = key_context(&slug, &row.kid);
            match old.open(&context, &row.private_sealed) {
                Some(plain) => {
                    keys::reseal(&db, &row.kid, new.seal(&context, &plain)).await?;
                    done.signing_keys += 1;
                }
                // Re-sealed by an earlier, interrupted run.
                None if new.open(&context, &row.private_sealed).is_some() => {}
                None => return Err(SecretError::OldMismatch),
            }
        }
    }
    let retired = retired
        .iter()
        .map(|k| new.seal(RETIRED_CONTEXT, k))
        .collect();
    secret_check::put_rekeyed(platform, new.seal(CHECK_CONTEXT, CHECK_VALUE), retired, now).await?;
    Ok(done)
}

/// What `rekey` moved to the new secret.
#[derive(Debug, Default)]
pub struct Rekeyed {
    /// Signing keys re-sealed.
    pub signing_keys: usize,
    /// TOTP secrets re-sealed.
    pub totp_secrets: usize,
    /// Upstream identity providers' client secrets re-sealed.
    pub provider_secrets: usize,
    /// Webhook signing secrets re-sealed (a rotation's previous secret too).
    pub webhook_secrets: usize,
    /// Token-hash keys of earlier secrets now kept, sealed (recovery codes and client secrets
    /// hashed under them keep working).
    pub retired_hash_keys: usize,
}

/// Re-seals a tenant's TOTP secrets from `old` to `new`; how many.
async fn reseal_totp(
    db: &Db,
    slug: &str,
    old: &Secrets,
    new: &Secrets,
) -> Result<usize, SecretError> {
    let rows = match crate::mfa::store::all_totp(db).await {
        Err(StoreError::Missing(_)) => Vec::new(),
        other => other?,
    };
    let mut resealed = 0;
    for (user, sealed) in rows {
        let context = crate::mfa::totp_factor::totp_context(slug, &user);
        match old.open(&context, &sealed) {
            Some(plain) => {
                crate::mfa::store::reseal_totp(db, &user, new.seal(&context, &plain)).await?;
                resealed += 1;
            }
            None if new.open(&context, &sealed).is_some() => {}
            None => return Err(SecretError::OldMismatch),
        }
    }
    Ok(resealed)
}

/// Re-seals a tenant's identity providers' client secrets from `old` to `new`; how many.
async fn reseal_provider_secrets(
    db: &Db,
    slug: &str,
    old: &Secrets,
    new: &Secrets,
) -> Result<usize, SecretError> {
    use crate::federation::providers::secret_context;
    use crate::federation::store as fed_store;
    let rows = match fed_store::providers(db).await {
        Err(StoreError::Missing(_)) => Vec::new(),
        other => other?,
    };
    let mut resealed = 0;
    for mut p in rows {
        let Some(sealed) = p.client_secret_sealed.clone() else {
            continue;
        };
        let context = secret_context(slug, &p.id);
        match old.open(&context, &sealed) {
            Some(plain) => {
                p.client_secret_sealed = Some(new.seal(&context, &plain));
                fed_store::put_provider(db, &p, chrono::Utc::now()).await?;
                resealed += 1;
            }
            None if new.open(&context, &sealed).is_some() => {}
            None => return Err(SecretError::OldMismatch),
        }
    }
    Ok(resealed)
}

/// Re-seals a tenant's webhook signing secrets (and a rotation's previous ones) from `old` to
/// `new`; how many endpoints.
async fn reseal_webhook_secrets(
    db: &Db,
    slug: &str,
    old: &Secrets,
    new: &Secrets,
) -> Result<usize, SecretError> {
    use crate::webhooks::service::secret_context;
    use crate::webhooks::store as hooks;
    let rows = match hooks::all(db).await {
        Err(StoreError::Missing(_)) => Vec::new(),
        other => other?,
    };
    let mut resealed = 0;
    for mut w in rows {
        let context = secret_context(slug, &w.id);
        let move_one = |sealed: &str| match old.open(&context, sealed) {
            Some(plain) => Ok(Some(new.seal(&context, &plain))),
            // Re-sealed by an earlier, interrupted run.
            None if new.open(&context, sealed).is_some() => Ok(None),
            None => Err(SecretError::OldMismatch),
        };
        let mut changed = false;
        if let Some(s) = move_one(&w.secret_sealed)? {
            w.secret_sealed = s;
            changed = true;
        }
        if let Some(prev) = w.previous_sealed.clone()
            && let Some(s) = move_one(&prev)?
        {
            w.previous_sealed = Some(s);
            changed = true;
        }
        if changed {
            hooks::put(db, &w, chrono::Utc::now()).await?;
            resealed += 1;
        }
    }
    Ok(resealed)
}

/// The retired token-hash keys `keys rekey` left, opened under the current secret.
pub async fn retired_hash_keys(
    platform: &Db,
    secrets: &Secrets,
) -> Result<Vec<Vec<u8>>, SecretError> {
    let mut keys = Vec::new();
    for sealed in secret_check::retired(platform).await? {
        // Sealed under this secret by the rekey that retired it; anything else is not ours.
        keys.push(
            secrets
                .open(RETIRED_CONTEXT, &sealed)
                .ok_or(SecretError::Mismatch)?,
        );
    }
    Ok(keys)
}
