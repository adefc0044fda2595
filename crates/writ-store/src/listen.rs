//! Changes of assignment requests across replicas (several `writ serve` on one PostgreSQL): a
//! transaction that updated requests sends their ids on the [`REQUEST_CHANNEL`] with
//! `pg_notify` just before it commits ([`notify`]; PostgreSQL delivers the notifications at the
//! commit and drops them with a rollback), and each process runs one listener
//! ([`run_request_listener`]) that wakes its own waiters of those requests
//! (`writ_domain::request_waiter`).
//!
//! The listener holds one connection of its own (outside the pool), reconnects after a drop with
//! a backoff (0.1 s doubling to 5 s), and after every (re)connection wakes all of its process's
//! waiters, which read their request again: a change committed while it was not listening is
//! not missed. SQLite has none of this: one process owns the file, and the store's in-process
//! wake after each commit reaches every waiter.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use writ_domain::request_waiter::RequestChanges;
use writ_domain::store::StoreResult;

use crate::connect::Backend;
use crate::error::ResultExt;

/// The PostgreSQL channel whose payload is a comma-separated list of request ids.
pub const REQUEST_CHANNEL: &str = "writ_request_changed";

/// A notification's payload must stay under PostgreSQL's 8,000 bytes; ids are 36-character
/// UUIDs, so a transaction updating many requests (a batch of deliveries) sends a few.
const MAX_PAYLOAD: usize = 7_000;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Sends `ids` on [`REQUEST_CHANNEL`] inside `tx` (PostgreSQL; nothing on SQLite).
pub(crate) async fn notify(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    ids: &[String],
) -> StoreResult<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    let mut payload = String::new();
    for id in ids {
        if !payload.is_empty() && payload.len() + id.len() + 1 > MAX_PAYLOAD {
            send(tx, &payload).await?;
            payload.clear();
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(id);
    }
    if !payload.is_empty() {
        send(tx, &payload).await?;
    }
    Ok(())
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
