//! Following one database's change feed (`store::feed`) without missing or repeating a
//! change: the bookkeeping alone, free of timers and of the database, so that the model tests
//! below can hand it a feed that misbehaves the ways a real one can.
//!
//! What a feed does that a naive "read from the last versionstamp" would get wrong:
//! - **Late lower versionstamps.** On TiKV a transaction's versionstamp is taken before it
//!   commits, so an entry with a lower versionstamp can become visible after a higher one was
//!   read. Every poll therefore starts from the highest versionstamp read [`LOOKBACK`] ago
//!   (by this process's monotonic clock, whatever the datastore's stamps mean) and skips what
//!   it already handed out, by versionstamp and record. A commit that becomes visible more
//!   than [`LOOKBACK`] after a later one was read is missed by the feed; the caches' maximum
//!   age still bounds it.
//! - **Split pages.** `LIMIT` counts stored entries, and one versionstamp has one entry per
//!   table: a page can end in the middle of a transaction. The next page starts at the last
//!   versionstamp again (inclusive), and pages are read until one is short.
//! - **Duplicates.** Re-reading is how the two above are handled, so every entry comes more
//!   than once; each record of each versionstamp is handed out once.
//! - **A retention gap.** Entries older than the table's retention vanish without a sign. A
//!   follower that has not reached the feed's end for [`GAP_AFTER`] (the database unreachable,
//!   or too far behind) may have lost some: its next complete poll reports a gap, and the
//!   caller drops every cache the feed protects.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StoreResult;
use crate::store::feed::{FeedChange, Page};

/// How far back every poll reads again, for versionstamps that become visible late (plus
/// the poll period: what a poll must still cover is what became visible since the last one).
pub const LOOKBACK: Duration = Duration::from_secs(5);
/// A follower that has not reached the feed's end for this long (plus two poll periods)
/// reports a gap. With the longest poll (60 s) that is 150 s, plus 65 s of lookback: under
/// the feeds' 5-minute retention (migrations tenant/022, platform/012).
pub const GAP_AFTER: Duration = Duration::from_secs(30);
/// Pages one poll reads at most; a feed longer than that is read on by the next poll (the
/// follower is behind meanwhile, and its caller trusts no cache).
const MAX_PAGES: usize = 20;

/// How far back each poll of a feed polled every `poll` reads again.
pub fn lookback(poll: Duration) -> Duration {
    LOOKBACK + poll
}

/// Where a feed is read from.
pub trait FeedSource {
    /// Entries from the versionstamp `since` (inclusive), at most `limit`.
    fn read(&self, since: u128, limit: u32) -> impl Future<Output = StoreResult<Page>> + Send;
}

impl FeedSource for crate::store::Db {
    fn read(&self, since: u128, limit: u32) -> impl Future<Output = StoreResult<Page>> + Send {
        crate::store::feed::read(self, since, limit)
    }
}

/// What one poll found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Polled {
    /// Records changed since the last poll, each once.
    pub changes: Vec<FeedChange>,
    /// Whether the poll reached the feed's end (otherwise the follower is behind, and the
    /// next poll reads on).
    pub caught_up: bool,
    /// The follower had not been caught up for [`GAP_AFTER`]: changes may have been lost.
    pub gap: bool,
}

/// One feed's position and what was already handed out.
pub struct Follower {
    limit: u32,
    lookback: Duration,
    gap_after: Duration,
    /// Where reading starts until a mark is [`LOOKBACK`] old.
    start: u128,
    /// The highest versionstamp read by each complete poll.
    marks: Marks,
    /// Where an incomplete poll stopped; the next one reads on from there.
    behind: Option<u128>,
    highest: u128,
    /// What was handed out, by versionstamp and record, at or after the next poll's start.
    seen: HashSet<(u128, FeedChange)>,
    caught_up_at: Instant,
}

impl Follower {
    /// A follower polled every `poll`, reading from `start` (a versionstamp read at least
    /// [`lookback`] ago, or 0: everything the feed still holds).
    pub fn new(start: u128, now: Instant, poll: Duration) -> Self {
        Self::with_limit(start, now, poll, crate::store::feed::PAGE)
    }

    /// With a page size of `limit` entries (the model tests use small ones).
    pub fn with_limit(start: u128, now: Instant, poll: Duration, limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            lookback: lookback(poll),
            gap_after: GAP_AFTER + poll * 2,
            start,
            marks: Marks::default(),
            behind: None,
            highest: start,
            seen: HashSet::new(),
            caught_up_at: now,
        }
    }

    /// The highest versionstamp read so far.
    pub fn highest(&self) -> u128 {
        self.highest
    }

    /// Where a complete poll at `now` starts: the highest versionstamp read [`LOOKBACK`] ago.
    fn since(&self, now: Instant) -> u128 {
        self.marks.before(now, self.lookback).unwrap_or(self.start)
    }

    /// Reads the feed on. An error leaves everything as it was, what earlier pages of the
    /// same poll found included: the next poll reads and hands it out again.
    pub async fn poll(&mut self, source: &impl FeedSource, now: Instant) -> StoreResult<Polled> {
        let mut since = self.behind.unwrap_or_else(|| self.since(now));
        let mut out = Polled::default();
        let mut limit = self.limit;
        let mut highest = self.highest;
        let mut found: HashSet<(u128, FeedChange)> = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = source.read(since, limit).await?;
            for set in &page.sets {
                highest = highest.max(set.version);
                for c in &set.changes {
                    let key = (set.version, c.clone());
                    if !self.seen.contains(&key) && found.insert(key) {
                        out.changes.push(c.clone());
                    }
                }
            }
            if page.is_last(limit) {
                out.caught_up = true;
                break;
            }
            // Inclusive, for the rest of a versionstamp cut by the limit. A page that was all
            // one versionstamp (more tables than the page holds) is read again, larger.
            let last = page.sets.last().map_or(since, |s| s.version);
            if last > since {
                since = last;
            } else {
                limit = limit.saturating_mul(2);
            }
        }
        self.highest = highest;
        self.seen.extend(found);
        if !out.caught_up {
            self.behind = Some(since);
            return Ok(out);
        }
        self.behind = None;
        out.gap = now.saturating_duration_since(self.caught_up_at) >= self.gap_after;
        self.caught_up_at = now;
        self.marks.note(now, self.highest, self.lookback);
        let floor = self.since(now);
        self.seen.retain(|(v, _)| *v >= floor);
        Ok(out)
    }
}

/// The node's latest known positions in its datastore's versionstamps, shared by every feed
/// it follows (versionstamps come from one clock per datastore, whatever the database). A
/// tenant opened later starts its follower from the highest versionstamp read [`LOOKBACK`]
/// ago instead of the feed's beginning: what it would read before that is older than what it
/// just loaded.
#[derive(Default)]
pub struct Watermark {
    marks: Mutex<Marks>,
}

impl Watermark {
    /// Notes that `version` had been read by `now`.
    pub fn note(&self, now: Instant, version: u128, lookback: Duration) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks.note(now, version, lookback);
    }

    /// Where a follower whose tenant began loading at `now` starts: the highest versionstamp
    /// read at least `lookback` before, or 0 (everything retained) when none is that old.
    pub fn start(&self, now: Instant, lookback: Duration) -> u128 {
        let marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks.before(now, lookback).unwrap_or(0)
    }
}

/// (when, highest versionstamp read by then), oldest first: what a follower and the
/// watermark both keep to find "the highest versionstamp read a lookback ago".
#[derive(Default)]
struct Marks(VecDeque<(Instant, u128)>);

impl Marks {
    /// Notes that `version` had been read by `now` (nothing new if it is not higher than the
    /// last mark); of the marks older than `lookback` only the newest is kept.
    fn note(&mut self, now: Instant, version: u128, lookback: Duration) {
        if self.0.back().is_some_and(|(_, v)| *v >= version) {
            return;
        }
        self.0.push_back((now, version));
        while self.0.len() > 1 && now.saturating_duration_since(self.0[1].0) >= lookback {
            self.0.pop_front();
        }
    }

    /// The highest versionstamp read at least `lookback` before `now`, if one is that old.
    fn before(&self, now: Instant, lookback: Duration) -> Option<u128> {
        self.0
            .iter()
            .rev()
            .find(|(t, _)| now.saturating_duration_since(*t) >= lookback)
            .map(|(_, v)| *v)
    }
}

/// Model tests: the follower against an in-memory feed that behaves as SurrealDB's does
/// (inclusive `SINCE`, `LIMIT` counting one entry per table and versionstamp, retention) and
/// misbehaves as a TiKV-backed one can (late lower versionstamps). Labelled as models: the
/// real feed is exercised by `store::feed`'s tests and the cluster tests.
#[cfg(test)]
mod model_tests {
    use super::*;
    use crate::store::StoreError;
    use crate::store::feed::ChangeSet;
    use std::collections::BTreeMap;

    /// Entries by (versionstamp, table) → keys; only visible ones are read.
    #[derive(Default)]
    struct ModelFeed {
        entries: Mutex<BTreeMap<(u128, String), Vec<String>>>,
        failing: Mutex<bool>,
        reads: Mutex<usize>,
        /// The read (counted from 1) that fails, once.
        fail_at_read: Mutex<Option<usize>>,
    }

    impl ModelFeed {
        fn commit(&self, version: u128, writes: &[(&str, &str)]) {
            let mut e = self.entries.lock().unwrap();
            for (t, k) in writes {
                e.entry((version, t.to_string()))
                    .or_default()
                    .push(k.to_string());
            }
        }
        /// The garbage collector: everything below `version` is gone.
        fn expire_below(&self, version: u128) {
            self.entries
                .lock()
                .unwrap()
                .retain(|(v, _), _| *v >= version);
        }
        fn fail(&self, failing: bool) {
            *self.failing.lock().unwrap() = failing;
        }
    }

    impl FeedSource for ModelFeed {
        fn read(&self, since: u128, limit: u32) -> impl Future<Output = StoreResult<Page>> + Send {
            let n = {
                let mut reads = self.reads.lock().unwrap();
                *reads += 1;
                *reads
            };
            let once = {
                let mut at = self.fail_at_read.lock().unwrap();
                let hit = *at == Some(n);
                if hit {
                    *at = None;
                }
                hit
            };
            let res = if once || *self.failing.lock().unwrap() {
                Err(StoreError::Unavailable("model feed down".into()))
            } else {
                let e = self.entries.lock().unwrap();
                let mut page = Page::default();
                for ((v, t), keys) in e.range((since, String::new())..).take(limit as usize) {
                    page.entries += 1;
                    let changes = keys.iter().map(|k| change(t, k));
                    match page.sets.last_mut() {
                        Some(s) if s.version == *v => s.changes.extend(changes),
                        _ => page.sets.push(ChangeSet {
                            version: *v,
                            changes: changes.collect(),
                        }),
                    }
                }
                Ok(page)
            };
            std::future::ready(res)
        }
    }

    fn change(table: &str, key: &str) -> FeedChange {
        FeedChange {
            table: table.to_string(),
            key: key.to_string(),
        }
    }

    fn keys(p: &Polled) -> Vec<String> {
        p.changes
            .iter()
            .map(|c| format!("{}:{}", c.table, c.key))
            .collect()
    }

    const TICK: Duration = Duration::from_millis(250);

    #[tokio::test]
    async fn model_each_change_is_handed_out_once_across_overlapping_polls() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::new(0, t0, TICK);
        feed.commit(10, &[("user", "a")]);
        feed.commit(11, &[("session", "s")]);
        let p = f.poll(&feed, t0).await.unwrap();
        assert_eq!(keys(&p), ["user:a", "session:s"]);
        assert!(p.caught_up && !p.gap);
        // 40 polls over 10 s re-read the window; nothing comes twice, new writes come once.
        let mut all = Vec::new();
        for i in 1..=40u32 {
            if i == 30 {
                feed.commit(20, &[("user", "b")]);
            }
            let p = f.poll(&feed, t0 + TICK * i).await.unwrap();
            all.extend(keys(&p));
        }
        assert_eq!(all, ["user:b"]);
        assert_eq!(f.highest(), 20);
    }

    #[tokio::test]
    async fn model_a_lower_versionstamp_that_appears_late_is_still_handed_out() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::new(0, t0, TICK);
        feed.commit(100, &[("user", "first")]);
        for i in 0..8u32 {
            f.poll(&feed, t0 + TICK * i).await.unwrap();
        }
        // A transaction stamped 50 (before 100 was read) commits 2 s after 100 was read,
        // then one stamped 120.
        feed.commit(50, &[("session", "late")]);
        feed.commit(120, &[("user", "next")]);
        let p = f.poll(&feed, t0 + TICK * 8).await.unwrap();
        assert_eq!(keys(&p), ["session:late", "user:next"]);
        // And never again.
        for i in 9..40u32 {
            assert!(
                f.poll(&feed, t0 + TICK * i)
                    .await
                    .unwrap()
                    .changes
                    .is_empty()
            );
        }
    }

    #[tokio::test]
    async fn model_a_transaction_split_between_pages_is_handed_out_whole() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        // Two entries a page; versionstamp 2 has three tables.
        let mut f = Follower::with_limit(0, t0, TICK, 2);
        feed.commit(1, &[("user", "a")]);
        feed.commit(2, &[("session", "s"), ("signing_key", "k"), ("user", "b")]);
        feed.commit(3, &[("user", "c")]);
        let p = f.poll(&feed, t0).await.unwrap();
        let mut got = keys(&p);
        got.sort();
        assert_eq!(
            got,
            ["session:s", "signing_key:k", "user:a", "user:b", "user:c"]
        );
        assert!(p.caught_up);
        assert!(*feed.reads.lock().unwrap() >= 3, "read in several pages");
    }

    #[tokio::test]
    async fn model_a_feed_longer_than_a_poll_is_read_on_by_the_next() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::with_limit(0, t0, TICK, 2);
        for v in 1..=(MAX_PAGES as u128 * 2 + 10) {
            feed.commit(v, &[("user", &format!("u{v}"))]);
        }
        let first = f.poll(&feed, t0).await.unwrap();
        assert!(!first.caught_up, "behind after one poll's pages");
        let mut all: Vec<String> = keys(&first);
        for i in 1..=10u32 {
            let next = f.poll(&feed, t0 + TICK * i).await.unwrap();
            all.extend(keys(&next));
            if next.caught_up {
                break;
            }
        }
        let expected: Vec<String> = (1..=(MAX_PAGES as u128 * 2 + 10))
            .map(|v| format!("user:u{v}"))
            .collect();
        assert_eq!(all, expected);
    }

    #[tokio::test]
    async fn model_a_follower_that_could_not_read_past_the_bound_reports_a_gap() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::new(0, t0, TICK);
        feed.commit(1, &[("user", "a")]);
        assert!(!f.poll(&feed, t0).await.unwrap().gap);
        // The database unreachable for longer than GAP_AFTER; meanwhile writes happen and
        // the garbage collector removes some of them.
        feed.fail(true);
        let mut t = t0;
        while t.duration_since(t0) < GAP_AFTER + TICK * 3 {
            t += TICK;
            assert!(f.poll(&feed, t).await.is_err());
        }
        feed.commit(2, &[("user", "lost")]);
        feed.commit(3, &[("user", "kept")]);
        feed.expire_below(3);
        feed.fail(false);
        let p = f.poll(&feed, t + TICK).await.unwrap();
        assert!(p.gap, "a gap is reported");
        assert_eq!(keys(&p), ["user:kept"]);
        // Then following goes on as usual.
        feed.commit(4, &[("user", "after")]);
        let p = f.poll(&feed, t + TICK * 2).await.unwrap();
        assert!(!p.gap);
        assert_eq!(keys(&p), ["user:after"]);
    }

    #[tokio::test]
    async fn model_a_short_outage_is_caught_up_without_a_gap() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::new(0, t0, TICK);
        f.poll(&feed, t0).await.unwrap();
        feed.fail(true);
        assert!(f.poll(&feed, t0 + TICK).await.is_err());
        feed.commit(7, &[("session", "revoked")]);
        feed.fail(false);
        let p = f.poll(&feed, t0 + Duration::from_secs(3)).await.unwrap();
        assert!(!p.gap);
        assert_eq!(keys(&p), ["session:revoked"]);
    }

    #[test]
    fn model_a_tenant_opened_later_starts_from_a_position_read_a_lookback_ago() {
        let w = Watermark::default();
        let t0 = Instant::now();
        let l = LOOKBACK;
        assert_eq!(w.start(t0, l), 0, "nothing known: the whole feed");
        w.note(t0, 100, l);
        w.note(t0 + Duration::from_secs(3), 200, l);
        assert_eq!(w.start(t0 + Duration::from_secs(4), l), 0);
        assert_eq!(w.start(t0 + LOOKBACK, l), 100);
        assert_eq!(w.start(t0 + Duration::from_secs(8), l), 200);
        w.note(t0 + Duration::from_secs(20), 300, l);
        assert_eq!(w.start(t0 + Duration::from_secs(21), l), 200);
    }

    /// A feed that fails on the second page of a poll: what the first page found is handed
    /// out by the next poll, not lost.
    #[tokio::test]
    async fn model_a_poll_failing_midway_loses_nothing_it_read() {
        let feed = ModelFeed::default();
        let t0 = Instant::now();
        let mut f = Follower::with_limit(0, t0, TICK, 2);
        for v in 1..=6u128 {
            feed.commit(v, &[("signing_key", &format!("k{v}"))]);
        }
        *feed.fail_at_read.lock().unwrap() = Some(2);
        assert!(f.poll(&feed, t0).await.is_err());
        let p = f.poll(&feed, t0 + TICK).await.unwrap();
        assert!(p.caught_up);
        let expected: Vec<String> = (1..=6).map(|v| format!("signing_key:k{v}")).collect();
        assert_eq!(keys(&p), expected);
    }
}
