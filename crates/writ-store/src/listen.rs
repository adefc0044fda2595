//! Changes of assignment requests across replicas (several `writ serve` on one PostgreSQL): after
//! a transaction that updated requests has committed, the store hands their ids to this
//! process's [`Announcer`], which sends them on the [`REQUEST_CHANNEL`] with `pg_notify` in
//! transactions of its own; each process runs one listener ([`run_request_listener`]) that
//! wakes its own waiters of those requests (`writ_domain::request_waiter`).
//!
//! Why not `pg_notify` inside the changing transaction (atomic with its commit, as this module
//! first did): PostgreSQL takes one lock for the whole cluster from a notifying transaction's
//! pre-commit until its commit is done, its WAL flush included, so notifying transactions
//! commit one at a time. On a durable cluster that made every delivery wait for every other's
//! `fsync` (`writ-bench --replicas`: notifying commits 0.26× of plain ones). The announcer
//! sends what several commits changed in one notifying transaction, with `synchronous_commit`
//! off for it (a notification is a hint to read again; losing one to a crash costs a waiter
//! nothing but the end of its wait, when it reads the request anyway).
//!
//! The listener holds one connection of its own (outside the pool), reconnects after a drop with
//! a backoff (0.1 s doubling to 5 s), and after every (re)connection wakes all of its process's
//! waiters, which read their request again: a change committed while it was not listening is
//! not missed. SQLite has none of this: one process owns the file, and the store's in-process
//! wake after each commit reaches every waiter.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};
use writ_domain::request_waiter::RequestChanges;
use writ_domain::store::StoreResult;

use crate::error::ResultExt;

/// The PostgreSQL channel whose payload is a comma-separated list of request ids.
pub const REQUEST_CHANNEL: &str = "writ_request_changed";

/// A notification's payload must stay under PostgreSQL's 8,000 bytes; ids are 36-character
/// UUIDs, so a transaction updating many requests (a batch of deliveries) sends a few.
const MAX_PAYLOAD: usize = 7_000;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Sends the ids of committed request changes to the other replicas, a few commits' worth at a
/// time, from a task of its own (PostgreSQL only). Dropped with the last clone of its store:
/// the task then ends.
#[derive(Debug, Clone)]
pub(crate) struct Announcer {
    ids: mpsc::UnboundedSender<Vec<String>>,
}

/// Ids sent in one notifying transaction at most; more wait for the next.
const MAX_IDS_PER_ROUND: usize = 5_000;

impl Announcer {
    /// Starts the announcing task on the current runtime, sending through `pool`.
    pub(crate) fn start(pool: AnyPool) -> Self {
        let (ids, queued) = mpsc::unbounded_channel();
        tokio::spawn(announce(pool, queued));
        Self { ids }
    }

    /// Queues the ids of requests whose change has just committed.
    pub(crate) fn announce(&self, ids: Vec<String>) {
        // The task only stops once every sender (every clone of the store) is gone.
        let _ = self.ids.send(ids);
    }
}

/// The announcing task: whatever has queued since its last round, sorted and without
/// duplicates, in one transaction.
async fn announce(pool: AnyPool, mut queued: mpsc::UnboundedReceiver<Vec<String>>) {
    while let Some(mut ids) = queued.recv().await {
        while ids.len() < MAX_IDS_PER_ROUND {
            match queued.try_recv() {
                Ok(more) => ids.extend(more),
                Err(_) => break,
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if pool.is_closed() {
            return;
        }
        if let Err(error) = send_all(&pool, &ids).await {
            tracing::warn!(
                %error,
                requests = ids.len(),
                "request change announcer: not sent; other replicas' waiters on these requests \
                 read them at the end of their wait"
            );
        }
    }
}

/// One transaction sending `ids` in notifications of at most [`MAX_PAYLOAD`] bytes.
async fn send_all(pool: &AnyPool, ids: &[String]) -> StoreResult<()> {
    let mut tx = pool.begin().await.store()?;
    // Nothing else is written: the commit need not wait for the WAL to reach the disk, and the
    // cluster-wide notification lock is held only as long as the commit itself.
    sqlx::query("SELECT set_config('synchronous_commit', 'off', true) AS set")
        .execute(&mut *tx)
        .await
        .store()?;
    let mut payload = String::new();
    for id in ids {
        if !payload.is_empty() && payload.len() + id.len() + 1 > MAX_PAYLOAD {
            send(&mut tx, &payload).await?;
            payload.clear();
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(id);
    }
    if !payload.is_empty() {
        send(&mut tx, &payload).await?;
    }
    tx.commit().await.store()
}

async fn send(tx: &mut sqlx::Transaction<'static, sqlx::Any>, payload: &str) -> StoreResult<()> {
    // `pg_notify` returns `void`, which the `Any` driver cannot decode: count instead.
    sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_notify($1, $2)) AS sent")
        .bind(REQUEST_CHANNEL)
        .bind(payload.to_owned())
        .execute(&mut **tx)
        .await
        .store()?;
    Ok(())
}

/// Listens on [`REQUEST_CHANNEL`] of the PostgreSQL database at `url` and wakes the waiters of
/// `changes` for every request id heard, until `stop` turns true. Never returns an error: a
/// lost or refused connection is logged and tried again.
pub async fn run_request_listener(
    url: String,
    changes: RequestChanges,
    mut stop: watch::Receiver<bool>,
) {
    let mut pause = FIRST_PAUSE;
    loop {
        let listening = listen(&url, &changes, &mut pause);
        let error = tokio::select! {
            error = listening => error,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        tracing::warn!(
            %error,
            retry_in_ms = pause.as_millis() as u64,
            "request change listener: not listening to PostgreSQL; reconnecting"
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// One connection's life: connect, listen, wake everyone (what was committed before went
/// unheard), then forward notifications until the connection fails for good.
async fn listen(url: &str, changes: &RequestChanges, pause: &mut Duration) -> sqlx::Error {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen(REQUEST_CHANNEL).await {
        return error;
    }
    changes.wake_all();
    *pause = FIRST_PAUSE;
    tracing::debug!(
        channel = REQUEST_CHANNEL,
        "request change listener: listening"
    );
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => changes.wake_each(notification.payload().split(',')),
            // The connection dropped and was re-established (and the channel listened to
            // again): notifications sent in between are lost, so every waiter reads again.
            Ok(None) => {
                tracing::info!("request change listener: reconnected to PostgreSQL");
                changes.wake_all();
            }
            Err(error) => return error,
        }
    }
}
