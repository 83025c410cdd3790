//! Work that must run in order per key and concurrently across keys: the
//! updates of one chat, the messages to one chat.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;

type Handler<K, T> = Arc<dyn Fn(K, T) -> BoxFuture<'static, ()> + Send + Sync>;

/// Runs `handler(key, item)` for every pushed item: one at a time and in
/// push order for a key, up to `concurrency` keys at once.
pub struct KeyedSerial<K, T> {
    queues: Arc<Mutex<HashMap<K, VecDeque<T>>>>,
    permits: Arc<Semaphore>,
    handler: Handler<K, T>,
}

impl<K, T> Clone for KeyedSerial<K, T> {
    fn clone(&self) -> Self {
        KeyedSerial { queues: self.queues.clone(), permits: self.permits.clone(), handler: self.handler.clone() }
    }
}

impl<K, T> KeyedSerial<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + 'static,
{
    pub fn new<F>(concurrency: usize, handler: F) -> Self
    where
        F: Fn(K, T) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        KeyedSerial {
            queues: Arc::new(Mutex::new(HashMap::new())),
            permits: Arc::new(Semaphore::new(concurrency)),
            handler: Arc::new(handler),
        }
    }

    pub fn push(&self, key: K, item: T) {
        let mut queues = self.queues.lock().expect("poisoned");
        if let Some(q) = queues.get_mut(&key) {
            q.push_back(item);
            return;
        }
        queues.insert(key.clone(), VecDeque::from([item]));
        drop(queues);
        let this = self.clone();
        tokio::spawn(async move { this.drain(key).await });
    }

    /// Items queued or running, across all keys.
    pub fn backlog(&self) -> usize {
        self.queues.lock().expect("poisoned").values().map(|q| q.len().max(1)).sum()
    }

    async fn drain(self, key: K) {
        let Ok(_permit) = self.permits.clone().acquire_owned().await else { return };
        loop {
            // The queue is removed under the same lock that finds it empty,
            // so a concurrent push either lands here or starts a new drainer.
            let item = {
                let mut queues = self.queues.lock().expect("poisoned");
                let q = queues.get_mut(&key).expect("a drained key has a queue");
                match q.front_mut() {
                    Some(_) => q.pop_front(),
                    None => {
                        queues.remove(&key);
                        None
                    }
                }
            };
            let Some(item) = item else { return };
            (self.handler)(key.clone(), item).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn keeps_order_per_key() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let q = KeyedSerial::new(4, move |k: u8, i: u32| {
            let seen = s2.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(u64::from(10 - i % 10))).await;
                seen.lock().unwrap().push((k, i));
            })
        });
        for i in 0..20 {
            q.push(i as u8 % 3, i);
        }
        for _ in 0..200 {
            if seen.lock().unwrap().len() == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 20);
        for k in 0..3u8 {
            let order: Vec<u32> = seen.iter().filter(|(kk, _)| *kk == k).map(|(_, i)| *i).collect();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted, "key {k}");
        }
        assert_eq!(q.backlog(), 0);
    }
}
