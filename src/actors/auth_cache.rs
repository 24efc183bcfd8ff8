//! Read-through cache of the two records every Bearer-authenticated request reads: its
//! session (revoked? expired? whose?) and its user. A hit costs a hash-map lookup instead of
//! two SurrealDB queries, which is most of what `me` used to cost.
//!
//! Exact, not time-based: every write to a user or a session goes through the tenant actor,
//! which calls [`AuthCache::forget_user`] / [`AuthCache::forget_session`] after committing.
//! With an embedded engine this process is the database's only writer (one process opens a
//! RocksDB directory; `mem://` is private), so that is all. Against a shared SurrealDB server
//! other nodes write too: there the cache is on only while the tenant's change feed
//! (`actors::change_feed`) has been read to its end, and its entries invalidate exactly as a
//! local write does. While the feed cannot be read it is off and empty.
//!
//! A read that started before an invalidation must not put its (older) answer back: readers
//! note the generation before reading the database and fill only if no invalidation happened
//! meanwhile.
//!
//! A safety net under all of that: an entry older than the maximum age
//! (`CACHE_MAX_AGE_SECONDS`, default 60) is not served, whatever the invalidation paths did,
//! so no bug in one of them can keep a revoked session or a disabled user accepted for longer.
//! Ages are taken from the monotonic clock: a wall-clock step cannot extend them.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store::sessions::SessionRow;
use crate::store::users::UserRow;

/// Per-map bound: a full map is cleared and refilled, so a tenant with a million active
/// sessions costs at most this many entries.
const MAX_ENTRIES: usize = 20_000;

/// The cache of one tenant; lives as long as its actor.
pub struct AuthCache {
    enabled: AtomicBool,
    max_age: Duration,
    inner: RwLock<Inner>,
}

/// A cached row and when it was read.
struct Entry<T> {
    row: T,
    read_at: Instant,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    /// Only sessions that were live when read; revoked ones are read from the database.
    sessions: HashMap<String, Entry<SessionRow>>,
    users: HashMap<String, Entry<UserRow>>,
}

/// Taken before a database read; a fill with a stale ticket is dropped.
#[derive(Clone, Copy)]
pub struct Ticket(Option<u64>, Instant);

impl AuthCache {
    /// A cache; `enabled` only when this process is the store's only writer (or its change
    /// subscriptions are up); no entry is served after `max_age`.
    pub fn new(enabled: bool, max_age: Duration) -> Self {
        Self {
            enabled: AtomicBool::new(enabled),
            max_age,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// How long an entry is served at most.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The entry's row, unless it is older than the maximum age.
    fn fresh<T: Clone>(&self, entry: Option<&Entry<T>>) -> Option<T> {
        entry
            .filter(|e| e.read_at.elapsed() < self.max_age)
            .map(|e| e.row.clone())
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Turns the cache on or off, empty either way, with a new generation (so a fill that
    /// read before cannot land).
    pub fn set_enabled(&self, enabled: bool) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.sessions.clear();
        inner.users.clear();
        self.enabled.store(enabled, Ordering::Release);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached session `sid`, if any.
    pub fn session(&self, sid: &str) -> Option<SessionRow> {
        if !self.on() {
            return None;
        }
        self.fresh(self.read().sessions.get(sid))
    }

    /// The cached user `id`, if any.
    pub fn user(&self, id: &str) -> Option<UserRow> {
        if !self.on() {
            return None;
        }
        self.fresh(self.read().users.get(id))
    }

    /// Take one before reading the database for a fill.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.on().then(|| self.read().generation), Instant::now())
    }

    /// Caches a session read with `ticket` (live sessions only).
    pub fn fill_session(&self, ticket: Ticket, row: &SessionRow) {
        if row.revoked_at.is_none() {
            self.fill(ticket, &row.id, row, |inner| &mut inner.sessions);
        }
    }

    /// Caches a user read with `ticket`.
    pub fn fill_user(&self, ticket: Ticket, row: &UserRow) {
        self.fill(ticket, &row.id, row, |inner| &mut inner.users);
    }

    /// Stores `row` in the map `pick` chooses, unless an invalidation happened since `ticket`.
    fn fill<T: Clone>(
        &self,
        ticket: Ticket,
        id: &str,
        row: &T,
        pick: impl FnOnce(&mut Inner) -> &mut HashMap<String, Entry<T>>,
    ) {
        // The age counts from before the read (the ticket's moment is close enough: taken
        // just before it), never from the fill: a slow read does not lengthen it.
        let read_at = ticket.1;
        let Ticket(Some(generation), _) = ticket else {
            return;
        };
        let mut inner = self.write();
        if inner.generation != generation {
            return;
        }
        let map = pick(&mut inner);
        if map.len() >= MAX_ENTRIES {
            // Full: start over rather than stop caching (expired sessions pile up here).
            map.clear();
        }
        map.insert(
            id.to_string(),
            Entry {
                row: row.clone(),
                read_at,
            },
        );
    }

    /// Drops a user and all of its sessions (after any write to either).
    pub fn forget_user(&self, id: &str) {
        if let Some(mut inner) = self.invalidate() {
            inner.users.remove(id);
            inner.sessions.retain(|_, s| s.row.user != id);
        }
    }

    /// Drops a user's row but not its sessions (after a write to the user alone, such as the
    /// login time a new session records): cheaper than [`AuthCache::forget_user`], which
    /// scans the sessions.
    pub fn forget_user_row(&self, id: &str) {
        if let Some(mut inner) = self.invalidate() {
            inner.users.remove(id);
        }
    }

    /// Drops one session (after it was revoked).
    pub fn forget_session(&self, sid: &str) {
        if let Some(mut inner) = self.invalidate() {
            inner.sessions.remove(sid);
        }
    }

    /// Starts an invalidation: a new generation, so fills that read before it are dropped;
    /// `None` when the cache is off.
    fn invalidate(&self) -> Option<std::sync::RwLockWriteGuard<'_, Inner>> {
        if !self.on() {
            return None;
        }
        let mut inner = self.write();
        inner.generation += 1;
        Some(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn session(id: &str, user: &str) -> SessionRow {
        SessionRow {
            id: id.into(),
            user: user.into(),
            expires_at: Utc::now(),
            revoked_at: None,
            amr: None,
            client_id: None,
            scope: None,
            last_seen_at: None,
            idp: None,
            org: None,
        }
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = AuthCache::new(true, Duration::from_secs(60));
        let before = cache.ticket();
        cache.forget_session("s1");
        cache.fill_session(before, &session("s1", "u1"));
        assert!(cache.session("s1").is_none());
        cache.fill_session(cache.ticket(), &session("s1", "u1"));
        assert!(cache.session("s1").is_some());
        cache.forget_user("u1");
        assert!(
            cache.session("s1").is_none(),
            "a user's sessions go with it"
        );
    }

    #[test]
    fn a_full_cache_starts_over_and_keeps_caching() {
        let cache = AuthCache::new(true, Duration::from_secs(60));
        for i in 0..MAX_ENTRIES {
            cache.fill_session(cache.ticket(), &session(&format!("s{i}"), "u1"));
        }
        cache.fill_session(cache.ticket(), &session("new", "u2"));
        assert!(cache.session("new").is_some());
        assert!(cache.session("s0").is_none());
    }

    #[test]
    fn forgetting_a_user_row_keeps_its_sessions() {
        let cache = AuthCache::new(true, Duration::from_secs(60));
        cache.fill_session(cache.ticket(), &session("s1", "u1"));
        cache.forget_user_row("u1");
        assert!(cache.session("s1").is_some());
    }

    #[test]
    fn an_entry_older_than_the_maximum_age_is_not_served() {
        let cache = AuthCache::new(true, Duration::ZERO);
        cache.fill_session(cache.ticket(), &session("s1", "u1"));
        assert!(
            cache.session("s1").is_none(),
            "zero max age: nothing is served"
        );
        let cache = AuthCache::new(true, Duration::from_secs(3600));
        cache.fill_session(cache.ticket(), &session("s1", "u1"));
        assert!(cache.session("s1").is_some());
    }

    #[test]
    fn revoked_sessions_and_disabled_caches_stay_empty() {
        let cache = AuthCache::new(true, Duration::from_secs(60));
        let mut revoked = session("s1", "u1");
        revoked.revoked_at = Some(Utc::now());
        cache.fill_session(cache.ticket(), &revoked);
        assert!(cache.session("s1").is_none());
        let off = AuthCache::new(false, Duration::from_secs(60));
        off.fill_session(off.ticket(), &session("s1", "u1"));
        assert!(off.session("s1").is_none());
    }
}
