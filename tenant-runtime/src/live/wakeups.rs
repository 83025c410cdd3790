//! Wake-ups between nodes: a node that gives up a chat another node waits
//! for says so at once, instead of leaving the waiter to its next look.
//!
//! A lane that finds its chat claimed by another process marks the claim
//! `wanted` and waits ([`crate::worker::lanes::Step::Held`]). The holder, giving the
//! chat up in the transaction that finds it empty, reads that mark; after
//! the commit it publishes a wake-up on one Redis channel every node
//! listens on, and each node wakes its own lane for that chat, if it has
//! one open. Chats nobody waits for cost no message.
//!
//! Wake-ups are a shortcut, not a promise: a lost message (Redis away, a
//! node subscribing late) costs only latency, because a waiting lane looks
//! again on its own ([`Wakeups::poll`]): often without Redis, when nothing
//! else would wake it, and less often with Redis, when a wake-up normally
//! comes first.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::worker::claims;
use crate::domain::TenantId;

/// How often a lane waiting for a chat held elsewhere looks again when no
/// wake-up can come (no Redis).
pub const POLL_ALONE: Duration = claims::POLL;
/// The same, when wake-ups come through Redis: only a fallback for a
/// wake-up lost on the way.
pub const POLL_WITH_REDIS: Duration = Duration::from_secs(2);

/// A chat's lane given up by its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    pub tenant: TenantId,
    /// [`claims::UPDATES`] or [`claims::SENDS`].
    pub lane: &'static str,
    pub chat: i64,
}

impl Wake {
    fn encode(&self) -> String {
        format!("{} {} {}", self.lane, self.chat, self.tenant.as_str())
    }

    fn decode(s: &str) -> Option<Wake> {
        let mut parts = s.splitn(3, ' ');
        let lane = match parts.next()? {
            l if l == claims::UPDATES => claims::UPDATES,
            l if l == claims::SENDS => claims::SENDS,
            _ => return None,
        };
        let chat = parts.next()?.parse().ok()?;
        let tenant = parts.next().filter(|t| !t.is_empty())?;
        Some(Wake { tenant: TenantId::from_stored(tenant.to_owned()), lane, chat })
    }
}

type Handler = Box<dyn Fn(Wake) + Send + Sync>;

/// The node's end of the wake-up channel.
#[derive(Clone)]
pub struct Wakeups {
    redis: Option<(redis::aio::ConnectionManager, String)>,
    /// What a wake-up does here; set once the runtime exists. Wake-ups
    /// arriving before that find no lane to wake anyway.
    handler: Arc<OnceLock<Handler>>,
}

impl Wakeups {
    /// No wake-ups (one node, or no Redis): waiting lanes poll.
    pub fn none() -> Wakeups {
        Wakeups { redis: None, handler: Arc::default() }
    }

    /// Wake-ups through Redis, on `{prefix}wake`.
    pub fn redis(url: &str, conn: redis::aio::ConnectionManager, prefix: &str) -> anyhow::Result<Wakeups> {
        use anyhow::Context as _;
        let client = redis::Client::open(url).context("TIKETHET_REDIS_URL is not a valid Redis URL")?;
        let channel = format!("{prefix}wake");
        let handler: Arc<OnceLock<Handler>> = Arc::default();
        let h = handler.clone();
        crate::live::pubsub::listen(client, channel.clone(), "wake-ups", move |payload| match (Wake::decode(&payload), h.get()) {
            (Some(wake), Some(handle)) => handle(wake),
            (Some(_), None) => {}
            (None, _) => tracing::debug!(payload, "wake-up not understood"),
        });
        Ok(Wakeups { redis: Some((conn, channel)), handler })
    }

    /// Sets what a wake-up does on this node (once; later calls are ignored).
    pub fn on_wake(&self, f: impl Fn(Wake) + Send + Sync + 'static) {
        let _ = self.handler.set(Box::new(f));
    }

    /// How long a lane waiting for a chat held elsewhere waits at most
    /// before it looks again.
    pub fn poll(&self) -> Duration {
        if self.redis.is_some() { POLL_WITH_REDIS } else { POLL_ALONE }
    }

    /// Tells every node that `wake`'s chat is free (after the commit that
    /// gave it up). A failure is logged: the waiters look again on their own.
    pub async fn publish(&self, wake: &Wake) {
        if let Some((conn, channel)) = &self.redis {
            if let Err(e) = crate::live::pubsub::publish(conn, channel, wake.encode()).await {
                tracing::warn!(error = %e, tenant = %wake.tenant, chat = wake.chat, "wake-up not published (Redis); the waiting node will look again on its own");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_ups_survive_the_trip_and_nonsense_is_refused() {
        let w = Wake { tenant: TenantId::from_stored("tnt_01 x".into()), lane: claims::SENDS, chat: -100123 };
        assert_eq!(Wake::decode(&w.encode()), Some(w));
        for bad in ["", "update", "update 1", "update x tnt", "other 1 tnt", "update 1 "] {
            assert_eq!(Wake::decode(bad), None, "{bad:?}");
        }
    }

    /// Two nodes on one real Redis: what one publishes reaches the other's
    /// handler. Needs Redis at `TIKETHET_TEST_REDIS_URL` (default
    /// 127.0.0.1:6379), like every test that uses it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wake_up_published_by_one_node_reaches_another() {
        let url = std::env::var("TIKETHET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .unwrap_or_else(|e| panic!("Redis is needed at {url} (start it or set TIKETHET_TEST_REDIS_URL): {e}"));
        let prefix = format!("wake_test_{:08x}:", rand::random::<u32>());
        let (a, b) = (Wakeups::redis(&url, conn.clone(), &prefix).unwrap(), Wakeups::redis(&url, conn, &prefix).unwrap());
        assert_eq!(a.poll(), POLL_WITH_REDIS);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        b.on_wake(move |w| drop(tx.send(w)));
        let wake = Wake { tenant: TenantId::from_stored("tnt_a".into()), lane: claims::UPDATES, chat: 42 };
        // The subscription starts in the background: publish until it hears.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let got = loop {
            a.publish(&wake).await;
            if let Ok(Some(w)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                break w;
            }
            assert!(std::time::Instant::now() < deadline, "no wake-up arrived within 10 s");
        };
        assert_eq!(got, wake);
        assert_eq!(Wakeups::none().poll(), POLL_ALONE);
    }
}
