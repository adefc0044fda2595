//! Group commit on SQLite (issue 20 item 2, part G): several callers' write transactions carried
//! by one SQLite transaction, each in its own savepoint, each caller's commit returning only
//! after the group's durable `COMMIT`. The tests line writers up behind one another at the
//! writer's gate (`SqlStore::writers_waiting`) so that they share a group, and check what each
//! caller observes. On PostgreSQL (no group) the same observations hold: each transaction commits
//! alone.

use std::sync::Arc;

use writ_domain::store::{Store, StoreError};
use writ_store::{Backend, SqlStore};

async fn store(backend: Backend) -> Arc<SqlStore> {
    Arc::new(writ_store::testing::fresh_store(backend).await.unwrap())
}

/// Waits (yielding, no timer) until `n` writers queue at SQLite's writer gate; at once on
/// PostgreSQL, whose writers do not queue.
async fn until_waiting(store: &SqlStore, backend: Backend, n: usize) {
    if backend == Backend::Postgres {
        return;
    }
    while store.writers_waiting() < n {
        tokio::task::yield_now().await;
    }
}

/// A transaction that sets one setting and commits, returning when its commit does.
async fn set(store: Arc<SqlStore>, key: String) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.put_setting(&key, "written").await?;
    tx.commit().await
}

async fn concurrent_writers_are_all_durable_and_visible_when_their_commits_return(
    backend: Backend,
) {
    let store = store(backend).await;
    let mut writers = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let key = format!("group-commit-{i}");
            set(store.clone(), key.clone()).await.unwrap();
            // Read on another connection of the pool the moment the commit returns: committed.
            assert_eq!(
                store.setting(&key).await.unwrap().as_deref(),
                Some("written"),
                "{key} not visible when its commit returned"
            );
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    if let Some((groups, members)) = store.group_commit_statistics().await {
        assert!(members >= 24, "{members} members committed");
        // Writers that arrived together shared commits.
        assert!(groups < members, "{groups} groups for {members} members");
    }
}

async fn a_member_dropped_after_a_failed_statement_leaves_the_others_committed(backend: Backend) {
    let store = store(backend).await;
    // A reserves an idempotency key and commits while B waits at the gate: A's work is released
    // into the group, and A is not answered yet.
    let mut a = store.begin().await.unwrap();
    a.reserve_idempotency_key("p", "/route", "key", "hash", crate::harness::now())
        .await
        .unwrap();
    a.put_setting("a", "written").await.unwrap();
    let b_store = store.clone();
    let (b_inside, mut b_in) = tokio::sync::oneshot::channel::<()>();
    let (b_go, b_go_rx) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(async move {
        let mut b = b_store.begin().await.unwrap();
        b.put_setting("b-before-its-error", "written")
            .await
            .unwrap();
        // The same key again: refused (on SQLite because A's reservation is in the group's
        // transaction; on PostgreSQL because A has committed).
        let refused = b
            .reserve_idempotency_key("p", "/route", "key", "hash", crate::harness::now())
            .await;
        assert!(matches!(refused, Err(StoreError::Unique(_))), "{refused:?}");
        b_inside.send(()).unwrap();
        b_go_rx.await.unwrap();
        // Dropped: B's work, and only B's, is undone.
        drop(b);
    });
    until_waiting(&store, backend, 1).await;
    let a_store = store.clone();
    let a_commit = tokio::spawn(async move {
        let result = a.commit().await;
        // The moment A's commit returns, its work is visible on other connections.
        let written = a_store.setting("a").await.unwrap();
        (result, written.as_deref() == Some("written"))
    });
    (&mut b_in).await.unwrap();
    if backend == Backend::Sqlite {
        // B holds the gate inside the group: A has not been answered, and nothing of the group
        // is visible outside it.
        assert!(
            !a_commit.is_finished(),
            "A answered before its group's COMMIT"
        );
        assert_eq!(
            store.setting("b-before-its-error").await.unwrap(),
            None,
            "uncommitted work visible"
        );
    }
    b_go.send(()).unwrap();
    b.await.unwrap();
    let (result, visible) = a_commit.await.unwrap();
    result.unwrap();
    assert!(visible, "A's work not visible when its commit returned");
    assert_eq!(store.setting("b-before-its-error").await.unwrap(), None);
    // The group is over: a new writer goes on.
    set(store.clone(), "after".into()).await.unwrap();
    assert_eq!(
        store.setting("after").await.unwrap().as_deref(),
        Some("written")
    );
}

/// Two writers: A has written `a` and is committing (in its own task); B began after it (so
/// it waited for A on SQLite), has written `b` and holds its commit until `b_go`.
struct TwoWriters {
    a_commit: tokio::task::JoinHandle<writ_domain::store::StoreResult<()>>,
    b: tokio::task::JoinHandle<writ_domain::store::StoreResult<()>>,
    b_go: tokio::sync::oneshot::Sender<()>,
}

async fn two_writers(store: &SqlStore, backend: Backend) -> TwoWriters {
    let mut a = store.begin().await.unwrap();
    a.put_setting("a", "written").await.unwrap();
    let b_store = store.clone();
    let (b_inside, b_in) = tokio::sync::oneshot::channel::<()>();
    let (b_go, b_go_rx) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(async move {
        let mut b = b_store.begin().await.unwrap();
        b.put_setting("b", "written").await.unwrap();
        b_inside.send(()).unwrap();
        b_go_rx.await.unwrap();
        b.commit().await
    });
    until_waiting(store, backend, 1).await;
    let a_commit = tokio::spawn(async move { a.commit().await });
    b_in.await.unwrap();
    TwoWriters { a_commit, b, b_go }
}

async fn a_member_cancelled_while_waiting_for_its_group_is_still_committed_with_it(
    backend: Backend,
) {
    let store = store(backend).await;
    let TwoWriters { a_commit, b, b_go } = two_writers(&store, backend).await;
    // A's caller goes away while its commit waits for the group (on PostgreSQL it has
    // probably committed already; either way its released work is not lost).
    a_commit.abort();
    let _ = a_commit.await;
    b_go.send(()).unwrap();
    b.await.unwrap().unwrap();
    assert_eq!(
        store.setting("b").await.unwrap().as_deref(),
        Some("written")
    );
    if backend == Backend::Sqlite {
        // A released its work into the group before it was cancelled: the group committed it.
        // (On PostgreSQL A's COMMIT may or may not have been sent before the cancellation.)
        assert_eq!(
            store.setting("a").await.unwrap().as_deref(),
            Some("written")
        );
    }
}

async fn a_failed_group_commit_fails_every_member_and_keeps_nothing(backend: Backend) {
    if backend == Backend::Postgres {
        // No group on PostgreSQL; its transactions commit alone.
        return;
    }
    let store = store(backend).await;
    store.fail_next_group_commit();
    let TwoWriters { a_commit, b, b_go } = two_writers(&store, backend).await;
    b_go.send(()).unwrap();
    let b_result = b.await.unwrap();
    let a_result = a_commit.await.unwrap();
    assert!(a_result.is_err(), "A told committed: {a_result:?}");
    assert!(b_result.is_err(), "B told committed: {b_result:?}");
    assert_eq!(store.setting("a").await.unwrap(), None);
    assert_eq!(store.setting("b").await.unwrap(), None);
    // The writer recovers: the next group commits.
    set(store.clone(), "after".into()).await.unwrap();
    assert_eq!(
        store.setting("after").await.unwrap().as_deref(),
        Some("written")
    );
}

crate::on_both_backends!(
    concurrent_writers_are_all_durable_and_visible_when_their_commits_return,
    a_member_dropped_after_a_failed_statement_leaves_the_others_committed,
    a_member_cancelled_while_waiting_for_its_group_is_still_committed_with_it,
    a_failed_group_commit_fails_every_member_and_keeps_nothing,
);
