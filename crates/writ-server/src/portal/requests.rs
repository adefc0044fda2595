//! The portal's requests pages (see `crate::portal`): **My requests** (`GET /portal/requests`,
//! what the person asked for agents, 100 a page) and a request's page (`GET
//! /portal/requests/{requestId}`, the page `request.approved` and `request.denied` emails link
//! to), with its cancel form (`POST /portal/requests/{requestId}/cancel`). What they read is
//! `writ_domain::portal::requests`; cancel is the API's `cancel` with the person's caller.

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use writ_domain::directory::RequestContext;
use writ_domain::error::DomainError;
use writ_domain::portal::requests::{self as view, MyRequests, RequestView};

use super::{Layout, Notice, Person, Section, When};
use crate::pages;
use crate::state::AppState;

/// The outcomes announced by `?done=`: cancel's, and those of the agents pages' forms, which
/// answer with this page (`requested` after a new request, `extension-requested` after extend).
const DONE: &[(&str, &str)] = &[
    ("canceled", "The request was canceled."),
    (
        "requested",
        "Your request was sent. Its status is shown below.",
    ),
    (
        "extension-requested",
        "Your extension request was sent. The access keeps its current end until the extension is delivered.",
    ),
];

/// The longest continuation token accepted from the query string (the store checks its
/// content).
const MAX_AFTER_CHARS: usize = 2_048;

/// A path segment of a portal URL: the id percent-encoded (as the emails do).
fn segment(id: &str) -> String {
    writ_domain::email::path_segment(id)
}

/// One row of the `#requests` table.
struct Row {
    href: String,
    link: String,
    agent: String,
    package: String,
    change: &'static str,
    status: &'static str,
    tone: &'static str,
    created: When,
}

#[derive(Template)]
#[template(path = "portal/requests_list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    /// The "Next page" link, if more follow.
    next: Option<String>,
    /// Whether this is a later page (a link back to the first).
    later: bool,
}

/// `GET /portal/requests`: My requests.
async fn list(State(state): State<AppState>, request: Request) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let pairs = match person.page.query_pairs() {
        Ok(pairs) => pairs,
        Err(response) => return response,
    };
    let after = pages::field(&pairs, "after").map(str::to_owned);
    if after
        .as_deref()
        .is_some_and(|a| a.chars().count() > MAX_AFTER_CHARS)
    {
        return crate::browser::bad_request("The page asked for does not exist.");
    }
    let later = after.is_some();
    let MyRequests { rows, next } = match view::my_requests(
        &state.entitlement,
        &state.directory,
        &person.caller,
        after,
    )
    .await
    {
        Ok(found) => found,
        Err(err) => return super::domain_refusal(err),
    };
    let now = state.directory.clock().now();
    let rows = rows
        .into_iter()
        .map(|row| Row {
            href: format!("/portal/requests/{}", segment(&row.request.id)),
            link: format!("Request of {} for {}", row.agent, row.package),
            agent: row.agent,
            package: row.package,
            change: row.change.words(),
            status: row.status.words,
            tone: row.status.tone.class(),
            created: When::of(row.request.created_date_time, now),
        })
        .collect();
    let next = next.map(|token| {
        let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        format!("/portal/requests?after={encoded}")
    });
    super::render(
        StatusCode::OK,
        &ListPage {
            layout: person.layout(Section::Requests, None),
            rows,
            next,
            later,
        },
    )
}

/// A stage of the request's page.
struct Stage {
    number: u32,
    status: &'static str,
    tone: &'static str,
    started: Option<When>,
    decided_by: Option<String>,
    decided: Option<When>,
    justification: Option<String>,
}

/// A fact of the schedule asked for.
struct Asked {
    label: &'static str,
    text: String,
    when: Option<When>,
}

#[derive(Template)]
#[template(path = "portal/requests_detail.html")]
struct DetailPage {
    layout: Layout,
    id: String,
    agent: String,
    package: String,
    requestor: String,
    change: &'static str,
    status: &'static str,
    tone: &'static str,
    state: &'static str,
    created: When,
    completed: Option<When>,
    justification: Option<String>,
    answers: Vec<(String, String)>,
    schedule: Vec<Asked>,
    stages: Option<Vec<Stage>>,
    assignment_href: Option<String>,
    assignment_end: Option<When>,
    why: Option<String>,
    cancel_action: Option<String>,
}

/// The schedule a request asked for, in words.
fn asked(view: &RequestView, now: time::OffsetDateTime) -> Vec<Asked> {
    let schedule = &view.request.schedule;
    let mut out = Vec::new();
    out.push(match schedule.start_date_time {
        Some(at) => Asked {
            label: "Start",
            text: String::new(),
            when: Some(When::of(at, now)),
        },
        None => Asked {
            label: "Start",
            text: "When delivered".into(),
            when: None,
        },
    });
    let expiration = &schedule.expiration;
    out.push(match (expiration.kind.as_str(), &expiration.duration) {
        ("afterDateTime", _) if expiration.end_date_time.is_some() => Asked {
            label: "End",
            text: String::new(),
            when: expiration.end_date_time.map(|at| When::of(at, now)),
        },
        ("afterDuration", Some(duration)) => Asked {
            label: "Length",
            text: format!("{duration} (ISO 8601 duration) from the start"),
            when: None,
        },
        ("noExpiration", _) => Asked {
            label: "End",
            text: "No end".into(),
            when: None,
        },
        _ => Asked {
            label: "End",
            text: "As the policy sets it".into(),
            when: None,
        },
    });
    out
}

fn detail_page(
    person: &Person,
    view: RequestView,
    now: time::OffsetDateTime,
    notice: Option<Notice>,
) -> DetailPage {
    let id = view.request.id.clone();
    let schedule = asked(&view, now);
    let stages = view.stages.map(|stages| {
        stages
            .into_iter()
            .map(|s| Stage {
                number: s.number,
                status: s.status.words,
                tone: s.status.tone.class(),
                started: s.started.map(|at| When::of(at, now)),
                decided_by: s.decided_by,
                decided: s.decided.map(|at| When::of(at, now)),
                justification: s.justification.filter(|j| !j.is_empty()),
            })
            .collect()
    });
    let (assignment_href, assignment_end) = match &view.assignment {
        Some(a) => (
            Some(format!("/portal/assignments/{}", segment(&a.id))),
            a.end_date_time.map(|at| When::of(at, now)),
        ),
        None => (None, None),
    };
    DetailPage {
        layout: person.layout(Section::Requests, notice),
        cancel_action: view
            .may_cancel
            .then(|| format!("/portal/requests/{}/cancel", segment(&id))),
        id,
        agent: view.agent,
        package: view.package,
        requestor: view.requestor,
        change: view.change.words(),
        status: view.status.words,
        tone: view.status.tone.class(),
        state: view.request.state.as_str(),
        created: When::of(view.request.created_date_time, now),
        completed: view.request.completed_date_time.map(|at| When::of(at, now)),
        justification: view.request.justification.filter(|j| !j.is_empty()),
        answers: view
            .answers
            .into_iter()
            .map(|a| (a.question, a.answer))
            .collect(),
        schedule,
        stages,
        assignment_href,
        assignment_end,
        why: view.why,
    }
}

/// The request's page for `person`, with `status` and `notice`.
async fn render_detail(
    state: &AppState,
    person: &Person,
    id: &str,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    match view::request_view(&state.entitlement, &state.directory, &person.caller, id).await {
        Ok(view) => {
            let now = state.directory.clock().now();
            super::render(status, &detail_page(person, view, now, notice))
        }
        Err(err) => super::domain_refusal(err),
    }
}

/// `GET /portal/requests/{requestId}`.
async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let notice = person.done_notice(DONE);
    render_detail(&state, &person, &id, StatusCode::OK, notice).await
}

/// `POST /portal/requests/{requestId}/cancel`: the API's `cancel`; a request decided meanwhile
/// (its `409`) re-renders the page with the reason, status 409.
async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let person = match Person::of(&state, &request).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    if let Err(response) = super::checked_form(&person, request).await {
        return response;
    }
    let ctx = RequestContext {
        request_id: Some(person.page.request_id.clone()),
        via: None,
    };
    match state
        .entitlement
        .cancel_request(&person.caller, &ctx, &id)
        .await
    {
        Ok(()) => pages::see_other(&format!("/portal/requests/{}?done=canceled", segment(&id))),
        Err(DomainError::Conflict(message)) => {
            let text = format!(
                "This request can no longer be canceled: it was decided or changed meanwhile \
                 ({message}). Its state is shown below."
            );
            render_detail(
                &state,
                &person,
                &id,
                StatusCode::CONFLICT,
                Some(Notice::alert(text)),
            )
            .await
        }
        Err(err) => super::domain_refusal(err),
    }
}

/// The requests pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/portal/requests",
        Plain,
        "My requests (portal page)",
        list,
    )
    .route(
        Get,
        "/portal/requests/{requestId}",
        Plain,
        "A request (portal page)",
        detail,
    )
    .route(
        Post,
        "/portal/requests/{requestId}/cancel",
        Plain,
        "Cancel a request (portal form)",
        cancel,
    )
}
