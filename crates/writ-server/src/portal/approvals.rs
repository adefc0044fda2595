//! The portal's approvals pages (see `crate::portal`; issue 17 part B, DESIGN section 15): the
//! stages waiting for the person (`GET /portal/approvals`), one approval with the context of its
//! decision (`GET /portal/approvals/{requestId}`), the decision
//! (`POST /portal/approvals/{requestId}/decision`, the Graph route's `PATCH` on the stage) and
//! the person's decisions (`GET /portal/approvals/history`). What each page reads is the
//! domain's `writ_domain::portal::approvals`; this file turns it into pages.
//!
//! A decision the domain refuses re-renders the approval page with the domain's message and the
//! API's status; a stage decided meanwhile by someone else (the domain's `409`) says who decided
//! it, how and when. Only an approval the person may not see at all is a bare `404` page.

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

use askama::Template;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;
use writ_domain::directory::RequestContext;
use writ_domain::entitlement::{RequestState, StageDecision};
use writ_domain::model::ApprovalStageRecord;
use writ_domain::model::stage_status::{COMPLETED, EXPIRED, IN_PROGRESS};
use writ_domain::portal::approvals::{
    AnswerView, ApprovalView, Approvals, DurationView, RequestorView, RoleView, TargetView,
    human_duration, request_kind,
};

use super::{Layout, Notice, Person, PortalState, Section, When};
use crate::error::ApiError;
use crate::pages;
use crate::state::AppState;

/// The longest approver's justification accepted (the form says so too).
const MAX_JUSTIFICATION_CHARS: usize = 2_000;

/// The outcomes the inbox announces after a decision.
const DONE: &[(&str, &str)] = &[
    (
        "approved",
        "You approved the request. The requestor is told, and the access is delivered shortly.",
    ),
    ("denied", "You denied the request. The requestor is told."),
];

fn approvals(state: &AppState) -> Approvals<'_> {
    Approvals::new(&state.entitlement, &state.directory)
}

fn now(state: &AppState) -> OffsetDateTime {
    state.directory.clock().now()
}

/// The value of query parameter `name`, if any (a malformed query string is a 400 page).
fn query_value(person: &Person, name: &str) -> Result<Option<String>, Response> {
    let pairs = person.page.query_pairs()?;
    Ok(pages::field(&pairs, name).map(str::to_owned))
}

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

struct InboxRowView {
    request_id: String,
    agent: String,
    package: String,
    requestor: String,
    kind: &'static str,
    stage: u32,
    stage_count: usize,
    escalated: bool,
    asked: When,
    automatic_denial: Option<When>,
}

#[derive(Template)]
#[template(path = "portal/approvals_inbox.html")]
struct InboxPage {
    layout: Layout,
    count: String,
    rows: Vec<InboxRowView>,
    next: Option<String>,
}

/// `GET /portal/approvals`.
async fn inbox(axum::extract::State(state): PortalState, request: Request) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(page) => return page,
    };
    let skiptoken = match query_value(&person, "page") {
        Ok(value) => value,
        Err(page) => return page,
    };
    let inbox = match approvals(&state).inbox(&person.caller, skiptoken).await {
        Ok(inbox) => inbox,
        Err(err) => return super::domain_refusal(err),
    };
    let now = now(&state);
    let count = if inbox.next.is_none() {
        inbox.rows.len().to_string()
    } else {
        inbox
            .count
            .map_or_else(|| format!("{}+", inbox.rows.len()), |c| c.to_string())
    };
    let rows = inbox
        .rows
        .into_iter()
        .map(|row| InboxRowView {
            kind: request_kind(row.request.request_type),
            stage: row.stage.stage_index.saturating_add(1),
            stage_count: row.stage_count,
            escalated: row.stage.escalated_date_time.is_some(),
            asked: When::of(row.request.created_date_time, now),
            automatic_denial: row.automatic_denial.map(|at| When::of(at, now)),
            request_id: row.request.id,
            agent: row.agent,
            package: row.package,
            requestor: row.requestor,
        })
        .collect();
    let page = InboxPage {
        layout: person.layout(Section::Approvals, person.done_notice(DONE)),
        count,
        rows,
        next: inbox
            .next
            .map(|token| format!("/portal/approvals?page={}", encoded(&token))),
    };
    super::render(StatusCode::OK, &page)
}

struct DecisionRowView {
    request_id: String,
    agent: String,
    package: String,
    approved: bool,
    when: Option<When>,
    justification: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/approvals_history.html")]
struct HistoryPage {
    layout: Layout,
    rows: Vec<DecisionRowView>,
    next: Option<String>,
}

/// `GET /portal/approvals/history`.
async fn history(axum::extract::State(state): PortalState, request: Request) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(page) => return page,
    };
    let cursor = match query_value(&person, "after") {
        Ok(value) => value,
        Err(page) => return page,
    };
    let decisions = match approvals(&state)
        .decisions(&person.caller, cursor.as_deref())
        .await
    {
        Ok(decisions) => decisions,
        Err(err) => return super::domain_refusal(err),
    };
    let now = now(&state);
    let rows = decisions
        .rows
        .into_iter()
        .map(|row| DecisionRowView {
            approved: row.stage.review_result == "Approved",
            when: row.stage.reviewed_date_time.map(|at| When::of(at, now)),
            justification: row.stage.justification.filter(|j| !j.trim().is_empty()),
            request_id: row.stage.request_id,
            agent: row.agent,
            package: row.package,
        })
        .collect();
    let page = HistoryPage {
        layout: person.layout(Section::Approvals, None),
        rows,
        next: decisions
            .next
            .map(|cursor| format!("/portal/approvals/history?after={}", encoded(&cursor))),
    };
    super::render(StatusCode::OK, &page)
}

struct StageRowView {
    number: u32,
    status: &'static str,
    badge: &'static str,
    by: Option<String>,
    when: Option<When>,
    justification: Option<String>,
}

struct DecisionForm {
    number: u32,
    stage_id: String,
    justification_required: bool,
    /// What the person chose before a refusal re-rendered the form.
    chosen: String,
    justification: String,
}

#[derive(Template)]
#[template(path = "portal/approvals_approval.html")]
struct ApprovalPage {
    layout: Layout,
    request_id: String,
    status_kind: &'static str,
    status_text: &'static str,
    explanation: String,
    automatic_denial: Option<When>,
    agent: TargetView,
    agent_created: Option<When>,
    agent_age: String,
    kind: &'static str,
    requestor: RequestorView,
    asked: When,
    justification: Option<String>,
    duration: DurationView,
    duration_until: Option<When>,
    answers: Vec<AnswerView>,
    package_name: String,
    package_description: Option<String>,
    roles: Vec<RoleView>,
    stages: Vec<StageRowView>,
    form: Option<DecisionForm>,
}

/// "Approved", "Denied", "Waiting", "Not started", "Denied (no decision in time)".
fn stage_status(stage: &ApprovalStageRecord) -> (&'static str, &'static str) {
    match stage.status.as_str() {
        IN_PROGRESS => ("wait", "Waiting for a decision"),
        COMPLETED if stage.review_result == "Approved" => ("ok", "Approved"),
        COMPLETED => ("bad", "Denied"),
        EXPIRED => ("bad", "Denied: no decision in time"),
        _ => ("off", "Not started"),
    }
}

/// The last decision made on the request: who, approved or not, when.
fn last_decision(view: &ApprovalView) -> Option<(&str, bool, OffsetDateTime)> {
    view.stages
        .iter()
        .filter_map(|s| {
            let (_, name) = s.reviewed_by.as_ref()?;
            Some((
                name.as_str(),
                s.review_result == "Approved",
                s.reviewed_date_time?,
            ))
        })
        .max_by_key(|(.., at)| *at)
}

/// "Ann Approver approved it on Mon 7 Dec 2026, 10:00 UTC."
fn decision_sentence(view: &ApprovalView, now: OffsetDateTime) -> Option<String> {
    last_decision(view).map(|(name, approved, at)| {
        format!(
            "{name} {} it on {}.",
            if approved { "approved" } else { "denied" },
            When::of(at, now).utc
        )
    })
}

/// The badge and the sentence that say where the request stands for this person.
fn standing(
    view: &ApprovalView,
    caller_id: &str,
    now: OffsetDateTime,
) -> (&'static str, &'static str, String) {
    let request = &view.request;
    let decided = decision_sentence(view, now).unwrap_or_default();
    if let Some(stage) = &view.decidable {
        return (
            "wait",
            "Waiting for your decision",
            format!(
                "Stage {} of {} waits for your decision.",
                stage.stage_index.saturating_add(1),
                view.stages.len()
            ),
        );
    }
    match request.state {
        RequestState::Canceled => (
            "off",
            "Canceled",
            format!("This request was canceled, so it needs no decision. {decided}")
                .trim_end()
                .to_owned(),
        ),
        RequestState::Denied if view.stages.iter().any(|s| s.status == EXPIRED) => (
            "bad",
            "Denied",
            "This request was denied automatically: no approver decided in time.".to_owned(),
        ),
        RequestState::Denied => (
            "bad",
            "Denied",
            if decided.is_empty() {
                "This request was denied.".to_owned()
            } else {
                format!("This request was denied. {decided}")
            },
        ),
        RequestState::PendingApproval => {
            let why = if request.requestor_id == caller_id || request.target_id == caller_id {
                "You asked for this request, so you cannot decide it; its approvers decide."
            } else {
                "The stage in progress waits for other approvers, so there is nothing for you to decide now."
            };
            ("wait", "Waiting for approval", why.to_owned())
        }
        _ => (
            "ok",
            "Approved",
            if decided.is_empty() {
                "This request needs no more decisions.".to_owned()
            } else {
                format!("This request was approved. {decided}")
            },
        ),
    }
}

/// The approval page of `view` for `person`, with `notice` and the form's earlier input.
fn approval_page(
    state: &AppState,
    person: &Person,
    view: ApprovalView,
    notice: Option<Notice>,
    chosen: &str,
    justification: &str,
) -> ApprovalPage {
    let now = now(state);
    let (status_kind, status_text, explanation) = standing(&view, &person.caller.id, now);
    let form = view.decidable.as_ref().map(|stage| DecisionForm {
        number: stage.stage_index.saturating_add(1),
        stage_id: stage.id.clone(),
        justification_required: view.justification_required,
        chosen: chosen.to_owned(),
        justification: justification.to_owned(),
    });
    let stages = view
        .stages
        .iter()
        .map(|s| {
            let (badge, status) = stage_status(s);
            StageRowView {
                number: s.stage_index.saturating_add(1),
                status,
                badge,
                by: s.reviewed_by.as_ref().map(|(_, name)| name.clone()),
                when: s.reviewed_date_time.map(|at| When::of(at, now)),
                justification: s.justification.clone().filter(|j| !j.trim().is_empty()),
            }
        })
        .collect();
    let agent_created = view.target.created.map(|at| When::of(at, now));
    let agent_age = view
        .target
        .created
        .map(|at| format!("for {}", human_duration(now - at)))
        .unwrap_or_default();
    ApprovalPage {
        layout: person.layout(Section::Approvals, notice),
        request_id: view.request.id.clone(),
        status_kind,
        status_text,
        explanation,
        automatic_denial: view
            .automatic_denial
            .filter(|_| view.request.state == RequestState::PendingApproval)
            .map(|at| When::of(at, now)),
        agent_created,
        agent_age,
        kind: request_kind(view.request.request_type),
        asked: When::of(view.request.created_date_time, now),
        justification: view
            .request
            .justification
            .clone()
            .filter(|j| !j.trim().is_empty()),
        duration_until: view.duration.until.map(|at| When::of(at, now)),
        form,
        stages,
        agent: view.target,
        requestor: view.requestor,
        duration: view.duration,
        answers: view.answers,
        package_name: view.package_name,
        package_description: view.package_description,
        roles: view.roles,
    }
}

/// `GET /portal/approvals/{requestId}`.
async fn approval(
    axum::extract::State(state): PortalState,
    Path(request_id): Path<String>,
    request: Request,
) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(page) => return page,
    };
    match approvals(&state).view(&person.caller, &request_id).await {
        Ok(view) => super::render(
            StatusCode::OK,
            &approval_page(&state, &person, view, None, "", ""),
        ),
        Err(err) => super::domain_refusal(err),
    }
}

/// `POST /portal/approvals/{requestId}/decision`: `stage`, `decision` (`Approve` | `Deny`),
/// `justification`.
async fn decide(
    axum::extract::State(state): PortalState,
    Path(request_id): Path<String>,
    request: Request,
) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(page) => return page,
    };
    let form = match super::checked_form(&person, request).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let stage = pages::field(&form, "stage").unwrap_or_default().to_owned();
    let decision = pages::field(&form, "decision")
        .unwrap_or_default()
        .to_owned();
    let justification = pages::field(&form, "justification")
        .unwrap_or_default()
        .to_owned();
    if decision != "Approve" && decision != "Deny" {
        return refused(
            &state,
            &person,
            &request_id,
            (&decision, &justification),
            StatusCode::BAD_REQUEST,
            "Choose Approve or Deny, then send the decision again.".into(),
        )
        .await;
    }
    if stage.is_empty() {
        return refused(
            &state,
            &person,
            &request_id,
            (&decision, &justification),
            StatusCode::BAD_REQUEST,
            "The form names no stage. Reload the page and decide again.".into(),
        )
        .await;
    }
    if justification.chars().count() > MAX_JUSTIFICATION_CHARS {
        return refused(
            &state,
            &person,
            &request_id,
            (&decision, &justification),
            StatusCode::BAD_REQUEST,
            format!("The justification is longer than {MAX_JUSTIFICATION_CHARS} characters."),
        )
        .await;
    }
    let ctx = RequestContext {
        request_id: Some(person.page.request_id.clone()),
        via: None,
    };
    let outcome = state
        .entitlement
        .decide_stage(
            &person.caller,
            &ctx,
            &request_id,
            &stage,
            StageDecision {
                review_result: decision.clone(),
                justification: Some(justification.trim().to_owned()).filter(|j| !j.is_empty()),
            },
        )
        .await;
    match outcome {
        Ok(()) => {
            state.job_waker.wake();
            let done = if decision == "Approve" {
                "approved"
            } else {
                "denied"
            };
            pages::see_other(&format!("/portal/approvals?done={done}"))
        }
        Err(err) => {
            let err = ApiError::from(err);
            if err.status == StatusCode::NOT_FOUND || err.status.is_server_error() {
                return super::refusal(err);
            }
            if err.status == StatusCode::CONFLICT {
                return already_decided(&state, &person, &request_id, err).await;
            }
            refused(
                &state,
                &person,
                &request_id,
                (&decision, &justification),
                err.status,
                err.message.clone(),
            )
            .await
        }
    }
}

/// The approval page again, with the refusal's `message` in an alert, `status`, and what the
/// person chose and wrote (`input`) kept in the form.
async fn refused(
    state: &AppState,
    person: &Person,
    request_id: &str,
    (decision, justification): (&str, &str),
    status: StatusCode,
    message: String,
) -> Response {
    match approvals(state).view(&person.caller, request_id).await {
        Ok(view) => super::render(
            status,
            &approval_page(
                state,
                person,
                view,
                Some(Notice::alert(message)),
                decision,
                justification,
            ),
        ),
        Err(err) => super::domain_refusal(err),
    }
}

/// The `409` of a stage decided (or a request ended) meanwhile: the approval page as it stands
/// now, with an alert saying who decided it, how and when.
async fn already_decided(
    state: &AppState,
    person: &Person,
    request_id: &str,
    err: ApiError,
) -> Response {
    let view = match approvals(state).view(&person.caller, request_id).await {
        Ok(view) => view,
        Err(_) => return super::refusal(err),
    };
    let now = now(state);
    let message = match (view.request.state, decision_sentence(&view, now)) {
        (RequestState::Canceled, _) => {
            "Nothing was changed: this request was canceled before your decision.".to_owned()
        }
        (RequestState::Denied, None) if view.stages.iter().any(|s| s.status == EXPIRED) => {
            "Nothing was changed: this request was denied automatically, because no approver \
             decided in time."
                .to_owned()
        }
        (_, Some(sentence)) => {
            format!("Nothing was changed: this request was already decided. {sentence}")
        }
        (_, None) => format!("Nothing was changed: {}.", err.message),
    };
    super::render(
        StatusCode::CONFLICT,
        &approval_page(state, person, view, Some(Notice::alert(message)), "", ""),
    )
}

/// The approvals pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/portal/approvals",
        Plain,
        "Portal: the approval stages waiting for me",
        inbox,
    )
    .route(
        Get,
        "/portal/approvals/history",
        Plain,
        "Portal: the approval stages I decided",
        history,
    )
    .route(
        Get,
        "/portal/approvals/{request_id}",
        Plain,
        "Portal: an approval with the context of its decision",
        approval,
    )
    .route(
        Post,
        "/portal/approvals/{request_id}/decision",
        Plain,
        "Portal: approve or deny a stage",
        decide,
    )
}
