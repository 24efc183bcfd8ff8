//! Shared store only: keeps what a node holds of a tenant true to what other nodes write.
//! A task per running tenant subscribes (SurrealDB `LIVE SELECT`) to the tables this node
//! caches from: `user` and `session` (the auth cache) and `signing_key` (the key set and its
//! token memo). A notification invalidates exactly what a local write would; a lost
//! connection turns the auth cache off until the subscriptions are renewed on the next link
//! epoch, when the key set is reloaded too (changes of the gap were never notified).
//!
//! The platform's `tenant` table (settings, disabling, deletion) is followed once per node by
//! [`follow_tenants`]. Nodes never talk to each other: the database is the one truth.
//!
//! A safety net under the notifications: every `CACHE_MAX_AGE_SECONDS` each running tenant
//! reads its key set and its platform record again (the auth cache's entries expire by the
//! same age on their own), so a missed notification cannot outlive that. With `LIVE_QUERIES`
//! off (SurrealDB as several processes, where LIVE hears only its own process's writes) the
//! net is all there is: the auth cache stays off, and settings, keys and deletions are seen
//! within the maximum age.

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

/// Starts following `shared`'s tables (with `live`, through `LIVE SELECT`; always, by the
/// re-read every maximum age); the auth cache stays off until subscriptions are registered.
pub fn follow(shared: &Arc<TenantShared>, live: bool) -> FeedGuard {
    shared.cache.set_enabled(false);
    let weak = Arc::downgrade(shared);
    let db = shared.db.clone();
    let max_age = shared.cache.max_age();
    let task = tokio::spawn(async move {
        if live {
            run(weak, db, max_age).await
        } else {
            reread_keys_forever(weak, max_age).await
        }
    });
    FeedGuard(task.abort_handle())
}

/// A tick every `max_age`, the first one `max_age` from now.
fn sweep(max_age: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval_at(tokio::time::Instant::now() + max_age, max_age);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}

/// Reads the key set again when `tick` fires; false once the tenant is gone.
async fn reread_keys(weak: &Weak<TenantShared>) -> bool {
    let Some(shared) = weak.upgrade() else {
        return false;
    };
    if let Err(e) = reload_keys(&shared, shared.clock.now()).await {
        tracing::warn!(error = %e, tenant = %shared.slug, "key reload failed");
    }
    true
}

/// Without LIVE queries: the key set read again every `max_age`, nothing cached per session.
async fn reread_keys_forever(weak: Weak<TenantShared>, max_age: Duration) {
    let mut tick = sweep(max_age);
    loop {
        tick.tick().await;
        if !reread_keys(&weak).await {
            return;
        }
    }
}

async fn subscribe_all(db: &Db) -> StoreResult<(Changes, Changes, Changes)> {
    Ok((
        changes::subscribe(db, "user").await?,
        changes::subscribe(db, "session").await?,
        changes::subscribe(db, "signing_key").await?,
    ))
}

async fn run(weak: Weak<TenantShared>, db: Db, max_age: Duration) {
    let mut link = db.health().link();
    let mut tick = sweep(max_age);
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
                        if !reread_keys(&weak).await {
                            return;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if !reread_keys(&weak).await {
                        return;
                    }
                }
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
/// node gets its new settings here; one deleted or disabled is evicted as gone. With `live`
/// through `LIVE SELECT`; in any case every running tenant reads its record again every
/// `max_age`. Runs for the life of the node.
pub fn follow_tenants(
    platform: Db,
    registry: TenantRegistry,
    live: bool,
    max_age: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = sweep(max_age);
        if !live {
            loop {
                tick.tick().await;
                refresh_all(&platform, &registry).await;
            }
        }
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
            refresh_all(&platform, &registry).await;
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
                    _ = tick.tick() => refresh_all(&platform, &registry).await,
                    _ = Health::link_changed(&mut link, epoch) => break,
                }
            }
        }
    })
}

/// Every running tenant brought in line with its platform record.
async fn refresh_all(platform: &Db, registry: &TenantRegistry) {
    for slug in registry.running_slugs() {
        refresh(platform, registry, &slug).await;
    }
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
