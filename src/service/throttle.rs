//! Fixed-window request counters per key (client address), in memory.

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::error::ServiceError;

/// Allows `max` hits per key per `window_secs`.
pub struct WindowLimiter {
    max: u32,
    window_secs: i64,
    hits: DashMap<String, (i64, u32)>,
}

/// Beyond this many keys, expired windows are swept so a flood of addresses cannot grow
/// the map without bound.
const SWEEP_AT: usize = 100_000;

impl WindowLimiter {
    /// A limiter of `max` hits per `window_secs` seconds.
    pub fn new(max: u32, window_secs: i64) -> Self {
        Self {
            max,
            window_secs,
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
            return Err(ServiceError::RateLimited {
                retry_after: (self.window_secs - (now - start)).max(1) as u64,
            });
        }
        *entry = (start, count + 1);
        Ok(())
    }
}
