//! Rate limits shared by every sender on a node, or by every node through
//! Redis when `TIKETHET_REDIS_URL` is set.
//!
//! Both back ends implement GCRA (the generic cell rate algorithm): one
//! timestamp per key, a steady rate and a burst allowance, so the in-process
//! and Redis limiters behave the same.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A rate: `count` per `period` on average, with up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Rate {
    pub const fn per_second(count: u32, burst: u32) -> Rate {
        Rate { count, period: Duration::from_secs(1), burst }
    }

    pub const fn per_minute(count: u32, burst: u32) -> Rate {
        Rate { count, period: Duration::from_secs(60), burst }
    }

    /// The most sends GCRA lets through in any window of `secs` seconds:
    /// the burst, then one an interval (`(window + tolerance) / interval`,
    /// plus the first).
    pub const fn most_in(self, secs: u64) -> u64 {
        let interval_us = self.period.as_micros() as u64 / (if self.count == 0 { 1 } else { self.count as u64 });
        let tolerance_us = interval_us * (self.burst.saturating_sub(1) as u64);
        (secs * 1_000_000 + tolerance_us) / interval_us + 1
    }

    fn interval(self) -> Duration {
        self.period / self.count.max(1)
    }

    fn tolerance(self) -> Duration {
        self.interval() * self.burst.saturating_sub(1)
    }
}

/// Where the limiter keeps its state.
pub enum Limiter {
    Local(Mutex<HashMap<String, Instant>>),
    Redis { conn: ConnectionManager, prefix: String },
}

// Atomic GCRA on the server's clock, so nodes with skewed clocks agree.
// ARGV[3] = 1 reserves the slot even when it lies in the future.
const GCRA_LUA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local reserve = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait > 0 and reserve == 0 then return wait end
local new = tat + interval
redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000) + 1000)
if wait > 0 then return wait end
return 0
";

impl Limiter {
    pub fn local() -> Self {
        Limiter::Local(Mutex::new(HashMap::new()))
    }

    /// Connects to Redis, failing fast (a few seconds) with the reason when
    /// it cannot be reached.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("TIKETHET_REDIS_URL is not a valid Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .context("failed to connect to Redis (TIKETHET_REDIS_URL)")?;
        Ok(Limiter::Redis { conn, prefix: prefix.to_owned() })
    }

    /// The Redis connection and key prefix, when the limiter uses Redis
    /// (other shared state rides on the same connection).
    pub fn redis_connection(&self) -> Option<(ConnectionManager, String)> {
        match self {
            Limiter::Local(_) => None,
            Limiter::Redis { conn, prefix } => Some((conn.clone(), prefix.clone())),
        }
    }

    /// Whether the limiter's store answers (for readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        if let Limiter::Redis { conn, .. } = self {
            let mut c = conn.clone();
            redis::cmd("PING").query_async::<String>(&mut c).await.context("Redis does not answer")?;
        }
        Ok(())
    }

    /// Takes one slot under `key` if the rate allows it now; otherwise
    /// says how long to wait before asking again (and takes nothing).
    pub async fn try_acquire(&self, key: &str, rate: Rate) -> anyhow::Result<Option<Duration>> {
        self.gcra(key, rate, false).await
    }

    /// Takes the next free slot under `key`, now or later, and says how long
    /// to wait before using it (zero: now). Many waiters each get their own
    /// slot, spaced by the rate, instead of all retrying at the same moment.
    pub async fn reserve(&self, key: &str, rate: Rate) -> anyhow::Result<Duration> {
        Ok(self.gcra(key, rate, true).await?.unwrap_or_default())
    }

    async fn gcra(&self, key: &str, rate: Rate, reserve: bool) -> anyhow::Result<Option<Duration>> {
        match self {
            Limiter::Local(state) => {
                let now = Instant::now();
                let mut map = state.lock().expect("poisoned");
                if map.len() > 100_000 {
                    map.retain(|_, tat| *tat > now);
                }
                let tat = map.get(key).copied().unwrap_or(now).max(now);
                let wait = (tat - now).checked_sub(rate.tolerance()).filter(|w| !w.is_zero());
                if wait.is_none() || reserve {
                    map.insert(key.to_owned(), tat + rate.interval());
                }
                Ok(wait)
            }
            Limiter::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let wait_us: i64 = redis::Script::new(GCRA_LUA)
                    .key(format!("{prefix}rl:{key}"))
                    .arg(rate.interval().as_micros() as i64)
                    .arg(rate.tolerance().as_micros() as i64)
                    .arg(i64::from(reserve))
                    .invoke_async(&mut conn)
                    .await
                    .context("rate limit check in Redis failed")?;
                Ok((wait_us > 0).then(|| Duration::from_micros(wait_us as u64)))
            }
        }
    }

    /// Waits until a slot under `key` is free and takes it.
    pub async fn acquire(&self, key: &str, rate: Rate) -> anyhow::Result<()> {
        while let Some(wait) = self.try_acquire(key, rate).await? {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_gcra_allows_the_burst_then_spaces() {
        let l = Limiter::local();
        let rate = Rate::per_second(10, 3);
        for _ in 0..3 {
            assert_eq!(l.try_acquire("k", rate).await.unwrap(), None);
        }
        let wait = l.try_acquire("k", rate).await.unwrap().expect("must wait after the burst");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert_eq!(l.try_acquire("other", rate).await.unwrap(), None, "keys are independent");
    }

    #[tokio::test]
    async fn reservations_spread_waiters_over_the_rate() {
        let l = Limiter::local();
        let rate = Rate::per_second(10, 1);
        let waits: Vec<Duration> = futures::future::join_all((0..5).map(|_| l.reserve("bot", rate))).await.into_iter().map(Result::unwrap).collect();
        let mut sorted = waits.clone();
        sorted.sort();
        assert_eq!(sorted[0], Duration::ZERO, "the first goes now");
        for w in sorted.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= Duration::from_millis(99) && gap <= Duration::from_millis(101), "each waiter gets its own slot: {sorted:?}");
        }
        // A try after the reservations waits for the sixth slot.
        let wait = l.try_acquire("bot", rate).await.unwrap().expect("all slots taken");
        assert!(wait >= Duration::from_millis(490), "{wait:?}");
    }
}
