//! The portal's requests pages: **My requests** (what the person asked for others, newest
//! first) and the page of one request (what it asks, where it stands in plain words, its
//! approval stages, the assignment it made or extends, and why it ended where it did).
//!
//! Every read goes through the operation the API uses with the person's caller:
//! `assignmentRequests/filterByCurrentUser(on='requestForOthers')` for the list,
//! `GET assignmentRequests/{id}` for a request (so a request the person may not see is the same
//! `404`), `GET accessPackageAssignmentApprovals/{id}` for its stages (shown only when the person
//! may read them), `GET assignments/{id}` for its assignment. Names of the agents, packages and
//! requestors of a page are read at once, not one query per row.
//!
//! **Why `requestForOthers`** and not `createdBy`: My requests is "what I asked for agents";
//! `createdBy` would also list a person's requests for themself, which are not about an agent
//! they sponsor. Both lists read the same index (requestor, created).

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::directory::Directory;
use crate::entitlement::policy_model::Question;
use crate::entitlement::{
    ApprovalStageRecord, Assignment, AssignmentRequest, CurrentUserOption, Entitlement, RequestType,
};
use crate::error::{DomainError, DomainResult};
use crate::model::RequestStatus;
use crate::model::stage_status::{COMPLETED, EXPIRED, IN_PROGRESS, NOT_STARTED};
use crate::query::ListQuery;

/// Requests per page of My requests.
pub const PAGE_SIZE: u32 = 100;

/// What a request changes, in the words of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    NewAccess,
    Extension,
    Removal,
}

impl Change {
    pub fn of(request_type: RequestType) -> Self {
        match request_type {
            RequestType::UserAdd | RequestType::AdminAdd => Change::NewAccess,
            RequestType::UserUpdate | RequestType::AdminUpdate => Change::Extension,
            RequestType::UserRemove | RequestType::AdminRemove | RequestType::SystemRemove => {
                Change::Removal
            }
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Change::NewAccess => "New access",
            Change::Extension => "Extension",
            Change::Removal => "Removal",
        }
    }
}

/// The colour of a status badge; the words always say it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Wait,
    Bad,
    Off,
}

impl Tone {
    /// The badge's CSS class (`.badge.ok|wait|bad|off`).
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Wait => "wait",
            Tone::Bad => "bad",
            Tone::Off => "off",
        }
    }
}

/// A status as a person reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub words: &'static str,
    pub tone: Tone,
}

const fn status(words: &'static str, tone: Tone) -> Status {
    Status { words, tone }
}

/// A request's status (DESIGN section 5's table) in plain words.
pub fn status_of(request: &AssignmentRequest) -> Status {
    let kind = request
        .status_kind()
        .unwrap_or_else(|| RequestStatus::of(request.state));
    match kind {
        RequestStatus::Accepted => status("Submitted", Tone::Wait),
        RequestStatus::PendingApproval => status("Waiting for approval", Tone::Wait),
        RequestStatus::PendingApprovalEscalated => {
            status("Waiting for approval (escalated)", Tone::Wait)
        }
        RequestStatus::Scheduled => status("Scheduled", Tone::Wait),
        RequestStatus::WaitingForCallback => status("Waiting for an external check", Tone::Wait),
        RequestStatus::Delivering => status("Being delivered", Tone::Wait),
        RequestStatus::Delivered => status("Delivered", Tone::Ok),
        RequestStatus::PartiallyDelivered => status("Partly delivered", Tone::Bad),
        RequestStatus::DeliveryFailed => status("Delivery failed", Tone::Bad),
        RequestStatus::Denied => status("Denied", Tone::Bad),
        RequestStatus::TimedOut => status("Denied: no decision in time", Tone::Bad),
        RequestStatus::CalloutTimedOut => {
            status("Denied: an external check never answered", Tone::Bad)
        }
        RequestStatus::CalloutFailed => status("Denied: an external check failed", Tone::Bad),
        RequestStatus::Canceled => status("Canceled", Tone::Off),
        RequestStatus::AssignmentExpired => status("Denied: the access ended first", Tone::Off),
    }
}

/// One row of My requests.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub request: AssignmentRequest,
    /// The target's display name now (or its id, if it was deleted).
    pub agent: String,
    pub package: String,
    pub change: Change,
    pub status: Status,
}

/// One page of My requests.
#[derive(Debug, Clone)]
pub struct MyRequests {
    pub rows: Vec<RequestRow>,
    /// The continuation of the next page, if there is one.
    pub next: Option<String>,
}

/// Display names of `ids` (directory objects and packages) in one read; the id stands for an
/// object deleted since.
async fn names(directory: &Directory, ids: Vec<String>) -> DomainResult<HashMap<String, String>> {
    let mut ids = ids;
    ids.sort();
    ids.dedup();
    Ok(directory.port().email().display_names(&ids).await?)
}

fn name_of(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

/// **My requests**: the requests `caller` made for a target other than itself, newest first,
/// [`PAGE_SIZE`] a page from the continuation `after` (a previous page's `next`).
pub async fn my_requests(
    entitlement: &Entitlement,
    directory: &Directory,
    caller: &Caller,
    after: Option<String>,
) -> DomainResult<MyRequests> {
    let query = ListQuery {
        orderby: Some("createdDateTime desc".into()),
        top: PAGE_SIZE,
        skiptoken: after,
        ..ListQuery::default()
    };
    let page = entitlement
        .list_requests_for_current_user(caller, CurrentUserOption::RequestForOthers, &query)
        .await?;
    let ids = page
        .items
        .iter()
        .flat_map(|r| [r.target_id.clone(), r.access_package_id.clone()])
        .collect();
    let names = names(directory, ids).await?;
    let rows = page
        .items
        .into_iter()
        .map(|request| RequestRow {
            agent: name_of(&names, &request.target_id),
            package: name_of(&names, &request.access_package_id),
            change: Change::of(request.request_type),
            status: status_of(&request),
            request,
        })
        .collect();
    Ok(MyRequests {
        rows,
        next: page.next_skiptoken,
    })
}

/// An approval stage as the request's page shows it.
#[derive(Debug, Clone)]
pub struct StageView {
    /// From 1.
    pub number: u32,
    pub status: Status,
    pub started: Option<OffsetDateTime>,
    /// Who decided (display name as recorded at the decision), when, and why.
    pub decided_by: Option<String>,
    pub decided: Option<OffsetDateTime>,
    pub justification: Option<String>,
}

impl StageView {
    fn of(stage: &ApprovalStageRecord) -> Self {
        let state = match (stage.status.as_str(), stage.review_result.as_str()) {
            (COMPLETED, "Approved") => status("Approved", Tone::Ok),
            (COMPLETED, "Denied") => status("Denied", Tone::Bad),
            (IN_PROGRESS, _) if stage.escalated_date_time.is_some() => {
                status("Waiting for a decision (escalated)", Tone::Wait)
            }
            (IN_PROGRESS, _) => status("Waiting for a decision", Tone::Wait),
            (NOT_STARTED, _) => status("Not started", Tone::Off),
            (EXPIRED, _) => status("No decision in time", Tone::Bad),
            _ => status("Ended", Tone::Off),
        };
        Self {
            number: stage.stage_index.saturating_add(1),
            status: state,
            started: stage.started_date_time,
            decided_by: stage.reviewed_by.as_ref().map(|(_, name)| name.clone()),
            decided: stage.reviewed_date_time,
            justification: stage.justification.clone(),
        }
    }
}

/// An answer to one of the policy's questions.
#[derive(Debug, Clone)]
pub struct AnswerView {
    /// The question's text as the policy has it now (its id if the question is gone).
    pub question: String,
    /// The chosen choice's text, or the text answered.
    pub answer: String,
}

/// The page of one request.
#[derive(Debug, Clone)]
pub struct RequestView {
    pub request: AssignmentRequest,
    pub agent: String,
    pub package: String,
    pub requestor: String,
    pub change: Change,
    pub status: Status,
    pub answers: Vec<AnswerView>,
    /// The approval's stages; `None` when the request has none or the person may not read them
    /// (the approval API's rule).
    pub stages: Option<Vec<StageView>>,
    /// The assignment the request made, extends or removes, when the person may see it.
    pub assignment: Option<Assignment>,
    /// Whether the person may cancel it now (the API's `cancel` rule and state).
    pub may_cancel: bool,
    /// Why it ended where it did, when it did not deliver.
    pub why: Option<String>,
}

/// `None` for `NotFound`: the part the person may not read is left out; other errors stand.
fn unless_hidden<T>(result: DomainResult<T>) -> DomainResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(DomainError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The page of request `id`: `404` exactly when `GET assignmentRequests/{id}` is for `caller`.
pub async fn request_view(
    entitlement: &Entitlement,
    directory: &Directory,
    caller: &Caller,
    id: &str,
) -> DomainResult<RequestView> {
    let request = entitlement.get_assignment_request(caller, id).await?;
    let stages = unless_hidden(entitlement.approval(caller, id).await)?;
    let assignment = match &request.assignment_id {
        Some(assignment_id) => {
            unless_hidden(entitlement.get_assignment(caller, assignment_id).await)?
        }
        None => None,
    };
    let names = names(
        directory,
        vec![
            request.target_id.clone(),
            request.access_package_id.clone(),
            request.requestor_id.clone(),
        ],
    )
    .await?;
    let questions = match &request.policy_id {
        Some(policy_id) if !request.answers.is_empty() => entitlement
            .related_policy(policy_id)
            .await?
            .map(|p| p.settings.questions)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let answers = request
        .answers
        .iter()
        .map(|answer| AnswerView {
            question: question_text(&questions, &answer.question_id)
                .unwrap_or_else(|| answer.question_id.clone()),
            answer: answer
                .display_value
                .clone()
                .unwrap_or_else(|| answer.value.clone()),
        })
        .collect();
    let stage_views: Option<Vec<StageView>> = stages
        .as_ref()
        .map(|stages| stages.iter().map(StageView::of).collect());
    Ok(RequestView {
        agent: name_of(&names, &request.target_id),
        package: name_of(&names, &request.access_package_id),
        requestor: name_of(&names, &request.requestor_id),
        change: Change::of(request.request_type),
        status: status_of(&request),
        answers,
        why: why(&request, stages.as_deref()),
        stages: stage_views,
        assignment,
        may_cancel: Entitlement::may_cancel(caller, &request)
            && Entitlement::is_cancelable(&request),
        request,
    })
}

fn question_text(questions: &[Question], id: &str) -> Option<String> {
    questions.iter().find_map(|q| match q {
        Question::TextInput {
            id: Some(q_id),
            text,
            ..
        }
        | Question::MultipleChoice {
            id: Some(q_id),
            text,
            ..
        } if q_id == id => Some(text.clone()),
        _ => None,
    })
}

/// Why a request that did not deliver ended where it did, from its status and (when the
/// person may read them) its stages.
pub fn why(request: &AssignmentRequest, stages: Option<&[ApprovalStageRecord]>) -> Option<String> {
    let kind = request
        .status_kind()
        .unwrap_or_else(|| RequestStatus::of(request.state));
    let text = match kind {
        RequestStatus::Denied => {
            let denied = stages
                .unwrap_or_default()
                .iter()
                .find(|s| s.status == COMPLETED && s.review_result == "Denied");
            match denied {
                Some(stage) => {
                    let by = stage
                        .reviewed_by
                        .as_ref()
                        .map_or("an approver", |(_, name)| name.as_str());
                    let mut text = format!(
                        "Denied by {by} at approval stage {}.",
                        stage.stage_index.saturating_add(1)
                    );
                    if let Some(reason) = stage.justification.as_deref().filter(|j| !j.is_empty())
                    {
                        text.push_str(&format!(" Their reason: “{reason}”"));
                    }
                    text
                }
                None if stages.is_some() => {
                    "No approver could be found for an approval stage, so Writ denied the request."
                        .to_owned()
                }
                None => "The request was denied.".to_owned(),
            }
        }
        RequestStatus::TimedOut => {
            "No approver decided within the time the policy allows, so the request was denied."
                .to_owned()
        }
        RequestStatus::CalloutTimedOut => {
            "An external check the policy calls never answered, so the request was denied."
                .to_owned()
        }
        RequestStatus::CalloutFailed => {
            "An external check the policy calls could not be reached, so the request was denied."
                .to_owned()
        }
        RequestStatus::AssignmentExpired => {
            "The access it would extend ended before the request was decided.".to_owned()
        }
        RequestStatus::Canceled => "The request was canceled before it completed.".to_owned(),
        RequestStatus::DeliveryFailed | RequestStatus::PartiallyDelivered => {
            "Writ could not deliver every role of the package; an administrator can retry the delivery."
                .to_owned()
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entitlement::RequestState;
    use crate::model::{PrincipalKind, RequestSchedule};

    fn request(state: RequestState, status: &str) -> AssignmentRequest {
        AssignmentRequest {
            id: "r1".into(),
            request_type: RequestType::UserAdd,
            state,
            status: status.into(),
            catalog_id: "c".into(),
            access_package_id: "p".into(),
            policy_id: Some("y".into()),
            assignment_id: None,
            target_id: "t".into(),
            target_kind: PrincipalKind::ServicePrincipal,
            requestor_id: "u".into(),
            requestor_kind: PrincipalKind::User,
            justification: None,
            schedule: RequestSchedule::default(),
            answers: Vec::new(),
            parameters: None,
            created_date_time: OffsetDateTime::UNIX_EPOCH,
            completed_date_time: None,
        }
    }

    fn stage(status: &str, result: &str) -> ApprovalStageRecord {
        ApprovalStageRecord {
            id: "s".into(),
            request_id: "r1".into(),
            stage_index: 0,
            status: status.into(),
            review_result: result.into(),
            approver_ids: vec!["a".into()],
            used_fallback: false,
            started_date_time: Some(OffsetDateTime::UNIX_EPOCH),
            escalation_approver_ids: Vec::new(),
            escalation_used_fallback: false,
            escalated_date_time: None,
            reviewed_by: Some(("a".into(), "Avery Approver".into())),
            reviewed_date_time: Some(OffsetDateTime::UNIX_EPOCH),
            justification: Some("not this quarter".into()),
        }
    }

    #[test]
    fn every_status_has_plain_words_and_a_tone() {
        let cases = [
            ("Accepted", "Submitted"),
            ("PendingApproval", "Waiting for approval"),
            ("Delivered", "Delivered"),
            ("Denied", "Denied"),
            ("TimedOut", "Denied: no decision in time"),
            ("Canceled", "Canceled"),
        ];
        for (stored, words) in cases {
            assert_eq!(
                status_of(&request(RequestState::Submitted, stored)).words,
                words
            );
        }
        // A status this build does not know reads as its state.
        assert_eq!(
            status_of(&request(RequestState::Delivered, "SomethingNew")).words,
            "Delivered"
        );
        assert_eq!(Change::of(RequestType::AdminUpdate), Change::Extension);
        assert_eq!(Change::of(RequestType::SystemRemove).words(), "Removal");
    }

    #[test]
    fn why_names_the_approver_who_denied_and_their_reason() {
        let denied = request(RequestState::Denied, "Denied");
        let stages = [stage(COMPLETED, "Denied")];
        assert_eq!(
            why(&denied, Some(&stages)).as_deref(),
            Some("Denied by Avery Approver at approval stage 1. Their reason: “not this quarter”")
        );
        assert_eq!(
            why(&denied, Some(&[])).as_deref(),
            Some("No approver could be found for an approval stage, so Writ denied the request.")
        );
        assert_eq!(
            why(&denied, None).as_deref(),
            Some("The request was denied.")
        );
        assert!(
            why(&request(RequestState::Denied, "TimedOut"), None)
                .is_some_and(|w| w.contains("within the time"))
        );
        assert!(why(&request(RequestState::Delivered, "Delivered"), None).is_none());
        assert!(
            why(
                &request(RequestState::PendingApproval, "PendingApproval"),
                None
            )
            .is_none()
        );
    }
}
