//! The job queue's vocabulary: what a job does, a job to write, a claimed job and a job as
//! stored.

use time::OffsetDateTime;

use crate::ids::new_object_id;

/// What a job does. Stored by name, so a kind that a newer build wrote and this build does not
/// know is reported rather than misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Move an assignment request along: approval routing, delivery, removal.
    ProcessRequest,
    /// Apply (or re-apply) an assignment's resource roles through its provider.
    DeliverAssignment,
    /// End an assignment at its end instant and release its grants.
    ExpireAssignment,
    /// Deny a request whose approval stage in progress is still undecided at the end of its
    /// `durationBeforeAutomaticDenial` (subject: the request).
    ApprovalTimeout,
    /// Forward a request's approval stage in progress to its escalation approvers at the end of
    /// its `durationBeforeEscalation` (subject: the request).
    ApprovalEscalation,
    /// An `assignment.expiringSoon` notice, due at the assignment's end minus a lead time.
    ExpiryNotice,
    /// Deny a request still waiting on a launch-and-wait custom extension at the end of its
    /// callback timeout (subject: the callout).
    CalloutTimeout,
    /// Evaluate the agent identities whose lifecycle check is due against the governing
    /// lifecycle policy: notices, enforcement, and the next sweep (subject: `lifecycle`).
    LifecycleSweep,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ProcessRequest => "processRequest",
            JobKind::DeliverAssignment => "deliverAssignment",
            JobKind::ExpireAssignment => "expireAssignment",
            JobKind::ApprovalTimeout => "approvalTimeout",
            JobKind::ApprovalEscalation => "approvalEscalation",
            JobKind::ExpiryNotice => "expiryNotice",
            JobKind::CalloutTimeout => "calloutTimeout",
            JobKind::LifecycleSweep => "lifecycleSweep",
        }
    }

    /// Every kind's name, for `$filter=kind eq '…'`.
    pub const NAMES: &'static [&'static str] = &[
        "processRequest",
        "deliverAssignment",
        "expireAssignment",
        "approvalTimeout",
        "approvalEscalation",
        "expiryNotice",
        "calloutTimeout",
        "lifecycleSweep",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        [
            JobKind::ProcessRequest,
            JobKind::DeliverAssignment,
            JobKind::ExpireAssignment,
            JobKind::ApprovalTimeout,
            JobKind::ApprovalEscalation,
            JobKind::ExpiryNotice,
            JobKind::CalloutTimeout,
            JobKind::LifecycleSweep,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// A job to write. `dedupe_key` makes enqueueing idempotent: a second job with the same key
/// while the first is still queued is not written (a retried transaction, or two causes of the
/// same work, yield one job).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: String,
    pub kind: JobKind,
    /// The request or assignment the job is about.
    pub subject_id: String,
    pub due_at: OffsetDateTime,
    pub dedupe_key: String,
}

impl NewJob {
    /// A job due at `due_at`, deduplicated on its kind, subject and due time.
    pub fn new(kind: JobKind, subject_id: &str, due_at: OffsetDateTime) -> Self {
        Self {
            id: new_object_id(),
            kind,
            subject_id: subject_id.to_owned(),
            due_at,
            dedupe_key: format!(
                "{}:{}:{}",
                kind.as_str(),
                subject_id,
                due_at.unix_timestamp_nanos() / 1_000
            ),
        }
    }
}

/// A job a worker holds the lease of.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    /// `None` when the stored kind is unknown to this build.
    pub kind: Option<JobKind>,
    pub kind_name: String,
    pub subject_id: String,
    /// When it is due: its scheduled instant, or a failed attempt's retry instant.
    pub due_at: OffsetDateTime,
    /// The instant it was scheduled for at enqueue; unlike `due_at`, no retry, park or release
    /// moves it, so a handler that reads what the job is *for* (an `expiryNotice` finds its lead
    /// time by it) reads this.
    pub scheduled_at: OffsetDateTime,
    /// Claims so far, this one included.
    pub attempts: u32,
}

/// A job as stored, for status and `reprocess`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedJob {
    pub id: String,
    pub kind_name: String,
    pub subject_id: String,
    pub due_at: OffsetDateTime,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub parked_at: Option<OffsetDateTime>,
}

impl QueuedJob {
    /// Where the job stands; the store's `$filter` on `state` derives it the same way.
    pub fn state(&self) -> JobState {
        if self.parked_at.is_some() {
            JobState::Parked
        } else if self.lease_owner.is_some() {
            JobState::Leased
        } else {
            JobState::Queued
        }
    }
}

/// A job's state as administrators read it, derived from its row: `parked` (given up on until
/// `reprocess`), `leased` (a worker claimed it and has not released it: running, or its worker
/// died and the job is claimed again once `lease_until` has passed), `queued` (waiting for its
/// due time or a worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Leased,
    Parked,
}

impl JobState {
    pub const NAMES: &'static [&'static str] = &["queued", "leased", "parked"];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Parked => "parked",
        }
    }
}
