//! The job worker end to end with short real durations, on SQLite and PostgreSQL: a job due
//! shortly runs when it falls due, a job committed while the worker sleeps runs when it is
//! woken rather than at the end of its idle wait, and shutdown stops the worker; a backlog
//! worked by passes side by side, with claims growing past their first size, runs each job
//! exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;
use writ_domain::DomainResult;
use writ_domain::clock::{Clock, SystemClock};
use writ_domain::jobs::{ClaimedJob, JobHandler, JobKind, NewJob, WorkerConfig};
use writ_domain::store::Store;
use writ_server::job_worker::{JobWaker, JobWorker, WorkerTiming};
use writ_store::{Backend, testing};

/// Records when each job ran, by subject.
#[derive(Default)]
struct Recorder {
    ran: Mutex<Vec<(String, Instant)>>,
}

#[async_trait::async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, job: &ClaimedJob, _now: OffsetDateTime) -> DomainResult<()> {
        self.ran
            .lock()
            .unwrap()
            .push((job.subject_id.clone(), Instant::now()));
        Ok(())
    }
}

async fn ran_at(recorder: &Recorder, subject: &str, within: StdDuration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        if let Some((_, at)) = recorder
            .ran
            .lock()
            .unwrap()
            .iter()
            .find(|(s, _)| s == subject)
        {
            return *at;
        }
        assert!(Instant::now() < deadline, "job {subject} did not run");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

async fn enqueue(store: &dyn Store, subject: &str, due: OffsetDateTime) {
    let mut tx = store.begin().await.unwrap();
    tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, subject, due))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn worker_runs_due_jobs_and_wakes_for_new_work(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let recorder = Arc::new(Recorder::default());
    let waker = JobWaker::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: recorder.clone(),
        config: WorkerConfig::default(),
        // A long idle wait, so that only a wake-up explains prompt pick-up of new work.
        timing: WorkerTiming {
            max_idle: StdDuration::from_secs(30),
            error_pause: StdDuration::from_millis(100),
        },
        waker: waker.clone(),
    };

    let started = Instant::now();
    enqueue(
        store.as_ref(),
        "due-soon",
        SystemClock.now() + Duration::milliseconds(300),
    )
    .await;
    let handle = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    let at = ran_at(&recorder, "due-soon", StdDuration::from_secs(5)).await;
    let waited = at - started;
    assert!(
        waited >= StdDuration::from_millis(300),
        "ran before it was due: {waited:?}"
    );
    // The handler ran before the worker's completing transaction: the job is deleted just after.
    let deadline = Instant::now() + StdDuration::from_secs(5);
    while !store.jobs_about("due-soon").await.unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the job was not deleted after it ran"
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }

    // The worker now sleeps up to 30 s; a committed job plus a wake-up runs at once.
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let committed = Instant::now();
    enqueue(store.as_ref(), "woken", SystemClock.now()).await;
    waker.wake();
    let at = ran_at(&recorder, "woken", StdDuration::from_secs(5)).await;
    assert!(at - committed < StdDuration::from_secs(5));

    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), handle)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_worker_runs_due_jobs_and_wakes_for_new_work() {
    worker_runs_due_jobs_and_wakes_for_new_work(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_worker_runs_due_jobs_and_wakes_for_new_work() {
    worker_runs_due_jobs_and_wakes_for_new_work(Backend::Postgres).await;
}

/// A backlog of 450 jobs due at once, three passes side by side starting at claims of 10 and
/// growing to 80: every job runs exactly once, none is left, and shutdown stops all three.
async fn passes_side_by_side_run_a_backlog_once(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let recorder = Arc::new(Recorder::default());
    let now = SystemClock.now();
    let mut tx = store.begin().await.unwrap();
    for i in 0..450 {
        tx.enqueue_job(&NewJob::new(
            JobKind::ProcessRequest,
            &format!("backlog-{i:03}"),
            now,
        ))
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: recorder.clone(),
        config: WorkerConfig {
            batch_size: 10,
            max_batch_size: 80,
            parallel_passes: 3,
            ..WorkerConfig::default()
        },
        timing: WorkerTiming {
            max_idle: StdDuration::from_millis(200),
            error_pause: StdDuration::from_millis(100),
        },
        waker: JobWaker::default(),
    };
    let handle = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while recorder.ran.lock().unwrap().len() < 450 {
        assert!(Instant::now() < deadline, "the backlog was not worked off");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // Give a job run twice the time to show up.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let mut ran: Vec<String> = recorder
        .ran
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    ran.sort();
    let expected: Vec<String> = (0..450).map(|i| format!("backlog-{i:03}")).collect();
    assert_eq!(ran, expected, "each job ran exactly once");
    for subject in ["backlog-000", "backlog-449"] {
        assert!(store.jobs_about(subject).await.unwrap().is_empty());
    }
    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), handle)
        .await
        .expect("every pass stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_side_by_side_run_a_backlog_once() {
    passes_side_by_side_run_a_backlog_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_side_by_side_run_a_backlog_once() {
    passes_side_by_side_run_a_backlog_once(Backend::Postgres).await;
}
