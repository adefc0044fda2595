//! The in-process signal that an assignment request changed, keyed by request id: what lets a
//! reader wait for a request's next state (`Prefer: wait=N` on `GET …/assignmentRequests/{id}`,
//! the MCP server's `get_request` with `wait_seconds`) without polling the database.
//!
//! The store owns one [`RequestChanges`] per process and wakes it after every commit that
//! updated a request (`writ-store`'s transaction, the one place a request's state is written);
//! on PostgreSQL the same commit also sends a `NOTIFY` that the other replicas' listeners turn
//! into [`RequestChanges::wake`] here (and into [`RequestChanges::wake_all`] after a reconnect, so
//! no waiter misses a change made while the listener was away). The waiting itself, with its
//! authorization and its time limit, is `Entitlement::wait_for_request_change`.
//!
//! A waiter holds a [`Subscription`]: no database connection, one map entry shared by every
//! waiter of the same request, and a place in a bounded count ([`MAX_WAITERS`]), beyond which
//! [`RequestChanges::subscribe`] refuses and the caller answers at once instead of waiting.
//! Sync only, like the job waker: no runtime here, the time limit is the caller's future.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// How many requests may be waited on at once in one process, all callers together. Each waiter
/// holds an open HTTP exchange and a few hundred bytes here; past this, a `Prefer: wait` is not
/// applied (the request is answered at once), so a flood of waiters cannot exhaust memory.
pub const MAX_WAITERS: usize = 10_000;

/// The waiters of this process, by request id. Cloning shares them.
#[derive(Debug, Clone)]
pub struct RequestChanges(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    waiters: Mutex<Waiters>,
    limit: usize,
    /// Set at shutdown: every waiter is woken and answers, and no new wait starts.
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Waiters {
    by_request: HashMap<String, Entry>,
    total: usize,
}

#[derive(Debug)]
struct Entry {
    /// Each wake sends a new value; a receiver sees it as changed once, however many came.
    sender: watch::Sender<()>,
    waiters: usize,
}

impl Default for RequestChanges {
    fn default() -> Self {
        Self::with_limit(MAX_WAITERS)
    }
}

impl RequestChanges {
    /// A signal that lets at most `limit` waiters wait at once.
    pub fn with_limit(limit: usize) -> Self {
        Self(Arc::new(Inner {
            waiters: Mutex::new(Waiters::default()),
            limit,
            closed: AtomicBool::new(false),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        // The map stays consistent under a panic (every change is one statement), so a poisoned
        // lock is still usable.
        self.0
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching request `id`: every wake of it from now on is seen by the
    /// [`Subscription`]. `None` when [`MAX_WAITERS`] (or the limit given) are already waiting,
    /// or the signal is closed: the caller answers without waiting.
    pub fn subscribe(&self, id: &str) -> Option<Subscription> {
        if self.is_closed() {
            return None;
        }
        let mut waiters = self.lock();
        if waiters.total >= self.0.limit {
            return None;
        }
        waiters.total += 1;
        let entry = waiters
            .by_request
            .entry(id.to_owned())
            .or_insert_with(|| Entry {
                sender: watch::channel(()).0,
                waiters: 0,
            });
        entry.waiters += 1;
        let receiver = entry.sender.subscribe();
        Some(Subscription {
            changes: self.clone(),
            id: id.to_owned(),
            receiver,
        })
    }

    /// Wakes the waiters of request `id` (none waiting: nothing to do).
    pub fn wake(&self, id: &str) {
        if let Some(entry) = self.lock().by_request.get(id) {
            entry.sender.send_replace(());
        }
    }

    /// Wakes the waiters of each of `ids`.
    pub fn wake_each<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let waiters = self.lock();
        if waiters.by_request.is_empty() {
            return;
        }
        for id in ids {
            if let Some(entry) = waiters.by_request.get(id) {
                entry.sender.send_replace(());
            }
        }
    }

    /// Wakes every waiter: each reads its request again and goes on waiting if nothing changed.
    /// For when changes may have been missed (the PostgreSQL listener reconnected).
    pub fn wake_all(&self) {
        for entry in self.lock().by_request.values() {
            entry.sender.send_replace(());
        }
    }

    /// Ends waiting in this process (shutdown): every waiter is woken and answers with what it
    /// reads, and later waits are not applied.
    pub fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    /// How many waiters are waiting now.
    pub fn waiting(&self) -> usize {
        self.lock().total
    }
}

/// One waiter's watch on one request; dropping it leaves the count.
#[derive(Debug)]
pub struct Subscription {
    changes: RequestChanges,
    id: String,
    receiver: watch::Receiver<()>,
}

impl Subscription {
    /// Resolves at the next wake of this request since the subscription began or since the last
    /// time this resolved (a wake that came in between is not lost).
    pub async fn changed(&mut self) {
        // The sender lives in the map while this subscription does, so this cannot fail; if it
        // ever did, answering (as if woken) is the safe outcome.
        let _ = self.receiver.changed().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = self.changes.lock();
        waiters.total = waiters.total.saturating_sub(1);
        if let Some(entry) = waiters.by_request.get_mut(&self.id) {
            entry.waiters = entry.waiters.saturating_sub(1);
            if entry.waiters == 0 {
                waiters.by_request.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fake::block_on;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    /// Whether the future is ready at its first poll.
    fn ready<F: Future>(future: F) -> bool {
        let mut future = pin!(future);
        future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    #[test]
    fn a_wake_reaches_the_waiters_of_that_request_only() {
        let changes = RequestChanges::default();
        let mut a = changes.subscribe("a").unwrap();
        let mut a2 = changes.subscribe("a").unwrap();
        let mut b = changes.subscribe("b").unwrap();
        assert!(!ready(a.changed()), "no wake yet");
        changes.wake("a");
        assert!(ready(a.changed()));
        assert!(ready(a2.changed()));
        assert!(!ready(b.changed()), "another request's waiter sleeps on");
        assert!(!ready(a.changed()), "a wake is seen once");
        changes.wake_each(["b", "c"]);
        block_on(b.changed());
    }

    #[test]
    fn a_wake_between_subscribing_and_waiting_is_not_lost() {
        let changes = RequestChanges::default();
        let mut a = changes.subscribe("a").unwrap();
        changes.wake("a");
        changes.wake("a");
        assert!(ready(a.changed()));
        assert!(
            !ready(a.changed()),
            "two wakes before the wait count as one"
        );
    }

    #[test]
    fn wake_all_and_close_wake_everyone_and_close_refuses_new_waits() {
        let changes = RequestChanges::default();
        let mut a = changes.subscribe("a").unwrap();
        let mut b = changes.subscribe("b").unwrap();
        changes.wake_all();
        assert!(ready(a.changed()) && ready(b.changed()));
        changes.close();
        assert!(ready(a.changed()) && ready(b.changed()));
        assert!(changes.is_closed());
        assert!(changes.subscribe("c").is_none());
    }

    #[test]
    fn the_number_of_waiters_is_bounded_and_freed_on_drop() {
        let changes = RequestChanges::with_limit(2);
        let a = changes.subscribe("a").unwrap();
        let b = changes.subscribe("a").unwrap();
        assert!(
            changes.subscribe("b").is_none(),
            "the third waiter is refused"
        );
        assert_eq!(changes.waiting(), 2);
        drop(a);
        let c = changes.subscribe("b").unwrap();
        drop(b);
        drop(c);
        assert_eq!(changes.waiting(), 0);
        assert!(
            changes.lock().by_request.is_empty(),
            "no entry outlives its waiters"
        );
        // A wake of a request nobody waits on is nothing.
        changes.wake("a");
    }
}
