//! Assignment requests as the domain holds them: their type, state and status (DESIGN section
//! 5's table), the schedule they ask for, and the pure moves between states.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::answer::Answer;
use super::policy::Expiration;
use super::principal::PrincipalKind;

/// Graph's `accessPackageRequestType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    UserAdd,
    UserUpdate,
    UserRemove,
    AdminAdd,
    AdminUpdate,
    AdminRemove,
    SystemRemove,
}

impl RequestType {
    const ALL: [RequestType; 7] = [
        RequestType::UserAdd,
        RequestType::UserUpdate,
        RequestType::UserRemove,
        RequestType::AdminAdd,
        RequestType::AdminUpdate,
        RequestType::AdminRemove,
        RequestType::SystemRemove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::UserAdd => "userAdd",
            RequestType::UserUpdate => "userUpdate",
            RequestType::UserRemove => "userRemove",
            RequestType::AdminAdd => "adminAdd",
            RequestType::AdminUpdate => "adminUpdate",
            RequestType::AdminRemove => "adminRemove",
            RequestType::SystemRemove => "systemRemove",
        }
    }

    /// Enum input in any case, as for every Graph enum.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

/// Graph's `accessPackageRequestState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Submitted,
    PendingApproval,
    Scheduled,
    Delivering,
    Delivered,
    PartiallyDelivered,
    DeliveryFailed,
    Denied,
    Canceled,
}

impl RequestState {
    const ALL: [RequestState; 9] = [
        RequestState::Submitted,
        RequestState::PendingApproval,
        RequestState::Scheduled,
        RequestState::Delivering,
        RequestState::Delivered,
        RequestState::PartiallyDelivered,
        RequestState::DeliveryFailed,
        RequestState::Denied,
        RequestState::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Submitted => "submitted",
            RequestState::PendingApproval => "pendingApproval",
            RequestState::Scheduled => "scheduled",
            RequestState::Delivering => "delivering",
            RequestState::Delivered => "delivered",
            RequestState::PartiallyDelivered => "partiallyDelivered",
            RequestState::DeliveryFailed => "deliveryFailed",
            RequestState::Denied => "denied",
            RequestState::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The states of a request still in progress: at most one per target and package.
    pub const OPEN: [RequestState; 4] = [
        RequestState::Submitted,
        RequestState::PendingApproval,
        RequestState::Scheduled,
        RequestState::Delivering,
    ];

    /// The names Graph's `$filter` accepts, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "submitted",
        "pendingApproval",
        "delivering",
        "delivered",
        "deliveryFailed",
        "denied",
        "scheduled",
        "canceled",
        "partiallyDelivered",
    ];
}

/// The schedule a request asks for (Graph's `entitlementManagementSchedule`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestSchedule {
    #[serde(with = "time::serde::rfc3339::option")]
    pub start_date_time: Option<OffsetDateTime>,
    pub expiration: Expiration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRequest {
    pub id: String,
    pub request_type: RequestType,
    pub state: RequestState,
    /// Graph's free-form `status` (DESIGN section 5's table).
    pub status: String,
    pub catalog_id: String,
    pub access_package_id: String,
    pub policy_id: Option<String>,
    pub assignment_id: Option<String>,
    pub target_id: String,
    pub target_kind: PrincipalKind,
    pub requestor_id: String,
    pub requestor_kind: PrincipalKind,
    pub justification: Option<String>,
    pub schedule: RequestSchedule,
    /// Answers to the policy's questions.
    pub answers: Vec<Answer>,
    /// Graph's `parameters`, as the requestor sent them.
    pub parameters: Option<RequestParameters>,
    pub created_date_time: OffsetDateTime,
    pub completed_date_time: Option<OffsetDateTime>,
}

/// Graph's `accessPackageAssignmentRequestParameters`. `bypassApproval: true` is break-glass
/// (DESIGN section 17, `entitlement/break_glass.rs`): accepted from tenant-wide administrators
/// only, it skips the request's approval stages and is recorded and notified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestParameters {
    pub bypass_approval: Option<bool>,
}

impl RequestParameters {
    /// Whether `parameters` ask to bypass approval (`bypassApproval: true`).
    pub fn bypasses(parameters: Option<&Self>) -> bool {
        parameters.and_then(|p| p.bypass_approval) == Some(true)
    }
}

impl AssignmentRequest {
    /// Whether this request was made with `bypassApproval: true`, which only a tenant-wide
    /// administrator's request under a policy allowing it carries.
    pub fn bypasses_approval(&self) -> bool {
        RequestParameters::bypasses(self.parameters.as_ref())
    }
}

impl AssignmentRequest {
    /// This request in `state` at `now`: the status string follows the state (DESIGN section 5's
    /// table), and a final state completes the request.
    pub fn moved_to(&self, state: RequestState, now: OffsetDateTime) -> Self {
        let mut next = self.clone();
        next.state = state;
        next.status = status_of(state).into();
        if matches!(
            state,
            RequestState::Delivered
                | RequestState::PartiallyDelivered
                | RequestState::DeliveryFailed
                | RequestState::Denied
                | RequestState::Canceled
        ) {
            next.completed_date_time = Some(now);
        }
        next
    }

    /// This request in `state` at `now`, moved there for `reason`: as [`Self::moved_to`], with
    /// the status string the reason gives (see [`status_for`]).
    pub fn moved_to_for(
        &self,
        state: RequestState,
        reason: StatusReason,
        now: OffsetDateTime,
    ) -> Self {
        let mut next = self.moved_to(state, now);
        next.status = status_for(state, Some(reason)).into();
        next
    }

    /// The stored status as an enum; `None` for a string this build does not know.
    pub fn status_kind(&self) -> Option<RequestStatus> {
        RequestStatus::parse(&self.status)
    }
}

/// Graph's free-form `status` of a request (DESIGN section 5's table): what the state says, or
/// why the request is in it where the table gives that a string of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Accepted,
    PendingApproval,
    PendingApprovalEscalated,
    Scheduled,
    /// Held by a launch-and-wait custom extension until `resume` or its timeout.
    WaitingForCallback,
    Delivering,
    Delivered,
    PartiallyDelivered,
    DeliveryFailed,
    Denied,
    /// Denied by `durationBeforeAutomaticDenial`.
    TimedOut,
    /// Denied: a launch-and-wait extension never called back.
    CalloutTimedOut,
    /// Denied: a launch-and-wait extension could not be called.
    CalloutFailed,
    Canceled,
    /// An extension still pending when its assignment ended: denied.
    AssignmentExpired,
}

impl RequestStatus {
    const ALL: [RequestStatus; 15] = [
        RequestStatus::Accepted,
        RequestStatus::PendingApproval,
        RequestStatus::PendingApprovalEscalated,
        RequestStatus::Scheduled,
        RequestStatus::WaitingForCallback,
        RequestStatus::Delivering,
        RequestStatus::Delivered,
        RequestStatus::PartiallyDelivered,
        RequestStatus::DeliveryFailed,
        RequestStatus::Denied,
        RequestStatus::TimedOut,
        RequestStatus::CalloutTimedOut,
        RequestStatus::CalloutFailed,
        RequestStatus::Canceled,
        RequestStatus::AssignmentExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Accepted => "Accepted",
            RequestStatus::PendingApproval => "PendingApproval",
            RequestStatus::PendingApprovalEscalated => "PendingApprovalEscalated",
            RequestStatus::Scheduled => "Scheduled",
            RequestStatus::WaitingForCallback => "WaitingForCallback",
            RequestStatus::Delivering => "Delivering",
            RequestStatus::Delivered => "Delivered",
            RequestStatus::PartiallyDelivered => "PartiallyDelivered",
            RequestStatus::DeliveryFailed => "DeliveryFailed",
            RequestStatus::Denied => "Denied",
            RequestStatus::TimedOut => "TimedOut",
            RequestStatus::CalloutTimedOut => "CalloutTimedOut",
            RequestStatus::CalloutFailed => "CalloutFailed",
            RequestStatus::Canceled => "Canceled",
            RequestStatus::AssignmentExpired => "AssignmentExpired",
        }
    }

    /// The status as stored; `None` for a string this build does not know.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The status a request in `state` shows when nothing more specific applies.
    pub fn of(state: RequestState) -> Self {
        match state {
            RequestState::Submitted => RequestStatus::Accepted,
            RequestState::PendingApproval => RequestStatus::PendingApproval,
            RequestState::Scheduled => RequestStatus::Scheduled,
            RequestState::Delivering => RequestStatus::Delivering,
            RequestState::Delivered => RequestStatus::Delivered,
            RequestState::PartiallyDelivered => RequestStatus::PartiallyDelivered,
            RequestState::DeliveryFailed => RequestStatus::DeliveryFailed,
            RequestState::Denied => RequestStatus::Denied,
            RequestState::Canceled => RequestStatus::Canceled,
        }
    }

    /// The status of a request in `state`, moved there for `reason`: [`Self::of`] unless the
    /// reason has a string of its own for that state.
    pub fn for_reason(state: RequestState, reason: Option<StatusReason>) -> Self {
        match (state, reason) {
            (RequestState::Denied, Some(StatusReason::TimedOut)) => RequestStatus::TimedOut,
            (RequestState::PendingApproval, Some(StatusReason::Escalated)) => {
                RequestStatus::PendingApprovalEscalated
            }
            (RequestState::Denied, Some(StatusReason::AssignmentEnded)) => {
                RequestStatus::AssignmentExpired
            }
            (RequestState::Denied, Some(StatusReason::CalloutTimedOut)) => {
                RequestStatus::CalloutTimedOut
            }
            (RequestState::Denied, Some(StatusReason::CalloutFailed)) => {
                RequestStatus::CalloutFailed
            }
            _ => Self::of(state),
        }
    }
}

/// Why a request is in its state, where DESIGN section 5's table gives that a status string of
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    /// Denied because a stage went undecided for its `durationBeforeAutomaticDenial`.
    TimedOut,
    /// Pending approval, forwarded to the stage's escalation approvers.
    Escalated,
    /// An extension denied because its assignment reached its end first.
    AssignmentEnded,
    /// Denied: a launch-and-wait custom extension never called back.
    CalloutTimedOut,
    /// Denied: a launch-and-wait custom extension could not be called.
    CalloutFailed,
}

/// The status string of a request in `state`.
pub fn status_of(state: RequestState) -> &'static str {
    RequestStatus::of(state).as_str()
}

/// The status string of a request in `state`, moved there for `reason`.
pub fn status_for(state: RequestState, reason: Option<StatusReason>) -> &'static str {
    RequestStatus::for_reason(state, reason).as_str()
}

/// A create body, as the HTTP layer read it from `requestType` and `assignment`.
#[derive(Debug, Clone, Default)]
pub struct AssignmentRequestInput {
    pub request_type: String,
    pub access_package_id: Option<String>,
    pub policy_id: Option<String>,
    pub target_id: Option<String>,
    /// For updates and removals: the assignment acted on.
    pub assignment_id: Option<String>,
    pub justification: Option<String>,
    pub schedule: Option<RequestSchedule>,
    pub answers: Vec<Answer>,
    pub parameters: Option<RequestParameters>,
}
