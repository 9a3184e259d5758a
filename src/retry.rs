//! Retrying, for the registry client, the forges and the official CLI alike: the policy (which
//! answers to retry, how long to wait) and the one loop that applies it.

use std::time::Duration;

/// The longest our own backoff grows to, so late attempts do not stall a pipeline.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The longest server-requested wait we honour; a longer `Retry-After` is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How often and how patiently a failing request is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first one.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each later one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): capped exponential backoff with jitter
    /// in [50%, 100%], unless the server's `Retry-After` (capped at 120 s) asks for longer.
    pub fn pause(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.pause_with_jitter(attempt, retry_after, jitter())
    }

    /// `pause` with the jitter given, a fraction in [0.5, 1.0].
    fn pause_with_jitter(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let backoff = self
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(MAX_BACKOFF)
            .mul_f64(jitter);
        match retry_after {
            Some(asked) => backoff.max(asked.min(MAX_RETRY_AFTER)),
            None => backoff,
        }
    }
}

/// Why one attempt failed.
#[derive(Debug)]
pub enum AttemptError<E> {
    /// Worth another attempt: refused, reset, timed out, or a retryable answer.
    Transient(Transient),
    /// Retrying cannot help.
    Fatal(E),
}

/// A failure worth another attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient {
    /// What went wrong, for the message after the last attempt.
    pub message: String,
    /// How long the server asked us to wait, if it did.
    pub retry_after: Option<Duration>,
}

impl Transient {
    pub fn new(message: impl Into<String>) -> Transient {
        Transient {
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Why the attempts as a whole failed.
#[derive(Debug)]
pub enum RetryError<E> {
    Fatal(E),
    /// Every attempt failed transiently; `last` is what the last one said.
    Exhausted {
        attempts: u32,
        last: String,
    },
}

/// Runs `attempt` until it succeeds, fails fatally, or has failed transiently `retries + 1`
/// times, pausing between attempts as the policy says.
pub async fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut attempt: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AttemptError<E>>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let transient = match attempt().await {
            Ok(value) => return Ok(value),
            Err(AttemptError::Fatal(err)) => return Err(RetryError::Fatal(err)),
            Err(AttemptError::Transient(transient)) => transient,
        };
        if attempts > policy.retries {
            return Err(RetryError::Exhausted {
                attempts,
                last: transient.message,
            });
        }
        tokio::time::sleep(policy.pause(attempts, transient.retry_after)).await;
    }
}

/// A fraction in [0.5, 1.0], so clients that failed together do not retry together.
fn jitter() -> f64 {
    // Without randomness the full backoff is still a correct, if less spread, wait.
    let random = getrandom::u32().unwrap_or(u32::MAX);
    0.5 + 0.5 * f64::from(random) / f64::from(u32::MAX)
}

/// True for answers that mean "try again later": 408, 429 and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    let wait = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }

    #[test]
    fn defaults_are_three_retries_from_half_a_second() {
        assert_eq!(RetryPolicy::default(), policy());
    }

    #[test]
    fn backoff_doubles_per_attempt_within_the_jitter_band() {
        let p = policy();
        assert_eq!(
            p.pause_with_jitter(1, None, 1.0),
            Duration::from_millis(500)
        );
        assert_eq!(
            p.pause_with_jitter(1, None, 0.5),
            Duration::from_millis(250)
        );
        assert_eq!(p.pause_with_jitter(2, None, 1.0), Duration::from_secs(1));
        assert_eq!(p.pause_with_jitter(3, None, 1.0), Duration::from_secs(2));
        for attempt in 1..=4 {
            let full = p.pause_with_jitter(attempt, None, 1.0);
            for _ in 0..50 {
                let pause = p.pause(attempt, None);
                assert!(
                    pause >= full / 2 && pause <= full,
                    "{pause:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn backoff_is_capped_at_thirty_seconds() {
        let p = policy();
        assert_eq!(p.pause_with_jitter(7, None, 1.0), Duration::from_secs(30));
        assert_eq!(
            p.pause_with_jitter(u32::MAX, None, 1.0),
            Duration::from_secs(30)
        );
        assert_eq!(p.pause_with_jitter(40, None, 0.5), Duration::from_secs(15));
    }

    #[test]
    fn a_longer_retry_after_wins_and_is_capped() {
        let p = policy();
        let asked = Some(Duration::from_secs(7));
        assert_eq!(p.pause_with_jitter(1, asked, 1.0), Duration::from_secs(7));
        let shorter = Some(Duration::from_millis(100));
        assert_eq!(
            p.pause_with_jitter(1, shorter, 1.0),
            Duration::from_millis(500)
        );
        let huge = Some(Duration::from_secs(3600));
        assert_eq!(p.pause_with_jitter(1, huge, 1.0), Duration::from_secs(120));
    }

    #[tokio::test]
    async fn the_loop_stops_at_success_a_fatal_error_or_the_last_retry() {
        let policy = RetryPolicy {
            retries: 2,
            backoff: Duration::from_millis(1),
        };
        let calls = std::cell::Cell::new(0);
        let flaky = || async {
            calls.set(calls.get() + 1);
            match calls.get() {
                3 => Ok("done"),
                _ => Err(AttemptError::<()>::Transient(Transient::new("reset"))),
            }
        };
        assert_eq!(with_retries(&policy, flaky).await.unwrap(), "done");
        calls.set(0);
        let fatal = || async { Err::<(), _>(AttemptError::Fatal("no")) };
        assert!(matches!(
            with_retries(&policy, fatal).await,
            Err(RetryError::Fatal("no"))
        ));
        let failing = || async {
            calls.set(calls.get() + 1);
            Err::<(), _>(AttemptError::<()>::Transient(Transient::new("down")))
        };
        match with_retries(&policy, failing).await {
            Err(RetryError::Exhausted { attempts, last }) => {
                assert_eq!((attempts, last.as_str()), (3, "down"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 301, 400, 401, 403, 404, 409, 422, 600] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: jiff::Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Thu, 02 Jan 2025 03:04:35 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 02 Jan 2025 03:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
