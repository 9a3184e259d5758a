//! A whole-server request limit per one-second window, for rehearsing clients' 429 handling.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    per_second: u32,
    window: Mutex<Window>,
}

struct Window {
    started: Instant,
    admitted: u32,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second,
            window: Mutex::new(Window {
                started: Instant::now(),
                admitted: 0,
            }),
        }
    }

    /// Counts a request; `false` once more than `per_second` arrived in the current second.
    pub fn admit(&self) -> bool {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if now.duration_since(window.started) >= Duration::from_secs(1) {
            window.started = now;
            window.admitted = 0;
        }
        if window.admitted < self.per_second {
            window.admitted += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_per_window() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.admit());
        assert!(limiter.admit());
        assert!(!limiter.admit());
    }
}
