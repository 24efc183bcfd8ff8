//! The one source of "now" for tokens, sessions and expiry.
//!
//! Time-dependent rules (token expiry, session lifetime) read this clock instead of the system
//! clock so a test can move time forward through the configuration it builds the server from,
//! instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// System time plus an offset that only moves forward.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The current instant as whole seconds since the Unix epoch (JWT `NumericDate`).
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// Moves this clock (and every clone of it) forward; used by tests to expire things.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
