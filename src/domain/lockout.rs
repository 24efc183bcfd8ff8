//! Account lockout rules (OWASP ASVS 2.2.1): after `threshold` consecutive failures an account
//! is locked for `base`, doubling with every further failure up to `max`. Pure functions; the
//! tenant actor applies them so that check-and-increment is one serialized step.
//!
//! Atomicity: an attempt is *admitted* before its password is verified, and admitted attempts
//! still in flight count as failures-to-be. So however many requests race, no more than
//! `threshold` passwords are verified before the lockout decision (a lockout bypass of exactly
//! this kind was a published ZITADEL advisory).

use std::time::Duration;

use chrono::{DateTime, Utc};

use surrealdb::types::SurrealValue;

/// How long attempts in flight are trusted to report back. A request whose client vanished
/// between admission and verdict never reports; after this its reservation lapses.
pub const IN_FLIGHT_TTL_SECS: i64 = 60;

/// Lockout parameters (from the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures before the first lock (default 5).
    pub threshold: u32,
    /// First lock duration (default 1 s).
    pub base: Duration,
    /// Longest lock (default 15 min).
    pub max: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
        }
    }
}

/// Whether an attempt may verify a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; report the verdict afterwards.
    Admitted,
    /// Refused; retry after this many seconds (at least 1).
    Locked(u64),
    /// Not now: as many attempts as could fail before a lock are being verified. The attempt
    /// waits for their verdicts (queued, briefly) rather than being refused: a service that
    /// starts many instances with one account at once must not see `RATE_LIMITED` for
    /// passwords that are right.
    Busy,
}

impl LockoutPolicy {
    /// Lock length after `failures` consecutive failures (none below the threshold).
    pub fn lock_for(&self, failures: i64) -> Option<Duration> {
        let over = failures - i64::from(self.threshold);
        if over < 0 {
            return None;
        }
        // 2^over, saturating well before overflow: 2^20 s is already far beyond any cap.
        let factor = 1u32 << over.min(20) as u32;
        Some(self.base.saturating_mul(factor).min(self.max))
    }

    /// Decides an attempt given the stored state and the attempts already in flight.
    pub fn admit(&self, row: &ThrottleRow, in_flight: u32, now: DateTime<Utc>) -> Admission {
        if let Some(until) = row.locked_until
            && until > now
        {
            return Admission::Locked(ceil_secs(until - now));
        }
        // Attempts in flight may all fail: never let more run than could fail before a lock.
        // Past the threshold (lock expired) exactly one probe runs at a time.
        let budget = (i64::from(self.threshold) - row.failures).max(1);
        if i64::from(in_flight) >= budget {
            return Admission::Busy;
        }
        Admission::Admitted
    }

    /// The state after one more failure at `now`; the lock started, if any.
    pub fn fail(&self, row: &ThrottleRow, now: DateTime<Utc>) -> (ThrottleRow, Option<Duration>) {
        let failures = row.failures.saturating_add(1);
        let lock = self.lock_for(failures);
        let locked_until = lock.map(|d| now + chrono::Duration::from_std(d).unwrap_or_default());
        (
            ThrottleRow {
                failures,
                locked_until,
            },
            lock,
        )
    }
}

/// Whole seconds, rounded up, at least 1: `retryAfter` must never invite an early retry.
fn ceil_secs(d: chrono::Duration) -> u64 {
    let ms = d.num_milliseconds().max(1);
    ((ms + 999) / 1000) as u64
}

/// An account's failure state.
#[derive(Clone, Debug, Default, SurrealValue)]
pub struct ThrottleRow {
    /// Consecutive failures since the last success.
    pub failures: i64,
    /// No attempt is evaluated before this instant.
    pub locked_until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_from_the_threshold_and_caps() {
        let p = LockoutPolicy::default();
        assert_eq!(p.lock_for(4), None);
        assert_eq!(p.lock_for(5), Some(Duration::from_secs(1)));
        assert_eq!(p.lock_for(6), Some(Duration::from_secs(2)));
        assert_eq!(p.lock_for(14), Some(Duration::from_secs(512)));
        assert_eq!(p.lock_for(15), Some(Duration::from_secs(900)));
        assert_eq!(p.lock_for(i64::MAX), Some(Duration::from_secs(900)));
    }
}
