//! Per-token rate limits of the API: a token bucket for each bearer token. A token may make
//! `burst` requests at once, and one more each `60 / per_minute` seconds after; a request over
//! that answers 429 with `Retry-After`, before the library is called.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The buckets, by token (whether it is the platform operator's, and its id: the two kinds of
/// token are numbered apart).
pub struct RateLimits {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<(bool, i64), Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are full again and are dropped when the map grows.
const FORGET_AFTER_SECONDS: f64 = 3600.0;

impl RateLimits {
    /// `per_minute` requests a minute on average, `burst` at once; `per_minute` 0 turns the limit
    /// off.
    pub fn new(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits {
            per_minute,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit in words, for the refusal's message.
    pub fn describe(&self) -> String {
        format!(
            "{} requests a minute, {} at once",
            self.per_minute, self.burst
        )
    }

    /// Takes one request from `token`'s bucket, or says how many seconds until one is there.
    pub fn take(&self, token: (bool, i64)) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let per_second = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < FORGET_AFTER_SECONDS);
        }
        let bucket = buckets.entry(token).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_burst_then_waits_while_another_token_is_not_held_up() {
        let limits = RateLimits::new(1, 3);
        for _ in 0..3 {
            assert_eq!(limits.take((false, 1)), Ok(()));
        }
        let wait = limits.take((false, 1)).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(limits.take((false, 2)), Ok(()));
        assert_eq!(limits.take((true, 1)), Ok(()));
        assert_eq!(RateLimits::new(0, 1).take((false, 1)), Ok(()));
    }
}
