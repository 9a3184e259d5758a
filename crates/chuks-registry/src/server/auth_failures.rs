//! Throttling repeated failed authentication per client address: after `limit` unknown or
//! malformed tokens from one address within a window, that address is refused (429 with
//! `Retry-After`) until the window ends. Addresses are kept, never tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Above this many tracked addresses, expired windows are dropped before a new one is added.
const PRUNE_ABOVE: usize = 10_000;

pub struct AuthFailures {
    limit: u32,
    by_address: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl AuthFailures {
    pub fn new(limit: u32) -> AuthFailures {
        AuthFailures {
            limit,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// How long `address` must wait, if it already failed `limit` times in this window.
    pub fn blocked_for(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows();
        let window = windows.get(&address)?;
        let left = WINDOW.checked_sub(now.duration_since(window.started))?;
        (window.failures >= self.limit && !left.is_zero()).then_some(left)
    }

    /// Counts one failure of `address`.
    pub fn record(&self, address: IpAddr, now: Instant) {
        let mut windows = self.windows();
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, window| now.duration_since(window.started) < WINDOW);
        }
        let window = windows.entry(address).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// The table; a panic while it was held leaves counts that are still usable.
    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Window>> {
        self.by_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_the_limit_until_its_window_ends() {
        let failures = AuthFailures::new(2);
        let one: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let start = Instant::now();
        failures.record(one, start);
        assert_eq!(failures.blocked_for(one, start), None);
        failures.record(one, start);
        assert!(failures.blocked_for(one, start).is_some());
        assert_eq!(failures.blocked_for(other, start), None);
        assert_eq!(failures.blocked_for(one, start + WINDOW), None);
        failures.record(one, start + WINDOW);
        assert_eq!(failures.blocked_for(one, start + WINDOW), None);
    }
}
