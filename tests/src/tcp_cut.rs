//! A TCP pass-through that a test can cut and restore, to play a service
//! (Redis) going away and coming back: cut, it drops every connection it
//! carries and closes new ones at once; restored, it carries them again.
//!
//! [`TcpCut::cut`] returns only once every connection it carried is gone,
//! so nothing the test does after it can still reach the service (a cut
//! noticed "soon" let a request through under load).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpCut {
    pub port: u16,
    up: Arc<AtomicBool>,
    /// Bumped at each cut: connections of an earlier generation end at once.
    generation: watch::Sender<u64>,
    /// Connections being carried (or set up).
    live: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a carried connection for as long as it lives.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TcpCut {
    pub async fn start(upstream: String) -> anyhow::Result<TcpCut> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let live = Arc::new(AtomicUsize::new(0));
        let (u, g, l) = (up.clone(), generation.subscribe(), live.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Counted and given its generation when accepted, so that a
                // cut coming while it still connects upstream ends it too.
                l.fetch_add(1, Ordering::SeqCst);
                let alive = Live(l.clone());
                let mut changed = g.clone();
                let born = *changed.borrow_and_update();
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _alive = alive;
                    let cut = async {
                        while *changed.borrow_and_update() == born {
                            if changed.changed().await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = async {
                            let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        } => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Ok(TcpCut { port, up, generation, live, task })
    }

    /// Drops every connection and refuses new ones until [`TcpCut::restore`];
    /// returns once none is left (within 5 s, or it panics).
    pub async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.live.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "{} connections outlived the cut", self.live.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
