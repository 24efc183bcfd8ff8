//! Fixed-window counters per key (tenant and client address), in memory.
//!
//! These bound what one address can do per window (requests, failed logins). They live in
//! the process, not the tenant actor: per-address limits are a coarse flood guard, and the
//! per-account lockout that must survive restarts is in [`crate::domain::lockout`] and the database.

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::config::{Config, RateLimit};
use crate::error::ServiceError;

/// Allows `max` hits per key per window.
pub struct WindowLimiter {
    max: u32,
    window_secs: i64,
    hits: DashMap<String, (i64, u32)>,
}

/// Beyond this many keys, expired windows are swept so a flood of addresses cannot grow
/// the map without bound.
const SWEEP_AT: usize = 100_000;

impl WindowLimiter {
    /// A limiter of `limit.max` hits per `limit.window`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            max: limit.max,
            window_secs: limit.window.as_secs().max(1) as i64,
            hits: DashMap::new(),
        }
    }

    /// Counts a hit for `key`; `RateLimited` with the seconds left in the window when over.
    pub fn hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let now = now.timestamp();
        if self.hits.len() > SWEEP_AT {
            self.hits
                .retain(|_, (start, _)| now - *start < self.window_secs);
        }
        let mut entry = self.hits.entry(key.to_string()).or_insert((now, 0));
        let (start, count) = *entry;
        if now - start >= self.window_secs {
            *entry = (now, 1);
            return Ok(());
        }
        if count >= self.max {
            return Err(self.limited(now, start));
        }
        *entry = (start, count + 1);
        Ok(())
    }

    /// `RateLimited` when `key` has used its window up, without counting a hit.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let now = now.timestamp();
        match self.hits.get(key).map(|e| *e) {
            Some((start, count)) if now - start < self.window_secs && count >= self.max => {
                Err(self.limited(now, start))
            }
            _ => Ok(()),
        }
    }

    fn limited(&self, now: i64, start: i64) -> ServiceError {
        ServiceError::RateLimited {
            retry_after: (self.window_secs - (now - start)).max(1) as u64,
        }
    }
}

/// The per-address limits of the unauthenticated entry points (OWASP: throttle guessing and
/// sign-up/reset floods per client, whatever the account).
pub struct Limiters {
    /// `login` requests.
    pub login: WindowLimiter,
    /// Failed logins (counted after the verdict, checked before the next verification).
    pub login_failures: WindowLimiter,
    /// `register` requests.
    pub register: WindowLimiter,
    /// `requestPasswordReset` requests.
    pub password_reset: WindowLimiter,
}

impl Limiters {
    /// Limiters sized from the configuration.
    pub fn new(config: &Config) -> Self {
        Self {
            login: WindowLimiter::new(config.rate_limit_login),
            login_failures: WindowLimiter::new(config.login_failures_per_address),
            register: WindowLimiter::new(config.rate_limit_register),
            password_reset: WindowLimiter::new(config.rate_limit_password_reset),
        }
    }
}

/// The limiter key of a client in a tenant: one address's budget is per tenant, so a flood
/// against one tenant does not lock its users out of another.
pub fn address_key(tenant: &str, ip: &str) -> String {
    format!("{tenant}/{ip}")
}
