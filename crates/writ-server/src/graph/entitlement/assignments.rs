//! `…/entitlementManagement/assignmentRequests` and `…/assignments`: the handlers that create,
//! read and list requests and assignments (their wire form is
//! `crate::wire::entitlement::requests`), and the approvals and stages of requests.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::{
    Answer, ApprovalStageRecord, Assignment, AssignmentRequest, AssignmentRequestInput,
    CalloutInstance, RequestSchedule, ResumeInput, StageDecision,
};
use writ_domain::patch::Patch;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::routes::FunctionParameter;
use crate::state::AppState;

use super::BASE;
use crate::wire::entitlement::catalogs::AccessPackage as WirePackage;
use crate::wire::entitlement::policies::AccessPackageAssignmentPolicy;
use crate::wire::entitlement::requests::{
    ANSWER_TYPE, AccessPackageAssignment, AccessPackageAssignmentRequest, AccessPackageSubject,
    Approval, ApprovalStage,
};
use crate::wire::object;

pub(super) const REQUEST_TYPE: &str = "accessPackageAssignmentRequest";
pub(super) const ASSIGNMENT_TYPE: &str = "accessPackageAssignment";

/// An id from `assignment.{flat}` or `assignment.{nested}.{key}`, the two spellings Graph's
/// documents use.
fn assignment_ref(
    assignment: &Map<String, Value>,
    flat: &str,
    nested: &str,
    key: &str,
) -> ApiResult<Option<String>> {
    let from = |value: Option<&Value>, name: String| -> ApiResult<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!(
                "property '{name}' must be a string"
            ))),
        }
    };
    if let Some(id) = from(assignment.get(flat), format!("assignment.{flat}"))? {
        return Ok(Some(id));
    }
    match assignment.get(nested) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => from(inner.get(key), format!("assignment.{nested}.{key}")),
        Some(_) => Err(ApiError::bad_request(format!(
            "property 'assignment.{nested}' must be an object"
        ))),
    }
}

/// Strips the `@odata.type` annotations clients put on complex values.
fn without_annotations(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "@odata.type")
                .map(|(k, v)| (k.clone(), without_annotations(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn input(body: &JsonObject) -> ApiResult<AssignmentRequestInput> {
    body.check_properties(
        REQUEST_TYPE,
        &[
            "requestType",
            "assignment",
            "accessPackageAssignment",
            "justification",
            "schedule",
            "answers",
        ],
    )?;
    let request_type = match body.string("requestType")? {
        Patch::Value(t) => t,
        _ => return Err(ApiError::bad_request("property 'requestType' is required")),
    };
    let assignment = match body.object("assignment")? {
        Patch::Value(a) => a,
        _ => match body.object("accessPackageAssignment")? {
            Patch::Value(a) => a,
            _ => return Err(ApiError::bad_request("property 'assignment' is required")),
        },
    };
    for key in assignment.keys() {
        if !matches!(
            key.as_str(),
            "id" | "targetId"
                | "assignmentPolicyId"
                | "accessPackageId"
                | "target"
                | "assignmentPolicy"
                | "accessPackage"
                | "schedule"
                | "@odata.type"
        ) {
            return Err(ApiError::bad_request(format!(
                "property 'assignment.{key}' is not supported in an assignment request"
            )));
        }
    }
    let answers = match body.fields.get("answers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| answer(i, item))
            .collect::<ApiResult<_>>()?,
        Some(_) => return Err(ApiError::bad_request("property 'answers' must be a list")),
    };
    let schedule = match body.fields.get("schedule") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            serde_json::from_value::<RequestSchedule>(without_annotations(value)).map_err(|e| {
                ApiError::bad_request(format!("property 'schedule' is not valid: {e}"))
            })?,
        ),
    };
    Ok(AssignmentRequestInput {
        request_type,
        access_package_id: assignment_ref(assignment, "accessPackageId", "accessPackage", "id")?,
        policy_id: assignment_ref(assignment, "assignmentPolicyId", "assignmentPolicy", "id")?,
        target_id: assignment_ref(assignment, "targetId", "target", "objectId")?,
        assignment_id: assignment
            .get("id")
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request("property 'assignment.id' must be a string")
                })
            })
            .transpose()?,
        justification: body.string("justification")?.into_option(),
        schedule,
        answers,
    })
}

/// One `accessPackageAnswerString` of a create body: `value`, optional `displayValue`, and the
/// question it answers as `answeredQuestion.id`.
fn answer(index: usize, item: &Value) -> ApiResult<Answer> {
    let bad = |what: &str| ApiError::bad_request(format!("answers[{index}]: {what}"));
    let Value::Object(fields) = item else {
        return Err(bad("must be an object"));
    };
    for (key, value) in fields {
        match key.as_str() {
            "@odata.type"
                if value
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(ANSWER_TYPE)) => {}
            "@odata.type" => {
                return Err(bad(&format!(
                    "only {ANSWER_TYPE} answers are taken, not {value}"
                )));
            }
            "value" | "displayValue" | "answeredQuestion" => {}
            other => {
                return Err(bad(&format!(
                    "property '{other}' is not an answer property"
                )));
            }
        }
    }
    let value = fields
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("property 'value' (a string) is required"))?;
    let display_value = match fields.get("displayValue") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("property 'displayValue' must be a string")),
    };
    let question_id = fields
        .get("answeredQuestion")
        .and_then(|q| q.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("property 'answeredQuestion.id' is required"))?;
    Ok(Answer {
        question_id: question_id.to_owned(),
        question_type: String::new(),
        value: value.to_owned(),
        display_value,
    })
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
            let request = state
                .entitlement
                .create_assignment_request(&auth.caller, &auth.context(), input)
                .await?;
            let instances = instances_of(&state, vec![request.id.clone()]).await?;
            let rendered = AccessPackageAssignmentRequest::new(
                &request,
                instances.get(&request.id).map_or(&[][..], Vec::as_slice),
            );
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

pub async fn get_request(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(REQUEST_TYPE, REQUEST_EXPANDS)?;
    let request = state
        .entitlement
        .get_assignment_request(&auth.caller, &id)
        .await?;
    let instances = instances_of(&state, vec![request.id.clone()]).await?;
    let own = instances.get(&request.id).map_or(&[][..], Vec::as_slice);
    let rendered = render_request(&state, &query, &request, own).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/assignmentRequests"),
        REQUEST_TYPE,
        rendered,
    )?))
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
    body.check_properties("approvalStage", &["reviewResult", "justification"])?;
    let review_result = match body.string("reviewResult")? {
        Patch::Value(v) => v,
        _ => return Err(ApiError::bad_request("property 'reviewResult' is required")),
    };
    state
        .entitlement
        .decide_stage(
            &auth.caller,
            &auth.context(),
            &id,
            &stage_id,
            StageDecision {
                review_result,
                justification: body.string("justification")?.into_option(),
            },
        )
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
    body.check_properties(
        "customExtensionCalloutResponse",
        &["source", "type", "data"],
    )?;
    let data = match body.object("data")? {
        Patch::Value(data) => JsonObject {
            fields: data.clone(),
            raw: Default::default(),
        },
        _ => return Err(ApiError::bad_request("property 'data' is required")),
    };
    data.check_properties(
        "accessPackageAssignmentRequestCallbackData",
        &[
            "stage",
            "customExtensionStageInstanceId",
            "customExtensionStageInstanceDetail",
            "state",
        ],
    )?;
    let input = ResumeInput {
        callback_type: body.string("type")?.into_option(),
        stage: data.string("stage")?.into_option(),
        stage_instance_id: data.string("customExtensionStageInstanceId")?.into_option(),
        detail: data
            .string("customExtensionStageInstanceDetail")?
            .into_option(),
        state: data.string("state")?.into_option(),
    };
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
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests", Create, "Request, assign or remove access (adminAdd, adminRemove)", create_request).body("accessPackageAssignmentRequest").returns("accessPackageAssignmentRequest")
        .route(Delete, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", NoContent, "Delete a request: refused, history is kept (409)", delete_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/cancel", NoContent, "Cancel a request while it is open", cancel_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/resume", NoContent, "A custom extension's callback: resume (or deny) a request waiting on it", resume_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/reprocess", Accepted, "Retry a request whose delivery failed in whole or in part (within 14 days)", reprocess_request)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}", Entity, "The approval of a request, with its stages", get_approval).returns("approval")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages", Collection, "The stages of an approval", list_stages).returns("approvalStage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", Entity, "One stage", get_stage).returns("approvalStage")
        .route(Patch, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", NoContent, "Approve or deny a stage", decide_stage)
        .route(Get, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", Entity, "Get an assignment request", get_request).returns("accessPackageAssignmentRequest")
        .route(Get, "/identityGovernance/entitlementManagement/assignments", Collection, "List assignments", list_assignments).returns("accessPackageAssignment")
        .route(Get, "/identityGovernance/entitlementManagement/assignments/{id}", Entity, "Get an assignment", get_assignment).returns("accessPackageAssignment")
        .function("/identityGovernance/entitlementManagement/assignments", "additionalAccess", additional_access_parameters(), Collection, "Assignments of a package whose targets also hold another (named, or any incompatible one)", additional_access).returns("accessPackageAssignment")
        .route(Post, "/identityGovernance/entitlementManagement/assignments/{id}/reprocess", Accepted, "Re-apply what the assignment grants that is missing", reprocess_assignment)
}
