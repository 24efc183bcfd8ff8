//! Shared store only: keeps what a node holds of a tenant true to what other nodes write.
//! Nodes never talk to each other: the database is the one truth.
//!
//! **The feeds** (`store::feed`, SurrealDB `CHANGEFEED`) are what correctness rests on. Every
//! running tenant has a task that reads its database's feed every `CHANGE_FEED_POLL_MS`
//! (default 200 ms): `user` and `session` entries drop those records from the auth cache,
//! a `signing_key` entry reloads the key set. The platform's `tenant` feed is read once per
//! node by [`follow_tenants`] (settings, disabling, deletion). A feed lives in the key-value
//! store, so this holds whichever SurrealDB process each node talks to (several over TiKV
//! included). How the reading copes with late versionstamps, split pages, duplicates and
//! retention: `feed_follower`. The auth cache is on only while the tenant's feed is read to
//! its end; a failed read turns it off until the feed is caught up again; a gap (the feed not
//! caught up for `GAP_AFTER`) drops every cache of the tenant, logs it and shows in
//! `/readyz`.
//!
//! Cost: one `SHOW CHANGES` per running tenant per poll, plus one for the platform, and none
//! for tenants this node has not loaded (idle ones are evicted after `TENANT_IDLE_SECONDS`);
//! a node holding 1,000 running tenants at 200 ms sends 5,000 small reads a second.
//!
//! **`LIVE SELECT`** (`LIVE_QUERIES`, off by default, see `Config::live_queries` for why) is a
//! faster hint on top where it works (one SurrealDB process: it hears only writes made through
//! the process it is registered on): a notification invalidates at once. Nothing depends on
//! it.
//!
//! **The safety net**: every `CACHE_MAX_AGE_SECONDS` each running tenant reads its key set and
//! its platform record again, and the auth cache's entries expire by the same age on their
//! own, so no bug in either path can outlive that.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::feed_follower::{Follower, Polled, Watermark, lookback};
use super::registry::TenantRegistry;
use super::tenant::{TenantShared, reload_keys};
use crate::domain::TenantSlug;
use crate::store::changes::{self, Changes};
use crate::store::db::Health;
use crate::store::{Db, StoreResult, tenants};

/// Wait before subscribing again after a failed attempt (the link being up).
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(250);

/// What every feed of this node shares: how often feeds are read, the datastore's recent
/// versionstamps (where a newly opened tenant starts reading) and the gaps seen.
pub struct Feeds {
    /// How often each followed feed is read.
    pub poll: Duration,
    /// Whether `LIVE SELECT` is used as a hint besides the feeds.
    pub live: bool,
    watermark: Watermark,
    gaps: AtomicU64,
    last_gap: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl Feeds {
    /// Feeds read every `poll`, with `live` hints or without.
    pub fn new(poll: Duration, live: bool) -> Self {
        Self {
            poll,
            live,
            watermark: Watermark::default(),
            gaps: AtomicU64::new(0),
            last_gap: Mutex::new(None),
        }
    }

    /// Where the feed of a tenant that begins loading now starts: a position this node read
    /// at least a lookback ago (what is older was committed before the tenant's state is
    /// read), or 0.
    pub fn start_position(&self) -> u128 {
        self.watermark.start(Instant::now(), lookback(self.poll))
    }

    fn note_read(&self, now: Instant, version: u128) {
        self.watermark.note(now, version, lookback(self.poll));
    }

    /// For `/readyz`: the gaps seen since start and the last one, if any.
    pub fn gap_report(&self) -> Option<String> {
        let n = self.gaps.load(Ordering::Relaxed);
        let last = self.last_gap.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().map(|(what, at)| {
            format!(
                "change feed: {n} gap(s) since start, the last in {what} at {} (its caches were dropped)",
                at.to_rfc3339()
            )
        })
    }

    fn note_gap(&self, what: String) {
        tracing::warn!(feed = %what, "change feed not followed to its end for too long: every cache it protects is dropped");
        self.gaps.fetch_add(1, Ordering::Relaxed);
        *self.last_gap.lock().unwrap_or_else(|p| p.into_inner()) = Some((what, Utc::now()));
    }
}

/// Aborts the tenant's following tasks when its state is dropped (its actor stopped), which
/// drops the subscriptions (the SDK kills their live queries).
pub struct FeedGuard(Vec<tokio::task::AbortHandle>);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Starts following `shared`'s tables; the auth cache stays off until its feed is caught up.
pub fn follow(shared: &Arc<TenantShared>, feeds: &Arc<Feeds>) -> FeedGuard {
    shared.cache.set_enabled(false);
    let weak = Arc::downgrade(shared);
    let db = shared.db.clone();
    let max_age = shared.cache.max_age();
    let mut tasks = vec![
        tokio::spawn(read_feed(
            weak.clone(),
            db.clone(),
            feeds.clone(),
            shared.feed_start,
            max_age,
        ))
        .abort_handle(),
    ];
    if feeds.live {
        tasks.push(tokio::spawn(live_hints(weak, db)).abort_handle());
    }
    FeedGuard(tasks)
}

/// A tick every `period`, the first one `period` from now.
fn every(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}

/// Reads the key set again; false once the tenant is gone.
async fn reread_keys(weak: &Weak<TenantShared>) -> bool {
    let Some(shared) = weak.upgrade() else {
        return false;
    };
    if let Err(e) = reload_keys(&shared, shared.clock.now()).await {
        tracing::warn!(error = %e, tenant = %shared.slug, "key reload failed");
    }
    true
}

/// The tenant's feed from `start`, read every poll for as long as the tenant runs; the key
/// set read again every `max_age` besides.
async fn read_feed(
    weak: Weak<TenantShared>,
    db: Db,
    feeds: Arc<Feeds>,
    start: u128,
    max_age: Duration,
) {
    let mut follower = Follower::new(start, Instant::now(), feeds.poll);
    // Whether the auth cache is on: the feed was read to its end by the last poll.
    let mut trusted = false;
    // A key change was read but the key set not yet reloaded (the reload failed): retried on
    // every poll until it succeeds.
    let mut keys_dirty = false;
    let mut poll = tokio::time::interval(feeds.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = every(max_age);
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let now = Instant::now();
                let polled = follower.poll(&db, now).await;
                let Some(shared) = weak.upgrade() else { return };
                match polled {
                    Ok(p) => {
                        feeds.note_read(now, follower.highest());
                        apply(&shared, &feeds, p, &mut trusted, &mut keys_dirty).await;
                    }
                    Err(e) => {
                        if trusted {
                            tracing::warn!(error = %e, tenant = %shared.slug, "change feed unreadable: the auth cache is off until it is caught up");
                            shared.cache.set_enabled(false);
                            trusted = false;
                        }
                    }
                }
            }
            _ = sweep.tick() => {
                if !reread_keys(&weak).await {
                    return;
                }
            }
        }
    }
}

/// Applies one poll of a tenant's feed.
async fn apply(
    shared: &TenantShared,
    feeds: &Feeds,
    p: Polled,
    trusted: &mut bool,
    keys_dirty: &mut bool,
) {
    if p.gap {
        feeds.note_gap(format!("tenant {}", shared.slug));
        // Everything cached may be stale: the auth cache emptied, the key set read afresh.
        shared.cache.set_enabled(false);
        *trusted = false;
        *keys_dirty = true;
    }
    for c in &p.changes {
        match c.table.as_str() {
            "user" => shared.cache.forget_user_row(&c.key),
            "session" => shared.cache.forget_session(&c.key),
            "signing_key" => *keys_dirty = true,
            _ => {}
        }
    }
    if *keys_dirty {
        match reload_keys(shared, shared.clock.now()).await {
            Ok(()) => *keys_dirty = false,
            Err(e) => {
                tracing::warn!(error = %e, tenant = %shared.slug, "key reload failed; retried at the next poll")
            }
        }
    }
    if p.caught_up != *trusted {
        shared.cache.set_enabled(p.caught_up);
        *trusted = p.caught_up;
    }
}

async fn subscribe_all(db: &Db) -> StoreResult<(Changes, Changes, Changes)> {
    Ok((
        changes::subscribe(db, "user").await?,
        changes::subscribe(db, "session").await?,
        changes::subscribe(db, "signing_key").await?,
    ))
}

/// `LIVE SELECT` notifications, invalidating as soon as they come (the feed brings the same
/// changes within a poll; this only makes them faster where LIVE hears them).
async fn live_hints(weak: Weak<TenantShared>, db: Db) {
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
                _ = Health::link_changed(&mut link, epoch) => break,
            }
        }
    }
}

fn with(weak: &Weak<TenantShared>, f: impl FnOnce(&TenantShared)) {
    if let Some(s) = weak.upgrade() {
        f(&s);
    }
}

/// Follows the platform's tenant records on behalf of `registry`: a tenant changed on another
/// node gets its new settings here; one deleted or disabled is evicted as gone. Through the
/// platform's feed, with `LIVE SELECT` hints when on; in any case every running tenant reads
/// its record again every `max_age`. Runs for the life of the node.
pub fn follow_tenants(
    platform: Db,
    registry: TenantRegistry,
    feeds: Arc<Feeds>,
    max_age: Duration,
) -> tokio::task::JoinHandle<()> {
    let hints = {
        let (platform, registry, live) = (platform.clone(), registry.clone(), feeds.live);
        async move {
            if live {
                tenant_hints(platform, registry).await
            }
        }
    };
    let feed = async move {
        let mut follower = Follower::new(0, Instant::now(), feeds.poll);
        let mut poll = tokio::time::interval(feeds.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = every(max_age);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    let now = Instant::now();
                    match follower.poll(&platform, now).await {
                        Ok(p) => {
                            failing = false;
                            feeds.note_read(now, follower.highest());
                            if p.gap {
                                feeds.note_gap("the platform's tenant records".into());
                                refresh_all(&platform, &registry).await;
                                continue;
                            }
                            for c in p.changes.iter().filter(|c| c.table == "tenant") {
                                if let Ok(slug) = TenantSlug::parse(&c.key) {
                                    changed(&platform, &registry, &slug).await;
                                }
                            }
                        }
                        Err(e) => {
                            if !failing {
                                tracing::warn!(error = %e, "the platform's change feed is unreadable");
                                failing = true;
                            }
                        }
                    }
                }
                _ = sweep.tick() => refresh_all(&platform, &registry).await,
            }
        }
    };
    // One task, so that stopping it stops both.
    tokio::spawn(async move {
        tokio::join!(hints, feed);
    })
}

/// `LIVE SELECT` on the platform's tenant records: a faster hint where it works.
async fn tenant_hints(platform: Db, registry: TenantRegistry) {
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
        loop {
            tokio::select! {
                c = feed.next() => match c {
                    Some(c) => {
                        if let Ok(slug) = TenantSlug::parse(&c.key) {
                            changed(&platform, &registry, &slug).await;
                        }
                    }
                    None => break,
                },
                _ = Health::link_changed(&mut link, epoch) => break,
            }
        }
    }
}

/// A tenant's record changed: a running tenant is brought in line; one being opened is made
/// to open again (it may have read the record before the change; for a tenant neither
/// running nor opening the eviction does nothing).
async fn changed(platform: &Db, registry: &TenantRegistry, slug: &TenantSlug) {
    if registry.running_tenant(slug).is_some() {
        refresh(platform, registry, slug).await;
    } else {
        registry.evict(slug, false).await;
    }
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
