//! A TCP pass-through that a test can cut and restore, to play a service
//! (Redis) going away and coming back: cut, it drops every connection it
//! carries and closes new ones at once; restored, it carries them again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};

pub struct TcpCut {
    pub port: u16,
    up: Arc<AtomicBool>,
    /// Bumped at each cut: connections of an earlier generation end.
    generation: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TcpCut {
    pub async fn start(upstream: String) -> anyhow::Result<TcpCut> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (u, g) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // The generation is read when the connection is accepted: a
                // connection accepted before a cut but still connecting
                // upstream when it came must end with the others, not be
                // born into the new generation and outlive the cut.
                let born = g.load(Ordering::SeqCst);
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (upstream, g) = (upstream.clone(), g.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    let cut = async {
                        while g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Ok(TcpCut { port, up, generation, task })
    }

    /// Drops every connection and refuses new ones until [`TcpCut::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
