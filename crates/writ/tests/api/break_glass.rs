//! Break-glass (issue 19, DESIGN section 17): `parameters.bypassApproval` from a tenant-wide
//! administrator delivers without approval, with one audit record saying so, a
//! `request.approvalBypassed` event and the notices to the first stage's approvers and the
//! target's sponsors (mailed through the email pass); anyone else's is refused with nothing
//! created; a policy can forbid it (`/writ/v1/assignmentPolicies/{id}/breakGlass`); and
//! `bypassApproval: false` changes nothing.

use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::dispatch::Pacing;
use writ_domain::email::{EmailMessage, EmailSender, run_email_pass};
use writ_domain::store::AuditStore;
use writ_domain::webhooks::{DispatchConfig, SendOutcome};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent};
use crate::assignments::{Setup, login, member_ids, post_request, request_state, run_jobs, setup};
use crate::harness::{PUBLIC_URL, Reply, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";
const CATALOG_READER: &str = "44272f93-9762-48e8-af59-1b5351b1d6b3";
const BYPASSED: &str = "request.approvalBypassed";

crate::on_both_backends!(
    an_administrators_bypass_on_admin_add_is_recorded_and_notified,
    an_administrators_on_behalf_bypass_skips_the_approval_stages,
    bypass_by_anyone_else_is_refused_with_nothing_created,
    a_policy_can_forbid_bypassing_approval,
);

/// The assignments' set-up, with an approver and the sponsor given mailboxes, a human Global
/// Administrator (Gina) and a policy that requires approval by the approver for every add and
/// names Gina and the agents' sponsors as on-behalf requestors.
struct World {
    s: Setup,
    approver: String,
    gina: String,
    gina_token: String,
    policy: String,
}

async fn mailbox(app: &TestApp, user: &str, mail: &str) {
    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            &app.admin,
            json!({ "mail": mail }),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
}

async fn directory_role(app: &TestApp, principal: &str, role: &str) {
    app.created(
        &app.admin,
        "/v1.0/roleManagement/directory/roleAssignments",
        json!({"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"}),
    )
    .await;
}

async fn catalog_role(app: &TestApp, principal: &str, role: &str, catalog: &str) {
    app.created(
        &app.admin,
        "/v1.0/roleManagement/entitlementManagement/roleAssignments",
        json!({"principalId": principal, "roleDefinitionId": role, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
    )
    .await;
}

async fn world(app: &TestApp) -> World {
    let s = setup(app).await;
    let approver = app.create_user("Abe Approver").await;
    mailbox(app, &approver, "abe@example.org").await;
    mailbox(app, &s.sponsor, "sam@example.org").await;
    let (gina, gina_token) = app.user_token("Gina Global").await;
    directory_role(app, &gina, GLOBAL_ADMIN).await;
    let policy = app
        .created(&app.admin, &format!("{EM}/assignmentPolicies"), json!({
            "displayName": "Agents, approved",
            "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {
                "enableTargetsToSelfAddAccess": true, "enableOnBehalfRequestorsToAddAccess": true,
                "enableOnBehalfRequestorsToUpdateAccess": true,
                "onBehalfRequestors": [
                    {"@odata.type": "#microsoft.graph.singleUser", "userId": gina},
                    {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}
                ]
            },
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": true,
                "stages": [{
                    "durationBeforeAutomaticDenial": "P7D",
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}]
                }]
            },
            "accessPackage": {"id": s.package},
        }))
        .await;
    World {
        s,
        approver,
        gina,
        gina_token,
        policy,
    }
}

fn add(request_type: &str, w: &World, target: &str, bypass: Option<bool>) -> Value {
    let mut body = json!({
        "requestType": request_type,
        "justification": "incident 4711",
        "assignment": {"targetId": target, "assignmentPolicyId": w.policy, "accessPackageId": w.s.package},
    });
    if let Some(bypass) = bypass {
        body["parameters"] = json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestParameters",
            "bypassApproval": bypass,
        });
    }
    body
}

/// The outbox events of `event_type` about `request`.
async fn events_of(
    app: &TestApp,
    event_type: &str,
    request: &str,
) -> Vec<writ_domain::audit::OutboxEvent> {
    app.store
        .outbox_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type && e.data["requestId"] == request)
        .collect()
}

/// The audit records about `request` that say approval was bypassed.
async fn bypass_records(app: &TestApp, request: &str) -> Vec<writ_domain::audit::AuditRecord> {
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.target_resources.iter().any(|t| t.id == request)
                && r.additional_details
                    .iter()
                    .any(|(k, v)| k == "approvalBypassed" && v == "true")
        })
        .collect()
}

/// Every request and audit record: what a refused call must leave as it was.
async fn footprint(app: &TestApp) -> (usize, usize, usize) {
    let requests = app
        .get(
            &format!("{EM}/assignmentRequests?$count=true&$top=1"),
            &app.admin,
        )
        .await;
    let events = app.store.outbox_events(10_000).await.unwrap().len();
    (
        requests.body["@odata.count"].as_u64().unwrap() as usize,
        app.audit_count().await,
        events,
    )
}

/// A sender that accepts every message and keeps it.
#[derive(Default)]
struct Mailbox {
    sent: Mutex<Vec<EmailMessage>>,
}

#[async_trait::async_trait]
impl EmailSender for Mailbox {
    async fn send(&self, message: &EmailMessage) -> SendOutcome {
        self.sent.lock().unwrap().push(message.clone());
        SendOutcome::Answered {
            status: 250,
            retry_after: None,
        }
    }
}

/// Runs the email pass once: the messages it sent.
async fn mail(app: &TestApp) -> Vec<EmailMessage> {
    let mailbox = Mailbox::default();
    let config = DispatchConfig {
        worker_id: "mailer-1".into(),
        ..DispatchConfig::default()
    };
    let stop = || false;
    let pacing = Pacing {
        config: &config,
        clock: &app.clock,
        jitter: &|| 0.0,
        stopping: &stop,
    };
    run_email_pass(&app.store, &mailbox, (PUBLIC_URL, "writ.test"), &pacing)
        .await
        .unwrap();
    mailbox.sent.into_inner().unwrap()
}

fn assert_refused(reply: &Reply, case: &str) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "{case}: {}",
        reply.body
    );
    assert_eq!(reply.error_code(), "accessDenied", "{case}");
}

/// An `adminAdd` never waits for approval; with `bypassApproval` the administrator's intent is
/// recorded: `parameters` read back, one audit record saying so, the event to the approver the
/// policy names for its first stage and to the agent's sponsor, who are mailed.
async fn an_administrators_bypass_on_admin_add_is_recorded_and_notified(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let created = post_request(
        &app,
        &app.admin,
        add("adminAdd", &w, &w.s.agent, Some(true)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["parameters"], json!({"bypassApproval": true}));
    let request = created.id();
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &request).await, "delivered");
    assert!(member_ids(&app, &w.s.group).await.contains(&w.s.agent));
    let read = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(read.body["parameters"], json!({"bypassApproval": true}));

    let records = bypass_records(&app, &request).await;
    assert_eq!(
        records.len(),
        1,
        "one audit record says approval was bypassed"
    );
    assert_eq!(
        records[0].activity_display_name,
        "Create access package assignment request"
    );
    let events = events_of(&app, BYPASSED, &request).await;
    assert_eq!(events.len(), 1);
    let mut notified: Vec<&str> = events[0].recipients.iter().map(|r| r.id.as_str()).collect();
    notified.sort();
    let mut expected = vec![w.approver.as_str(), w.s.sponsor.as_str()];
    expected.sort();
    assert_eq!(
        notified, expected,
        "the first stage's approver and the sponsor"
    );
    assert_eq!(events[0].data["targetId"], w.s.agent);
    assert!(
        events_of(&app, "approval.stageAssigned", &request)
            .await
            .is_empty()
    );

    let sent = mail(&app).await;
    let bypass_mail: Vec<&EmailMessage> = sent
        .iter()
        .filter(|m| m.subject.contains("Approval bypassed"))
        .collect();
    let mut to: Vec<&str> = bypass_mail.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["abe@example.org", "sam@example.org"], "{sent:?}");
    assert!(
        bypass_mail[0]
            .text
            .contains(&format!("/portal/requests/{request}"))
    );
}

/// A Global Administrator the policy names as an on-behalf requestor: with `bypassApproval` its
/// `userAdd` and `userUpdate` skip the approval stages and are delivered; with
/// `bypassApproval: false` the same request waits for the approver as it would without
/// `parameters`.
async fn an_administrators_on_behalf_bypass_skips_the_approval_stages(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let second = create_agent(&app, &w.s.fleet, "support-agent-8", &[&w.s.sponsor])
        .await
        .id();

    let bypassed = post_request(
        &app,
        &w.gina_token,
        add("userAdd", &w, &w.s.agent, Some(true)),
    )
    .await;
    assert_eq!(bypassed.status, StatusCode::CREATED, "{}", bypassed.body);
    let bypassed = bypassed.id();
    let waiting = post_request(
        &app,
        &w.gina_token,
        add("userAdd", &w, &second, Some(false)),
    )
    .await;
    assert_eq!(waiting.status, StatusCode::CREATED, "{}", waiting.body);
    assert_eq!(waiting.body["parameters"], json!({"bypassApproval": false}));
    let waiting = waiting.id();
    run_jobs(&app).await;

    assert_eq!(request_state(&app, &bypassed).await, "delivered");
    let members = member_ids(&app, &w.s.group).await;
    assert!(members.contains(&w.s.agent));
    assert!(
        events_of(&app, "request.pendingApproval", &bypassed)
            .await
            .is_empty()
    );
    assert_eq!(bypass_records(&app, &bypassed).await.len(), 1);
    let events = events_of(&app, BYPASSED, &bypassed).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["requestorId"], w.gina);
    assert!(events[0].recipients.iter().any(|r| r.id == w.approver));

    // Gina's extension of that assignment, under a policy requiring approval for updates,
    // skips the stages too and moves the end; an administrator's `adminUpdate` with it records
    // the intent alike.
    let assignment = app
        .get(
            &format!("{EM}/assignmentRequests/{bypassed}?$expand=assignment"),
            &app.admin,
        )
        .await
        .body["assignment"]
        .clone();
    let end = assignment["schedule"].clone();
    assert!(end["expiration"]["endDateTime"].is_string(), "{assignment}");
    let assignment = assignment["id"].as_str().unwrap().to_owned();
    app.clock.advance(time::Duration::minutes(30));
    let parameters = json!({"bypassApproval": true});
    let extended = post_request(&app, &w.gina_token, json!({"requestType": "userUpdate", "assignment": {"id": assignment}, "parameters": parameters})).await;
    assert_eq!(extended.status, StatusCode::CREATED, "{}", extended.body);
    let extended = extended.id();
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &extended).await, "delivered");
    assert!(
        events_of(&app, "request.pendingApproval", &extended)
            .await
            .is_empty()
    );
    assert_eq!(events_of(&app, BYPASSED, &extended).await.len(), 1);
    assert_eq!(bypass_records(&app, &extended).await.len(), 1);
    let moved = app
        .get(&format!("{EM}/assignments/{assignment}"), &app.admin)
        .await;
    assert_ne!(moved.body["schedule"], end, "{}", moved.body);
    let by_admin = post_request(&app, &app.admin, json!({"requestType": "adminUpdate", "assignment": {"id": assignment}, "parameters": parameters})).await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &by_admin.id()).await, "delivered");
    assert_eq!(events_of(&app, BYPASSED, &by_admin.id()).await.len(), 1);

    // `false` changes nothing: the stage waits for the approver, no record, no event.
    assert_eq!(request_state(&app, &waiting).await, "pendingApproval");
    assert!(!members.contains(&second));
    assert_eq!(
        events_of(&app, "approval.stageAssigned", &waiting)
            .await
            .len(),
        1
    );
    assert!(bypass_records(&app, &waiting).await.is_empty());
    assert!(events_of(&app, BYPASSED, &waiting).await.is_empty());
}

/// A catalog owner, an assignment manager, the agent's sponsor and the agent itself may each
/// make a request here, but none may bypass approval: `403`, nothing created or recorded.
async fn bypass_by_anyone_else_is_refused_with_nothing_created(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let (owner, owner_token) = app.user_token("Olga Owner").await;
    catalog_role(&app, &owner, CATALOG_OWNER, &w.s.catalog).await;
    let (manager, manager_token) = app.user_token("Anna Assigner").await;
    catalog_role(&app, &manager, ASSIGNMENT_MANAGER, &w.s.catalog).await;
    let sponsor_token = login(&app, "samsponsor").await;
    let (agent, _) = agent_token(&app, &w.s.agent, "https://graph.microsoft.com/.default").await;
    let before = footprint(&app).await;

    for (case, token, request_type) in [
        ("catalog owner's adminAdd", &owner_token, "adminAdd"),
        ("assignment manager's adminAdd", &manager_token, "adminAdd"),
        ("sponsor's on-behalf userAdd", &sponsor_token, "userAdd"),
        ("agent's own userAdd", &agent, "userAdd"),
    ] {
        let reply = post_request(&app, token, add(request_type, &w, &w.s.agent, Some(true))).await;
        assert_refused(&reply, case);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("bypassApproval"),
            "{case}: {}",
            reply.body
        );
    }
    assert_eq!(footprint(&app).await, before, "nothing created");
    run_jobs(&app).await;
    assert!(!member_ids(&app, &w.s.group).await.contains(&w.s.agent));

    // The refusal is the bypass's: the same request without it is accepted, and waits.
    let plain = post_request(&app, &agent, add("userAdd", &w, &w.s.agent, None)).await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &plain.id()).await, "pendingApproval");
}

/// `isApprovalBypassAllowed` (Writ's own, under `/writ/v1`): allowed by default, readable by the
/// policy's readers, changed by those who change the policy, kept by a Graph `PUT` of the
/// policy, absent from its Graph shape; set to `false`, an administrator's bypass is `403`.
async fn a_policy_can_forbid_bypassing_approval(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let setting = format!("/writ/v1/assignmentPolicies/{}/breakGlass", w.policy);
    let (reader, reader_token) = app.user_token("Rita Reader").await;
    catalog_role(&app, &reader, CATALOG_READER, &w.s.catalog).await;
    let (_, stranger) = app.user_token("Uma Unrelated").await;

    let read = app.get(&setting, &reader_token).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body, json!({"isApprovalBypassAllowed": true}));
    assert_eq!(
        app.get(&setting, &stranger).await.status,
        StatusCode::NOT_FOUND
    );
    let forbid = json!({"isApprovalBypassAllowed": false});
    let by_reader = app
        .send(Method::PATCH, &setting, &reader_token, forbid.clone())
        .await;
    assert_refused(&by_reader, "a catalog reader changes the setting");
    for (body, case) in [
        (json!({"isApprovalBypassAllowed": "no"}), "a string"),
        (
            json!({"isApprovalBypassAllowed": false, "extra": 1}),
            "an unknown property",
        ),
        (json!({}), "nothing"),
    ] {
        let reply = app.send(Method::PATCH, &setting, &app.admin, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest", "{case}");
    }
    let missing = app
        .send(
            Method::PATCH,
            "/writ/v1/assignmentPolicies/no-such-policy/breakGlass",
            &app.admin,
            forbid.clone(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let changed = app.send(Method::PATCH, &setting, &app.admin, forbid).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    // A Graph change of the policy keeps it, and its Graph shape does not show it.
    let policy_url = format!("{EM}/assignmentPolicies/{}", w.policy);
    let patched = app
        .send(
            Method::PATCH,
            &policy_url,
            &app.admin,
            json!({"description": "on call"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let graph = app.get(&policy_url, &app.admin).await;
    assert!(
        graph.body["requestApprovalSettings"]
            .get("isApprovalBypassAllowed")
            .is_none(),
        "{}",
        graph.body
    );
    assert!(!graph.body.to_string().contains("isApprovalBypassAllowed"));
    assert_eq!(
        app.get(&setting, &app.admin).await.body,
        json!({"isApprovalBypassAllowed": false})
    );

    let before = footprint(&app).await;
    for (case, token, request_type) in [
        ("the administrator's adminAdd", &app.admin, "adminAdd"),
        (
            "a Global Administrator's on-behalf userAdd",
            &w.gina_token,
            "userAdd",
        ),
    ] {
        let reply = post_request(&app, token, add(request_type, &w, &w.s.agent, Some(true))).await;
        assert_refused(&reply, case);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not allow bypassing approval"),
            "{case}: {}",
            reply.body
        );
    }
    assert_eq!(footprint(&app).await, before, "nothing created");

    // Allowed again, the bypass is accepted.
    let allowed = app
        .send(
            Method::PATCH,
            &setting,
            &app.admin,
            json!({"isApprovalBypassAllowed": true}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT);
    let created = post_request(
        &app,
        &app.admin,
        add("adminAdd", &w, &w.s.agent, Some(true)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &created.id()).await, "delivered");
}
