//! Group commit on SQLite: the write transactions of several callers carried by one SQLite
//! transaction, so that one durable `COMMIT` (one `fsync`) serves them all.
//!
//! SQLite has one writer. Before this, each write transaction took the process's writer lock,
//! began, wrote and committed alone, and every request, delivery and job completion paid its own
//! `fsync`. Here the writer lock is the [`Writer`]'s gate, and a transaction that takes it joins
//! the *group*: one transaction open on the writer's own connection (a pool of one, used only
//! under the gate), begun `IMMEDIATE` by the first member. Each member works inside a savepoint of
//! it (sqlx's nested [`Transaction`]): its own rollback, error or drop undoes only its own work
//! (`ROLLBACK TO`), and its commit releases the savepoint into the group. The member then hands
//! the gate on if another writer is waiting for it, and the group's `COMMIT` is made by the last
//! member to release when no writer waits, or at [`MAX_MEMBERS`] or [`MAX_AGE`], or by a member
//! that comes back to the gate and finds its group still open (so a waiter that gave up, or a
//! member dropped midway, cannot leave the group open). **A member's commit returns only after
//! the group's `COMMIT` succeeded**; if it fails, every member gets the error (nothing of the
//! group is durable). What a commit triggers afterwards (request waiters woken) runs after that.
//!
//! Writes made on other connections (a single statement outside a transaction, a [`RawTx`]) take
//! the gate with [`Writer::exclusive`], which ends any open group first.
//!
//! PostgreSQL has no [`Writer`]: its transactions run side by side and commit alone.
//!
//! [`RawTx`]: crate::store::RawTx

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Any, AnyPool, Connection, SqlSafeStr, Transaction};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use writ_domain::store::{StoreError, StoreResult};

use crate::error::ResultExt;

/// At most this many members in one group: their answers wait for its `COMMIT`.
pub(crate) const MAX_MEMBERS: usize = 64;
/// A group open longer than this commits at its next member's release, even if writers wait.
pub(crate) const MAX_AGE: Duration = Duration::from_millis(20);

type Manager = <Any as sqlx::Database>::TransactionManager;

/// SQLite's single writer: the gate its write transactions queue for, and the connection their
/// group's transaction is open on.
#[derive(Debug)]
pub(crate) struct Writer {
    /// One connection, only ever used by the holder of the gate.
    pool: AnyPool,
    gate: Arc<Mutex<Group>>,
    /// Writers queued for the gate that have not taken it yet: a member releasing its work
    /// leaves the group open for the next one only if there is one.
    arriving: AtomicUsize,
    #[cfg(feature = "test-support")]
    fail_next_commit: std::sync::atomic::AtomicBool,
}

/// The state of the group, owned by the holder of the gate.
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// When the group's transaction began; `None` while none is open.
    opened: Option<Instant>,
    /// Bumped each time a group ends, so a member knows whether its own has.
    generation: u64,
    /// The members that released their work into the open group, awaiting its `COMMIT`.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// Statistics of ended groups, for tests and the benchmark's notes.
    pub(crate) committed_groups: u64,
    pub(crate) committed_members: u64,
}

/// Counts a writer as arriving until it takes the gate (or gives up waiting).
struct Arrival<'a>(&'a AtomicUsize);

impl<'a> Arrival<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Writer {
    pub(crate) fn new(pool: AnyPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            gate: Arc::new(Mutex::new(Group::default())),
            arriving: AtomicUsize::new(0),
            #[cfg(feature = "test-support")]
            fail_next_commit: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The gate, taken in arrival order.
    async fn enter(&self) -> OwnedMutexGuard<Group> {
        let arrival = Arrival::new(&self.arriving);
        let gate = self.gate.clone().lock_owned().await;
        drop(arrival);
        gate
    }

    /// The gate with no group open: for a write on another connection of the pool, which would
    /// otherwise wait on the group's database lock.
    pub(crate) async fn exclusive(self: &Arc<Self>) -> OwnedMutexGuard<Group> {
        let gate = self.enter().await;
        if gate.opened.is_none() {
            return gate;
        }
        self.end_in_task(gate).await
    }

    /// A new member: its savepoint in the open group (the group begun first if none is).
    pub(crate) async fn join(self: &Arc<Self>) -> StoreResult<(Transaction<'static, Any>, Member)> {
        let gate = self.enter().await;
        // From here a failure drops the member, which ends the group in the background.
        let mut member = Member {
            writer: self.clone(),
            gate: Some(gate),
            settled: false,
        };
        let gate = member.gate.as_mut().ok_or_else(gone)?;
        let mut conn = self.pool.acquire().await.store()?;
        if gate.opened.is_some() && !conn.is_in_transaction() {
            // The connection (and the group's transaction with it) was lost: nothing of what its
            // members released is durable.
            settle(gate, Err(lost()));
        }
        if gate.opened.is_none() {
            if conn.is_in_transaction() {
                // Left open by a group whose end failed midway.
                Manager::rollback(&mut conn).await.store()?;
            }
            Manager::begin(&mut conn, Some("BEGIN IMMEDIATE".into_sql_str()))
                .await
                .store()?;
            gate.opened = Some(Instant::now());
        }
        let tx = Transaction::begin(conn, None).await.store()?;
        Ok((tx, member))
    }

    /// Ends the group in a task of its own, which a caller's cancellation cannot interrupt
    /// between `COMMIT` and telling the members; returns the gate once it has ended.
    async fn end_in_task(
        self: &Arc<Self>,
        mut gate: OwnedMutexGuard<Group>,
    ) -> OwnedMutexGuard<Group> {
        let writer = self.clone();
        let task = tokio::spawn(async move {
            writer.end(&mut gate).await;
            gate
        });
        match task.await {
            Ok(gate) => gate,
            // The task panicked (its members' senders dropped: they report an error); take the
            // gate again.
            Err(_) => self.enter().await,
        }
    }

    /// Commits the group (or rolls it back when nothing was released into it) and tells each
    /// member the outcome.
    async fn end(&self, gate: &mut Group) {
        if gate.opened.is_none() {
            settle(gate, Err(lost()));
            return;
        }
        let outcome = self.finish(!gate.waiting.is_empty()).await;
        if outcome.is_ok() {
            gate.committed_groups += 1;
            gate.committed_members += gate.waiting.len() as u64;
        }
        settle(gate, outcome);
    }

    async fn finish(&self, commit: bool) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.store()?;
        if !conn.is_in_transaction() {
            return if commit { Err(lost()) } else { Ok(()) };
        }
        if !commit {
            return Manager::rollback(&mut conn).await.store();
        }
        #[cfg(feature = "test-support")]
        if self.fail_next_commit.swap(false, Ordering::AcqRel) {
            // A deferred foreign key violated by a row of its own makes SQLite refuse the
            // `COMMIT`, as a full disk or an I/O error would.
            sqlx::query("PRAGMA defer_foreign_keys = ON")
                .execute(&mut *conn)
                .await
                .store()?;
            sqlx::query(
                "INSERT INTO group_members (group_id, member_id, holder) \
                 VALUES ('group-commit-test-missing', 'group-commit-test-missing', 'test')",
            )
            .execute(&mut *conn)
            .await
            .store()?;
        }
        match Manager::commit(&mut conn).await {
            Ok(()) => Ok(()),
            Err(error) => {
                if conn.is_in_transaction() && Manager::rollback(&mut conn).await.is_err() {
                    // Not left to another group in an unknown state.
                    conn.close_on_drop();
                }
                Err(error).store()
            }
        }
    }

    /// Ends the open group, if any, once the gate is free: after a member was dropped or gave up
    /// waiting, so the work others released into the group is not left uncommitted.
    fn end_later(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let writer = self.clone();
        runtime.spawn(async move {
            let mut gate = writer.enter().await;
            if gate.opened.is_some() {
                writer.end(&mut gate).await;
            }
        });
    }

    /// Closes the writer's connection, ending any open group first.
    pub(crate) async fn close(self: &Arc<Self>) {
        drop(self.exclusive().await);
        self.pool.close().await;
    }

    /// Makes the next group `COMMIT` fail (a test's way to see every member get the error).
    #[cfg(feature = "test-support")]
    pub(crate) fn fail_next_commit(&self) {
        self.fail_next_commit.store(true, Ordering::Release);
    }

    /// Writers waiting for the gate.
    #[cfg(feature = "test-support")]
    pub(crate) fn arriving(&self) -> usize {
        self.arriving.load(Ordering::Acquire)
    }

    /// (groups committed, members they carried), since the store was opened.
    pub(crate) async fn statistics(self: &Arc<Self>) -> (u64, u64) {
        let gate = self.gate.lock().await;
        (gate.committed_groups, gate.committed_members)
    }
}

/// Tells every waiting member the group's outcome; no group is open afterwards.
fn settle(gate: &mut Group, outcome: Result<(), StoreError>) {
    gate.opened = None;
    gate.generation = gate.generation.wrapping_add(1);
    for member in gate.waiting.drain(..) {
        // A member that gave up waiting has dropped its receiver.
        let _ = member.send(copy(&outcome));
    }
}

/// A member of a group, holding the gate until it commits or is dropped.
#[derive(Debug)]
pub(crate) struct Member {
    writer: Arc<Writer>,
    gate: Option<OwnedMutexGuard<Group>>,
    /// Its outcome was received: nothing left to end.
    settled: bool,
}

impl Member {
    /// Called once the member's savepoint is released into the group: returns when the group's
    /// `COMMIT` has succeeded (or with its error).
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        let mut gate = self.gate.take().ok_or_else(gone)?;
        let (sender, mut outcome) = oneshot::channel();
        gate.waiting.push(sender);
        let due = self.writer.arriving.load(Ordering::Acquire) == 0
            || gate.waiting.len() >= MAX_MEMBERS
            || gate.opened.is_none_or(|at| at.elapsed() >= MAX_AGE);
        if due {
            drop(self.writer.end_in_task(gate).await);
        } else {
            let generation = gate.generation;
            drop(gate);
            tokio::select! {
                biased;
                result = &mut outcome => {
                    self.settled = true;
                    return result.map_err(|_| gone())?;
                }
                gate = self.writer.gate.clone().lock_owned() => {
                    // Every writer that was waiting when this member released has had the gate:
                    // if the group is still open, this member ends it.
                    if gate.generation == generation {
                        drop(self.writer.end_in_task(gate).await);
                    }
                }
            }
        }
        let result = outcome.await.map_err(|_| gone());
        self.settled = true;
        result?
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if !self.settled {
            // Rolled back, failed or cancelled: the gate is released when this returns, and the
            // group ends as soon as it is free, unless another writer ends it first.
            self.writer.end_later();
        }
    }
}

fn lost() -> StoreError {
    StoreError::Unavailable("the database connection of a group of writes was lost".into())
}

fn gone() -> StoreError {
    StoreError::Other("a group commit ended without an outcome".into())
}

/// The same error for each member of a failed group.
fn copy(outcome: &Result<(), StoreError>) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => Ok(()),
        Err(StoreError::Unique(m)) => Err(StoreError::Unique(m.clone())),
        Err(StoreError::ForeignKey(m)) => Err(StoreError::ForeignKey(m.clone())),
        Err(StoreError::InvalidQuery(m)) => Err(StoreError::InvalidQuery(m.clone())),
        Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m.clone())),
        Err(StoreError::Other(m)) => Err(StoreError::Other(m.clone())),
    }
}
