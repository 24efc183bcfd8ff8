//! Shared store only: keeps what a node holds of a tenant true to what other nodes write.
//! A task per running tenant subscribes (SurrealDB `LIVE SELECT`) to the tables this node
//! caches from: `user` and `session` (the auth cache) and `signing_key` (the key set and its
//! token memo). A notification invalidates exactly what a local write would; a lost
//! connection turns the auth cache off until the subscriptions are renewed on the next link
//! epoch, when the key set is reloaded too (changes of the gap were never notified).
//!
//! The platform's `tenant` table (settings, disabling, deletion) is followed once per node by
//! [`follow_tenants`]. Nodes never talk to each other: the database is the one truth.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::registry::TenantRegistry;
use super::tenant::{TenantShared, reload_keys};
use crate::domain::TenantSlug;
use crate::store::changes::{self, Changes};
use crate::store::db::Health;
use crate::store::{Db, StoreResult, tenants};

/// Wait before subscribing again after a failed attempt (the link being up).
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(250);

/// Aborts the task when the tenant's state is dropped (its actor stopped), which drops the
/// subscriptions (the SDK kills their live queries).
pub struct FeedGuard(tokio::task::AbortHandle);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts following `shared`'s tables; the auth cache stays off until the subscriptions are
/// registered.
pub fn follow(shared: &Arc<TenantShared>) -> FeedGuard {
    shared.cache.set_enabled(false);
    let weak = Arc::downgrade(shared);
    let db = shared.db.clone();
    let task = tokio::spawn(async move { run(weak, db).await });
    FeedGuard(task.abort_handle())
}

async fn subscribe_all(db: &Db) -> StoreResult<(Changes, Changes, Changes)> {
    Ok((
        changes::subscribe(db, "user").await?,
        changes::subscribe(db, "session").await?,
        changes::subscribe(db, "signing_key").await?,
    ))
}

async fn run(weak: Weak<TenantShared>, db: Db) {
    let mut link = db.health().link();
    loop {
        if !Health::link_restored(&mut link).await {
            return;
        }
        let epoch = link.borrow().epoch;
        let (mut users, mut sessions, mut keys) = match subscribe_all(&db).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "change subscriptions failed; retrying");
                tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                continue;
            }
        };
        {
            let Some(shared) = weak.upgrade() else { return };
            // Whatever changed before the subscriptions were in place was not notified.
            if let Err(e) = reload_keys(&shared, shared.clock.now()).await {
                tracing::warn!(error = %e, tenant = %shared.slug, "key reload failed");
                continue;
            }
            shared.cache.set_enabled(true);
        }
        loop {
            tokio::select! {
                c = users.next() => match c {
                    Some(c) => with(&weak, |s| s.cache.forget_user_row(&c.key)),
                    None => break,
                },
                c = sessions.next() => match c {
                    Some(c) => with(&weak, |s| s.cache.forget_session(&c.key)),
                    None => break,
                },
                c = keys.next() => match c {
                    Some(_) => {
                        let Some(shared) = weak.upgrade() else { return };
                        if let Err(e) = reload_keys(&shared, shared.clock.now()).await {
                            tracing::warn!(error = %e, tenant = %shared.slug, "key reload failed");
                        }
                    }
                    None => break,
                },
                _ = Health::link_changed(&mut link, epoch) => break,
            }
        }
        // Subscriptions lost: nothing cached can be trusted until they are back.
        if let Some(shared) = weak.upgrade() {
            shared.cache.set_enabled(false);
        }
    }
}

fn with(weak: &Weak<TenantShared>, f: impl FnOnce(&TenantShared)) {
    if let Some(s) = weak.upgrade() {
        f(&s);
    }
}

/// Follows the platform's tenant records on behalf of `registry`: a tenant changed on another
/// node gets its new settings here; one deleted or disabled is evicted as gone. Runs for the
/// life of the node.
pub fn follow_tenants(platform: Db, registry: TenantRegistry) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut link = platform.health().link();
        loop {
            if !Health::link_restored(&mut link).await {
                return;
            }
            let epoch = link.borrow().epoch;
            let mut feed = match changes::subscribe(&platform, "tenant").await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "tenant subscription failed; retrying");
                    tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                    continue;
                }
            };
            // Changes of the gap: every running tenant reads its record again.
            for slug in registry.running_slugs() {
                refresh(&platform, &registry, &slug).await;
            }
            loop {
                tokio::select! {
                    c = feed.next() => match c {
                        Some(c) => {
                            if let Ok(slug) = TenantSlug::parse(&c.key) {
                                refresh(&platform, &registry, &slug).await;
                            }
                        }
                        None => break,
                    },
                    _ = Health::link_changed(&mut link, epoch) => break,
                }
            }
        }
    })
}

/// Brings a running tenant in line with its platform record.
async fn refresh(platform: &Db, registry: &TenantRegistry, slug: &TenantSlug) {
    let Some(tenant) = registry.running_tenant(slug) else {
        return;
    };
    match tenants::get(platform, slug.as_str()).await {
        Ok(Some(row)) if !row.disabled => tenant.replace_row(row),
        Ok(_) => registry.evict(slug, true).await,
        Err(e) => {
            // Not knowing is not permission: evict, and the next request reads it afresh.
            tracing::warn!(error = %e, tenant = %slug, "tenant record unreadable; evicting");
            registry.evict(slug, false).await;
        }
    }
}
