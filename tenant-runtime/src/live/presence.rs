//! Who has a ticket open in the console right now, and who is typing a
//! reply in it: each open ticket page holds its presence through its live
//! socket (renewed every few seconds by the server, or reported by the
//! page itself while the socket is down), and an entry not renewed for
//! [`STALE`] is gone.
//!
//! With Redis (several nodes) the entries live in one hash per ticket that
//! every node reads, so agents served by different nodes see each other.
//! Each report writes its own entry and reads the hash in one round trip;
//! the hash expires on its own once nobody reports. Without Redis, or while
//! it does not answer, the entries are kept in this process: agents then see
//! only those on the same node, which is a courtesy lost, not data.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

/// How long a report counts.
pub const STALE: Duration = Duration::from_secs(10);
/// How long a report waits for Redis before answering from this process.
const REDIS_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Other {
    pub user_id: i64,
    pub name: String,
    pub typing: bool,
}

/// An entry as stored in Redis.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    name: String,
    typing: bool,
    /// Unix milliseconds of the report.
    at: i64,
}

#[derive(Default)]
pub struct Presence {
    /// (tenant, ticket) → user → (name, when, typing).
    seen: Mutex<HashMap<(String, i64), HashMap<i64, (String, Instant, bool)>>>,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

impl Presence {
    /// Presence shared through Redis (`prefix` as the other keys).
    pub fn redis(conn: redis::aio::ConnectionManager, prefix: &str) -> Presence {
        Presence { seen: Mutex::default(), redis: Some((conn, prefix.to_owned())) }
    }

    /// Records `user` on the ticket (or its leaving) and answers who else
    /// is there: through Redis when configured and answering, else from
    /// this process.
    pub async fn report(&self, tenant: &str, ticket: i64, user: i64, name: &str, typing: bool, leaving: bool) -> Vec<Other> {
        if let Some((conn, prefix)) = &self.redis {
            let key = format!("{prefix}presence:{tenant}:{ticket}");
            match tokio::time::timeout(REDIS_WAIT, shared(conn.clone(), &key, user, name, typing, leaving)).await {
                Ok(Ok(others)) => return others,
                Ok(Err(e)) => tracing::warn!(error = %e, "presence answered from this node only (Redis)"),
                Err(_) => tracing::warn!("presence answered from this node only (Redis did not answer in time)"),
            }
        }
        self.report_local(tenant, ticket, user, name, typing, leaving, Instant::now())
    }

    /// The in-process answer.
    pub fn report_local(&self, tenant: &str, ticket: i64, user: i64, name: &str, typing: bool, leaving: bool, now: Instant) -> Vec<Other> {
        let mut seen = self.seen.lock().expect("poisoned");
        // Forget what went stale everywhere, so the map never grows.
        seen.retain(|_, users| {
            users.retain(|_, (_, at, _)| now.duration_since(*at) < STALE);
            !users.is_empty()
        });
        let here = seen.entry((tenant.to_owned(), ticket)).or_default();
        if leaving {
            here.remove(&user);
        } else {
            here.insert(user, (name.to_owned(), now, typing));
        }
        let mut others: Vec<Other> = here.iter().filter(|(u, _)| **u != user).map(|(u, (name, _, typing))| Other { user_id: *u, name: name.clone(), typing: *typing }).collect();
        others.sort_by(|a, b| a.name.cmp(&b.name));
        others
    }
}

/// One report through Redis: write (or remove) this user's entry, keep the
/// hash alive for a while, read everyone's, and drop the stale ones.
async fn shared(mut conn: redis::aio::ConnectionManager, key: &str, user: i64, name: &str, typing: bool, leaving: bool) -> redis::RedisResult<Vec<Other>> {
    let now = Utc::now().timestamp_millis();
    let mut pipe = redis::pipe();
    pipe.atomic();
    if leaving {
        pipe.hdel(key, user).ignore();
    } else {
        let entry = serde_json::to_string(&Entry { name: name.to_owned(), typing, at: now }).unwrap_or_default();
        pipe.hset(key, user, entry).ignore();
    }
    pipe.pexpire(key, (STALE.as_millis() * 3) as i64).ignore();
    pipe.hgetall(key);
    let (all,): (HashMap<i64, String>,) = pipe.query_async(&mut conn).await?;
    let stale_before = now - STALE.as_millis() as i64;
    let mut others = Vec::new();
    let mut stale = Vec::new();
    for (u, raw) in all {
        match serde_json::from_str::<Entry>(&raw) {
            Ok(e) if e.at > stale_before => {
                if u != user {
                    others.push(Other { user_id: u, name: e.name, typing: e.typing });
                }
            }
            _ => stale.push(u),
        }
    }
    if !stale.is_empty() {
        // Tidying only: a failure here changes nobody's answer.
        let _: redis::RedisResult<()> = redis::cmd("HDEL").arg(key).arg(&stale).query_async(&mut conn).await;
    }
    others.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_see_each_other_until_one_leaves_or_goes_quiet() {
        let p = Presence::default();
        let t0 = Instant::now();
        assert!(p.report_local("t1", 7, 1, "Ann", false, false, t0).is_empty());
        assert_eq!(p.report_local("t1", 7, 2, "Bob", true, false, t0), vec![Other { user_id: 1, name: "Ann".into(), typing: false }]);
        assert_eq!(p.report_local("t1", 7, 1, "Ann", false, false, t0), vec![Other { user_id: 2, name: "Bob".into(), typing: true }]);
        assert!(p.report_local("t2", 7, 3, "Cid", false, false, t0).is_empty(), "another tenant's ticket 7");
        assert!(p.report_local("t1", 8, 3, "Cid", false, false, t0).is_empty(), "another ticket");
        p.report_local("t1", 7, 2, "Bob", false, true, t0);
        assert!(p.report_local("t1", 7, 1, "Ann", false, false, t0).is_empty(), "Bob left");
        p.report_local("t1", 7, 2, "Bob", false, false, t0);
        assert!(p.report_local("t1", 7, 1, "Ann", false, false, t0 + STALE).is_empty(), "Bob went quiet");
    }

    /// Two nodes, each with its own `Presence`, on one Redis: an agent on one
    /// sees the agent on the other, typing and leaving included.
    #[tokio::test]
    async fn agents_on_different_nodes_see_each_other_through_redis() {
        let url = std::env::var("TIKETHET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = tokio::time::timeout(Duration::from_secs(5), redis::aio::ConnectionManager::new(client))
            .await
            .unwrap_or_else(|_| panic!("Redis at {url} did not answer (this test needs a real Redis)"))
            .unwrap_or_else(|e| panic!("Redis at {url} is needed by this test: {e}"));
        let prefix = format!("presence-test-{}:", Utc::now().timestamp_nanos_opt().unwrap_or_default());
        let (one, two) = (Presence::redis(conn.clone(), &prefix), Presence::redis(conn.clone(), &prefix));
        assert!(one.report("t1", 7, 1, "Ann", false, false).await.is_empty());
        assert_eq!(two.report("t1", 7, 2, "Bob", true, false).await, vec![Other { user_id: 1, name: "Ann".into(), typing: false }]);
        assert_eq!(one.report("t1", 7, 1, "Ann", false, false).await, vec![Other { user_id: 2, name: "Bob".into(), typing: true }]);
        assert!(two.report("t2", 7, 3, "Cid", false, false).await.is_empty(), "another tenant's ticket 7");
        two.report("t1", 7, 2, "Bob", false, true).await;
        assert!(one.report("t1", 7, 1, "Ann", false, false).await.is_empty(), "Bob left on node two");
        assert!(one.seen.lock().unwrap().is_empty(), "answered through Redis, not from the node's own map");
        // An entry older than STALE counts for nobody and is tidied away.
        let key = format!("{prefix}presence:t1:7");
        let old = serde_json::to_string(&Entry { name: "Dan".into(), typing: false, at: Utc::now().timestamp_millis() - STALE.as_millis() as i64 - 1 }).unwrap();
        let mut c = conn.clone();
        let _: () = redis::cmd("HSET").arg(&key).arg(4).arg(old).query_async(&mut c).await.unwrap();
        assert!(two.report("t1", 7, 2, "Bob", false, false).await.iter().all(|o| o.name != "Dan"));
        let left: bool = redis::cmd("HEXISTS").arg(&key).arg(4).query_async(&mut c).await.unwrap();
        assert!(!left, "the stale entry was removed");
        let _: () = redis::cmd("DEL").arg(&key).arg(format!("{prefix}presence:t2:7")).query_async(&mut c).await.unwrap();
    }
}
