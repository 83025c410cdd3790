//! A bounded set of open SQLite tenant databases.
//!
//! An open database costs three file descriptors (the file, its WAL and its
//! shared-memory index) and a page cache, so thousands of tenants cannot all
//! stay open. A tenant's database is opened when first needed and kept in a
//! least-recently-used set; to open one more when the set is full, the least
//! recently used database that nobody is using is closed. Every open
//! database holds a permit of a semaphore of `capacity` permits that is given
//! back only after it has closed, so however requests interleave no more
//! than `capacity` are ever open: running out of file descriptors is
//! impossible as long as `capacity` fits the process's limit, which
//! [`crate::storage::fd_budget`] works out at start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lru::LruCache;
use sea_orm::{Database, DatabaseConnection};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// How long a caller waits for a database to close when every open one is
/// in use, before its request fails (and is retried like any storage error).
const BUSY_WAIT: Duration = Duration::from_secs(30);

pub(crate) struct SqliteHandles {
    dir: PathBuf,
    capacity: usize,
    open: Mutex<LruCache<String, Arc<Handle>>>,
    permits: Arc<Semaphore>,
    released: Arc<Notify>,
    opened: AtomicU64,
    closed: AtomicU64,
}

struct Handle {
    conn: DatabaseConnection,
    last_used: Mutex<Instant>,
    released: Arc<Notify>,
    _permit: OwnedSemaphorePermit,
}

impl Handle {
    /// Nobody holds a lease and the pool has no connection checked out (a
    /// transaction keeps its connection, not a lease, while it runs).
    /// Called with the set locked, so no new lease can be taken meanwhile.
    fn idle(self: &Arc<Self>) -> bool {
        let pool = self.conn.get_sqlite_connection_pool();
        Arc::strong_count(self) == 1 && pool.num_idle() == pool.size() as usize
    }
}

/// A database in use: it stays open while any lease of it lives.
pub struct SqliteLease(Arc<Handle>);

impl std::ops::Deref for SqliteLease {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.0.conn
    }
}

impl Drop for SqliteLease {
    fn drop(&mut self) {
        self.0.released.notify_waiters();
    }
}

/// What the set holds now, for `/metrics` and the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleStats {
    pub capacity: usize,
    pub open: usize,
    pub opened_total: u64,
    pub closed_total: u64,
}

impl SqliteHandles {
    pub(crate) fn new(dir: PathBuf, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SqliteHandles {
            dir,
            capacity,
            open: Mutex::new(LruCache::unbounded()),
            permits: Arc::new(Semaphore::new(capacity)),
            released: Arc::new(Notify::new()),
            opened: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn stats(&self) -> HandleStats {
        HandleStats {
            capacity: self.capacity,
            open: self.capacity - self.permits.available_permits(),
            opened_total: self.opened.load(Ordering::Relaxed),
            closed_total: self.closed.load(Ordering::Relaxed),
        }
    }

    /// The tenant database `name`, opened (and created) when it is not open.
    pub(crate) async fn lease(&self, name: &str) -> anyhow::Result<SqliteLease> {
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            if let Some(h) = self.open.lock().expect("poisoned").get(name) {
                *h.last_used.lock().expect("poisoned") = Instant::now();
                return Ok(SqliteLease(h.clone()));
            }
            // Register interest before looking for room, so a lease dropped
            // in between still wakes this caller.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let permit = match self.permits.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    if let Some(victim) = self.take_idle(|_| true) {
                        self.close(victim).await;
                        continue;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    anyhow::ensure!(
                        !left.is_zero(),
                        "all {} open tenant databases stayed in use for {} s (TIKETHET_SQLITE_OPEN_MAX)",
                        self.capacity,
                        BUSY_WAIT.as_secs()
                    );
                    // A closing database gives its permit back without a
                    // lease being dropped: look again now and then.
                    let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), released).await;
                    continue;
                }
            };
            let path = self.dir.join(name);
            let conn = match Database::connect(super::sqlite_options(&path, super::SqliteRole::Tenant)).await {
                Ok(c) => c,
                // Another process (`tikethet migrate` beside the server) is
                // writing: opening sets pragmas, which the busy timeout does
                // not cover. Wait like any other busy caller.
                Err(e) if e.to_string().contains("database is locked") && Instant::now() < deadline => {
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("failed to open tenant database {}", path.display())),
            };
            self.opened.fetch_add(1, Ordering::Relaxed);
            let fresh = Arc::new(Handle {
                conn,
                last_used: Mutex::new(Instant::now()),
                released: self.released.clone(),
                _permit: permit,
            });
            let (lease, spare) = {
                let mut open = self.open.lock().expect("poisoned");
                match open.get(name) {
                    // Another caller opened it meanwhile: use theirs.
                    Some(existing) => (SqliteLease(existing.clone()), Some(fresh)),
                    None => {
                        open.put(name.to_owned(), fresh.clone());
                        (SqliteLease(fresh), None)
                    }
                }
            };
            if let Some(spare) = spare {
                self.close(spare).await;
            }
            return Ok(lease);
        }
    }

    /// Takes the least recently used idle database that `pick` accepts out
    /// of the set.
    fn take_idle(&self, pick: impl Fn(&Handle) -> bool) -> Option<Arc<Handle>> {
        let mut open = self.open.lock().expect("poisoned");
        let key = open.iter().rev().find(|(_, h)| h.idle() && pick(h)).map(|(k, _)| k.clone())?;
        open.pop(&key)
    }

    /// Closes a database taken out of the set; its permit is given back
    /// once its file is closed.
    async fn close(&self, handle: Arc<Handle>) {
        match Arc::try_unwrap(handle) {
            Ok(h) => {
                h.conn.close().await.ok();
                drop(h._permit);
            }
            // Only a handle that lost an opening race can still be shared;
            // it closes when its last user lets go.
            Err(shared) => drop(shared),
        }
        self.closed.fetch_add(1, Ordering::Relaxed);
        self.released.notify_waiters();
    }

    /// Closes every database unused for `idle_for`; returns how many.
    pub(crate) async fn close_idle(&self, idle_for: Duration) -> usize {
        let mut n = 0;
        while let Some(h) = self.take_idle(|h| h.last_used.lock().expect("poisoned").elapsed() >= idle_for) {
            self.close(h).await;
            n += 1;
        }
        n
    }

    /// Forgets a database that is being removed, closing it when idle.
    pub(crate) async fn forget(&self, name: &str) {
        let h = self.open.lock().expect("poisoned").pop(name);
        if let Some(h) = h {
            self.close(h).await;
        }
    }

    pub(crate) async fn close_all(&self) {
        let all: Vec<Arc<Handle>> = {
            let mut open = self.open.lock().expect("poisoned");
            std::iter::from_fn(|| open.pop_lru().map(|(_, h)| h)).collect()
        };
        for h in all {
            self.close(h).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    fn set(capacity: usize) -> (tempfile::TempDir, SqliteHandles) {
        let dir = tempfile::tempdir().unwrap();
        let handles = SqliteHandles::new(dir.path().to_path_buf(), capacity);
        (dir, handles)
    }

    #[tokio::test]
    async fn never_holds_more_than_its_capacity_and_reopens_what_it_closed() {
        let (_dir, handles) = set(2);
        for name in ["a.db", "b.db", "c.db", "a.db"] {
            let db = handles.lease(name).await.unwrap();
            db.execute_unprepared("CREATE TABLE IF NOT EXISTS t (x INTEGER)").await.unwrap();
            db.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
            assert!(handles.stats().open <= 2, "{:?}", handles.stats());
        }
        let s = handles.stats();
        // a, b, c opened; opening c closed a (least recently used); a again
        // closed b.
        assert_eq!((s.open, s.opened_total, s.closed_total), (2, 4, 2), "{s:?}");
        let db = handles.lease("a.db").await.unwrap();
        let n = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM t")).await.unwrap().unwrap();
        assert_eq!(n.try_get::<i64>("", "n").unwrap(), 2, "a.db lost a row when it was closed and reopened");
    }

    #[tokio::test]
    async fn a_database_in_use_is_not_closed_under_it() {
        let (_dir, handles) = set(1);
        let a = handles.lease("a.db").await.unwrap();
        let txn = a.begin().await.unwrap();
        txn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        drop(a);
        // The only slot is taken by a's open transaction: b waits for it.
        let (b, ()) = tokio::join!(handles.lease("b.db"), async {
            tokio::task::yield_now().await;
            assert_eq!(handles.stats().closed_total, 0, "a was closed while its transaction ran");
            txn.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
            txn.commit().await.unwrap();
        });
        b.unwrap();
        let s = handles.stats();
        assert_eq!((s.open, s.opened_total, s.closed_total), (1, 2, 1), "{s:?}");
    }

    #[tokio::test]
    async fn idle_databases_are_closed_and_busy_ones_kept() {
        let (_dir, handles) = set(4);
        let a = handles.lease("a.db").await.unwrap();
        drop(handles.lease("b.db").await.unwrap());
        // The pool hands its first connection back in a task of its own:
        // b is idle once that ran.
        let mut closed = 0;
        for _ in 0..100 {
            closed += handles.close_idle(Duration::ZERO).await;
            if closed > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(closed, 1);
        assert_eq!(handles.stats().open, 1);
        drop(a);
        assert_eq!(handles.close_idle(Duration::from_secs(3600)).await, 0, "a was used just now");
        assert_eq!(handles.close_idle(Duration::ZERO).await, 1);
        assert_eq!(handles.stats().open, 0);
    }
}
