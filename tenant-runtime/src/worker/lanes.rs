//! Work that must run in order per chat and fairly across tenants.
//!
//! The database is the queue: a lane is only the note "this chat of this
//! tenant may have work". Its handler finds the chat's oldest due row itself
//! and does one unit of work, so order per chat comes from the rows' ids,
//! a lane holds no items (memory is one small entry per busy chat, gone when
//! the chat is idle), and a lane that is dropped (too many at once, storage
//! down) loses nothing: its tenant is noted, and the periodic sweep reads
//! that tenant's rows and opens the lane again. Only noted tenants are swept,
//! so ten thousand idle tenants cost the sweep nothing.
//!
//! Fairness: a handler runs only while holding a permit of its tenant's
//! share and one of the global pool ([`Shares`]); waiting (backoff, a rate
//! limit, Telegram's `retry_after`) happens between units with no permit held.
//!
//! Taken over: a chat whose node died has waited the whole time it took to
//! judge that node dead. Its lane's next unit is put first
//! ([`Lanes::wake_all_held_first`], [`Lanes::kick_first`]): it runs on a
//! small reserve of permits of its own ([`Shares::acquire_first`]) instead
//! of queueing behind every chat this node already had work for, so a dead
//! node's chats are worked again within seconds even when this node is
//! saturated. The reserve bounds how far past the pool that can go.

use std::collections::HashMap;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a lane's handler did, and what the lane does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// One unit done; run again (the permits are handed back in between).
    More,
    /// Nothing due in this lane; it closes unless kicked meanwhile.
    Idle,
    /// Come back after this long (backoff, a rate limit); no permit is held
    /// while waiting.
    Later(Duration),
    /// The chat is held by another process: come back after this long at
    /// most, or as soon as the lane is woken ([`Lanes::wake`]).
    Held(Duration),
    /// Give up for now (storage unavailable, tenant gone): the lane closes
    /// and the sweep reopens it from the rows.
    Park,
}

/// A global pool of permits with a per-group cap, so one group (tenant)
/// cannot take the whole pool.
pub struct Shares<G> {
    inner: Arc<SharesInner<G>>,
}

impl<G> Clone for Shares<G> {
    fn clone(&self) -> Self {
        Shares { inner: self.inner.clone() }
    }
}

struct SharesInner<G> {
    global: Arc<Semaphore>,
    /// Permits for units put first (chats taken over from a dead node):
    /// a quarter of the pool on top of it, so they need not wait behind
    /// the pool's queue, and cannot take it over either.
    first: Arc<Semaphore>,
    per_group: usize,
    /// Each group's semaphore and how many hold or wait for it; removed at
    /// zero, so idle tenants cost nothing.
    groups: Mutex<HashMap<G, (Arc<Semaphore>, usize)>>,
}

/// Held while working; releases the group's and the global permit on drop.
pub struct SharePermit<G: Eq + Hash + Clone> {
    // Fields drop in order: the permits before the membership. A unit put
    // first holds one permit of the reserve and no group permit.
    _global: OwnedSemaphorePermit,
    _group: Option<OwnedSemaphorePermit>,
    _member: Member<G>,
}

struct Member<G: Eq + Hash + Clone> {
    inner: Arc<SharesInner<G>>,
    group: G,
}

impl<G: Eq + Hash + Clone> Drop for Member<G> {
    fn drop(&mut self) {
        let mut groups = self.inner.groups.lock().expect("poisoned");
        if let Some(e) = groups.get_mut(&self.group) {
            e.1 -= 1;
            if e.1 == 0 {
                groups.remove(&self.group);
            }
        }
    }
}

impl<G: Eq + Hash + Clone + Send + 'static> Shares<G> {
    pub fn new(global: usize, per_group: usize) -> Self {
        Shares {
            inner: Arc::new(SharesInner {
                global: Arc::new(Semaphore::new(global.max(1))),
                first: Arc::new(Semaphore::new((global / 4).max(1))),
                per_group: per_group.clamp(1, global.max(1)),
                groups: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Waits for a permit of `group`'s share, then one of the pool.
    pub async fn acquire(&self, group: &G) -> SharePermit<G> {
        let sem = {
            let mut groups = self.inner.groups.lock().expect("poisoned");
            let e = groups.entry(group.clone()).or_insert_with(|| (Arc::new(Semaphore::new(self.inner.per_group)), 0));
            e.1 += 1;
            e.0.clone()
        };
        // Registered first, so a cancelled wait still unregisters.
        let member = Member { inner: self.inner.clone(), group: group.clone() };
        let group_permit = sem.acquire_owned().await.expect("never closed");
        let global = self.inner.global.clone().acquire_owned().await.expect("never closed");
        SharePermit { _global: global, _group: Some(group_permit), _member: member }
    }

    /// A permit for a unit put first: from the reserve, past the queues of
    /// the pool and of the group (the group still counts it as busy).
    pub async fn acquire_first(&self, group: &G) -> SharePermit<G> {
        self.inner.groups.lock().expect("poisoned").entry(group.clone()).or_insert_with(|| (Arc::new(Semaphore::new(self.inner.per_group)), 0)).1 += 1;
        let member = Member { inner: self.inner.clone(), group: group.clone() };
        let first = self.inner.first.clone().acquire_owned().await.expect("never closed");
        SharePermit { _global: first, _group: None, _member: member }
    }

    /// Groups with work holding or waiting for permits.
    pub fn busy_groups(&self) -> usize {
        self.inner.groups.lock().expect("poisoned").len()
    }
}

type Handler<G, C> = Arc<dyn Fn(G, C) -> BoxFuture<'static, Step> + Send + Sync>;

/// Serial lanes keyed by `(group, key)`: at most one handler runs per lane,
/// lanes of a group share that group's permits.
pub struct Lanes<G, C> {
    inner: Arc<LanesInner<G, C>>,
}

impl<G, C> Clone for Lanes<G, C> {
    fn clone(&self) -> Self {
        Lanes { inner: self.inner.clone() }
    }
}

/// An open lane.
struct Lane {
    /// Kicked while running: look again before closing.
    again: bool,
    /// Cuts a [`Step::Held`] wait short.
    woken: Arc<tokio::sync::Notify>,
    /// Its last unit found the chat held by another process.
    held: bool,
    /// Its next unit is put first (the chat was taken over).
    first: bool,
}

struct LanesInner<G, C> {
    lanes: Mutex<HashMap<(G, C), Lane>>,
    shares: Shares<G>,
    max_lanes: usize,
    handler: Handler<G, C>,
    refused: AtomicU64,
    /// Groups that may have rows with no open lane, for the sweep.
    unswept: Mutex<std::collections::HashSet<G>>,
}

impl<G, C> Lanes<G, C>
where
    G: Eq + Hash + Clone + Send + Sync + 'static,
    C: Eq + Hash + Clone + Send + Sync + 'static,
{
    /// `max_lanes` bounds memory: kicks beyond it are refused (and counted);
    /// the sweep reopens those lanes from the rows later.
    pub fn new<F>(shares: Shares<G>, max_lanes: usize, handler: F) -> Self
    where
        F: Fn(G, C) -> BoxFuture<'static, Step> + Send + Sync + 'static,
    {
        Lanes {
            inner: Arc::new(LanesInner {
                lanes: Mutex::new(HashMap::new()),
                shares,
                max_lanes,
                handler: Arc::new(handler),
                refused: AtomicU64::new(0),
                unswept: Mutex::new(std::collections::HashSet::new()),
            }),
        }
    }

    /// Says a lane may have work: opens it, or tells a running one to look
    /// again before it closes. Returns false when refused (too many lanes).
    pub fn kick(&self, group: G, key: C) -> bool {
        self.open_lane(group, key, false)
    }

    /// As [`Lanes::kick`], but a lane this opens has its first unit put
    /// first: for a chat taken over from a dead node, which no lane here
    /// was open for. A lane already open keeps its place.
    pub fn kick_first(&self, group: G, key: C) -> bool {
        self.open_lane(group, key, true)
    }

    fn open_lane(&self, group: G, key: C, first: bool) -> bool {
        let mut lanes = self.inner.lanes.lock().expect("poisoned");
        let id = (group, key);
        if let Some(lane) = lanes.get_mut(&id) {
            lane.again = true;
            return true;
        }
        if lanes.len() >= self.inner.max_lanes {
            self.inner.refused.fetch_add(1, Ordering::Relaxed);
            self.note_unswept(id.0);
            return false;
        }
        lanes.insert(id.clone(), Lane { again: false, woken: Arc::default(), held: false, first });
        // Idle lanes leave nothing behind; give back the table's memory too.
        if lanes.capacity() > 1024 && lanes.len() * 8 < lanes.capacity() {
            let keep = lanes.len() * 2;
            lanes.shrink_to(keep);
        }
        drop(lanes);
        let this = self.clone();
        tokio::spawn(async move { this.run(id).await });
        true
    }

    /// Wakes a lane waiting out [`Step::Held`] (the chat was given up
    /// elsewhere). Opens nothing: returns false when the lane is not open.
    pub fn wake(&self, group: G, key: C) -> bool {
        match self.inner.lanes.lock().expect("poisoned").get(&(group, key)) {
            Some(lane) => {
                // Stored if the lane is not waiting yet, so a wake-up that
                // arrives just before the wait still cuts it short.
                lane.woken.notify_one();
                true
            }
            None => false,
        }
    }

    /// Wakes every open lane waiting out [`Step::Held`] (a node holding
    /// chats died: each looks again at once instead of at its next poll),
    /// with its next unit put first: those chats waited for the death to be
    /// noticed already.
    pub fn wake_all_held_first(&self) {
        for lane in self.inner.lanes.lock().expect("poisoned").values_mut() {
            if lane.held {
                lane.first = true;
            }
            lane.woken.notify_one();
        }
    }

    /// Open lanes (chats with work queued or running).
    pub fn open(&self) -> usize {
        self.inner.lanes.lock().expect("poisoned").len()
    }

    /// Kicks refused because too many lanes were open.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Notes that a group may have rows no lane is open for.
    pub fn note_unswept(&self, group: G) {
        self.inner.unswept.lock().expect("poisoned").insert(group);
    }

    /// The groups noted since the last call, for the sweep to read.
    pub fn take_unswept(&self) -> Vec<G> {
        self.inner.unswept.lock().expect("poisoned").drain().collect()
    }

    async fn run(self, id: (G, C)) {
        loop {
            let step = {
                let first = self.inner.lanes.lock().expect("poisoned").get_mut(&id).is_some_and(|l| std::mem::take(&mut l.first));
                let _permit = if first { self.inner.shares.acquire_first(&id.0).await } else { self.inner.shares.acquire(&id.0).await };
                if let Some(lane) = self.inner.lanes.lock().expect("poisoned").get_mut(&id) {
                    lane.again = false;
                }
                let work = (self.inner.handler)(id.0.clone(), id.1.clone());
                // Handlers catch their own panics and record them; one that
                // escapes closes the lane instead of taking the task down.
                match AssertUnwindSafe(work).catch_unwind().await {
                    Ok(step) => step,
                    Err(p) => {
                        let what = p.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| p.downcast_ref::<String>().cloned());
                        tracing::error!(panic = what.as_deref().unwrap_or("a non-string panic"), "a lane's handler panicked; the lane is closed");
                        Step::Park
                    }
                }
            };
            if let Some(lane) = self.inner.lanes.lock().expect("poisoned").get_mut(&id) {
                lane.held = matches!(step, Step::Held(_));
            }
            match step {
                Step::More => {}
                Step::Later(wait) => tokio::time::sleep(wait).await,
                Step::Held(wait) => {
                    let woken = self.inner.lanes.lock().expect("poisoned").get(&id).map(|l| l.woken.clone());
                    if let Some(woken) = woken {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = woken.notified() => {}
                        }
                    }
                }
                Step::Idle => {
                    let mut lanes = self.inner.lanes.lock().expect("poisoned");
                    if lanes.get(&id).is_some_and(|l| l.again) {
                        continue;
                    }
                    lanes.remove(&id);
                    return;
                }
                Step::Park => {
                    self.inner.lanes.lock().expect("poisoned").remove(&id);
                    self.note_unswept(id.0);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::time::Instant;

    async fn wait_for(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        f()
    }

    /// Rows per lane, as a database would hold them.
    type Rows = Arc<Mutex<HashMap<(u8, u8), VecDeque<u32>>>>;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_order_per_lane_and_closes_idle_lanes() {
        let rows: Rows = Arc::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r2, s2) = (rows.clone(), seen.clone());
        let lanes = Lanes::new(Shares::new(4, 2), 100, move |g: u8, c: u8| {
            let (rows, seen) = (r2.clone(), s2.clone());
            Box::pin(async move {
                let next = rows.lock().unwrap().get_mut(&(g, c)).and_then(VecDeque::pop_front);
                match next {
                    Some(i) => {
                        tokio::time::sleep(Duration::from_millis(u64::from(3 - i % 3))).await;
                        seen.lock().unwrap().push((g, c, i));
                        Step::More
                    }
                    None => Step::Idle,
                }
            })
        });
        for i in 0..60u32 {
            let k = ((i % 3) as u8, (i % 2) as u8);
            rows.lock().unwrap().entry(k).or_default().push_back(i);
            lanes.kick(k.0, k.1);
        }
        assert!(wait_for(Duration::from_secs(10), || seen.lock().unwrap().len() == 60).await, "all 60 handled");
        let seen = seen.lock().unwrap().clone();
        for g in 0..3u8 {
            for c in 0..2u8 {
                let order: Vec<u32> = seen.iter().filter(|(gg, cc, _)| (*gg, *cc) == (g, c)).map(|(_, _, i)| *i).collect();
                assert!(order.windows(2).all(|w| w[0] < w[1]), "lane {g}/{c}: {order:?}");
            }
        }
        assert!(wait_for(Duration::from_secs(5), || lanes.open() == 0).await, "idle lanes close");
        assert_eq!(lanes.inner.shares.busy_groups(), 0, "no group state left behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_group_cannot_take_the_pool_and_waiting_holds_no_permit() {
        // Group 1 has many lanes that wait a long time between units; group 2
        // has one lane. With a pool of 2 and a share of 1, group 2 still runs
        // at once, and group 1's waits do not block it.
        let running = Arc::new(Mutex::new(HashMap::<u8, usize>::new()));
        let max_seen = Arc::new(Mutex::new(HashMap::<u8, usize>::new()));
        let done2 = Arc::new(AtomicU64::new(0));
        let (r, m, d) = (running.clone(), max_seen.clone(), done2.clone());
        let lanes = Lanes::new(Shares::new(2, 1), 100, move |g: u8, _c: u16| {
            let (running, max_seen, done2) = (r.clone(), m.clone(), d.clone());
            Box::pin(async move {
                let now = {
                    let mut run = running.lock().unwrap();
                    let n = run.entry(g).or_default();
                    *n += 1;
                    *n
                };
                {
                    let mut mx = max_seen.lock().unwrap();
                    let e = mx.entry(g).or_default();
                    *e = (*e).max(now);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                *running.lock().unwrap().get_mut(&g).unwrap() -= 1;
                if g == 2 {
                    done2.fetch_add(1, Ordering::Relaxed);
                    Step::Idle
                } else {
                    Step::Later(Duration::from_secs(30))
                }
            })
        });
        for c in 0..20u16 {
            lanes.kick(1, c);
        }
        let started = Instant::now();
        lanes.kick(2, 0);
        assert!(wait_for(Duration::from_secs(5), || done2.load(Ordering::Relaxed) == 1).await);
        // Twenty 20 ms units of group 1 run one at a time: group 2 would wait
        // 400 ms behind them without its own share.
        assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
        assert_eq!(max_seen.lock().unwrap().get(&1), Some(&1), "group 1 never ran two at once");
        // All of group 1 ran once and now waits 30 s without permits: the pool is free.
        assert!(wait_for(Duration::from_secs(5), || running.lock().unwrap().get(&1) == Some(&0) && lanes.open() == 20).await);
        let t = Instant::now();
        let p = tokio::time::timeout(Duration::from_secs(1), lanes.inner.shares.acquire(&1)).await;
        assert!(p.is_ok(), "a waiting lane holds no permit ({:?})", t.elapsed());
    }

    #[tokio::test]
    async fn refuses_lanes_past_the_bound_and_parked_lanes_close() {
        let lanes = Lanes::new(Shares::new(1, 1), 2, |_g: u8, _c: u8| Box::pin(async { Step::Later(Duration::from_secs(60)) }));
        assert!(lanes.kick(0, 1));
        assert!(lanes.kick(0, 2));
        assert!(!lanes.kick(0, 3), "a third lane is refused");
        assert!(lanes.kick(0, 1), "kicking an open lane is fine");
        assert_eq!((lanes.open(), lanes.refused()), (2, 1));
        assert_eq!(lanes.take_unswept(), [0], "the refused lane's group is left to the sweep");
        assert!(lanes.take_unswept().is_empty(), "and taken once");
        let parked = Lanes::new(Shares::new(1, 1), 2, |_g: u8, _c: u8| Box::pin(async { Step::Park }));
        parked.kick(7, 0);
        assert!(wait_for(Duration::from_secs(5), || parked.open() == 0).await);
        assert_eq!(parked.take_unswept(), [7], "a parked lane's group is left to the sweep");
        let panics = Lanes::new(Shares::new(1, 1), 2, |_g: u8, _c: u8| Box::pin(async { panic!("boom") }));
        panics.kick(0, 0);
        assert!(wait_for(Duration::from_secs(5), || panics.open() == 0).await, "a panicking handler closes its lane");
        assert!(panics.kick(0, 0), "and the lane can open again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_lane_waits_until_woken_and_a_later_lane_is_not_woken() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        // Held for a minute on the first look, then done.
        let lanes = Lanes::new(Shares::new(2, 2), 10, move |_g: u8, chat: u8| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                match (chat, n) {
                    (_, 0) => Step::Held(Duration::from_secs(60)),
                    (1, _) => Step::Idle,
                    _ => Step::Later(Duration::from_secs(60)),
                }
            })
        });
        assert!(!lanes.wake(0, 1), "waking a lane that is not open opens nothing");
        assert_eq!(lanes.open(), 0);
        lanes.kick(0, 1);
        assert!(wait_for(Duration::from_secs(5), || calls.load(Ordering::SeqCst) == 1).await);
        assert!(lanes.wake(0, 1));
        assert!(wait_for(Duration::from_secs(5), || lanes.open() == 0).await, "woken, the lane looked again and closed, long before its minute");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A wait that is not a held chat (a backoff) is not cut short.
        calls.store(1, Ordering::SeqCst);
        lanes.kick(0, 2);
        assert!(wait_for(Duration::from_secs(5), || calls.load(Ordering::SeqCst) == 2).await);
        assert!(lanes.wake(0, 2));
        assert!(!wait_for(Duration::from_millis(300), || calls.load(Ordering::SeqCst) > 2).await, "a backoff is not woken");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taken_over_chat_runs_before_the_backlog() {
        // A pool of one permit, eight chats queued behind it, each unit 40 ms.
        // A chat opened with `kick_first`, and a held chat woken by
        // `wake_all_held_first`, run next, not after the eight.
        let seen = Arc::new(Mutex::new(Vec::<u16>::new()));
        let looks = Arc::new(AtomicU64::new(0));
        let (s2, l2) = (seen.clone(), looks.clone());
        let lanes = Lanes::new(Shares::new(1, 1), 100, move |_g: u8, chat: u16| {
            let (seen, looks) = (s2.clone(), l2.clone());
            Box::pin(async move {
                if chat == 500 && looks.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Step::Held(Duration::from_secs(60));
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
                seen.lock().unwrap().push(chat);
                Step::Idle
            })
        });
        lanes.kick(0, 500);
        assert!(wait_for(Duration::from_secs(5), || looks.load(Ordering::SeqCst) == 1).await, "chat 500 found held");
        for c in 0..8u16 {
            lanes.kick(0, c);
        }
        assert!(wait_for(Duration::from_secs(5), || !seen.lock().unwrap().is_empty()).await);
        lanes.kick_first(1, 900);
        lanes.wake_all_held_first();
        assert!(wait_for(Duration::from_secs(10), || seen.lock().unwrap().len() == 10).await, "all ran: {:?}", seen.lock().unwrap());
        let order = seen.lock().unwrap().clone();
        let at = |c: u16| order.iter().position(|x| *x == c).unwrap();
        // Queued behind the eight they would come ninth and tenth; on the
        // reserve (one permit here) they run one after the other beside
        // the pool's units.
        assert!(at(900) <= 4 && at(500) <= 4, "the taken-over chats ran before most of the backlog: {order:?}");
        assert!(wait_for(Duration::from_secs(5), || lanes.open() == 0).await);
        assert_eq!(lanes.inner.shares.busy_groups(), 0, "no group state left behind");
    }
}
