//! Access evaluation over HTTP (OpenID AuthZEN Authorization API 1.0, DESIGN section 16):
//! `POST /access/v1/evaluation`, `POST /access/v1/evaluations` and the PDP metadata at
//! `/.well-known/authzen-configuration`. This file reads the AuthZEN bodies (with Writ's
//! messages, naming the property) and writes the decisions; who may ask and what is decided are
//! `writ_domain::evaluation`'s.
//!
//! **Bodies.** A request is `{subject: {type, id, properties?}, resource: {type, id,
//! properties?}, action: {name, properties?}, context?}`. `properties` and `context` are free
//! objects (only `resource.properties.resourceId` is read); any other unknown property is a
//! `400`, as on Graph bodies. A batch may give `subject`, `resource`, `action` and `context` at
//! the top level as defaults for each item of `evaluations` (an item's own value replaces the
//! default whole), and `options.evaluations_semantic`; without `evaluations` (or with an empty
//! array) it is one evaluation and answers as `/evaluation` does, as the specification says.
//!
//! **Decisions.** `{decision: true}`, or `{decision: false, context: {reason, message,
//! requestable: […]}}` where each requestable package carries what its policy requires and the
//! assignment request that asks for it (`requestUrl`, `requestBody`). [`decision_json`] is the
//! one rendering; the MCP server's `check_access` uses it too.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use writ_domain::evaluation::{
    ASSIGNMENT_REQUESTS_PATH, Decision, Evaluation, MAX_BATCH, Semantic,
};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json_input::JsonObject;
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{NamedSchema, collect};

/// The longest type, id, name or `resourceId` accepted.
const MAX_TEXT: usize = 256;

/// The routes of access evaluation, outside the Graph prefixes.
pub fn routes(r: Routes) -> Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::Post;
    r.route(
        Post,
        "/access/v1/evaluation",
        Plain,
        "Access evaluation (AuthZEN): whether a principal holds a grant now, and if not, which \
         packages it may request that would grant it",
        evaluation,
    )
    .body("accessEvaluationRequest")
    .returns("accessEvaluationResponse")
    .route(
        Post,
        "/access/v1/evaluations",
        Plain,
        "Access evaluations (AuthZEN): a batch of at most 100, with defaults and \
         options.evaluations_semantic",
        evaluations,
    )
    .body("accessEvaluationsRequest")
    .returns("accessEvaluationsResponse")
}

/// The metadata route, which needs no token.
pub fn metadata_routes(r: Routes) -> Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::Get;
    r.route(
        Get,
        "/.well-known/authzen-configuration",
        Plain,
        "AuthZEN policy decision point metadata",
        configuration,
    )
    .returns("authzenConfiguration")
}

/// `GET /.well-known/authzen-configuration`.
pub async fn configuration(State(state): State<AppState>) -> Json<WireAuthzenConfiguration> {
    let public = state.settings.public_url.trim_end_matches('/');
    Json(WireAuthzenConfiguration {
        policy_decision_point: public.to_owned(),
        access_evaluation_endpoint: format!("{public}/access/v1/evaluation"),
        access_evaluations_endpoint: format!("{public}/access/v1/evaluations"),
    })
}

/// AuthZEN's request identifier: a PEP may send `X-Request-ID`, and the PDP answers with the
/// same value.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `body` with the request's `X-Request-ID` echoed (a value of at most 256 bytes; a longer one
/// is not repeated).
fn answer(headers: &HeaderMap, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Some(id) = headers
        .get(&X_REQUEST_ID)
        .filter(|v| v.len() <= MAX_TEXT)
        .cloned()
    {
        response.headers_mut().insert(X_REQUEST_ID, id);
    }
    response
}

/// `POST /access/v1/evaluation`.
pub async fn evaluation(
    auth: Authenticated,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let fields = &body.fields;
    only(fields, &["subject", "resource", "action", "context"], "")?;
    let evaluation = read_evaluation(fields, None, "")?;
    let decision = state
        .entitlement
        .evaluate(&auth.caller, &evaluation)
        .await?;
    Ok(answer(
        &headers,
        decision_json(&state.settings.public_url, &decision),
    ))
}

/// `POST /access/v1/evaluations`.
pub async fn evaluations(
    auth: Authenticated,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let fields = &body.fields;
    only(
        fields,
        &[
            "subject",
            "resource",
            "action",
            "context",
            "evaluations",
            "options",
        ],
        "",
    )?;
    let semantic = read_semantic(fields.get("options"))?;
    let items = match fields.get("evaluations") {
        None => &Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::bad_request(
                "property 'evaluations' must be an array",
            ));
        }
    };
    let public = &state.settings.public_url;
    if items.is_empty() {
        // No batch: one evaluation, answered as `/evaluation` answers.
        let evaluation = read_evaluation(fields, None, "")?;
        let decision = state
            .entitlement
            .evaluate(&auth.caller, &evaluation)
            .await?;
        return Ok(answer(&headers, decision_json(public, &decision)));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "property 'evaluations' holds {} evaluations; at most {MAX_BATCH} are evaluated in one \
             request",
            items.len()
        )));
    }
    let mut batch = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("evaluations[{i}].");
        let item = item.as_object().ok_or_else(|| {
            ApiError::bad_request(format!("property 'evaluations[{i}]' must be an object"))
        })?;
        only(item, &["subject", "resource", "action", "context"], &at)?;
        batch.push(read_evaluation(item, Some(fields), &at)?);
    }
    let decisions = state
        .entitlement
        .evaluate_batch(&auth.caller, &batch, semantic)
        .await?;
    let evaluations: Vec<Value> = decisions.iter().map(|d| decision_json(public, d)).collect();
    Ok(answer(&headers, json!({ "evaluations": evaluations })))
}

/// A decision as AuthZEN answers it: `{decision}`, with, for `false`, a `context` saying why
/// and which packages the subject may request (`public_url` makes their request URL absolute).
pub fn decision_json(public_url: &str, decision: &Decision) -> Value {
    if decision.decision {
        return json!({ "decision": true });
    }
    let request_url = format!(
        "{}{ASSIGNMENT_REQUESTS_PATH}",
        public_url.trim_end_matches('/')
    );
    let requestable: Vec<Value> = decision
        .requestable
        .iter()
        .map(|p| {
            json!({
                "accessPackageId": p.package_id,
                "accessPackageDisplayName": p.package_name,
                "assignmentPolicyId": p.policy_id,
                "assignmentPolicyDisplayName": p.policy_name,
                "isApprovalRequired": p.approval_required,
                "isRequestorJustificationRequired": p.justification_required,
                "maximumDuration": p.maximum_duration,
                "expirationDateTime": p.expiration_date_time.map(crate::wire::instant),
                "requestUrl": request_url,
                "requestBody": p.request_body(&decision.subject_id),
            })
        })
        .collect();
    let message = if requestable.is_empty() {
        "The subject holds no grant of this access now, and no access package it may request grants it."
    } else {
        "The subject holds no grant of this access now; it may request one of the access packages in 'requestable'."
    };
    json!({
        "decision": false,
        "context": {
            "reason": "notGranted",
            "message": message,
            "requestable": requestable,
        },
    })
}

/// `options.evaluations_semantic`, `execute_all` when absent.
fn read_semantic(options: Option<&Value>) -> ApiResult<Semantic> {
    let Some(options) = options else {
        return Ok(Semantic::ExecuteAll);
    };
    let options = options
        .as_object()
        .ok_or_else(|| ApiError::bad_request("property 'options' must be an object"))?;
    only(options, &["evaluations_semantic"], "options.")?;
    match options.get("evaluations_semantic") {
        None => Ok(Semantic::ExecuteAll),
        Some(Value::String(s)) => Semantic::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "property 'options.evaluations_semantic' must be 'execute_all', \
                 'deny_on_first_deny' or 'permit_on_first_permit', not '{}'",
                clip(s)
            ))
        }),
        Some(_) => Err(ApiError::bad_request(
            "property 'options.evaluations_semantic' must be a string",
        )),
    }
}

/// One evaluation from `item`, each of its parts falling back to `defaults` (the batch's top
/// level); `at` prefixes the properties messages name.
fn read_evaluation(
    item: &Map<String, Value>,
    defaults: Option<&Map<String, Value>>,
    at: &str,
) -> ApiResult<Evaluation> {
    let part = |name: &str| -> ApiResult<(&Map<String, Value>, String)> {
        let (value, prefix) = match (item.get(name), defaults.and_then(|d| d.get(name))) {
            (Some(v), _) => (v, at.to_owned()),
            (None, Some(v)) => (v, String::new()),
            (None, None) => {
                return Err(ApiError::bad_request(if defaults.is_some() {
                    format!(
                        "property '{at}{name}' is required, in the evaluation or at the top level"
                    )
                } else {
                    format!("property '{name}' is required")
                }));
            }
        };
        let object = value.as_object().ok_or_else(|| {
            ApiError::bad_request(format!("property '{prefix}{name}' must be an object"))
        })?;
        Ok((object, prefix))
    };
    let (subject, subject_at) = part("subject")?;
    let (resource, resource_at) = part("resource")?;
    let (action, action_at) = part("action")?;
    let context = item
        .get("context")
        .or_else(|| defaults.and_then(|d| d.get("context")));
    if context.is_some_and(|c| !c.is_object()) {
        return Err(ApiError::bad_request(format!(
            "property '{at}context' must be an object"
        )));
    }

    let subject_at = format!("{subject_at}subject.");
    only(subject, &["type", "id", "properties"], &subject_at)?;
    object_or_absent(subject, "properties", &subject_at)?;
    let subject_type = text(subject, "type", &subject_at)?;
    let subject_id = text(subject, "id", &subject_at)?;

    let resource_at = format!("{resource_at}resource.");
    only(resource, &["type", "id", "properties"], &resource_at)?;
    let properties = object_or_absent(resource, "properties", &resource_at)?;
    let resource_type = text(resource, "type", &resource_at)?;
    let resource_id = text(resource, "id", &resource_at)?;
    let owner = match properties.and_then(|p| p.get("resourceId")) {
        None => None,
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Some(s.as_str()),
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request(format!(
                "property '{resource_at}properties.resourceId' is longer than {MAX_TEXT} characters"
            )));
        }
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "property '{resource_at}properties.resourceId' must be a string"
            )));
        }
    };

    let action_at = format!("{action_at}action.");
    only(action, &["name", "properties"], &action_at)?;
    object_or_absent(action, "properties", &action_at)?;
    let action_name = text(action, "name", &action_at)?;

    Evaluation::new(
        (
            part_at(&subject_at, "subject."),
            part_at(&resource_at, "resource."),
            part_at(&action_at, "action."),
        ),
        (subject_type, subject_id),
        (resource_type, resource_id, owner),
        action_name,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The prefix of a part's path (`evaluations[1].` of `evaluations[1].resource.`).
fn part_at<'a>(full: &'a str, part: &str) -> &'a str {
    full.strip_suffix(part).unwrap_or_default()
}

/// A `400` naming the first property of `object` not in `allowed`.
fn only(object: &Map<String, Value>, allowed: &[&str], at: &str) -> ApiResult<()> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(ApiError::bad_request(format!(
            "property '{at}{}' is not part of this AuthZEN request (expected {})",
            clip(key),
            allowed.join(", ")
        ))),
    }
}

/// The required, non-empty, bounded string property `name`.
fn text<'a>(object: &'a Map<String, Value>, name: &str, at: &str) -> ApiResult<&'a str> {
    match object.get(name) {
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad_request(format!(
            "property '{at}{name}' must not be empty"
        ))),
        Some(Value::String(s)) if s.len() > MAX_TEXT => Err(ApiError::bad_request(format!(
            "property '{at}{name}' is longer than {MAX_TEXT} characters"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::bad_request(format!(
            "property '{at}{name}' must be a string"
        ))),
        None => Err(ApiError::bad_request(format!(
            "property '{at}{name}' is required"
        ))),
    }
}

/// The optional object property `name`.
fn object_or_absent<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> ApiResult<Option<&'a Map<String, Value>>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApiError::bad_request(format!(
            "property '{at}{name}' must be an object"
        ))),
    }
}

/// At most 64 characters of client text in a message.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

// The OpenAPI schemas of the AuthZEN shapes (the handlers read and write JSON directly, with
// the messages above; these describe it).

/// Every schema of access evaluation.
pub fn schemas() -> Vec<NamedSchema> {
    let mut schemas = Vec::new();
    collect::<WireEvaluationRequest>(&mut schemas);
    collect::<WireEvaluationsRequest>(&mut schemas);
    collect::<WireEvaluationResponse>(&mut schemas);
    collect::<WireEvaluationsResponse>(&mut schemas);
    collect::<WireAuthzenConfiguration>(&mut schemas);
    schemas
}

/// An AuthZEN subject: `type` is `agent`, `user` or `servicePrincipal`; `id` its object id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = authzenSubject)]
pub struct WireSubject {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[schema(value_type = Object)]
    pub properties: Option<Value>,
}

/// An AuthZEN resource: `group`, `appRole` (id: the app role id; `properties.resourceId`: the
/// service principal), `directoryRole` (id: the role template id) or `oauth2PermissionScope`
/// (id: the scope value; `properties.resourceId`: the API's service principal).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = authzenResource)]
pub struct WireResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[schema(value_type = Object)]
    pub properties: Option<Value>,
}

/// An AuthZEN action: `member` or `owner` (groups), `assigned` (roles), `granted` (scopes).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = authzenAction)]
pub struct WireAction {
    pub name: String,
    #[schema(value_type = Object)]
    pub properties: Option<Value>,
}

/// `POST /access/v1/evaluation`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationRequest)]
pub struct WireEvaluationRequest {
    pub subject: WireSubject,
    pub resource: WireResource,
    pub action: WireAction,
    #[schema(value_type = Object)]
    pub context: Option<Value>,
}

/// One item of a batch: each part defaults to the batch's top-level one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationItem)]
pub struct WireEvaluationItem {
    pub subject: Option<WireSubject>,
    pub resource: Option<WireResource>,
    pub action: Option<WireAction>,
    #[schema(value_type = Object)]
    pub context: Option<Value>,
}

/// `options` of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationsOptions)]
pub struct WireEvaluationsOptions {
    /// `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`.
    pub evaluations_semantic: Option<String>,
}

/// `POST /access/v1/evaluations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationsRequest)]
pub struct WireEvaluationsRequest {
    pub subject: Option<WireSubject>,
    pub resource: Option<WireResource>,
    pub action: Option<WireAction>,
    #[schema(value_type = Object)]
    pub context: Option<Value>,
    pub evaluations: Option<Vec<WireEvaluationItem>>,
    pub options: Option<WireEvaluationsOptions>,
}

/// A decision; for `false`, `context` has `reason`, `message` and `requestable` (the packages
/// the subject may request that would grant it, with `requestUrl` and `requestBody`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationResponse)]
pub struct WireEvaluationResponse {
    pub decision: bool,
    #[schema(value_type = Object)]
    pub context: Option<Value>,
}

/// The decisions of a batch, in order (fewer than asked when a semantic stopped it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = accessEvaluationsResponse)]
pub struct WireEvaluationsResponse {
    pub evaluations: Vec<WireEvaluationResponse>,
}

/// `/.well-known/authzen-configuration`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = authzenConfiguration)]
pub struct WireAuthzenConfiguration {
    pub policy_decision_point: String,
    pub access_evaluation_endpoint: String,
    pub access_evaluations_endpoint: String,
}
