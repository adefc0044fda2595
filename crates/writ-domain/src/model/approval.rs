//! The approval stages of a request, as recorded.

use time::OffsetDateTime;

/// One approval stage of a request (Graph's `approvalStage`; the approval's id is the request's).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalStageRecord {
    pub id: String,
    pub request_id: String,
    pub stage_index: u32,
    /// `NotStarted`, `InProgress`, `Completed`, `Expired` (undecided within
    /// `durationBeforeAutomaticDenial`).
    pub status: String,
    /// `NotReviewed`, `Approved`, `Denied`.
    pub review_result: String,
    /// Who may decide: resolved when the stage starts.
    pub approver_ids: Vec<String>,
    /// The primary approvers resolved to nobody, so the fallback approvers apply.
    pub used_fallback: bool,
    pub started_date_time: Option<OffsetDateTime>,
    /// The escalation approvers added after `durationBeforeEscalation` (empty until then); they
    /// may decide the stage alongside `approver_ids`.
    pub escalation_approver_ids: Vec<String>,
    /// The escalation approvers resolved to nobody, so the fallback escalation approvers apply.
    pub escalation_used_fallback: bool,
    /// When the stage was forwarded to its escalation approvers.
    pub escalated_date_time: Option<OffsetDateTime>,
    pub reviewed_by: Option<(String, String)>,
    pub reviewed_date_time: Option<OffsetDateTime>,
    pub justification: Option<String>,
}

/// The `status` strings of an approval stage.
pub mod stage_status {
    pub const NOT_STARTED: &str = "NotStarted";
    pub const IN_PROGRESS: &str = "InProgress";
    pub const COMPLETED: &str = "Completed";
    /// A stage left undecided for its `durationBeforeAutomaticDenial` (Graph's `Expired`).
    pub const EXPIRED: &str = "Expired";
}
