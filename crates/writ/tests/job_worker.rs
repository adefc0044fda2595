//! The job worker end to end with short real durations, on SQLite and PostgreSQL: a job due
//! shortly runs when it falls due, a job committed while the worker sleeps runs when it is
//! woken rather than at the end of its idle wait, and shutdown stops the worker; a backlog
//! worked by passes side by side, with claims growing past their first size, runs each job
//! exactly once; a job whose handler panics (holding a write transaction, inside a batch) is
//! parked with the panic's message while the others complete and the worker goes on, and the
//! outbox dispatchers' loop outlives a pass that panics; a wake during a pass is claimed after
//! it, not by a second pass beside it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;
use writ_domain::DomainResult;
use writ_domain::clock::{Clock, SystemClock};
use writ_domain::jobs::{ClaimedJob, JobHandler, JobKind, NewJob, WorkerConfig, WriteTurn};
use writ_domain::store::Store;
use writ_runtime::job_worker::{JobWaker, JobWorker, WorkerTiming};
use writ_store::{Backend, testing};

/// Records when each job ran, by subject.
#[derive(Default)]
struct Recorder {
    ran: Mutex<Vec<(String, Instant)>>,
}

impl Recorder {
    /// The subjects of the jobs run so far, in the order they ran.
    fn subjects(&self) -> Vec<String> {
        self.ran
            .lock()
            .unwrap()
            .iter()
            .map(|(s, _)| s.clone())
            .collect()
    }
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

/// A long idle wait, so that only a wake-up explains prompt pick-up of new work.
const LONG_IDLE: WorkerTiming = WorkerTiming {
    max_idle: StdDuration::from_secs(30),
    error_pause: StdDuration::from_millis(100),
};

/// Starts `worker` on its own task: the sender that stops it, and the task ([`stop_worker`]).
fn start(worker: JobWorker) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    (stop, handle)
}

/// Commits `n` jobs of `kind` due at `due`, about `{prefix}-000`, `{prefix}-001`, ….
async fn enqueue_many(
    store: &dyn Store,
    kind: JobKind,
    prefix: &str,
    n: usize,
    due: OffsetDateTime,
) {
    let mut tx = store.begin().await.unwrap();
    for i in 0..n {
        tx.enqueue_job(&NewJob::new(kind, &format!("{prefix}-{i:03}"), due))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Signals shutdown and waits (at most 5 s) for the worker to stop.
async fn stop_worker(stop: oneshot::Sender<()>, handle: tokio::task::JoinHandle<()>) {
    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), handle)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
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
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: recorder.clone(),
        config: WorkerConfig::default(),
        timing: LONG_IDLE,
        waker: waker.clone(),
    };

    let started = Instant::now();
    enqueue(
        store.as_ref(),
        "due-soon",
        SystemClock.now() + Duration::milliseconds(300),
    )
    .await;
    let (stop, handle) = start(worker);

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

    stop_worker(stop, handle).await;
}

/// A backlog of 450 jobs due at once, three passes side by side starting at claims of 10 and
/// growing to 80: every job runs exactly once, none is left, and shutdown stops all three.
async fn passes_side_by_side_run_a_backlog_once(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let recorder = Arc::new(Recorder::default());
    let now = SystemClock.now();
    enqueue_many(store.as_ref(), JobKind::ProcessRequest, "backlog", 450, now).await;
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
    let (stop, handle) = start(worker);
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while recorder.ran.lock().unwrap().len() < 450 {
        assert!(Instant::now() < deadline, "the backlog was not worked off");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // Give a job run twice the time to show up.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let mut ran = recorder.subjects();
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

/// Panics on jobs whose subject starts with `poison`, after opening a write transaction (as a
/// real handler holds one), and on any batch that holds one; records the others.
struct Poisoned {
    store: Arc<dyn Store>,
    recorder: Recorder,
}

#[async_trait::async_trait]
impl JobHandler for Poisoned {
    async fn handle(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()> {
        if job.subject_id.starts_with("poison") {
            let mut tx = self.store.begin().await?;
            tx.enqueue_job(&NewJob::new(
                JobKind::ExpireAssignment,
                "written-by-the-poisoned-job",
                now,
            ))
            .await?;
            panic!("poisoned job {}", job.subject_id);
        }
        self.recorder.handle(job, now).await
    }

    async fn handle_batch(
        &self,
        jobs: &[ClaimedJob],
        _worker: &str,
        _now: OffsetDateTime,
    ) -> DomainResult<bool> {
        if jobs.iter().any(|j| j.subject_id.starts_with("poison")) {
            panic!("a batch holding a poisoned job");
        }
        Ok(false)
    }
}

async fn a_panicking_job_is_parked_and_the_worker_goes_on(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let handler = Arc::new(Poisoned {
        store: store.clone(),
        recorder: Recorder::default(),
    });
    // Already queued when the worker starts, as after a restart: the poisoned job first.
    let now = SystemClock.now();
    enqueue(store.as_ref(), "poison-1", now - Duration::seconds(1)).await;
    for i in 0..10 {
        enqueue(store.as_ref(), &format!("healthy-{i}"), now).await;
    }
    let waker = JobWaker::default();
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: handler.clone(),
        config: WorkerConfig::default(),
        timing: LONG_IDLE,
        waker: waker.clone(),
    };
    let (stop, handle) = start(worker);

    for i in 0..10 {
        ran_at(
            &handler.recorder,
            &format!("healthy-{i}"),
            StdDuration::from_secs(5),
        )
        .await;
    }
    let deadline = Instant::now() + StdDuration::from_secs(5);
    let parked = loop {
        let jobs = store.jobs_about("poison-1").await.unwrap();
        if let Some(job) = jobs.into_iter().find(|j| j.parked_at.is_some()) {
            break job;
        }
        assert!(!handle.is_finished(), "the worker died");
        assert!(Instant::now() < deadline, "the poisoned job was not parked");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    };
    assert_eq!(parked.attempts, 1, "a panic is parked at once, not retried");
    let error = parked.last_error.unwrap_or_default();
    assert!(
        error.contains("panicked: poisoned job poison-1"),
        "the job keeps the panic's message: {error}"
    );
    // Its transaction was rolled back, and released: the healthy jobs' completions and the
    // writes below needed the database (SQLite's one writer) after the panic.
    assert!(
        store
            .jobs_about("written-by-the-poisoned-job")
            .await
            .unwrap()
            .is_empty()
    );
    let deadline = Instant::now() + StdDuration::from_secs(5);
    while !store.jobs_about("healthy-9").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the healthy jobs were completed");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }

    // The worker goes on: new work is run when it comes.
    enqueue(store.as_ref(), "later", SystemClock.now()).await;
    waker.wake();
    ran_at(&handler.recorder, "later", StdDuration::from_secs(5)).await;
    assert_eq!(
        store.jobs_about("poison-1").await.unwrap().len(),
        1,
        "the parked job is kept, for reprocess"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), handle)
        .await
        .expect("the worker stops on shutdown")
        .expect("the worker did not panic");
}

/// A dispatch channel whose first pass panics and whose next passes count themselves.
struct PanicsOnce {
    passes: Arc<AtomicU32>,
    config: writ_domain::webhooks::DispatchConfig,
    timing: WorkerTiming,
}

#[async_trait::async_trait]
impl writ_runtime::dispatch_loop::Passes for PanicsOnce {
    const CHANNEL: &'static str = "test";
    fn config(&self) -> &writ_domain::webhooks::DispatchConfig {
        &self.config
    }
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
    fn timing(&self) -> &WorkerTiming {
        &self.timing
    }
    async fn pass(
        &self,
        _pacing: &writ_domain::dispatch::Pacing<'_>,
    ) -> DomainResult<writ_domain::dispatch::PassReport> {
        if self.passes.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first pass panics");
        }
        Ok(writ_domain::dispatch::PassReport::default())
    }
    async fn next_due(&self) -> writ_domain::store::StoreResult<Option<OffsetDateTime>> {
        Ok(None)
    }
}

/// The outbox dispatchers' loop (webhooks, email, callouts) outlives a pass that panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_loop_goes_on_after_a_pass_panics() {
    let passes = Arc::new(AtomicU32::new(0));
    let channel = PanicsOnce {
        passes: passes.clone(),
        config: writ_domain::webhooks::DispatchConfig::default(),
        timing: WorkerTiming {
            max_idle: StdDuration::from_millis(20),
            error_pause: StdDuration::from_millis(20),
        },
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(writ_runtime::dispatch_loop::run(channel, async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + StdDuration::from_secs(5);
    while passes.load(Ordering::SeqCst) < 3 {
        assert!(!handle.is_finished(), "the loop died with its first pass");
        assert!(Instant::now() < deadline, "the loop did not go on");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), handle)
        .await
        .expect("the loop stops on shutdown")
        .expect("the loop did not panic");
}

/// A batched handler whose reads take a while: records, per batch (its first subject), when
/// it began reading, when its turn to write came, and when its transaction committed.
struct Pipelined {
    store: Arc<dyn Store>,
    log: Mutex<Vec<(String, &'static str)>>,
}

#[async_trait::async_trait]
impl JobHandler for Pipelined {
    async fn handle(&self, _job: &ClaimedJob, _now: OffsetDateTime) -> DomainResult<()> {
        panic!("every job of this backlog runs in a batch");
    }

    async fn handle_batch_in_turn(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        _now: OffsetDateTime,
        turn: &mut WriteTurn,
    ) -> DomainResult<bool> {
        let batch = jobs[0].subject_id.clone();
        self.log.lock().unwrap().push((batch.clone(), "read"));
        tokio::time::sleep(StdDuration::from_millis(30)).await;
        turn.wait().await;
        self.log.lock().unwrap().push((batch.clone(), "write"));
        let mut tx = self.store.begin().await?;
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        assert_eq!(tx.complete_jobs(&ids, worker).await?, ids.len() as u64);
        tokio::time::sleep(StdDuration::from_millis(30)).await;
        tx.commit().await?;
        self.log.lock().unwrap().push((batch, "done"));
        Ok(true)
    }
}

/// A backlog is pipelined: a batch reads while the one before it writes, no two batches write
/// at once (a batch's turn comes after the one before it committed), every job is completed
/// exactly once, and shutdown in the middle of the backlog leaves no job claimed and unrun
/// beyond its lease: each is completed or still queued.
async fn a_backlog_is_pipelined_reads_beside_the_previous_write(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let handler = Arc::new(Pipelined {
        store: store.clone(),
        log: Mutex::default(),
    });
    let now = SystemClock.now();
    enqueue_many(
        store.as_ref(),
        JobKind::ExpireAssignment,
        "pipelined",
        300,
        now,
    )
    .await;
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: handler.clone(),
        config: WorkerConfig {
            batch_size: 10,
            max_batch_size: 40,
            parallel_passes: 1,
            ..WorkerConfig::default()
        },
        timing: WorkerTiming {
            max_idle: StdDuration::from_millis(200),
            error_pause: StdDuration::from_millis(100),
        },
        waker: JobWaker::default(),
    };
    let (stop, handle) = start(worker);
    let deadline = Instant::now() + StdDuration::from_secs(30);
    let finished = |log: &[(String, &str)]| log.iter().filter(|(_, s)| *s == "done").count();
    while finished(&handler.log.lock().unwrap()) < 3 {
        assert!(Instant::now() < deadline, "the backlog was not worked");
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    // Stopped in the middle of the backlog: the batches claimed finish, no more are claimed.
    stop_worker(stop, handle).await;
    let log = handler.log.lock().unwrap().clone();

    // Writes one at a time, in the order the batches were claimed (began), every batch
    // claimed before shutdown finished, and a batch's reads began before the write of the
    // batch before it ended.
    let at = |batch: &str, step: &str| log.iter().position(|(b, s)| b == batch && *s == step);
    let batches: Vec<&str> = log
        .iter()
        .filter(|(_, s)| *s == "read")
        .map(|(b, _)| b.as_str())
        .collect();
    let mut writing: Option<&str> = None;
    let mut written = Vec::new();
    for (batch, step) in &log {
        match *step {
            "write" => {
                assert_eq!(
                    writing, None,
                    "{batch} wrote while another batch did: {log:?}"
                );
                writing = Some(batch);
                written.push(batch.as_str());
            }
            "done" => {
                assert_eq!(writing, Some(batch.as_str()), "{log:?}");
                writing = None;
            }
            _ => {}
        }
    }
    assert_eq!(
        written, batches,
        "every batch claimed wrote, in order: {log:?}"
    );
    let overlapped = batches
        .windows(2)
        .filter(|pair| at(pair[1], "read") < at(pair[0], "done"))
        .count();
    assert!(overlapped >= 2, "batches read beside a write: {log:?}");

    // Each job completed by its batch is gone; every other is still queued, unclaimed.
    let mut completed = 0;
    let mut queued = 0;
    for i in 0..300 {
        match store
            .jobs_about(&format!("pipelined-{i:03}"))
            .await
            .unwrap()
            .len()
        {
            0 => completed += 1,
            1 => queued += 1,
            n => panic!("{n} jobs about one subject"),
        }
    }
    assert_eq!(completed + queued, 300);
    // Batches of 10, 20, 40 at least finished; shutdown came in the middle of the backlog.
    assert!(
        completed >= 70 && queued > 0,
        "{completed} completed, {queued} queued"
    );
    let claimed = writ_domain::jobs::claim_due_jobs(
        store.as_ref(),
        &WorkerConfig {
            batch_size: 1000,
            ..WorkerConfig::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), queued, "the rest is claimable at once");
}

/// Holds the job `slow` until released; records every job when it starts.
struct Holding {
    recorder: Recorder,
    started_slow: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl JobHandler for Holding {
    async fn handle(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()> {
        self.recorder.handle(job, now).await?;
        if job.subject_id == "slow" {
            self.started_slow.notify_one();
            let _held = self.release.acquire().await;
        }
        Ok(())
    }
}

/// Issue 20 part R: a wake while the worker's pass runs starts no second pass beside it (which
/// would split the jobs committed meanwhile into passes of a few jobs each, every one paying a
/// pass's statements and commits); the job is claimed straight after the pass instead, without
/// waiting for the idle wait. The worker has three loops of passes, as on PostgreSQL.
async fn a_wake_during_a_pass_is_claimed_after_it_not_beside_it(backend: Backend) {
    let store: Arc<dyn Store> = Arc::new(testing::fresh_store(backend).await.unwrap());
    let handler = Arc::new(Holding {
        recorder: Recorder::default(),
        started_slow: tokio::sync::Notify::new(),
        release: tokio::sync::Semaphore::new(0),
    });
    let waker = JobWaker::default();
    let worker = JobWorker {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        handler: handler.clone(),
        config: WorkerConfig {
            parallel_passes: 3,
            ..WorkerConfig::default()
        },
        timing: LONG_IDLE,
        waker: waker.clone(),
    };
    let (stop, handle) = start(worker);
    // Every loop's first claim (of nothing) is over.
    tokio::time::sleep(StdDuration::from_millis(300)).await;

    enqueue(store.as_ref(), "slow", SystemClock.now()).await;
    waker.wake();
    tokio::time::timeout(StdDuration::from_secs(5), handler.started_slow.notified())
        .await
        .expect("the woken worker runs the first job");

    let committed = Instant::now();
    enqueue(store.as_ref(), "meanwhile", SystemClock.now()).await;
    waker.wake();
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let ran = handler.recorder.subjects();
    assert_eq!(
        ran,
        ["slow"],
        "a second pass ran beside the first for a wake during it"
    );
    let queued = store.jobs_about("meanwhile").await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].lease_owner, None, "claimed during the pass");

    handler.release.add_permits(1);
    let at = ran_at(&handler.recorder, "meanwhile", StdDuration::from_secs(5)).await;
    assert!(
        at - committed < StdDuration::from_secs(5),
        "the wake during the pass was lost: the job waited for the idle wait"
    );
    stop_worker(stop, handle).await;
}

conformance!(
    worker_runs_due_jobs_and_wakes_for_new_work,
    passes_side_by_side_run_a_backlog_once,
    a_panicking_job_is_parked_and_the_worker_goes_on,
    a_backlog_is_pipelined_reads_beside_the_previous_write,
    a_wake_during_a_pass_is_claimed_after_it_not_beside_it,
);
