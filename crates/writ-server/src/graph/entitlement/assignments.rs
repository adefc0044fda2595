//! `…/entitlementManagement/assignmentRequests` and `…/assignments`: the handlers that create,
//! read and list requests and assignments (their wire form is
//! `crate::wire::entitlement::requests`), and the approvals and stages of requests.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use writ_domain::entitlement::{
    ApprovalStageRecord, Assignment, AssignmentRequest, AssignmentRequestInput, CalloutInstance,
};
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::request_wait;
use crate::routes::FunctionParameter;
use crate::state::AppState;

use super::BASE;
use crate::wire::body::read;
use crate::wire::entitlement::catalogs::AccessPackage as WirePackage;
use crate::wire::entitlement::policies::AccessPackageAssignmentPolicy;
use crate::wire::entitlement::request_bodies::{
    AccessPackageAssignmentRequestBody, ApprovalStageBody, ResumePostRequestBody,
};
use crate::wire::entitlement::requests::{
    AccessPackageAssignment, AccessPackageAssignmentRequest, AccessPackageSubject, Approval,
    ApprovalStage,
};
use crate::wire::object;

pub(super) const REQUEST_TYPE: &str = "accessPackageAssignmentRequest";
pub(super) const ASSIGNMENT_TYPE: &str = "accessPackageAssignment";

fn input(body: &JsonObject) -> ApiResult<AssignmentRequestInput> {
    read::<AccessPackageAssignmentRequestBody>(body)?.into_input()
}

/// The callout instances of the requests or assignments `ids`, by id.
async fn instances_of(
    state: &AppState,
    ids: Vec<String>,
) -> ApiResult<std::collections::HashMap<String, Vec<CalloutInstance>>> {
    Ok(state.entitlement.callout_instances(&ids).await?)
}

async fn render_request(
    state: &AppState,
    query: &ODataQuery,
    r: &AssignmentRequest,
    instances: &[CalloutInstance],
) -> ApiResult<Map<String, Value>> {
    let mut wire = AccessPackageAssignmentRequest::new(r, instances);
    let em = &state.entitlement;
    if query.expands("accessPackage") {
        let package = em.related_package(&r.access_package_id).await?;
        wire.access_package = Some(package.as_ref().map(WirePackage::from));
    }
    if query.expands("assignment") {
        let assignment = match &r.assignment_id {
            Some(id) => em.related_assignment(id).await?,
            None => None,
        };
        wire.assignment = Some(assignment.as_ref().map(AccessPackageAssignment::from));
    }
    if query.expands("requestor") {
        let requestor = em.related_subject(&r.requestor_id).await?;
        wire.requestor = Some(requestor.as_ref().map(AccessPackageSubject::from));
    }
    Ok(object(&wire))
}

async fn render_assignment(
    state: &AppState,
    query: &ODataQuery,
    a: &Assignment,
    instances: &[CalloutInstance],
) -> ApiResult<Map<String, Value>> {
    let mut wire = AccessPackageAssignment::new(a, instances);
    let em = &state.entitlement;
    if query.expands("accessPackage") {
        let package = em.related_package(&a.access_package_id).await?;
        wire.access_package = Some(package.as_ref().map(WirePackage::from));
    }
    if query.expands("assignmentPolicy") {
        let policy = em.related_policy(&a.policy_id).await?;
        wire.assignment_policy = Some(policy.as_ref().map(AccessPackageAssignmentPolicy::from));
    }
    if query.expands("target") {
        let target = em.related_subject(&a.target_id).await?;
        wire.target = Some(target.as_ref().map(AccessPackageSubject::from));
    }
    Ok(object(&wire))
}

/// A page of requests as a Graph collection, each rendered with the asked expansions.
pub(super) async fn request_page(
    state: &AppState,
    query: &ODataQuery,
    page: Page<AssignmentRequest>,
) -> ApiResult<Json<Value>> {
    let instances = instances_of(state, page.items.iter().map(|r| r.id.clone()).collect()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for r in &page.items {
        let own = instances.get(&r.id).map_or(&[][..], Vec::as_slice);
        items.push(render_request(state, query, r, own).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/assignmentRequests"),
        REQUEST_TYPE,
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

/// A page of assignments as a Graph collection, each rendered with the asked expansions.
pub(super) async fn assignment_page(
    state: &AppState,
    query: &ODataQuery,
    page: Page<Assignment>,
) -> ApiResult<Json<Value>> {
    let instances = instances_of(state, page.items.iter().map(|a| a.id.clone()).collect()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for a in &page.items {
        let own = instances.get(&a.id).map_or(&[][..], Vec::as_slice);
        items.push(render_assignment(state, query, a, own).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/assignments"),
        ASSIGNMENT_TYPE,
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

pub(super) const REQUEST_EXPANDS: &[&str] = &["accessPackage", "assignment", "requestor"];
pub(super) const ASSIGNMENT_EXPANDS: &[&str] = &["accessPackage", "assignmentPolicy", "target"];

/// `POST /assignmentRequests`: `201` with the request as recorded; delivery continues in the
/// job worker, which this wakes.
pub async fn create_request(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = input(&body)?;
    query.for_create()?;
    let response = idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            // The callouts its transaction made come with it: no read after the commit.
            let submitted = state
                .entitlement
                .create_assignment_request(&auth.caller, &auth.context(), input)
                .await?;
            let rendered =
                AccessPackageAssignmentRequest::new(&submitted.request, &submitted.callouts);
            query.entity(
                &format!("{BASE}/assignmentRequests"),
                REQUEST_TYPE,
                object(&rendered),
            )
        },
    )
    .await;
    state.job_waker.wake();
    response
}

/// `GET …/assignmentRequests/{id}`. With `Prefer: wait=N` it answers when the request's
/// `state` or `status` changes, or after N seconds (at most 60) with the request unchanged, and
/// says `Preference-Applied: wait=N`; without it, an open request carries `Retry-After`
/// (`crate::request_wait`).
pub async fn get_request(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    query.single_entity()?;
    query.check_expand(REQUEST_TYPE, REQUEST_EXPANDS)?;
    let (request, applied) = match request_wait::wait_preference(&headers) {
        Some(seconds) => {
            let waited =
                request_wait::wait_for_request(&state.entitlement, &auth.caller, &id, seconds)
                    .await?;
            (waited.request, waited.waited.then_some(seconds))
        }
        None => (
            state
                .entitlement
                .get_assignment_request(&auth.caller, &id)
                .await?,
            None,
        ),
    };
    let instances = instances_of(&state, vec![request.id.clone()]).await?;
    let own = instances.get(&request.id).map_or(&[][..], Vec::as_slice);
    let rendered = render_request(&state, &query, &request, own).await?;
    let mut response = Json(query.entity(
        &format!("{BASE}/assignmentRequests"),
        REQUEST_TYPE,
        rendered,
    )?)
    .into_response();
    request_wait::wait_headers(
        response.headers_mut(),
        applied,
        state.entitlement.retry_after(&request),
    );
    Ok(response)
}

pub async fn list_requests(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(REQUEST_TYPE, REQUEST_EXPANDS)?;
    let page = state
        .entitlement
        .list_assignment_requests(&auth.caller, &query.list_query())
        .await?;
    request_page(&state, &query, page).await
}

pub async fn get_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(ASSIGNMENT_TYPE, ASSIGNMENT_EXPANDS)?;
    let assignment = state.entitlement.get_assignment(&auth.caller, &id).await?;
    let instances = instances_of(&state, vec![assignment.id.clone()]).await?;
    let own = instances.get(&assignment.id).map_or(&[][..], Vec::as_slice);
    let rendered = render_assignment(&state, &query, &assignment, own).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/assignments"),
        ASSIGNMENT_TYPE,
        rendered,
    )?))
}

pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(ASSIGNMENT_TYPE, ASSIGNMENT_EXPANDS)?;
    let page = state
        .entitlement
        .list_assignments(&auth.caller, &query.list_query())
        .await?;
    assignment_page(&state, &query, page).await
}

/// The arguments of a bound function in the path, `name='value',name2='value2'` (the quotes may
/// come percent-encoded; the path extractor has decoded them), checked against the names the
/// function takes.
fn function_arguments(text: &str, allowed: &[&str]) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(ApiError::bad_request(format!(
                "function argument '{part}' is not name='value'"
            )));
        };
        let name = name.trim();
        if !allowed.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "unknown function parameter '{name}' (expected {})",
                allowed.join(", ")
            )));
        }
        let value = value.trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value);
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

const ADDITIONAL_ACCESS_PARAMETERS: [&str; 2] = ["accessPackageId", "incompatibleAccessPackageId"];

/// The parameters of `additionalAccess`, for the route table's documentation.
pub fn additional_access_parameters() -> Vec<FunctionParameter> {
    ADDITIONAL_ACCESS_PARAMETERS
        .iter()
        .map(|name| FunctionParameter {
            name,
            values: Vec::new(),
        })
        .collect()
}

/// `GET …/assignments/additionalAccess(accessPackageId='…'[,incompatibleAccessPackageId='…'])`;
/// `arguments` is the text after the opening parenthesis (see `Routes::function`).
pub async fn additional_access(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(arguments): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand(ASSIGNMENT_TYPE, ASSIGNMENT_EXPANDS)?;
    let arguments = arguments.strip_suffix(')').ok_or_else(|| {
        ApiError::bad_request("additionalAccess(…) is missing its closing parenthesis")
    })?;
    let arguments = function_arguments(arguments, &ADDITIONAL_ACCESS_PARAMETERS)?;
    let argument = |name: &str| {
        arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let package = argument("accessPackageId").ok_or_else(|| {
        ApiError::bad_request("additionalAccess needs the parameter accessPackageId")
    })?;
    let page = state
        .entitlement
        .additional_access(
            &auth.caller,
            package,
            argument("incompatibleAccessPackageId"),
            &query.list_query(),
        )
        .await?;
    assignment_page(&state, &query, page).await
}

pub(super) const APPROVALS: &str =
    "identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

/// `GET …/accessPackageAssignmentApprovals/{id}`: the approval of request `id`, its stages inline.
pub async fn get_approval(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("approval", &["stages"])?;
    let stages = state.entitlement.approval(&auth.caller, &id).await?;
    let assigned = state
        .entitlement
        .stage_assigned_to(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        APPROVALS,
        "approval",
        approval_object(&id, &stages, assigned.as_deref()),
    )?))
}

/// An approval: the id of the request it decides, and its stages inline.
pub(super) fn approval_object(
    id: &str,
    stages: &[ApprovalStageRecord],
    assigned: Option<&str>,
) -> Map<String, Value> {
    object(&Approval::new(id, stages, assigned))
}

pub async fn list_stages(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("approvalStage", &[])?;
    let stages = state.entitlement.approval(&auth.caller, &id).await?;
    let assigned = state
        .entitlement
        .stage_assigned_to(&auth.caller, &id)
        .await?;
    let items = stages
        .iter()
        .map(|s| object(&ApprovalStage::new(s, assigned.as_deref())))
        .collect();
    Ok(Json(query.collection(
        &format!("{APPROVALS}('{id}')/stages"),
        "approvalStage",
        Page {
            items,
            next_skiptoken: None,
            count: query.list_query().count.then_some(stages.len() as i64),
        },
    )?))
}

pub async fn get_stage(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path((id, stage_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("approvalStage", &[])?;
    let stage = state
        .entitlement
        .approval_stage(&auth.caller, &id, &stage_id)
        .await?;
    let assigned = state
        .entitlement
        .stage_assigned_to(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        &format!("{APPROVALS}('{id}')/stages"),
        "approvalStage",
        object(&ApprovalStage::new(&stage, assigned.as_deref())),
    )?))
}

/// `PATCH …/stages/{stageId}` with `reviewResult` (`Approve`/`Deny`) and `justification`.
pub async fn decide_stage(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, stage_id)): Path<(String, String)>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let decision = read::<ApprovalStageBody>(&body)?.into_input()?;
    state
        .entitlement
        .decide_stage(&auth.caller, &auth.context(), &id, &stage_id, decision)
        .await?;
    state.job_waker.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/assignmentRequests/{id}/cancel`.
pub async fn cancel_request(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .cancel_request(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/assignmentRequests/{id}/resume`: a custom extension's callback, `{source, type,
/// data}` with `data` an `accessPackageAssignmentRequestCallbackData`.
pub async fn resume_request(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = read::<ResumePostRequestBody>(&body)?.into_input()?;
    state
        .entitlement
        .resume_request(&auth.caller, &auth.context(), &id, input)
        .await?;
    state.job_waker.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/assignmentRequests/{id}/reprocess`.
pub async fn reprocess_request(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .reprocess_request(&auth.caller, &auth.context(), &id)
        .await?;
    state.job_waker.wake();
    Ok(StatusCode::ACCEPTED)
}

/// `POST …/assignments/{id}/reprocess`.
pub async fn reprocess_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .reprocess_assignment(&auth.caller, &auth.context(), &id)
        .await?;
    state.job_waker.wake();
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE …/assignmentRequests/{id}`: refused (history is kept); see the domain for the rule.
pub async fn delete_request(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.entitlement.delete_request(&auth.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r
        .route(Get, "/identityGovernance/entitlementManagement/assignmentRequests", Collection, "List assignment requests", list_requests).returns("accessPackageAssignmentRequest")
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests", Create, "Request, assign or remove access (adminAdd, adminRemove)", create_request).body("accessPackageAssignmentRequestBody").returns("accessPackageAssignmentRequest")
        .route(Delete, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", NoContent, "Delete a request: refused, history is kept (409)", delete_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/cancel", NoContent, "Cancel a request while it is open", cancel_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/resume", NoContent, "A custom extension's callback: resume (or deny) a request waiting on it", resume_request).body("resumePostRequestBody")
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/reprocess", Accepted, "Retry a request whose delivery failed in whole or in part (within 14 days)", reprocess_request)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}", Entity, "The approval of a request, with its stages", get_approval).returns("approval")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages", Collection, "The stages of an approval", list_stages).returns("approvalStage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", Entity, "One stage", get_stage).returns("approvalStage")
        .route(Patch, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", NoContent, "Approve or deny a stage", decide_stage).body("approvalStageBody")
        .route(Get, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", Entity, "Get an assignment request", get_request).returns("accessPackageAssignmentRequest")
            .header("Prefer", "`wait=N` (RFC 7240, N at most 60): answer when the request's state or status changes, or after N seconds")
            .answers_with_header("Preference-Applied", "`wait=N` when the wait was applied")
            .answers_with_header("Retry-After", "seconds until a new read is worth making, on an open request read without a wait")
        .route(Get, "/identityGovernance/entitlementManagement/assignments", Collection, "List assignments", list_assignments).returns("accessPackageAssignment")
        .route(Get, "/identityGovernance/entitlementManagement/assignments/{id}", Entity, "Get an assignment", get_assignment).returns("accessPackageAssignment")
        .function("/identityGovernance/entitlementManagement/assignments", "additionalAccess", additional_access_parameters(), Collection, "Assignments of a package whose targets also hold another (named, or any incompatible one)", additional_access).returns("accessPackageAssignment")
        .route(Post, "/identityGovernance/entitlementManagement/assignments/{id}/reprocess", Accepted, "Re-apply what the assignment grants that is missing", reprocess_assignment)
}
