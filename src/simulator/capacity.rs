//! `--capacity C`: a server that serves C requests per second and no more,
//! the way an overloaded PAM360 behaves: 8 workers, each request takes
//! 8/C seconds of one worker's time, 8 more requests may wait for a
//! worker, and past that a request is answered 503 at once. So latency
//! rises as the load nears C, then 503s come: what `--rate auto` has to
//! read. Every request counts, reads too.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Workers serving requests at once.
pub const WORKERS: usize = 8;
/// Requests that may wait for a worker.
pub const QUEUE: usize = 8;

/// The capacity model.
pub(crate) struct Capacity {
    /// Requests per second.
    rate: f64,
    /// After this many requests, the capacity becomes the second value
    /// (a server that slows down half-way).
    drop: Option<(u64, f64)>,
    workers: tokio::sync::Semaphore,
    /// Requests being served or waiting.
    in_system: AtomicUsize,
    arrived: AtomicU64,
}

impl Capacity {
    pub fn new(rate: f64, drop: Option<(u64, f64)>) -> Self {
        Capacity {
            rate,
            drop,
            workers: tokio::sync::Semaphore::new(WORKERS),
            in_system: AtomicUsize::new(0),
            arrived: AtomicU64::new(0),
        }
    }

    /// Serves one request's work; false when the server is full (answer
    /// 503 at once).
    pub async fn serve(&self) -> bool {
        let n = self.arrived.fetch_add(1, Ordering::SeqCst) + 1;
        // Counted out when this request leaves, however it leaves (a client
        // that hangs up drops this future while it waits).
        let _in = InSystem::enter(&self.in_system);
        if self.in_system.load(Ordering::SeqCst) > WORKERS + QUEUE {
            return false;
        }
        let rate = match self.drop {
            Some((after, slower)) if n > after => slower,
            _ => self.rate,
        };
        if let Ok(_worker) = self.workers.acquire().await {
            tokio::time::sleep(Duration::from_secs_f64(WORKERS as f64 / rate)).await;
        }
        true
    }

    /// Whether the capacity has dropped (`--capacity-drop`).
    pub fn dropped(&self) -> bool {
        self.drop
            .is_some_and(|(after, _)| self.arrived.load(Ordering::SeqCst) > after)
    }
}

/// One request in the system, counted out when dropped.
struct InSystem<'a>(&'a AtomicUsize);

impl<'a> InSystem<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        InSystem(count)
    }
}

impl Drop for InSystem<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_serves_its_capacity_and_refuses_past_workers_and_queue() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let cap = std::sync::Arc::new(Capacity::new(80.0, None));
            // 20 at once: 8 served, 8 wait, 4 refused at once.
            let began = std::time::Instant::now();
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let cap = cap.clone();
                    tokio::spawn(async move { cap.serve().await })
                })
                .collect();
            let mut served = 0;
            for t in tasks {
                served += usize::from(t.await.unwrap());
            }
            assert_eq!(served, 16);
            // Two rounds of 8/80 s.
            let took = began.elapsed();
            assert!(took >= Duration::from_millis(195), "{took:?}");
        });
    }
}
