//! Exponential back-off per key, as the kubelet uses for image pulls and crashing
//! containers: 10 s doubling to 5 min, forgotten after 10 min without a failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const INITIAL: Duration = Duration::from_secs(10);
const MAX: Duration = Duration::from_secs(300);
const RESET_AFTER: Duration = Duration::from_secs(600);

/// Back-off state for many keys.
#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, (Duration, Instant)>,
}

impl Backoff {
    /// Record a failure now; returns how long to wait before the next try.
    pub fn fail(&mut self, key: &str) -> Duration {
        self.fail_at(key, Instant::now())
    }

    fn fail_at(&mut self, key: &str, now: Instant) -> Duration {
        let delay = match self.entries.get(key) {
            Some((d, last)) if now.duration_since(*last) < RESET_AFTER + *d => (*d * 2).min(MAX),
            _ => INITIAL,
        };
        self.entries.insert(key.to_string(), (delay, now));
        delay
    }

    /// The time left before `key` may be tried again, if it is backing off.
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        self.remaining_at(key, Instant::now())
    }

    fn remaining_at(&self, key: &str, now: Instant) -> Option<Duration> {
        let (delay, last) = self.entries.get(key)?;
        (*last + *delay)
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    /// The current delay of `key` (for messages), if any.
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|(d, _)| *d)
    }

    /// Forget `key` (it succeeded).
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.fail_at("x", t0), Duration::from_secs(10));
        assert!(b.remaining_at("x", t0 + Duration::from_secs(5)).is_some());
        assert!(b.remaining_at("x", t0 + Duration::from_secs(11)).is_none());
        assert_eq!(
            b.fail_at("x", t0 + Duration::from_secs(11)),
            Duration::from_secs(20)
        );
        let mut t = t0 + Duration::from_secs(11);
        for _ in 0..10 {
            t += Duration::from_secs(1);
            b.fail_at("x", t);
        }
        assert_eq!(b.delay("x"), Some(MAX));
        assert_eq!(b.fail_at("x", t + Duration::from_secs(2000)), INITIAL);
        b.reset("x");
        assert!(b.remaining("x").is_none());
    }
}
