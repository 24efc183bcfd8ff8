//! The hashing pool's queue: one queue per tenant, served round-robin.
//!
//! Hashing is the resource every tenant shares. With one first-come queue, a tenant flooded
//! with logins (an attack, or a batch job) fills it, and another tenant's login waits behind
//! every one of those hashes. Here each tenant has its own queue and the hashing threads take
//! one job from each tenant with work in turn, so a tenant's job waits for at most one job of
//! every other busy tenant, however long their queues are. A tenant may have at most
//! `per_key` jobs waiting (it is told to come back later: `RATE_LIMITED`), all tenants
//! together at most `total` (the process is overloaded: `SERVICE_UNAVAILABLE`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// This key already has its share waiting; `waiting` is how many.
    KeyFull { waiting: usize },
    /// Every key together has the whole queue waiting.
    Full,
    /// The queue was closed (the pool is shutting down).
    Closed,
}

struct State<T> {
    queues: HashMap<String, VecDeque<T>>,
    /// Keys with jobs waiting, in the order they are served next; each key appears once.
    turn: VecDeque<String>,
    waiting: usize,
    closed: bool,
}

/// A bounded multi-queue served round-robin by key; `pop` blocks (for dedicated threads).
pub struct FairQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    per_key: usize,
    total: usize,
}

impl<T> FairQueue<T> {
    pub fn new(per_key: usize, total: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queues: HashMap::new(),
                turn: VecDeque::new(),
                waiting: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            per_key: per_key.max(1),
            total: total.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queues consistent (every change below
        // is a single push or pop), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `job` under `key`.
    pub fn push(&self, key: &str, job: T) -> Result<(), Refused> {
        let mut s = self.lock();
        if s.closed {
            return Err(Refused::Closed);
        }
        let mine = s.queues.get(key).map_or(0, VecDeque::len);
        if mine >= self.per_key {
            return Err(Refused::KeyFull { waiting: mine });
        }
        if s.waiting >= self.total {
            return Err(Refused::Full);
        }
        s.waiting += 1;
        let queue = s.queues.entry(key.to_string()).or_default();
        queue.push_back(job);
        if queue.len() == 1 {
            s.turn.push_back(key.to_string());
        }
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job: the front of the queue whose turn it is. Blocks while nothing waits;
    /// `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(key) = s.turn.pop_front() {
                let queue = s.queues.get_mut(&key).expect("a key in turn has a queue");
                let job = queue.pop_front().expect("a key in turn has a job");
                if queue.is_empty() {
                    s.queues.remove(&key);
                } else {
                    s.turn.push_back(key);
                }
                s.waiting -= 1;
                return Some(job);
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Refuses new jobs; waiting ones are still handed out, then `pop` answers `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Jobs waiting (not yet taken), over every key.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_served_in_turn_whatever_their_queue_length() {
        let q = FairQueue::new(100, 1000);
        for i in 0..10 {
            q.push("flooded", format!("a{i}")).unwrap();
        }
        q.push("quiet", "b0".to_string()).unwrap();
        q.push("quiet", "b1".to_string()).unwrap();
        let order: Vec<String> = (0..5).map(|_| q.pop().unwrap()).collect();
        assert_eq!(order, ["a0", "b0", "a1", "b1", "a2"]);
        assert_eq!(q.waiting(), 7);
        q.close();
        let rest: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, ["a3", "a4", "a5", "a6", "a7", "a8", "a9"]);
        assert_eq!(q.push("quiet", "late".into()), Err(Refused::Closed));
    }

    #[test]
    fn a_key_gets_its_share_and_all_keys_the_total() {
        let q = FairQueue::new(2, 3);
        q.push("a", 1).unwrap();
        q.push("a", 2).unwrap();
        assert_eq!(q.push("a", 3), Err(Refused::KeyFull { waiting: 2 }));
        q.push("b", 4).unwrap();
        assert_eq!(q.push("c", 5), Err(Refused::Full));
        assert_eq!(q.pop(), Some(1));
        q.push("c", 5).unwrap();
        assert_eq!(q.waiting(), 3);
    }

    #[test]
    fn a_waiting_thread_is_woken_by_a_push_and_by_close() {
        let q = std::sync::Arc::new(FairQueue::new(4, 4));
        let taker = {
            let q = q.clone();
            std::thread::spawn(move || (q.pop(), q.pop()))
        };
        q.push("a", 7).unwrap();
        q.close();
        assert_eq!(taker.join().unwrap(), (Some(7), None));
    }
}
