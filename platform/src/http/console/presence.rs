//! Who has a ticket open in the console right now, and who is typing a
//! reply in it: each open ticket page reports every few seconds, and an
//! entry not renewed for [`STALE`] is gone. Kept in this process: with
//! several nodes behind a balancer an agent sees the others on the same
//! node only (the several-nodes work moves it to Redis).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a report counts.
pub const STALE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Other {
    pub name: String,
    pub typing: bool,
}

#[derive(Default)]
pub struct Presence {
    /// (tenant, ticket) → user → (name, when, typing).
    seen: Mutex<HashMap<(String, i64), HashMap<i64, (String, Instant, bool)>>>,
}

impl Presence {
    /// Records `user` on the ticket (or its leaving) and answers who else
    /// is there.
    pub fn report(&self, tenant: &str, ticket: i64, user: i64, name: &str, typing: bool, leaving: bool, now: Instant) -> Vec<Other> {
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
        let mut others: Vec<Other> = here.iter().filter(|(u, _)| **u != user).map(|(_, (name, _, typing))| Other { name: name.clone(), typing: *typing }).collect();
        others.sort_by(|a, b| a.name.cmp(&b.name));
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_see_each_other_until_one_leaves_or_goes_quiet() {
        let p = Presence::default();
        let t0 = Instant::now();
        assert!(p.report("t1", 7, 1, "Ann", false, false, t0).is_empty());
        assert_eq!(p.report("t1", 7, 2, "Bob", true, false, t0), vec![Other { name: "Ann".into(), typing: false }]);
        assert_eq!(p.report("t1", 7, 1, "Ann", false, false, t0), vec![Other { name: "Bob".into(), typing: true }]);
        assert!(p.report("t2", 7, 3, "Cid", false, false, t0).is_empty(), "another tenant's ticket 7");
        assert!(p.report("t1", 8, 3, "Cid", false, false, t0).is_empty(), "another ticket");
        p.report("t1", 7, 2, "Bob", false, true, t0);
        assert!(p.report("t1", 7, 1, "Ann", false, false, t0).is_empty(), "Bob left");
        p.report("t1", 7, 2, "Bob", false, false, t0);
        assert!(p.report("t1", 7, 1, "Ann", false, false, t0 + STALE).is_empty(), "Bob went quiet");
    }
}
