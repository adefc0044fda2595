//! The portal's agents pages (issue 17, part A; see `crate::portal`): My agents, an agent's
//! page, requesting a package on an agent's behalf, and an assignment's page with its extend and
//! remove forms. The views come from `writ_domain::portal::agents`; every action is
//! `Entitlement::create_assignment_request` with the person's caller, exactly as
//! `POST …/assignmentRequests` makes it (`userAdd` with the agent as target, `userUpdate`,
//! `userRemove`), so a refusal shows the domain's own message with the API's status.

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use writ_domain::directory::RequestContext;
use writ_domain::duration;
use writ_domain::entitlement::AssignmentRequestInput;
use writ_domain::model::{
    Answer, Assignment, AssignmentPolicy, AssignmentRequest, AssignmentState, Expiration, Question,
    RequestSchedule,
};
use writ_domain::portal::agents::{AgentView, AssignmentView, MyAgents, Offer};

use super::{Layout, Notice, Person, PortalState, Section, When};
use crate::error::ApiError;
use crate::pages;
use crate::state::AppState;

/// Answers `$e`'s error response from a handler.
macro_rules! page_try {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(response) => return response,
        }
    };
}

/// Ids in paths are object ids (UUIDs): anything longer or with control characters is no
/// object, answered as one that does not exist before it reaches the database.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && !id.chars().any(char::is_control)
}

fn not_found() -> Response {
    super::refusal(ApiError::not_found("Nothing was found at this address."))
}

fn context(person: &Person) -> RequestContext {
    RequestContext {
        request_id: Some(person.page.request_id.clone()),
        via: None,
    }
}

/// "30 days", "12 hours", "90 minutes": a policy's duration as people read it.
fn human_duration(text: &str) -> String {
    let Ok(d) = duration::parse(text) else {
        return text.to_owned();
    };
    let seconds = d.whole_seconds();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds != 0 && seconds % 86_400 == 0 {
        plural(seconds / 86_400, "day")
    } else if seconds != 0 && seconds % 3_600 == 0 {
        plural(seconds / 3_600, "hour")
    } else if seconds % 60 == 0 {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// What a policy's expiration means for the access it gives.
fn expiration_text(expiration: &Expiration, now: OffsetDateTime) -> String {
    match expiration.kind.as_str() {
        "afterDuration" => match expiration.duration.as_deref() {
            Some(d) => format!("Access lasts {} from its start.", human_duration(d)),
            None => "Access lasts the policy's duration.".to_owned(),
        },
        "afterDateTime" => match expiration.end_date_time {
            Some(end) => format!("Access ends at {}.", When::of(end, now).utc),
            None => "Access ends at the policy's end date.".to_owned(),
        },
        "noExpiration" => "Access does not expire.".to_owned(),
        _ => "Access lasts as the policy sets.".to_owned(),
    }
}

/// The requirements of a policy, one short sentence each, for the packages table.
fn requirements(policy: &AssignmentPolicy, now: OffsetDateTime, update: bool) -> Vec<String> {
    let approval = &policy.settings.request_approval_settings;
    let mut out = Vec::new();
    let needs_approval = if update {
        approval.is_approval_required_for_update
    } else {
        approval.is_approval_required_for_add
    };
    out.push(if needs_approval {
        "Needs approval.".to_owned()
    } else {
        "No approval needed.".to_owned()
    });
    if approval.is_requestor_justification_required {
        out.push("Needs a justification.".to_owned());
    }
    let questions = policy.settings.questions.len();
    if questions > 0 {
        out.push(format!(
            "Asks {questions} question{}.",
            if questions == 1 { "" } else { "s" }
        ));
    }
    out.push(expiration_text(&policy.settings.expiration, now));
    if policy
        .settings
        .requestor_settings
        .allow_custom_assignment_schedule
    {
        out.push("A custom schedule may be asked.".to_owned());
    }
    out
}

/// A badge for a status: its colour kind and the text that says it all.
fn assignment_badge(a: &Assignment) -> (&'static str, String) {
    let kind = match a.state {
        AssignmentState::Delivered => {
            if a.status.starts_with("NearExpiry") {
                "wait"
            } else {
                "ok"
            }
        }
        AssignmentState::Expired => "off",
        _ if a.status == "DeliveryFailed" => "bad",
        _ => "wait",
    };
    (kind, a.status.clone())
}

fn request_badge(r: &AssignmentRequest) -> (&'static str, String) {
    let kind = match r.status.as_str() {
        "Delivered" => "ok",
        "Denied" | "TimedOut" | "CalloutTimedOut" | "DeliveryFailed" | "AssignmentExpired" => "bad",
        "Canceled" => "off",
        _ => "wait",
    };
    (kind, r.status.clone())
}

/// A request type as people read it.
fn request_kind(r: &AssignmentRequest) -> &'static str {
    match r.request_type.as_str() {
        "userAdd" | "adminAdd" => "Access",
        "userUpdate" | "adminUpdate" => "Extension",
        "userRemove" | "adminRemove" => "Removal",
        "systemRemove" => "Expiry",
        _ => "Request",
    }
}

// ---------------------------------------------------------------------------------------------
// My agents

struct AgentListRow {
    id: String,
    name: String,
    kind: &'static str,
    blueprint: String,
    sponsors: String,
    live: usize,
    soonest_end: Option<When>,
    pending: usize,
}

#[derive(Template)]
#[template(path = "portal/agents_list.html")]
struct MyAgentsPage {
    layout: Layout,
    rows: Vec<AgentListRow>,
    next_page: Option<u32>,
    previous_page: Option<u32>,
}

/// `GET /portal/agents`: the agents the person sponsors or owns.
async fn my_agents(State(state): PortalState, request: Request) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    let pairs = page_try!(person.page.query_pairs());
    let page = match pages::field(&pairs, "page") {
        None => 0,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n <= writ_domain::portal::agents::MAX_PAGE => n,
            _ => {
                return super::refusal(ApiError::from(writ_domain::error::DomainError::invalid(
                    "the page number must be a whole number from 0 to 100000",
                )));
            }
        },
    };
    let now = state.directory.clock().now();
    let MyAgents {
        rows,
        next_page,
        page,
    } = match state
        .entitlement
        .portal_my_agents(&person.caller, page)
        .await
    {
        Ok(view) => view,
        Err(err) => return super::domain_refusal(err),
    };
    let rows = rows
        .into_iter()
        .map(|row| AgentListRow {
            id: row.agent.id,
            name: row.agent.display_name,
            kind: if row.agent.is_agent_user {
                "Agent user"
            } else {
                "Agent identity"
            },
            blueprint: row.agent.blueprint.unwrap_or_else(|| "None".to_owned()),
            sponsors: if row.sponsors.is_empty() {
                "None".to_owned()
            } else {
                row.sponsors.join(", ")
            },
            live: row.live,
            soonest_end: row.soonest_end.map(|end| When::of(end, now)),
            pending: row.pending,
        })
        .collect();
    super::render(
        StatusCode::OK,
        &MyAgentsPage {
            layout: person.layout(Section::Agents, None),
            rows,
            next_page,
            previous_page: page.checked_sub(1),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// An agent

struct AssignmentRow {
    id: String,
    package: String,
    badge: (&'static str, String),
    start: When,
    end: Option<When>,
}

struct RequestRow {
    id: String,
    package: String,
    kind: &'static str,
    badge: (&'static str, String),
    created: When,
}

struct HistoryRow {
    href: String,
    what: String,
    package: String,
    badge: (&'static str, String),
    at: When,
    sort: OffsetDateTime,
}

#[derive(Template)]
#[template(path = "portal/agents_agent.html")]
struct AgentPage {
    layout: Layout,
    id: String,
    name: String,
    kind: &'static str,
    blueprint: String,
    sponsors: String,
    created: Option<When>,
    live: Vec<AssignmentRow>,
    pending: Vec<RequestRow>,
    history: Vec<HistoryRow>,
}

/// `GET /portal/agents/{agentId}`.
async fn agent_page(
    State(state): PortalState,
    Path(agent_id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    if !valid_id(&agent_id) {
        return not_found();
    }
    let view = match state
        .entitlement
        .portal_agent(&person.caller, &agent_id)
        .await
    {
        Ok(view) => view,
        Err(err) => return super::domain_refusal(err),
    };
    let now = state.directory.clock().now();
    let AgentView {
        agent,
        blueprint,
        created,
        sponsors,
        live,
        pending,
        ended,
        completed,
    } = view;
    let mut history: Vec<HistoryRow> = ended
        .into_iter()
        .map(|a| {
            let at = a
                .item
                .expired_date_time
                .or(a.item.end_date_time)
                .unwrap_or(a.item.created_date_time);
            HistoryRow {
                href: format!("/portal/assignments/{}", a.item.id),
                what: "Assignment".to_owned(),
                package: a.package,
                badge: assignment_badge(&a.item),
                at: When::of(at, now),
                sort: at,
            }
        })
        .chain(completed.into_iter().map(|r| {
            let at = r
                .item
                .completed_date_time
                .unwrap_or(r.item.created_date_time);
            HistoryRow {
                href: format!("/portal/requests/{}", r.item.id),
                what: format!("{} request", request_kind(&r.item)),
                package: r.package,
                badge: request_badge(&r.item),
                at: When::of(at, now),
                sort: at,
            }
        }))
        .collect();
    history.sort_by_key(|h| std::cmp::Reverse(h.sort));
    history.truncate(writ_domain::portal::agents::HISTORY_LIMIT as usize);
    super::render(
        StatusCode::OK,
        &AgentPage {
            layout: person.layout(Section::Agents, None),
            id: agent.id,
            name: agent.display_name,
            kind: if agent.kind == writ_domain::authz::PrincipalKind::User {
                "Agent user"
            } else {
                "Agent identity"
            },
            blueprint: blueprint.unwrap_or_else(|| "None".to_owned()),
            sponsors: if sponsors.is_empty() {
                "None".to_owned()
            } else {
                sponsors.join(", ")
            },
            created: created.map(|c| When::of(c, now)),
            live: live
                .into_iter()
                .map(|a| AssignmentRow {
                    badge: assignment_badge(&a.item),
                    start: When::of(a.item.start_date_time, now),
                    end: a.item.end_date_time.map(|e| When::of(e, now)),
                    id: a.item.id,
                    package: a.package,
                })
                .collect(),
            pending: pending
                .into_iter()
                .map(|r| RequestRow {
                    kind: request_kind(&r.item),
                    badge: request_badge(&r.item),
                    created: When::of(r.item.created_date_time, now),
                    id: r.item.id,
                    package: r.package,
                })
                .collect(),
            history,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Requesting for an agent

struct OfferRow {
    package: String,
    description: String,
    policy_id: String,
    policy: String,
    requirements: Vec<String>,
    blocked: Option<String>,
}

/// One question of a form, with the value sent so far.
struct QuestionField {
    /// The form field: `answer.{questionId}`.
    name: String,
    /// The element id.
    field_id: String,
    label: String,
    required: bool,
    /// A text question: single line (input) or not (textarea).
    single_line: bool,
    /// A multiple-choice question's choices: (value, text, selected).
    choices: Option<Vec<(String, String, bool)>>,
    multiple: bool,
    value: String,
}

/// What a request or extension form shows: the policy's questions, justification and schedule.
struct FormFields {
    questions: Vec<QuestionField>,
    justification_required: bool,
    justification: String,
    custom_schedule: bool,
    /// The policy's maximum, in words, where a custom schedule is allowed.
    schedule_limit: String,
    start: String,
    end: String,
}

impl FormFields {
    /// `answers_required`: a new request must answer the required questions; an extension
    /// may (the domain's rule), so its form marks none required.
    fn of(
        policy: &AssignmentPolicy,
        form: &[(String, String)],
        now: OffsetDateTime,
        answers_required: bool,
    ) -> Self {
        let questions = policy
            .settings
            .questions
            .iter()
            .filter_map(|q| question_field(q, form))
            .map(|mut q| {
                q.required &= answers_required;
                q
            })
            .collect();
        let settings = &policy.settings;
        Self {
            questions,
            justification_required: settings
                .request_approval_settings
                .is_requestor_justification_required,
            justification: pages::field(form, "justification")
                .unwrap_or_default()
                .to_owned(),
            custom_schedule: settings.requestor_settings.allow_custom_assignment_schedule,
            schedule_limit: expiration_text(&settings.expiration, now),
            start: pages::field(form, "start").unwrap_or_default().to_owned(),
            end: pages::field(form, "end").unwrap_or_default().to_owned(),
        }
    }
}

fn question_field(question: &Question, form: &[(String, String)]) -> Option<QuestionField> {
    match question {
        Question::TextInput {
            id,
            is_required,
            text,
            is_single_line_question,
            ..
        } => {
            let id = id.as_deref()?;
            let name = format!("answer.{id}");
            Some(QuestionField {
                value: pages::field(form, &name).unwrap_or_default().to_owned(),
                field_id: format!("q-{id}"),
                name,
                label: text.clone(),
                required: *is_required,
                single_line: *is_single_line_question,
                choices: None,
                multiple: false,
            })
        }
        Question::MultipleChoice {
            id,
            is_required,
            text,
            choices,
            is_multiple_selection_allowed,
            ..
        } => {
            let id = id.as_deref()?;
            let name = format!("answer.{id}");
            let sent: Vec<&str> = form
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            Some(QuestionField {
                value: String::new(),
                field_id: format!("q-{id}"),
                label: text.clone(),
                required: *is_required,
                single_line: true,
                choices: Some(
                    choices
                        .iter()
                        .map(|c| {
                            (
                                c.actual_value.clone(),
                                c.text.clone().unwrap_or_else(|| c.actual_value.clone()),
                                sent.contains(&c.actual_value.as_str()),
                            )
                        })
                        .collect(),
                ),
                multiple: *is_multiple_selection_allowed,
                name,
            })
        }
    }
}

/// The answers of a form to the policy's questions (empty values are no answer).
fn answers_of(policy: &AssignmentPolicy, form: &[(String, String)]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for question in &policy.settings.questions {
        let id = match question {
            Question::TextInput { id, .. } | Question::MultipleChoice { id, .. } => id,
        };
        let Some(id) = id.as_deref() else { continue };
        let name = format!("answer.{id}");
        for (_, value) in form
            .iter()
            .filter(|(k, v)| *k == name && !v.trim().is_empty())
        {
            answers.push(Answer {
                question_id: id.to_owned(),
                question_type: String::new(),
                value: value.clone(),
                display_value: None,
            });
        }
    }
    answers
}

const DATETIME_LOCAL: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");
const DATETIME_LOCAL_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// A `datetime-local` value, read as UTC; `Err` names the field.
fn instant_field(
    form: &[(String, String)],
    name: &str,
    label: &str,
) -> Result<Option<OffsetDateTime>, String> {
    let Some(text) = pages::field(form, name)
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let parsed = PrimitiveDateTime::parse(text, DATETIME_LOCAL)
        .or_else(|_| PrimitiveDateTime::parse(text, DATETIME_LOCAL_SECONDS))
        .map_err(|_| format!("The {label} is not a date and time (YYYY-MM-DDTHH:MM, UTC)."))?
        .assume_utc();
    writ_domain::instant::check_input(parsed, name).map_err(|e| e.to_string())?;
    Ok(Some(parsed))
}

/// The schedule a form asks for: `start` (for a new request) and `end`, empty when neither.
fn schedule_of(
    form: &[(String, String)],
    with_start: bool,
) -> Result<Option<RequestSchedule>, String> {
    let start = if with_start {
        instant_field(form, "start", "start")?
    } else {
        None
    };
    let end = instant_field(form, "end", "end")?;
    if start.is_none() && end.is_none() {
        return Ok(None);
    }
    let mut schedule = RequestSchedule {
        start_date_time: start,
        ..RequestSchedule::default()
    };
    if let Some(end) = end {
        schedule.expiration = Expiration {
            kind: "afterDateTime".into(),
            duration: None,
            end_date_time: Some(end),
        };
    }
    Ok(Some(schedule))
}

fn justification_of(form: &[(String, String)]) -> Option<String> {
    pages::field(form, "justification")
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_owned)
}

struct SelectedPolicy {
    policy_id: String,
    package: String,
    package_description: String,
    policy: String,
    roles: Vec<String>,
    expiration: String,
    approval: String,
    fields: FormFields,
}

#[derive(Template)]
#[template(path = "portal/agents_request.html")]
struct RequestPage {
    layout: Layout,
    agent_id: String,
    agent: String,
    offers: Vec<OfferRow>,
    selected: Option<SelectedPolicy>,
}

/// The request page of `agent_id`, with the form of `policy_id` if given (its `form` values
/// kept), announcing `notice`.
async fn render_request_page(
    state: &AppState,
    person: &Person,
    agent_id: &str,
    policy_id: Option<&str>,
    form: &[(String, String)],
    refusal: Option<(StatusCode, String)>,
) -> Response {
    if !valid_id(agent_id) {
        return not_found();
    }
    let (agent, offers) = match state
        .entitlement
        .portal_offers(&person.caller, agent_id)
        .await
    {
        Ok(found) => found,
        Err(err) => return super::domain_refusal(err),
    };
    let now = state.directory.clock().now();
    let mut blocked = None;
    let selected = match policy_id {
        None => None,
        Some(policy_id) => {
            let Some(offer) = offers.iter().find(|o| o.policy.id == policy_id) else {
                return super::refusal(ApiError::from(writ_domain::error::DomainError::not_found(
                    "assignmentPolicy",
                    policy_id,
                )));
            };
            match (&offer.blocked, &refusal) {
                // Held or requested already: no form, the reason instead.
                (Some(why), None) => {
                    blocked = Some(format!(
                        "{} cannot be requested now: {why}.",
                        offer.package.display_name
                    ));
                    None
                }
                _ => Some(selected_policy(state, offer, form, now).await),
            }
        }
    };
    let (status, notice) = match (refusal, blocked) {
        (Some((status, text)), _) => (status, Some(Notice::alert(text))),
        (None, Some(text)) => (StatusCode::OK, Some(Notice::alert(text))),
        (None, None) => (StatusCode::OK, None),
    };
    super::render(
        status,
        &RequestPage {
            layout: person.layout(Section::Agents, notice),
            agent_id: agent.id,
            agent: agent.display_name,
            offers: offers
                .iter()
                .map(|o| OfferRow {
                    package: o.package.display_name.clone(),
                    description: o.package.description.clone().unwrap_or_default(),
                    policy_id: o.policy.id.clone(),
                    policy: o.policy.display_name.clone(),
                    requirements: requirements(&o.policy, now, false),
                    blocked: o.blocked.clone(),
                })
                .collect(),
            selected,
        },
    )
}

async fn selected_policy(
    state: &AppState,
    offer: &Offer,
    form: &[(String, String)],
    now: OffsetDateTime,
) -> SelectedPolicy {
    let roles = state
        .entitlement
        .portal_package_roles(&offer.package.id)
        .await
        .unwrap_or_default();
    let approval = &offer.policy.settings.request_approval_settings;
    SelectedPolicy {
        policy_id: offer.policy.id.clone(),
        package: offer.package.display_name.clone(),
        package_description: offer.package.description.clone().unwrap_or_default(),
        policy: offer.policy.display_name.clone(),
        roles,
        expiration: expiration_text(&offer.policy.settings.expiration, now),
        approval: if approval.is_approval_required_for_add {
            "An approver must approve this request before access is given.".to_owned()
        } else {
            "No approval is needed: access is given once the request is processed.".to_owned()
        },
        fields: FormFields::of(&offer.policy, form, now, true),
    }
}

/// `GET /portal/agents/{agentId}/request`.
async fn request_page(
    State(state): PortalState,
    Path(agent_id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    let pairs = page_try!(person.page.query_pairs());
    let policy = pages::field(&pairs, "policy").map(str::to_owned);
    render_request_page(&state, &person, &agent_id, policy.as_deref(), &[], None).await
}

/// `POST /portal/agents/{agentId}/request`: a `userAdd` for the agent.
async fn request_post(
    State(state): PortalState,
    Path(agent_id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    let form = page_try!(super::checked_form(&person, request).await);
    if !valid_id(&agent_id) {
        return not_found();
    }
    let Some(policy_id) = pages::field(&form, "policy").filter(|p| valid_id(p)) else {
        return super::refusal(ApiError::from(writ_domain::error::DomainError::invalid(
            "choose an access package to request",
        )));
    };
    // The offers decide what may be asked; the domain decides again when it records.
    let (_, offers) = match state
        .entitlement
        .portal_offers(&person.caller, &agent_id)
        .await
    {
        Ok(found) => found,
        Err(err) => return super::domain_refusal(err),
    };
    let Some(offer) = offers.iter().find(|o| o.policy.id == policy_id) else {
        return super::refusal(ApiError::from(writ_domain::error::DomainError::not_found(
            "assignmentPolicy",
            policy_id,
        )));
    };
    let refused = |status: StatusCode, text: String| {
        let state = &state;
        let person = &person;
        let agent_id = &agent_id;
        let form = &form;
        async move {
            render_request_page(
                state,
                person,
                agent_id,
                Some(policy_id),
                form,
                Some((status, text)),
            )
            .await
        }
    };
    // A package the agent holds or has an open request for is offered as such; asking anyway
    // gets the domain's own refusal, as the API would answer it.
    let schedule = match schedule_of(&form, true) {
        Ok(schedule) => schedule,
        Err(text) => return refused(StatusCode::BAD_REQUEST, text).await,
    };
    let input = AssignmentRequestInput {
        request_type: "userAdd".into(),
        access_package_id: Some(offer.package.id.clone()),
        policy_id: Some(offer.policy.id.clone()),
        target_id: Some(agent_id.clone()),
        assignment_id: None,
        justification: justification_of(&form),
        schedule,
        answers: answers_of(&offer.policy, &form),
        parameters: None,
    };
    let created = state
        .entitlement
        .create_assignment_request(&person.caller, &context(&person), input)
        .await;
    match created {
        Ok(created) => {
            state.job_waker.wake();
            pages::see_other(&format!(
                "/portal/requests/{}?done=requested",
                created.request.id
            ))
        }
        Err(err) => {
            let err = ApiError::from(err);
            if err.status.is_server_error() {
                return super::refusal(err);
            }
            refused(err.status, err.message).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// An assignment

struct ExtendForm {
    approval: String,
    fields: FormFields,
}

#[derive(Template)]
#[template(path = "portal/agents_assignment.html")]
struct AssignmentPage {
    layout: Layout,
    id: String,
    agent_id: String,
    agent: String,
    agent_is_agent: bool,
    package: String,
    policy: String,
    badge: (&'static str, String),
    start: When,
    end: Option<When>,
    ended: Option<When>,
    open_extension: Option<(String, (&'static str, String))>,
    extend: Result<ExtendForm, String>,
    remove: Result<(), String>,
}

const DONE: &[(&str, &str)] = &[("removed", "Access removed: the assignment has ended.")];

async fn render_assignment(
    state: &AppState,
    person: &Person,
    id: &str,
    form: &[(String, String)],
    refusal: Option<(StatusCode, String)>,
) -> Response {
    if !valid_id(id) {
        return not_found();
    }
    let view = match state
        .entitlement
        .portal_assignment(&person.caller, id)
        .await
    {
        Ok(view) => view,
        Err(err) => return super::domain_refusal(err),
    };
    let now = state.directory.clock().now();
    let AssignmentView {
        assignment,
        target,
        package,
        policy,
        open_extension,
        extend,
        remove,
    } = view;
    let extend = match (extend, &policy) {
        (Ok(()), Some(policy)) => Ok(ExtendForm {
            approval: if policy
                .settings
                .request_approval_settings
                .is_approval_required_for_update
            {
                "An approver must approve the extension; until then the current end stands."
                    .to_owned()
            } else {
                "No approval is needed: the end moves once the request is processed.".to_owned()
            },
            fields: FormFields::of(policy, form, now, false),
        }),
        (Ok(()), None) => Err("Its policy was deleted.".to_owned()),
        (Err(why), _) => Err(why),
    };
    let (status, notice) = match refusal {
        Some((status, text)) => (status, Some(Notice::alert(text))),
        None => (StatusCode::OK, person.done_notice(DONE)),
    };
    super::render(
        status,
        &AssignmentPage {
            layout: person.layout(Section::Agents, notice),
            badge: assignment_badge(&assignment),
            start: When::of(assignment.start_date_time, now),
            end: assignment.end_date_time.map(|e| When::of(e, now)),
            ended: assignment.expired_date_time.map(|e| When::of(e, now)),
            id: assignment.id,
            agent_id: target.id,
            agent: target.display_name,
            agent_is_agent: target.is_agent,
            package,
            policy: policy.map_or_else(|| "Deleted".to_owned(), |p| p.display_name),
            open_extension: open_extension.map(|r| {
                let badge = request_badge(&r);
                (r.id, badge)
            }),
            extend,
            remove,
        },
    )
}

/// `GET /portal/assignments/{id}`.
async fn assignment_page(
    State(state): PortalState,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    render_assignment(&state, &person, &id, &[], None).await
}

/// The response to a refused action on an assignment: its page with the domain's message, or
/// the refusal page when the assignment is not one the person may see.
async fn assignment_refused(
    state: &AppState,
    person: &Person,
    id: &str,
    form: &[(String, String)],
    err: ApiError,
) -> Response {
    if err.status.is_server_error() || err.status == StatusCode::NOT_FOUND {
        return super::refusal(err);
    }
    render_assignment(state, person, id, form, Some((err.status, err.message))).await
}

/// `POST /portal/assignments/{id}/extend`: a `userUpdate` on the agent's behalf.
async fn extend_post(
    State(state): PortalState,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    let form = page_try!(super::checked_form(&person, request).await);
    if !valid_id(&id) {
        return not_found();
    }
    // Visible exactly as the API's GET shows it: a stranger's id is a 404 page.
    let view = match state
        .entitlement
        .portal_assignment(&person.caller, &id)
        .await
    {
        Ok(view) => view,
        Err(err) => return super::domain_refusal(err),
    };
    let schedule = match schedule_of(&form, false) {
        Ok(schedule) => schedule,
        Err(text) => {
            return render_assignment(
                &state,
                &person,
                &id,
                &form,
                Some((StatusCode::BAD_REQUEST, text)),
            )
            .await;
        }
    };
    let answers = view
        .policy
        .as_ref()
        .map(|p| answers_of(p, &form))
        .unwrap_or_default();
    let input = AssignmentRequestInput {
        request_type: "userUpdate".into(),
        access_package_id: None,
        policy_id: None,
        target_id: None,
        assignment_id: Some(id.clone()),
        justification: justification_of(&form),
        schedule,
        answers,
        parameters: None,
    };
    match state
        .entitlement
        .create_assignment_request(&person.caller, &context(&person), input)
        .await
    {
        Ok(created) => {
            state.job_waker.wake();
            pages::see_other(&format!(
                "/portal/requests/{}?done=extension-requested",
                created.request.id
            ))
        }
        Err(err) => assignment_refused(&state, &person, &id, &form, ApiError::from(err)).await,
    }
}

/// `POST /portal/assignments/{id}/remove`: a `userRemove` on the agent's behalf, which ends the
/// assignment at once.
async fn remove_post(
    State(state): PortalState,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let person = page_try!(Person::of(&state, &request).await);
    let form = page_try!(super::checked_form(&person, request).await);
    if !valid_id(&id) {
        return not_found();
    }
    if let Err(err) = state
        .entitlement
        .portal_assignment(&person.caller, &id)
        .await
    {
        return super::domain_refusal(err);
    }
    if pages::field(&form, "confirm") != Some("yes") {
        return render_assignment(
            &state,
            &person,
            &id,
            &form,
            Some((
                StatusCode::BAD_REQUEST,
                "Nothing was removed: tick the box to confirm the removal.".to_owned(),
            )),
        )
        .await;
    }
    let input = AssignmentRequestInput {
        request_type: "userRemove".into(),
        access_package_id: None,
        policy_id: None,
        target_id: None,
        assignment_id: Some(id.clone()),
        justification: justification_of(&form),
        schedule: None,
        answers: Vec::new(),
        parameters: None,
    };
    match state
        .entitlement
        .create_assignment_request(&person.caller, &context(&person), input)
        .await
    {
        Ok(_) => {
            state.job_waker.wake();
            pages::see_other(&format!("/portal/assignments/{id}?done=removed"))
        }
        Err(err) => assignment_refused(&state, &person, &id, &form, ApiError::from(err)).await,
    }
}

/// The agents pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/portal/agents",
        Plain,
        "Portal: the agents the person sponsors or owns",
        my_agents,
    )
    .route(
        Get,
        "/portal/agents/{agentId}",
        Plain,
        "Portal: an agent the person sponsors or owns",
        agent_page,
    )
    .route(
        Get,
        "/portal/agents/{agentId}/request",
        Plain,
        "Portal: the packages the person may request for an agent, and a request form",
        request_page,
    )
    .route(
        Post,
        "/portal/agents/{agentId}/request",
        Plain,
        "Portal: request an access package on an agent's behalf (userAdd)",
        request_post,
    )
    .route(
        Get,
        "/portal/assignments/{id}",
        Plain,
        "Portal: an assignment, with its extend and remove forms",
        assignment_page,
    )
    .route(
        Post,
        "/portal/assignments/{id}/extend",
        Plain,
        "Portal: extend an assignment on its target's behalf (userUpdate)",
        extend_post,
    )
    .route(
        Post,
        "/portal/assignments/{id}/remove",
        Plain,
        "Portal: remove an assignment on its target's behalf (userRemove)",
        remove_post,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration("P7D"), "7 days");
        assert_eq!(human_duration("PT1H"), "1 hour");
        assert_eq!(human_duration("PT90M"), "90 minutes");
        assert_eq!(human_duration("PT45S"), "45 seconds");
        assert_eq!(human_duration("nonsense"), "nonsense");
    }

    #[test]
    fn schedule_fields_are_utc_datetimes_within_bounds() {
        let form = |end: &str| vec![("end".to_owned(), end.to_owned())];
        let end = schedule_of(&form("2030-01-02T03:04"), false)
            .unwrap()
            .unwrap()
            .expiration;
        assert_eq!(end.kind, "afterDateTime");
        assert_eq!(
            end.end_date_time,
            Some(time::macros::datetime!(2030-01-02 03:04 UTC))
        );
        assert!(
            schedule_of(&form("2030-01-02T03:04:05"), false)
                .unwrap()
                .is_some()
        );
        assert!(schedule_of(&form(""), false).unwrap().is_none());
        for bad in [
            "tomorrow",
            "9999-01-01T00:00",
            "1900-01-01T00:00",
            "2030-13-01T00:00",
        ] {
            assert!(schedule_of(&form(bad), false).is_err(), "{bad}");
        }
        // A start is read only where the form may ask one.
        let start = vec![("start".to_owned(), "2030-01-02T03:04".to_owned())];
        assert!(schedule_of(&start, false).unwrap().is_none());
        assert!(schedule_of(&start, true).unwrap().is_some());
    }

    #[test]
    fn path_ids_are_bounded() {
        assert!(valid_id("01a24f50-d7d1-73d7-a431-ad58215958a8"));
        assert!(!valid_id(""));
        assert!(!valid_id(&"x".repeat(65)));
        assert!(!valid_id("a\u{0}b"));
    }
}
