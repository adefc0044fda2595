//! The MCP server's tools (DESIGN section 16): each declared with its input and output JSON
//! Schema ([`definitions`]) and run by [`call`] as the token's caller, through the same domain
//! operations as the Graph routes (`Entitlement::create_assignment_request` for `userAdd`,
//! `userUpdate` and `userRemove`, `get_assignment_request`) and the agent-facing reads of
//! `writ_domain::entitlement::agent_access`. A person's token acts as that person; the optional
//! `agent_id` names an agent the person sponsors. Changes carry `via: mcp` and the tool's name
//! into their audit records (`RequestContext::via`).
//!
//! Arguments that do not fit a tool's schema, and refusals by the domain, are tool results with
//! `isError: true` and the message (so a model can correct itself), not JSON-RPC errors; only an
//! unknown tool, or arguments that are not an object, are protocol errors.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use writ_domain::DomainError;
use writ_domain::directory::{RequestContext, Via};
use writ_domain::entitlement::{
    Answer, Assignment, AssignmentRequest, AssignmentRequestInput, PolicyRequirements,
    RequestablePackage,
};
use writ_domain::evaluation::Evaluation;
use writ_domain::model::{Expiration, PrincipalKind, RequestSchedule, RequestState, Subject};

use super::{INTERNAL_ERROR, INVALID_PARAMS, RpcResult};
use crate::auth::Authenticated;
use crate::authzen::decision_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{instant, optional_instant};

/// The longest `wait_seconds` `get_request` accepts (as `Prefer: wait` on Graph's route).
pub const MAX_WAIT_SECONDS: u64 = 60;
/// The longest id, justification and answer accepted (the domain bounds them again).
const MAX_ID: u64 = 128;
const MAX_TEXT: u64 = 4000;
const MAX_DURATION: u64 = 64;
/// The most answers one request carries.
const MAX_ANSWERS: u64 = 100;

const REQUESTS: &str = "/v1.0/identityGovernance/entitlementManagement/assignmentRequests";

// ---------------------------------------------------------------------------------------------
// Schemas

fn string(description: &str, max: u64) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "description": description})
}

fn agent_id() -> Value {
    string(
        "Act for this agent identity instead of yourself: a person may name an agent it sponsors or owns. Leave out to act for yourself.",
        MAX_ID,
    )
}

fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn principal_schema() -> Value {
    object_schema(
        json!({
            "id": {"type": "string"},
            "displayName": {"type": "string"},
            "type": {"type": "string", "enum": ["user", "servicePrincipal"]},
            "isAgent": {"type": "boolean"},
        }),
        &["id", "displayName", "type", "isAgent"],
    )
}

fn requirements_schema() -> Value {
    let question = object_schema(
        json!({
            "id": {"type": "string"},
            "text": {"type": "string"},
            "required": {"type": "boolean"},
            "choices": {"type": "array", "items": {"type": "string"}},
            "multipleSelectionAllowed": {"type": "boolean"},
            "pattern": nullable("string"),
        }),
        &[
            "id",
            "text",
            "required",
            "choices",
            "multipleSelectionAllowed",
            "pattern",
        ],
    );
    object_schema(
        json!({
            "policyId": {"type": "string"},
            "policyName": {"type": "string"},
            "approvalRequired": {"type": "boolean"},
            "approvalRequiredForExtension": {"type": "boolean"},
            "justificationRequired": {"type": "boolean"},
            "expiration": {"type": "string"},
            "maximumDuration": nullable("string"),
            "endDateTime": nullable("string"),
            "customDurationAllowed": {"type": "boolean"},
            "questions": {"type": "array", "items": question},
        }),
        &[
            "policyId",
            "policyName",
            "approvalRequired",
            "approvalRequiredForExtension",
            "justificationRequired",
            "expiration",
            "maximumDuration",
            "endDateTime",
            "customDurationAllowed",
            "questions",
        ],
    )
}

fn package_schema() -> Value {
    object_schema(
        json!({
            "id": {"type": "string"},
            "displayName": {"type": "string"},
            "description": nullable("string"),
            "catalogId": {"type": "string"},
            "policies": {"type": "array", "items": requirements_schema()},
        }),
        &["id", "displayName", "description", "catalogId", "policies"],
    )
}

fn request_schema() -> Value {
    object_schema(
        json!({
            "id": {"type": "string"},
            "requestType": {"type": "string"},
            "state": {"type": "string", "enum": ["submitted", "pendingApproval", "scheduled", "delivering", "delivered", "partiallyDelivered", "deliveryFailed", "denied", "canceled"]},
            "status": {"type": "string"},
            "accessPackageId": {"type": "string"},
            "policyId": nullable("string"),
            "targetId": {"type": "string"},
            "assignmentId": nullable("string"),
            "justification": nullable("string"),
            "createdDateTime": {"type": "string"},
            "completedDateTime": nullable("string"),
            "final": {"type": "boolean", "description": "The request will not change any more."},
            "url": {"type": "string", "description": "The request in Writ's Graph API."},
        }),
        &[
            "id",
            "requestType",
            "state",
            "status",
            "accessPackageId",
            "policyId",
            "targetId",
            "assignmentId",
            "justification",
            "createdDateTime",
            "completedDateTime",
            "final",
            "url",
        ],
    )
}

fn assignment_schema() -> Value {
    object_schema(
        json!({
            "id": {"type": "string"},
            "accessPackageId": {"type": "string"},
            "policyId": {"type": "string"},
            "targetId": {"type": "string"},
            "state": {"type": "string"},
            "status": {"type": "string"},
            "startDateTime": {"type": "string"},
            "endDateTime": nullable("string"),
        }),
        &[
            "id",
            "accessPackageId",
            "policyId",
            "targetId",
            "state",
            "status",
            "startDateTime",
            "endDateTime",
        ],
    )
}

fn answers_schema() -> Value {
    json!({
        "type": "object",
        "description": "Answers to the policy's questions, by question id: a string, or for a question allowing several choices a list of choice values.",
        "maxProperties": MAX_ANSWERS,
        "additionalProperties": {
            "oneOf": [
                {"type": "string", "maxLength": MAX_TEXT},
                {"type": "array", "items": {"type": "string", "maxLength": MAX_TEXT}, "maxItems": MAX_ANSWERS},
            ]
        },
    })
}

fn request_output() -> Value {
    object_schema(json!({"request": request_schema()}), &["request"])
}

fn tool(
    name: &str,
    title: &str,
    description: &str,
    input: Value,
    output: Value,
    read_only: bool,
) -> Value {
    json!({
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": input,
        "outputSchema": output,
        "annotations": {
            "title": title,
            "readOnlyHint": read_only,
            "destructiveHint": name == "release_access",
            "idempotentHint": read_only,
            "openWorldHint": false,
        },
    })
}

/// Every tool, as `tools/list` answers it.
pub fn definitions() -> Vec<Value> {
    vec![
        tool(
            "check_access",
            "Check access",
            "Whether you (or an agent you sponsor) hold an access right now — membership or ownership of a group, an app role, a directory role, a delegated scope — and, when not, which access packages would grant it.",
            object_schema(
                json!({
                    "resource": object_schema(json!({
                        "type": {"type": "string", "enum": ["group", "appRole", "directoryRole", "scope"]},
                        "id": string("The group, app role, directory role or scope id.", MAX_ID),
                        "properties": {"type": "object", "description": "What identifies the resource further (the service principal of an app role or scope)."},
                    }), &["type", "id"]),
                    "action": object_schema(json!({
                        "name": {"type": "string", "enum": ["member", "owner", "assigned", "granted"]},
                    }), &["name"]),
                    "agent_id": agent_id(),
                }),
                &["resource", "action"],
            ),
            object_schema(
                json!({
                    "decision": {"type": "boolean"},
                    "context": {"type": "object"},
                }),
                &["decision"],
            ),
            true,
        ),
        tool(
            "list_requestable_packages",
            "List requestable access packages",
            "The access packages you (or an agent you sponsor) may request, each with what its policies require: approval, a justification, answers to questions, the longest duration.",
            object_schema(json!({"agent_id": agent_id()}), &[]),
            object_schema(
                json!({
                    "actingFor": principal_schema(),
                    "packages": {"type": "array", "items": package_schema()},
                }),
                &["actingFor", "packages"],
            ),
            true,
        ),
        tool(
            "describe_package",
            "Describe an access package",
            "What requesting one access package takes under each policy you (or an agent you sponsor) may use: approval, justification, questions with their choices, duration; and the resource roles it grants.",
            object_schema(
                json!({
                    "package_id": string("The access package's id.", MAX_ID),
                    "agent_id": agent_id(),
                }),
                &["package_id"],
            ),
            object_schema(
                json!({
                    "actingFor": principal_schema(),
                    "package": package_schema(),
                    "grants": {"type": "array", "items": {"type": "string"}, "description": "The names of the resource roles the package grants."},
                }),
                &["actingFor", "package", "grants"],
            ),
            true,
        ),
        tool(
            "request_access",
            "Request an access package",
            "Ask for an access package for yourself (or for an agent you sponsor). The request is recorded at once; approval and delivery follow — follow it with get_request.",
            object_schema(
                json!({
                    "package_id": string("The access package's id.", MAX_ID),
                    "policy_id": string("The policy to request under; needed only when the package offers you several.", MAX_ID),
                    "justification": string("Why the access is needed.", MAX_TEXT),
                    "answers": answers_schema(),
                    "duration": string("How long the access should last, as an ISO 8601 duration (PT4H, P1D), where the policy allows a custom duration.", MAX_DURATION),
                    "agent_id": agent_id(),
                }),
                &["package_id"],
            ),
            request_output(),
            false,
        ),
        tool(
            "get_request",
            "Get an access request",
            "The state of an access request: submitted, pendingApproval, scheduled, delivering, delivered, partiallyDelivered, deliveryFailed, denied or canceled. With wait_seconds, waits through the states the server leaves by itself (submitted, delivering) and answers at the first state that waits for a person or a time, or is final (pendingApproval, scheduled, delivered, denied, ...), or after that many seconds.",
            object_schema(
                json!({
                    "request_id": string("The request's id, as request_access returned it.", MAX_ID),
                    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "description": "Wait up to this many seconds for the request to reach a state it rests in."},
                }),
                &["request_id"],
            ),
            request_output(),
            true,
        ),
        tool(
            "list_my_access",
            "List my access",
            "The access packages you (or an agent you sponsor) hold now, with their ends, and the requests still open.",
            object_schema(json!({"agent_id": agent_id()}), &[]),
            object_schema(
                json!({
                    "actingFor": principal_schema(),
                    "assignments": {"type": "array", "items": assignment_schema()},
                    "openRequests": {"type": "array", "items": request_schema()},
                }),
                &["actingFor", "assignments", "openRequests"],
            ),
            true,
        ),
        tool(
            "extend_access",
            "Extend access",
            "Ask to keep an assignment longer (a userUpdate request); it may need approval again.",
            object_schema(
                json!({
                    "assignment_id": string("The assignment's id, as list_my_access shows it.", MAX_ID),
                    "justification": string("Why the access is still needed.", MAX_TEXT),
                    "answers": answers_schema(),
                    "duration": string("How long from now, as an ISO 8601 duration, where the policy allows a custom duration.", MAX_DURATION),
                }),
                &["assignment_id"],
            ),
            request_output(),
            false,
        ),
        tool(
            "release_access",
            "Release access",
            "Give up an assignment now (a userRemove request): the access ends at once.",
            object_schema(
                json!({
                    "assignment_id": string("The assignment's id, as list_my_access shows it.", MAX_ID),
                    "justification": string("Why it is released.", MAX_TEXT),
                }),
                &["assignment_id"],
            ),
            request_output(),
            false,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActingArgs {
    agent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DescribeArgs {
    package_id: String,
    agent_id: Option<String>,
}

/// An answer by question id: one value, or several choices.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AnswerValue {
    One(String),
    Several(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestArgs {
    package_id: String,
    policy_id: Option<String>,
    justification: Option<String>,
    #[serde(default)]
    answers: Map<String, Value>,
    duration: Option<String>,
    agent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetRequestArgs {
    request_id: String,
    wait_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendArgs {
    assignment_id: String,
    justification: Option<String>,
    #[serde(default)]
    answers: Map<String, Value>,
    duration: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseArgs {
    assignment_id: String,
    justification: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckArgs {
    resource: CheckResource,
    action: CheckAction,
    agent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckResource {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckAction {
    name: String,
}

/// Why a tool did not run: a message for an `isError` result, or a protocol error.
enum Failure {
    Tool(String),
    Rpc(i64, String),
}

impl From<DomainError> for Failure {
    fn from(err: DomainError) -> Self {
        let error = ApiError::from(err);
        if error.status.is_server_error() {
            // `ApiError::from` has logged the detail; the client learns nothing internal.
            if error.status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
                Failure::Tool(error.message)
            } else {
                Failure::Rpc(INTERNAL_ERROR, "internal error".into())
            }
        } else {
            Failure::Tool(error.message)
        }
    }
}

type ToolResult = Result<Value, Failure>;

fn invalid(message: impl Into<String>) -> Failure {
    Failure::Tool(message.into())
}

/// The arguments as `T`, with the bounds of the schema checked: a message naming what is wrong.
fn arguments<T: DeserializeOwned>(arguments: &Value) -> Result<T, Failure> {
    let value = if arguments.is_null() {
        json!({})
    } else {
        arguments.clone()
    };
    check_strings(&value, "")?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            invalid(format!("invalid arguments: {inner}"))
        } else {
            invalid(format!("invalid argument '{path}': {inner}"))
        }
    })
}

/// Every string in the arguments is within the schema's bounds and free of U+0000 (which
/// PostgreSQL cannot store); ids are short.
fn check_strings(value: &Value, path: &str) -> Result<(), Failure> {
    match value {
        Value::String(text) => {
            let max = if path.ends_with("_id") || path.ends_with(".id") {
                MAX_ID
            } else if path.ends_with("duration") {
                MAX_DURATION
            } else {
                MAX_TEXT
            };
            if text.contains('\0') {
                return Err(invalid(format!("argument '{path}' contains U+0000")));
            }
            if u64::try_from(text.chars().count()).unwrap_or(u64::MAX) > max {
                return Err(invalid(format!(
                    "argument '{path}' is longer than {max} characters"
                )));
            }
            Ok(())
        }
        Value::Array(items) => {
            if u64::try_from(items.len()).unwrap_or(u64::MAX) > MAX_ANSWERS {
                return Err(invalid(format!(
                    "argument '{path}' has more than {MAX_ANSWERS} items"
                )));
            }
            items.iter().try_for_each(|item| check_strings(item, path))
        }
        Value::Object(map) => {
            if u64::try_from(map.len()).unwrap_or(u64::MAX) > MAX_ANSWERS {
                return Err(invalid(format!(
                    "argument '{path}' has more than {MAX_ANSWERS} properties"
                )));
            }
            map.iter().try_for_each(|(key, item)| {
                if key.contains('\0') || key.len() > 256 {
                    return Err(invalid(format!("argument '{path}' has an invalid key")));
                }
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                check_strings(item, &inner)
            })
        }
        _ => Ok(()),
    }
}

/// Answers by question id as the domain's answers (one per chosen value).
fn answers(map: Map<String, Value>) -> Result<Vec<Answer>, Failure> {
    let mut out = Vec::new();
    for (question_id, value) in map {
        let values = match serde_json::from_value::<AnswerValue>(value) {
            Ok(AnswerValue::One(v)) => vec![v],
            Ok(AnswerValue::Several(vs)) => vs,
            Err(_) => {
                return Err(invalid(format!(
                    "the answer to '{question_id}' must be a string or a list of strings"
                )));
            }
        };
        for value in values {
            out.push(Answer {
                question_id: question_id.clone(),
                question_type: String::new(),
                value,
                display_value: None,
            });
        }
    }
    Ok(out)
}

/// A requested duration as the request's schedule; none asks for the policy's own.
fn schedule(duration: Option<String>) -> Option<RequestSchedule> {
    duration.map(|duration| RequestSchedule {
        start_date_time: None,
        expiration: Expiration {
            kind: "afterDuration".into(),
            duration: Some(duration),
            end_date_time: None,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Results

fn principal(subject: &Subject) -> Value {
    json!({
        "id": subject.id,
        "displayName": subject.display_name,
        "type": match subject.kind {
            writ_domain::model::PrincipalKind::User => "user",
            writ_domain::model::PrincipalKind::ServicePrincipal => "servicePrincipal",
        },
        "isAgent": subject.is_agent,
    })
}

fn requirements(r: &PolicyRequirements) -> Value {
    json!({
        "policyId": r.policy_id,
        "policyName": r.policy_name,
        "approvalRequired": r.approval_required,
        "approvalRequiredForExtension": r.approval_required_for_extension,
        "justificationRequired": r.justification_required,
        "expiration": r.expiration,
        "maximumDuration": r.maximum_duration,
        "endDateTime": optional_instant(r.end_date_time),
        "customDurationAllowed": r.custom_duration_allowed,
        "questions": r.questions.iter().map(|q| json!({
            "id": q.id,
            "text": q.text,
            "required": q.required,
            "choices": q.choices,
            "multipleSelectionAllowed": q.multiple_selection_allowed,
            "pattern": q.pattern,
        })).collect::<Vec<_>>(),
    })
}

fn package(p: &RequestablePackage) -> Value {
    json!({
        "id": p.package.id,
        "displayName": p.package.display_name,
        "description": p.package.description,
        "catalogId": p.package.catalog_id,
        "policies": p.policies.iter().map(|policy| requirements(&PolicyRequirements::of(policy))).collect::<Vec<_>>(),
    })
}

fn request(state: &AppState, r: &AssignmentRequest) -> Value {
    json!({
        "id": r.id,
        "requestType": r.request_type.as_str(),
        "state": r.state.as_str(),
        "status": r.status,
        "accessPackageId": r.access_package_id,
        "policyId": r.policy_id,
        "targetId": r.target_id,
        "assignmentId": r.assignment_id,
        "justification": r.justification,
        "createdDateTime": instant(r.created_date_time),
        "completedDateTime": optional_instant(r.completed_date_time),
        "final": r.completed_date_time.is_some(),
        "url": format!("{}{REQUESTS}/{}", state.settings.public_url, r.id),
    })
}

fn assignment(a: &Assignment) -> Value {
    json!({
        "id": a.id,
        "accessPackageId": a.access_package_id,
        "policyId": a.policy_id,
        "targetId": a.target_id,
        "state": a.state.as_str(),
        "status": a.status,
        "startDateTime": instant(a.start_date_time),
        "endDateTime": optional_instant(a.end_date_time),
    })
}

/// A successful result: the structured content, and the same JSON as text for clients that
/// read only `content`.
fn success(structured: Value) -> Value {
    json!({
        "content": [{"type": "text", "text": structured.to_string()}],
        "structuredContent": structured,
        "isError": false,
    })
}

fn tool_error(message: &str) -> Value {
    json!({
        "content": [{"type": "text", "text": message}],
        "isError": true,
    })
}

// ---------------------------------------------------------------------------------------------
// Calls

/// `tools/call`: runs the named tool with its arguments as `auth`'s caller.
pub async fn call(state: &AppState, auth: &Authenticated, params: &Value) -> RpcResult {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err((INVALID_PARAMS, "tools/call needs the tool's name".into()));
    };
    let args = params.get("arguments").cloned().unwrap_or(Value::Null);
    if !(args.is_object() || args.is_null()) {
        return Err((INVALID_PARAMS, "arguments must be an object".into()));
    }
    let ctx = RequestContext {
        request_id: Some(auth.request_id.clone()),
        via: Some(Via {
            interface: "mcp",
            operation: name.to_owned(),
        }),
    };
    let outcome = match name {
        "check_access" => check_access(state, auth, &args).await,
        "list_requestable_packages" => list_requestable_packages(state, auth, &args).await,
        "describe_package" => describe_package(state, auth, &args).await,
        "request_access" => request_access(state, auth, &ctx, &args).await,
        "get_request" => get_request(state, auth, &args).await,
        "list_my_access" => list_my_access(state, auth, &args).await,
        "extend_access" => extend_access(state, auth, &ctx, &args).await,
        "release_access" => release_access(state, auth, &ctx, &args).await,
        _ => {
            return Err((
                INVALID_PARAMS,
                format!(
                    "unknown tool '{}'",
                    name.chars().take(64).collect::<String>()
                ),
            ));
        }
    };
    match outcome {
        Ok(structured) => Ok(success(structured)),
        Err(Failure::Tool(message)) => Ok(tool_error(&message)),
        Err(Failure::Rpc(code, message)) => Err((code, message)),
    }
}

/// Access evaluation (DESIGN section 16) of the acting subject, as `POST /access/v1/evaluation`
/// decides it and with the same `context` on a denial. The tool names a delegated scope `scope`
/// (AuthZEN's resource type is `oauth2PermissionScope`).
async fn check_access(state: &AppState, auth: &Authenticated, args: &Value) -> ToolResult {
    let args: CheckArgs = arguments(args)?;
    let em = &state.entitlement;
    let subject = em
        .acting_subject(&auth.caller, args.agent_id.as_deref())
        .await?;
    let subject_type = match (subject.is_agent, subject.kind) {
        (true, _) => "agent",
        (false, PrincipalKind::User) => "user",
        (false, PrincipalKind::ServicePrincipal) => "servicePrincipal",
    };
    let resource_type = match args.resource.kind.as_str() {
        "scope" => "oauth2PermissionScope",
        other => other,
    };
    let owner = args
        .resource
        .properties
        .get("resourceId")
        .and_then(Value::as_str);
    let evaluation = Evaluation::new(
        ("", "", ""),
        (subject_type, &subject.id),
        (resource_type, &args.resource.id, owner),
        &args.action.name,
    )?;
    let decision = em.evaluate(&auth.caller, &evaluation).await?;
    Ok(decision_json(&state.settings.public_url, &decision))
}

async fn list_requestable_packages(
    state: &AppState,
    auth: &Authenticated,
    args: &Value,
) -> ToolResult {
    let args: ActingArgs = arguments(args)?;
    let em = &state.entitlement;
    let target = em
        .acting_subject(&auth.caller, args.agent_id.as_deref())
        .await?;
    let packages = em.requestable_for(&auth.caller, &target).await?;
    Ok(json!({
        "actingFor": principal(&target),
        "packages": packages.iter().map(package).collect::<Vec<_>>(),
    }))
}

async fn describe_package(state: &AppState, auth: &Authenticated, args: &Value) -> ToolResult {
    let args: DescribeArgs = arguments(args)?;
    let em = &state.entitlement;
    let target = em
        .acting_subject(&auth.caller, args.agent_id.as_deref())
        .await?;
    let found = em
        .requestable_package(&auth.caller, &target, &args.package_id)
        .await?;
    let grants = em.portal_package_roles(&found.package.id).await?;
    Ok(json!({
        "actingFor": principal(&target),
        "package": package(&found),
        "grants": grants,
    }))
}

async fn request_access(
    state: &AppState,
    auth: &Authenticated,
    ctx: &RequestContext,
    args: &Value,
) -> ToolResult {
    let args: RequestArgs = arguments(args)?;
    let em = &state.entitlement;
    let target = em
        .acting_subject(&auth.caller, args.agent_id.as_deref())
        .await?;
    let found = em
        .requestable_package(&auth.caller, &target, &args.package_id)
        .await?;
    // The one policy offered is used without being named; with several, the caller chooses.
    let policy_id = match (args.policy_id, found.policies.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => only.id.clone(),
        (None, _) => {
            return Err(invalid(format!(
                "access package '{}' offers several policies: name one with policy_id ({})",
                found.package.display_name,
                found
                    .policies
                    .iter()
                    .map(|p| format!("{} '{}'", p.id, p.display_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let input = AssignmentRequestInput {
        request_type: "userAdd".into(),
        access_package_id: Some(found.package.id.clone()),
        policy_id: Some(policy_id),
        target_id: Some(target.id.clone()),
        assignment_id: None,
        justification: args.justification,
        schedule: schedule(args.duration),
        answers: answers(args.answers)?,
        parameters: None,
    };
    let created = em
        .create_assignment_request(&auth.caller, ctx, input)
        .await?;
    state.job_waker.wake();
    Ok(json!({"request": request(state, &created.request)}))
}

async fn get_request(state: &AppState, auth: &Authenticated, args: &Value) -> ToolResult {
    let args: GetRequestArgs = arguments(args)?;
    let wait = args.wait_seconds.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(invalid(format!(
            "wait_seconds is at most {MAX_WAIT_SECONDS}"
        )));
    }
    let found = state
        .entitlement
        .get_assignment_request(&auth.caller, &args.request_id)
        .await?;
    if wait == 0 || at_rest(found.state) {
        return Ok(json!({"request": request(state, &found)}));
    }
    // An agent waits for an answer it can act on, so the wait runs through the states the worker
    // moves a request out of by itself (`submitted`, `delivering`) and ends at one that waits for
    // a person, a time or nothing more — or at `wait_seconds`. Each step is `Prefer: wait`'s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut latest = found;
    while !at_rest(latest.state) && tokio::time::Instant::now() < deadline {
        latest = state
            .entitlement
            .wait_for_request_change_since(
                &auth.caller,
                &args.request_id,
                Some(&latest),
                tokio::time::sleep_until(deadline),
            )
            .await?
            .request;
    }
    Ok(json!({"request": request(state, &latest)}))
}

/// A state a request rests in until a person, a time or nothing acts: `get_request`'s wait ends
/// there.
fn at_rest(state: RequestState) -> bool {
    !matches!(state, RequestState::Submitted | RequestState::Delivering)
}

async fn list_my_access(state: &AppState, auth: &Authenticated, args: &Value) -> ToolResult {
    let args: ActingArgs = arguments(args)?;
    let (target, held) = state
        .entitlement
        .access_of(&auth.caller, args.agent_id.as_deref())
        .await?;
    Ok(json!({
        "actingFor": principal(&target),
        "assignments": held.assignments.iter().map(assignment).collect::<Vec<_>>(),
        "openRequests": held.open_requests.iter().map(|r| request(state, r)).collect::<Vec<_>>(),
    }))
}

async fn extend_access(
    state: &AppState,
    auth: &Authenticated,
    ctx: &RequestContext,
    args: &Value,
) -> ToolResult {
    let args: ExtendArgs = arguments(args)?;
    let input = AssignmentRequestInput {
        request_type: "userUpdate".into(),
        access_package_id: None,
        policy_id: None,
        target_id: None,
        assignment_id: Some(args.assignment_id),
        justification: args.justification,
        schedule: schedule(args.duration),
        answers: answers(args.answers)?,
        parameters: None,
    };
    let created = state
        .entitlement
        .create_assignment_request(&auth.caller, ctx, input)
        .await?;
    state.job_waker.wake();
    Ok(json!({"request": request(state, &created.request)}))
}

async fn release_access(
    state: &AppState,
    auth: &Authenticated,
    ctx: &RequestContext,
    args: &Value,
) -> ToolResult {
    let args: ReleaseArgs = arguments(args)?;
    let input = AssignmentRequestInput {
        request_type: "userRemove".into(),
        access_package_id: None,
        policy_id: None,
        target_id: None,
        assignment_id: Some(args.assignment_id),
        justification: args.justification,
        schedule: None,
        answers: Vec::new(),
        parameters: None,
    };
    let created = state
        .entitlement
        .create_assignment_request(&auth.caller, ctx, input)
        .await?;
    state.job_waker.wake();
    Ok(json!({"request": request(state, &created.request)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_input_and_output_schema() {
        let tools = definitions();
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "check_access",
                "list_requestable_packages",
                "describe_package",
                "request_access",
                "get_request",
                "list_my_access",
                "extend_access",
                "release_access"
            ]
        );
        for t in &tools {
            assert_eq!(t["inputSchema"]["type"], "object", "{}", t["name"]);
            assert_eq!(t["outputSchema"]["type"], "object", "{}", t["name"]);
        }
    }

    #[test]
    fn arguments_are_bounded_and_typed() {
        let long = "x".repeat(200);
        for (args, expected) in [
            (json!({"package_id": long}), "longer than 128"),
            (json!({"package_id": "p\u{0}"}), "U+0000"),
            (json!({"package_id": 5}), "package_id"),
            (json!({"package_id": "p", "extra": 1}), "extra"),
            (json!({}), "package_id"),
        ] {
            match arguments::<DescribeArgs>(&args) {
                Err(Failure::Tool(message)) => {
                    assert!(message.contains(expected), "{args}: {message}");
                }
                _ => panic!("{args} accepted"),
            }
        }
        assert!(arguments::<ActingArgs>(&Value::Null).is_ok());
    }

    #[test]
    fn answers_take_one_value_or_several() {
        let mut map = Map::new();
        map.insert("q1".into(), json!("text"));
        map.insert("q2".into(), json!(["a", "b"]));
        let got = answers(map).ok().unwrap_or_default();
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|a| (a.question_id.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(pairs, [("q1", "text"), ("q2", "a"), ("q2", "b")]);
        let mut bad = Map::new();
        bad.insert("q".into(), json!(3));
        assert!(answers(bad).is_err());
    }
}
