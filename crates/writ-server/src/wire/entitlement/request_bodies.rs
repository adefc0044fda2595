//! The bodies that act on assignment requests: the one that creates a request (`POST
//! …/assignmentRequests`), an approver's decision on a stage (`PATCH
//! …/accessPackageAssignmentApprovals/{id}/stages/{id}`) and a custom extension's callback
//! (`POST …/assignmentRequests/{id}/resume`), each with its conversion into the domain's input.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use writ_domain::entitlement::{
    Answer, AssignmentRequestInput, RequestParameters, RequestSchedule, ResumeInput, StageDecision,
};
use writ_domain::patch::Patch;

use super::requests::{
    ANSWER_TYPE, AccessPackageAssignmentRequestParameters, EntitlementManagementSchedule,
};
use crate::error::{ApiError, ApiResult};
use crate::json_input::JsonObject;
use crate::wire::body::{WireBody, read};

/// The body that creates an assignment request. `assignment` (or its older spelling
/// `accessPackageAssignment`) names the package, policy and target (`accessPackageId`,
/// `assignmentPolicyId`, `targetId`, or `accessPackage.id`, `assignmentPolicy.id`,
/// `target.objectId`), or for updates and removals the assignment (`id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentRequestBody)]
pub struct AccessPackageAssignmentRequestBody {
    /// `adminAdd`, `adminUpdate`, `adminRemove`, `userAdd`, `userUpdate`, `userRemove`, …;
    /// required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub request_type: Patch<String>,
    /// `accessPackageAssignment`: its ids, as above.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub assignment: Patch<Map<String, Value>>,
    /// `assignment` by the name older documents use; read only when `assignment` is absent.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub access_package_assignment: Patch<Value>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub justification: Patch<String>,
    /// The schedule asked for; read by the domain's model.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<EntitlementManagementSchedule>)]
    pub schedule: Patch<Value>,
    /// `accessPackageAnswerString[]`: `value`, optional `displayValue`, and the question
    /// answered as `answeredQuestion.id`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub answers: Patch<Value>,
    /// `accessPackageAssignmentRequestParameters`: `bypassApproval` (break-glass: `true` is
    /// accepted from Global and Identity Governance Administrators only, `403` otherwise, and
    /// skips approval unless the policy forbids it).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<AccessPackageAssignmentRequestParameters>)]
    pub parameters: Patch<Value>,
}

impl WireBody for AccessPackageAssignmentRequestBody {
    const GRAPH_TYPE: &'static str = "accessPackageAssignmentRequest";
    // `accessPackageAssignment` is looked at only without `assignment` (a value of any type is
    // ignored beside one); the domain's model reads `schedule` (as before this type, from an
    // array too).
    const UNCHECKED: &'static [&'static str] = &["accessPackageAssignment", "schedule"];
}

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

/// `parameters` of a create body: an object with at most `bypassApproval` (a boolean or `null`)
/// and `@odata.type`; `null` or absent is none.
fn parameters(value: Patch<Value>) -> ApiResult<Option<RequestParameters>> {
    let fields = match value {
        Patch::Absent | Patch::Null => return Ok(None),
        Patch::Value(Value::Object(fields)) => fields,
        Patch::Value(_) => {
            return Err(ApiError::bad_request(
                "property 'parameters' must be an object",
            ));
        }
    };
    let mut parameters = RequestParameters::default();
    for (key, value) in &fields {
        match (key.as_str(), value) {
            ("@odata.type", Value::String(t))
                if t.trim_start_matches('#').eq_ignore_ascii_case(
                    "microsoft.graph.accessPackageAssignmentRequestParameters",
                ) => {}
            ("@odata.type", _) => {
                return Err(ApiError::bad_request(format!(
                    "parameters: @odata.type {value} is not #microsoft.graph.accessPackageAssignmentRequestParameters"
                )));
            }
            ("bypassApproval", Value::Bool(b)) => parameters.bypass_approval = Some(*b),
            ("bypassApproval", Value::Null) => {}
            ("bypassApproval", _) => {
                return Err(ApiError::bad_request(
                    "property 'parameters.bypassApproval' must be a boolean",
                ));
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "Property '{other}' does not exist on type 'microsoft.graph.accessPackageAssignmentRequestParameters'."
                )));
            }
        }
    }
    Ok(Some(parameters))
}

impl AccessPackageAssignmentRequestBody {
    /// The domain's input: the ids the assignment names, the answers and the schedule.
    pub fn into_input(self) -> ApiResult<AssignmentRequestInput> {
        let request_type = match self.request_type {
            Patch::Value(t) => t,
            _ => return Err(ApiError::bad_request("property 'requestType' is required")),
        };
        let assignment = match self.assignment {
            Patch::Value(a) => a,
            _ => match self.access_package_assignment {
                Patch::Value(Value::Object(a)) => a,
                Patch::Value(_) => {
                    return Err(ApiError::bad_request(
                        "property 'accessPackageAssignment' must be an object",
                    ));
                }
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
        let answers = match self.answers {
            Patch::Absent | Patch::Null => Vec::new(),
            Patch::Value(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| answer(i, item))
                .collect::<ApiResult<_>>()?,
            Patch::Value(_) => {
                return Err(ApiError::bad_request("property 'answers' must be a list"));
            }
        };
        let schedule = match self.schedule {
            Patch::Absent | Patch::Null => None,
            Patch::Value(value) => Some(
                serde_json::from_value::<RequestSchedule>(without_annotations(&value)).map_err(
                    |e| ApiError::bad_request(format!("property 'schedule' is not valid: {e}")),
                )?,
            ),
        };
        Ok(AssignmentRequestInput {
            request_type,
            access_package_id: assignment_ref(
                &assignment,
                "accessPackageId",
                "accessPackage",
                "id",
            )?,
            policy_id: assignment_ref(&assignment, "assignmentPolicyId", "assignmentPolicy", "id")?,
            target_id: assignment_ref(&assignment, "targetId", "target", "objectId")?,
            assignment_id: assignment
                .get("id")
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::bad_request("property 'assignment.id' must be a string")
                    })
                })
                .transpose()?,
            justification: self.justification.into_option(),
            schedule,
            answers,
            parameters: parameters(self.parameters)?,
        })
    }
}

/// The body of an approver's decision on a stage: Graph's `approvalStage`, of which only these
/// two properties are writable.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = approvalStageBody)]
pub struct ApprovalStageBody {
    /// `Approve` or `Deny`; required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub review_result: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub justification: Patch<String>,
}

impl WireBody for ApprovalStageBody {
    const GRAPH_TYPE: &'static str = "approvalStage";
}

impl ApprovalStageBody {
    /// The domain's decision.
    pub fn into_input(self) -> ApiResult<StageDecision> {
        let review_result = match self.review_result {
            Patch::Value(v) => v,
            _ => return Err(ApiError::bad_request("property 'reviewResult' is required")),
        };
        Ok(StageDecision {
            review_result,
            justification: self.justification.into_option(),
        })
    }
}

/// `accessPackageAssignmentRequestCallbackData`: what a custom extension reports back (the
/// `data` of a resume body).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentRequestCallbackData)]
pub struct AccessPackageAssignmentRequestCallbackData {
    /// The stage the extension ran at (`assignmentRequestCreated`, …).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub stage: Patch<String>,
    /// The id of the callout instance being resumed.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub custom_extension_stage_instance_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub custom_extension_stage_instance_detail: Patch<String>,
    /// `Denied` or `Canceled` end the request; anything else (or nothing) lets it proceed.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub state: Patch<String>,
}

impl WireBody for AccessPackageAssignmentRequestCallbackData {
    const GRAPH_TYPE: &'static str = "accessPackageAssignmentRequestCallbackData";
}

/// The body of `resume` (`ResumePostRequestBody` in Graph's SDKs): `{source, type, data}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = resumePostRequestBody)]
pub struct ResumePostRequestBody {
    /// Who calls back; not read, and taken whatever its JSON type.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub source: Patch<Value>,
    /// E.g. `microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated`.
    #[serde(rename = "type")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub callback_type: Patch<String>,
    /// Required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<AccessPackageAssignmentRequestCallbackData>)]
    pub data: Patch<Map<String, Value>>,
}

impl WireBody for ResumePostRequestBody {
    // The name Writ's messages have always given the body.
    const GRAPH_TYPE: &'static str = "customExtensionCalloutResponse";
    // `source` was never read, so never type-checked: a value of any type is still taken.
    const UNCHECKED: &'static [&'static str] = &["source"];
}

impl ResumePostRequestBody {
    /// The domain's input, `data` read as an `accessPackageAssignmentRequestCallbackData`.
    pub fn into_input(self) -> ApiResult<ResumeInput> {
        let data = match self.data {
            Patch::Value(fields) => JsonObject {
                fields,
                raw: Default::default(),
            },
            _ => return Err(ApiError::bad_request("property 'data' is required")),
        };
        let data = read::<AccessPackageAssignmentRequestCallbackData>(&data)?;
        Ok(ResumeInput {
            callback_type: self.callback_type.into_option(),
            stage: data.stage.into_option(),
            stage_instance_id: data.custom_extension_stage_instance_id.into_option(),
            detail: data.custom_extension_stage_instance_detail.into_option(),
            state: data.state.into_option(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> JsonObject {
        JsonObject {
            fields: value.as_object().cloned().unwrap_or_default(),
            raw: Default::default(),
        }
    }

    fn refusal<T: WireBody, I>(value: Value, convert: fn(T) -> ApiResult<I>) -> String {
        match read::<T>(&body(value)).and_then(convert) {
            Ok(_) => "read".to_owned(),
            Err(e) => e.message,
        }
    }

    #[test]
    fn a_request_reads_what_it_always_took() {
        let input = read::<AccessPackageAssignmentRequestBody>(&body(json!({
            "requestType": "adminAdd",
            "assignment": {"accessPackage": {"id": "p"}, "assignmentPolicyId": "a", "target": {"objectId": "t"}},
            "accessPackageAssignment": 5,
            "schedule": [],
            "answers": [{"value": "x", "answeredQuestion": {"id": "q"}}],
        })))
        .and_then(AccessPackageAssignmentRequestBody::into_input)
        .unwrap();
        assert_eq!(input.access_package_id.as_deref(), Some("p"));
        assert_eq!(input.policy_id.as_deref(), Some("a"));
        assert_eq!(input.target_id.as_deref(), Some("t"));
        assert_eq!(input.schedule, Some(RequestSchedule::default()));
        assert_eq!(input.answers[0].question_id, "q");
        let convert = AccessPackageAssignmentRequestBody::into_input;
        assert_eq!(
            refusal(json!({"assignment": {}}), convert),
            "property 'requestType' is required"
        );
        assert_eq!(
            refusal(
                json!({"requestType": "adminAdd", "accessPackageAssignment": 5}),
                convert
            ),
            "property 'accessPackageAssignment' must be an object"
        );
        assert_eq!(
            refusal(
                json!({"requestType": "adminAdd", "assignment": {}, "answers": {}}),
                convert
            ),
            "property 'answers' must be a list"
        );
        assert_eq!(
            refusal(
                json!({"requestType": "adminAdd", "assignment": {"grantAll": true}}),
                convert
            ),
            "property 'assignment.grantAll' is not supported in an assignment request"
        );
    }

    #[test]
    fn decisions_and_callbacks_name_their_properties() {
        let decide = ApprovalStageBody::into_input;
        assert_eq!(
            refusal(json!({"justification": "ok"}), decide),
            "property 'reviewResult' is required"
        );
        assert_eq!(
            refusal(json!({"reviewResult": "Approve", "reviewedBy": {}}), decide),
            "Property 'reviewedBy' does not exist on type 'microsoft.graph.approvalStage' or cannot be written."
        );
        let resume = ResumePostRequestBody::into_input;
        assert_eq!(
            refusal(json!({"source": 5}), resume),
            "property 'data' is required"
        );
        assert_eq!(
            refusal(json!({"data": "x"}), resume),
            "property 'data' must be an object"
        );
        assert_eq!(
            refusal(json!({"data": {"status": "x"}}), resume),
            "Property 'status' does not exist on type 'microsoft.graph.accessPackageAssignmentRequestCallbackData' or cannot be written."
        );
        let input = read::<ResumePostRequestBody>(&body(json!({
            "source": 5, "type": "t",
            "data": {"@odata.type": "microsoft.graph.accessPackageAssignmentRequestCallbackData", "state": "Denied", "customExtensionStageInstanceId": "i"},
        })))
        .and_then(ResumePostRequestBody::into_input)
        .unwrap();
        assert_eq!(input.callback_type.as_deref(), Some("t"));
        assert_eq!(input.state.as_deref(), Some("Denied"));
        assert_eq!(input.stage_instance_id.as_deref(), Some("i"));
    }
}
