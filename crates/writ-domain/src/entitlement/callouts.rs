//! Calls to a catalog's custom workflow extensions (DESIGN section 8): a policy's
//! `customExtensionStageSettings` name an extension per stage; reaching the stage writes a
//! callout row, in the transaction of the change that reached it, holding the body exactly as it
//! will be POSTed (Graph's `customExtensionCalloutRequest`). The callout dispatcher sends it with
//! the webhooks' retry rules ([`crate::dispatch`]); a resend after a crash carries the same body
//! and stage-instance id.
//!
//! "Launch and wait" (an extension with `callbackConfiguration`, at the two stages Entra lets
//! wait: request created and request approved) holds the request at status
//! `WaitingForCallback` until `POST …/assignmentRequests/{id}/resume` carries the callout's
//! stage-instance id, or until the callback timeout denies it (`CalloutTimedOut`). A callout
//! that cannot be delivered at all denies its waiting request at once (`CalloutFailed`) rather
//! than leaving it to the timeout. The stage-instance id is the `resume` secret: 128 random bits,
//! sent only to the extension and shown only to those who may read the request.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Entitlement;
use super::records::{Transition, request_audit, transition};

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::dispatch::{Claimed, DeliveryQueue, Pacing, PassReport, run_pass};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    AccessPackage, Actor, Assignment, AssignmentPolicy, AssignmentRequest,
    AuthenticationConfiguration, CallbackState, Callout, CalloutInstance, CalloutStage, Catalog,
    ClaimedCallout, CustomExtension, DeliveryState, EndpointConfiguration, JobKind, NewJob,
    OutboxEvent, PrincipalKind, RequestState, RequestStatus, StatusReason, Subject,
};

use crate::dispatch::SendOutcome;
use crate::model::{AttemptRecord, NextStep};
use crate::store::StoreResult;

impl Callout {
    /// Whether `caller` is the service principal the extension names: the audience of its
    /// tokens (`azureAdTokenAuthentication.resourceId`), as an appId or an object id.
    fn is_extension_principal(&self, caller: &Caller) -> bool {
        caller.kind == PrincipalKind::ServicePrincipal
            && caller.enabled
            && self
                .token_audience
                .as_deref()
                .is_some_and(|aud| aud == caller.login_name || aud == caller.id)
    }
}

/// A callout's HTTP attempts are its extension's `clientConfiguration` (Graph's defaults where it
/// gives none): the timeout of one attempt, and retries after the first.
const DEFAULT_TIMEOUT_MS: u32 = 30_000;
const DEFAULT_MAX_RETRIES: u32 = 3;
/// How long a launch-and-wait callout waits when its `callbackConfiguration` gives no
/// `timeoutDuration`: Entra's longest.
const DEFAULT_CALLBACK_TIMEOUT: &str = "P14D";

/// The `resume` body (Graph's `customExtensionCalloutResponse` with
/// `accessPackageAssignmentRequestCallbackData`), as the HTTP layer read it.
#[derive(Debug, Clone, Default)]
pub struct ResumeInput {
    /// `type`, e.g. `microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated`.
    pub callback_type: Option<String>,
    pub stage: Option<String>,
    pub stage_instance_id: Option<String>,
    pub detail: Option<String>,
    /// `Denied` or `Canceled` end the request; anything else (or nothing) lets it proceed.
    pub state: Option<String>,
}

/// What the payload names, read before the transaction that writes the callout.
pub(super) enum CalloutOn<'a> {
    Request(&'a AssignmentRequest),
    Assignment {
        assignment: &'a Assignment,
        request: Option<&'a AssignmentRequest>,
    },
}

fn subject_json(subject: Option<&Subject>, id: &str) -> Value {
    match subject {
        Some(s) => json!({
            "id": s.id,
            "objectId": s.id,
            "displayName": s.display_name,
            "principalName": s.principal_name,
            "email": s.mail,
            "subjectType": Subject::subject_type(s.kind),
        }),
        None => json!({ "id": id, "objectId": id }),
    }
}

fn named(id: &str, display_name: &str, description: Option<&str>) -> Value {
    json!({ "id": id, "displayName": display_name, "description": description })
}

fn time_text(t: OffsetDateTime) -> Value {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_or(Value::Null, Value::from)
}

fn assignment_json(assignment: &Assignment, target: Value, policy: &AssignmentPolicy) -> Value {
    json!({
        "id": assignment.id,
        "state": assignment.state.as_str(),
        "status": assignment.status,
        "schedule": {
            "startDateTime": time_text(assignment.start_date_time),
            "expiration": {
                "endDateTime": assignment.end_date_time.map_or(Value::Null, time_text),
                "type": if assignment.end_date_time.is_some() { "afterDateTime" } else { "noExpiration" },
            },
        },
        "target": target,
        "assignmentPolicy": named(&policy.id, &policy.display_name, policy.description.as_deref()),
    })
}

/// The parts of a payload read from the store.
struct PayloadParts<'a> {
    id: &'a str,
    stage: CalloutStage,
    waits: Option<&'a str>,
    package: &'a AccessPackage,
    catalog: &'a Catalog,
    policy: &'a AssignmentPolicy,
    on: &'a CalloutOn<'a>,
    target: Option<&'a Subject>,
    requestor: Option<&'a Subject>,
}

/// Graph's `customExtensionCalloutRequest`: `source`, `type` and `data`, an
/// `accessPackageAssignmentRequestCalloutData` at request stages and an
/// `accessPackageAssignmentCalloutData` at the expiration stages.
fn payload(parts: &PayloadParts<'_>) -> Value {
    let stage = parts.stage.as_str();
    let mut data = serde_json::Map::new();
    data.insert("stage".into(), Value::from(stage));
    data.insert(
        "customExtensionStageInstanceId".into(),
        Value::from(parts.id),
    );
    data.insert(
        "callbackConfiguration".into(),
        parts.waits.map_or(Value::Null, |timeout| {
            json!({
                "@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration",
                "timeoutDuration": timeout,
            })
        }),
    );
    data.insert(
        "accessPackage".into(),
        named(
            &parts.package.id,
            &parts.package.display_name,
            parts.package.description.as_deref(),
        ),
    );
    data.insert(
        "accessPackageCatalog".into(),
        named(
            &parts.catalog.id,
            &parts.catalog.display_name,
            parts.catalog.description.as_deref(),
        ),
    );
    let (request, assignment) = match parts.on {
        CalloutOn::Request(request) => (Some(*request), None),
        CalloutOn::Assignment {
            assignment,
            request,
        } => (*request, Some(*assignment)),
    };
    let target_id = request
        .map(|r| r.target_id.as_str())
        .or(assignment.map(|a| a.target_id.as_str()))
        .unwrap_or_default();
    let target = subject_json(parts.target, target_id);
    let source;
    if parts.stage.of_assignment() {
        let assignment_id = assignment.map(|a| a.id.as_str()).unwrap_or_default();
        source = format!("/identityGovernance/entitlementManagement/assignments/{assignment_id}");
        data.insert(
            "@odata.type".into(),
            Value::from("#microsoft.graph.accessPackageAssignmentCalloutData"),
        );
        data.insert(
            "accessPackageAssignmentRequestId".into(),
            request.map_or(Value::Null, |r| Value::from(r.id.clone())),
        );
    } else {
        let request_id = request.map(|r| r.id.as_str()).unwrap_or_default();
        source =
            format!("/identityGovernance/entitlementManagement/assignmentRequests/{request_id}");
        data.insert(
            "@odata.type".into(),
            Value::from("#microsoft.graph.accessPackageAssignmentRequestCalloutData"),
        );
        data.insert(
            "accessPackageAssignmentRequestId".into(),
            Value::from(request_id),
        );
        data.insert(
            "callbackUriPath".into(),
            parts.waits.map_or(Value::Null, |_| {
                Value::from(format!(
                    "/identityGovernance/entitlementManagement/assignmentRequests/{request_id}/resume"
                ))
            }),
        );
        if let Some(r) = request {
            data.insert("requestType".into(), Value::from(r.request_type.as_str()));
            data.insert("state".into(), Value::from(r.state.as_str()));
            data.insert("status".into(), Value::from(r.status.clone()));
            data.insert(
                "answers".into(),
                Value::Array(
                    r.answers
                        .iter()
                        .map(|a| {
                            json!({
                                "value": a.value,
                                "displayValue": a.display_value,
                                "answeredQuestion": {"id": a.question_id},
                            })
                        })
                        .collect(),
                ),
            );
            data.insert(
                "requestor".into(),
                subject_json(parts.requestor, &r.requestor_id),
            );
        }
    }
    data.insert(
        "assignment".into(),
        match assignment {
            Some(a) => assignment_json(a, target, parts.policy),
            // Before delivery, the assignment the request asks for.
            None => json!({
                "target": target,
                "assignmentPolicy": named(&parts.policy.id, &parts.policy.display_name, parts.policy.description.as_deref()),
            }),
        },
    );
    json!({
        "source": source,
        "type": format!("microsoft.graph.accessPackageCustomExtensionStage.{stage}"),
        "data": Value::Object(data),
    })
}

impl Entitlement {
    /// The callout `policy` makes at `stage` for what `on` names, if its
    /// `customExtensionStageSettings` configure one and the extension still exists; read before
    /// the transaction that reaches the stage, which writes it with [`write_callout`].
    pub(super) async fn plan_callout(
        &self,
        policy: &AssignmentPolicy,
        stage: CalloutStage,
        on: CalloutOn<'_>,
        now: OffsetDateTime,
    ) -> DomainResult<Option<Callout>> {
        let Some(setting) = policy
            .settings
            .custom_extension_stage_settings
            .iter()
            .find(|s| CalloutStage::parse(&s.stage) == Some(stage))
        else {
            return Ok(None);
        };
        let Some(extension) = self
            .store
            .custom_extension(&setting.custom_extension.id)
            .await?
        else {
            return Ok(None);
        };
        let package = self.store.access_package(&policy.access_package_id).await?;
        let catalog = self.store.catalog(&policy.catalog_id).await?;
        let (Some(package), Some(catalog)) = (package, catalog) else {
            return Ok(None);
        };
        let (request, assignment) = match &on {
            CalloutOn::Request(r) => (Some(*r), None),
            CalloutOn::Assignment {
                assignment,
                request,
            } => (*request, Some(*assignment)),
        };
        let target_id = request
            .map(|r| r.target_id.clone())
            .or(assignment.map(|a| a.target_id.clone()))
            .unwrap_or_default();
        let target = self.subject(&target_id).await?;
        let requestor = match request {
            Some(r) => self.subject(&r.requestor_id).await?,
            None => None,
        };
        let waits = stage.may_wait()
            && extension.settings.callback_configuration.is_some()
            && request.is_some();
        let timeout_text = waits.then(|| callback_timeout(&extension));
        let id = new_stage_instance_id();
        let payload = payload(&PayloadParts {
            id: &id,
            stage,
            waits: timeout_text.as_deref(),
            package: &package,
            catalog: &catalog,
            policy,
            on: &on,
            target: target.as_ref(),
            requestor: requestor.as_ref(),
        });
        let mut callout = callout_of(&extension, id, stage, payload, now);
        callout.request_id = request.map(|r| r.id.clone());
        callout.assignment_id = assignment.map(|a| a.id.clone());
        if waits {
            callout.callback_state = CallbackState::Waiting;
        }
        Ok(Some(callout))
    }

    /// `POST assignmentRequests/{id}/resume`: the extension's callback for a launch-and-wait
    /// callout. Allowed to a catalog administrator and to the service principal the extension
    /// names, never to the request's requestor or target. A denial ends the request; otherwise it
    /// proceeds from where it waited.
    pub async fn resume_request(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        request_id: &str,
        input: ResumeInput,
    ) -> DomainResult<()> {
        let not_found = || DomainError::not_found("accessPackageAssignmentRequest", request_id);
        let request = self
            .store
            .assignment_request(request_id)
            .await?
            .ok_or_else(not_found)?;
        let instance_id = input
            .stage_instance_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let callout = match instance_id {
            Some(id) => self
                .store
                .callout(id)
                .await?
                .filter(|c| c.request_id.as_deref() == Some(request_id)),
            None => None,
        };
        let is_party = caller.id == request.requestor_id || caller.id == request.target_id;
        let extension_principal = callout
            .as_ref()
            .is_some_and(|c| c.is_extension_principal(caller));
        if !extension_principal || is_party {
            // Anyone else must be able to read the request (404 otherwise) and administer its
            // catalog (403 otherwise).
            self.get_assignment_request(caller, request_id).await?;
            if is_party {
                return Err(DomainError::forbidden(
                    "the requestor or target of a request never resumes it",
                ));
            }
            if !caller.catalog_rights(&request.catalog_id).manage_catalog {
                return Err(DomainError::forbidden(
                    "only a catalog administrator or the extension's service principal resumes a request",
                ));
            }
        }
        let Some(instance_id) = instance_id else {
            return Err(DomainError::invalid(
                "data.customExtensionStageInstanceId is required",
            ));
        };
        let callout = callout.ok_or_else(|| {
            DomainError::invalid(format!(
                "'{instance_id}' is not a custom extension callout of this request"
            ))
        })?;
        for given in [input.stage.as_deref(), input.callback_type.as_deref()]
            .into_iter()
            .flatten()
        {
            if CalloutStage::parse(given) != Some(callout.stage) {
                return Err(DomainError::invalid(format!(
                    "stage '{given}' is not the callout's stage '{}'",
                    callout.stage.as_str()
                )));
            }
        }
        if callout.callback_state != CallbackState::Waiting
            || request.status_kind() != Some(RequestStatus::WaitingForCallback)
        {
            return Err(DomainError::Conflict(format!(
                "this callout is not waiting for a callback (it is {}; the request is {})",
                callout.instance().map_or("pending", |i| i.status),
                request.state.as_str()
            )));
        }
        let ends = match input
            .state
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("denied") => Some(RequestState::Denied),
            Some("canceled" | "cancelled") => Some(RequestState::Canceled),
            _ => None,
        };
        let now = self.clock.now();
        let recipients = self
            .request_recipients(
                &request.target_id,
                &request.requestor_id,
                request.requestor_kind,
            )
            .await?;
        let mut tx = self.store.begin().await?;
        if !tx
            .set_callout_callback(
                &callout.id,
                CallbackState::Waiting,
                CallbackState::Received,
                input.detail.as_deref(),
                now,
            )
            .await?
        {
            return Err(DomainError::Conflict(
                "the callout's wait ended while it was being resumed".into(),
            ));
        }
        let actor = Actor::from(caller);
        let moved = match ends {
            Some(state) => {
                transition(
                    tx.as_mut(),
                    &request,
                    state,
                    now,
                    Transition {
                        actor,
                        request_id: ctx.request_id.as_deref(),
                        activity: if state == RequestState::Denied {
                            "Deny access package assignment request"
                        } else {
                            "Cancel access package assignment request"
                        },
                        event: if state == RequestState::Denied {
                            "request.denied"
                        } else {
                            "request.canceled"
                        },
                        reason: Some("the custom extension's callback ended the request"),
                        recipients,
                    },
                )
                .await?
            }
            None => {
                // Back to the status of its state; the job takes the step it waited before.
                let resumed = request.moved_to(request.state, now);
                if tx
                    .update_assignment_request(&resumed, request.state)
                    .await?
                {
                    tx.append_audit(
                        &request_audit(
                            actor,
                            ctx.request_id.as_deref(),
                            now,
                            "Resume access package assignment request",
                            &resumed,
                            "",
                        )
                        .detail("stage", callout.stage.as_str()),
                    )
                    .await?;
                    tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, now))
                        .await?;
                    Some(resumed)
                } else {
                    None
                }
            }
        };
        if moved.is_none() {
            return Err(DomainError::Conflict(
                "the request changed while it was being resumed".into(),
            ));
        }
        Ok(tx.commit().await?)
    }

    /// The callback timeout of a launch-and-wait callout: the request is denied with status
    /// `CalloutTimedOut` if the callout still waits. Idempotent.
    pub(super) async fn time_out_callout(
        &self,
        callout_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        self.end_wait(callout_id, CallbackState::TimedOut, None, now)
            .await
    }

    /// Ends a callout's wait as `to` (timed out, failed) and denies the request it held.
    async fn end_wait(
        &self,
        callout_id: &str,
        to: CallbackState,
        detail: Option<&str>,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(callout) = self.store.callout(callout_id).await? else {
            return Ok(());
        };
        if callout.callback_state != CallbackState::Waiting {
            return Ok(());
        }
        let request = match &callout.request_id {
            Some(id) => self.store.assignment_request(id).await?,
            None => None,
        };
        let Some(request) = request else {
            return Ok(());
        };
        let recipients = self
            .request_recipients(
                &request.target_id,
                &request.requestor_id,
                request.requestor_kind,
            )
            .await?;
        let (reason, text) = if to == CallbackState::TimedOut {
            (
                StatusReason::CalloutTimedOut,
                "the custom extension did not call back in time",
            )
        } else {
            (
                StatusReason::CalloutFailed,
                "the custom extension could not be called",
            )
        };
        let mut tx = self.store.begin().await?;
        if !tx
            .set_callout_callback(&callout.id, CallbackState::Waiting, to, detail, now)
            .await?
        {
            return Ok(());
        }
        if request.status_kind() != Some(RequestStatus::WaitingForCallback) {
            // Canceled while it waited: the wait ends, the request stays as it is.
            return Ok(tx.commit().await?);
        }
        let denied = request.moved_to_for(RequestState::Denied, reason, now);
        if tx.update_assignment_request(&denied, request.state).await? {
            tx.append_audit(
                &request_audit(
                    Actor::system(),
                    None,
                    now,
                    "Deny access package assignment request",
                    &denied,
                    "",
                )
                .detail("reason", text)
                .detail("stage", callout.stage.as_str()),
            )
            .await?;
            tx.enqueue_event(&OutboxEvent::new(
                "request.denied",
                now,
                super::records::request_event_data(&denied),
                recipients,
            ))
            .await?;
        }
        Ok(tx.commit().await?)
    }

    /// The callout instances of the requests (or assignments) `ids`, by holder id.
    pub async fn callout_instances(
        &self,
        ids: &[String],
    ) -> DomainResult<HashMap<String, Vec<CalloutInstance>>> {
        let mut out: HashMap<String, Vec<CalloutInstance>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for callout in self.store.callouts_of(ids).await? {
            if let Some(instance) = callout.instance()
                && ids.contains(&instance.holder_id)
            {
                out.entry(instance.holder_id.clone())
                    .or_default()
                    .push(instance);
            }
        }
        Ok(out)
    }

    /// One pass of the callout dispatcher: claim due callouts, send them, record each outcome;
    /// a waiting callout given up on denies its request.
    pub async fn run_callout_pass(
        &self,
        sender: &dyn CalloutSender,
        pacing: &Pacing<'_>,
    ) -> DomainResult<PassReport> {
        let queue = CalloutQueue {
            entitlement: self,
            sender,
        };
        run_pass(&queue, pacing).await
    }

    /// When the callout dispatcher has work next.
    pub async fn next_callout_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        self.store.callout_queue().next_callout_due().await
    }
}

/// A fire-and-forget callout of `extension` at `stage`, holding nothing yet.
fn callout_of(
    extension: &CustomExtension,
    id: String,
    stage: CalloutStage,
    payload: Value,
    now: OffsetDateTime,
) -> Callout {
    let settings = &extension.settings;
    let endpoint_url = match &settings.endpoint_configuration {
        EndpointConfiguration::HttpRequestEndpoint { target_url } => target_url.clone(),
        EndpointConfiguration::LogicAppTrigger { url, .. } => url.clone(),
    };
    let token_audience = match &settings.authentication_configuration {
        Some(AuthenticationConfiguration::AzureAdToken { resource_id }) => {
            Some(resource_id.clone())
        }
        _ => None,
    };
    let client = settings.client_configuration.clone().unwrap_or_default();
    Callout {
        id,
        request_id: None,
        assignment_id: None,
        custom_extension_id: extension.id.clone(),
        catalog_id: extension.catalog_id.clone(),
        stage,
        callback_state: CallbackState::None,
        callback_detail: None,
        endpoint_url,
        token_audience,
        timeout_ms: client
            .timeout_in_milliseconds
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        max_attempts: client
            .maximum_retries
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(DEFAULT_MAX_RETRIES)
            + 1,
        payload,
        delivery_state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        created_at: now,
        callback_at: None,
    }
}

/// The extension's `callbackConfiguration.timeoutDuration` as written (validated positive when
/// the extension was saved), or the default.
fn callback_timeout(extension: &CustomExtension) -> String {
    extension
        .settings
        .callback_configuration
        .as_ref()
        .and_then(|c| c.timeout_duration.clone())
        .filter(|d| crate::duration::parse(d).is_ok_and(|d| d > time::Duration::ZERO))
        .unwrap_or_else(|| DEFAULT_CALLBACK_TIMEOUT.to_owned())
}

/// 128 random bits from the operating system (through UUIDv4, 122 of them random), hex: the
/// secret `resume` must carry.
fn new_stage_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Callout {
    /// When a waiting callout's callback times out (`None`: it does not wait).
    pub(super) fn timeout_at(&self) -> DomainResult<Option<OffsetDateTime>> {
        if self.callback_state != CallbackState::Waiting {
            return Ok(None);
        }
        let timeout = self
            .payload
            .pointer("/data/callbackConfiguration/timeoutDuration")
            .and_then(Value::as_str)
            .and_then(|d| crate::duration::parse(d).ok())
            .unwrap_or(time::Duration::days(14));
        crate::instant::add(self.created_at, timeout).map(Some)
    }
}

impl Claimed for ClaimedCallout {
    fn delivery_id(&self) -> &str {
        &self.id
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
    fn event_id(&self) -> &str {
        &self.id
    }
    fn destination(&self) -> &str {
        &self.endpoint_url
    }
    fn max_attempts(&self) -> Option<u32> {
        Some(self.max_attempts)
    }
}

/// POSTs one callout. Implemented by the runtime over the outbound client, with a bearer token
/// for the extension's audience that carries no roles.
#[async_trait]
pub trait CalloutSender: Send + Sync {
    async fn send(&self, callout: &ClaimedCallout) -> SendOutcome;
}

/// Signs the bearer token a callout carries: issued by Writ for the extension's `audience`,
/// about the callout (`callout_id`, its stage instance), valid for one attempt, with no roles,
/// so it grants nothing. Implemented by the token service; the runtime's callout sender holds
/// it, so the runtime needs no part of the HTTP server. The error is for the delivery's record.
pub trait CalloutTokenIssuer: Send + Sync {
    fn callout_token(
        &self,
        callout_id: &str,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<String, String>;
}

struct CalloutQueue<'a> {
    entitlement: &'a Entitlement,
    sender: &'a dyn CalloutSender,
}

#[async_trait]
impl DeliveryQueue for CalloutQueue<'_> {
    type Item = ClaimedCallout;

    async fn route(&self, _now: OffsetDateTime, _limit: u32) -> StoreResult<u32> {
        // Callouts are written where their stage is reached; there is nothing to route.
        Ok(0)
    }

    async fn claim(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedCallout>> {
        self.entitlement
            .store
            .callout_queue()
            .claim_callouts(worker, now, lease_until, limit)
            .await
    }

    async fn send(&self, item: &ClaimedCallout) -> SendOutcome {
        self.sender.send(item).await
    }

    async fn record(&self, id: &str, worker: &str, record: &AttemptRecord) -> StoreResult<bool> {
        let kept = self
            .entitlement
            .store
            .callout_queue()
            .record_callout_attempt(id, worker, record)
            .await?;
        if kept && record.next == NextStep::DeadLetter {
            let now = record.at;
            // A request left waiting on an extension that cannot be reached is denied now.
            // Should this fail, the callback timeout still ends the wait.
            self.entitlement
                .end_wait(id, CallbackState::Failed, record.error.as_deref(), now)
                .await
                .map_err(|e| {
                    crate::store::StoreError::Other(format!(
                        "could not deny the request of failed callout {id}: {}",
                        e.operator_detail()
                    ))
                })?;
        }
        Ok(kept)
    }

    async fn release(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        self.entitlement
            .store
            .callout_queue()
            .release_callouts(ids, worker)
            .await
    }
}
