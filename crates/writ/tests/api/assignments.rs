//! Assignment requests and assignments, the administrator's pathway: `adminAdd` recorded as
//! `submitted`, delivered by the job worker (run here by hand at the test clock's `now`) as group
//! membership and an app role held by the assignment; `adminRemove` and expiry take the access
//! away at once while access another holder holds stays; every refusal is its named status.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::jobs::PassReport;
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet, user_url};
use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement/roleAssignments";
const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";
const TICKETS_READ: &str = "6d3e9f4a-3b5c-4d7e-8f9a-0b1c2d3e4f5a";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) struct Setup {
    pub catalog: String,
    pub package: String,
    pub policy: String,
    pub group: String,
    pub api_app_id: String,
    pub agent: String,
    pub sponsor: String,
    pub fleet: crate::agents::Fleet,
}

pub(crate) async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app
        .send(Method::POST, &format!("{EM}{path}"), &app.admin, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body
}

pub(crate) async fn setup(app: &TestApp) -> Setup {
    let fleet = fleet(app).await;
    let agent = create_agent(app, &fleet, "support-agent-7", &[&fleet.sponsor]).await;
    let agent = id(&agent.body);
    let catalog = id(&post(app, "/catalogs", json!({"displayName": "Support"})).await);
    let group = app.create_group("Ticket Tools").await;
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({
            "displayName": "Tickets API",
            "appRoles": [{"id": TICKETS_READ, "allowedMemberTypes": ["Application"], "displayName": "Read tickets", "description": "Read", "value": "Tickets.Read", "isEnabled": true}],
        }))
        .await;
    let api_app_id = api.body["appId"].as_str().unwrap().to_owned();
    let api_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api_app_id}),
        )
        .await;
    let api_sp = id(&api_sp.body);
    for (system, origin) in [("AadGroup", &group), ("AadApplication", &api_sp)] {
        post(app, "/resourceRequests", json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": origin, "originSystem": system}})).await;
    }
    let package = id(&post(
        app,
        "/accessPackages",
        json!({"displayName": "Ticket triage", "catalog": {"id": catalog}}),
    )
    .await);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles"),
            &app.admin,
        )
        .await;
    for role in roles.body["value"].as_array().unwrap() {
        if role["displayName"] == "Member" || role["originId"] == TICKETS_READ {
            post(
                app,
                &format!("/accessPackages/{package}/resourceRoleScopes"),
                json!({"role": {"id": role["id"]}}),
            )
            .await;
        }
    }
    let policy = id(&post(app, "/assignmentPolicies", json!({
        "displayName": "Agents, two hours",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "accessPackage": {"id": package},
    }))
    .await);
    Setup {
        catalog,
        package,
        policy,
        group,
        api_app_id,
        agent,
        sponsor: fleet.sponsor.clone(),
        fleet,
    }
}

async fn admin_add(app: &TestApp, token: &str, s: &Setup, target: &str) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/assignmentRequests"),
        token,
        json!({
            "requestType": "AdminAdd",
            "justification": "triage rota",
            "assignment": {"targetId": target, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
        }),
    )
    .await
}

pub(crate) async fn run_jobs(app: &TestApp) -> PassReport {
    app.run_jobs().await
}

pub(crate) async fn member_ids(app: &TestApp, group: &str) -> Vec<String> {
    app.get(&format!("/v1.0/groups/{group}/members"), &app.admin)
        .await
        .body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

pub(crate) async fn token_roles(app: &TestApp, s: &Setup) -> Value {
    let (_, claims) = agent_token(app, &s.agent, &format!("api://{}/.default", s.api_app_id)).await;
    claims.get("roles").cloned().unwrap_or(json!([]))
}

/// The activities of the assignment-request audit records written since `since` records,
/// checking that each names its target as the principal acted for.
async fn request_activities(app: &TestApp, since: usize) -> Vec<String> {
    let records = app.store.audit_records(10_000).await.unwrap();
    records[since..]
        .iter()
        .filter(|r| {
            r.target_resources
                .iter()
                .any(|t| t.kind == "AccessPackageAssignmentRequest")
        })
        .map(|r| {
            assert!(r.on_behalf_of.is_some(), "{r:?}");
            r.activity_display_name.clone()
        })
        .collect()
}

async fn admin_assigns_delivers_and_removes(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let audits_before = app.audit_count().await;

    let created = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["state"], "submitted");
    assert_eq!(created.body["status"], "Accepted");
    assert_eq!(created.body["requestType"], "adminAdd");
    assert_eq!(created.body["justification"], "triage rota");
    assert!(created.body["@odata.context"].as_str().unwrap().ends_with(
        "/$metadata#identityGovernance/entitlementManagement/assignmentRequests/$entity"
    ));
    let request = id(&created.body);
    assert!(
        !member_ids(&app, &s.group).await.contains(&s.agent),
        "not before delivery"
    );

    assert_eq!(run_jobs(&app).await.completed, 1);
    let read = app
        .get(
            &format!(
                "{EM}/assignmentRequests/{request}?$expand=assignment,requestor,accessPackage"
            ),
            &app.admin,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["state"], "delivered");
    assert_eq!(read.body["status"], "Delivered");
    assert!(read.body["completedDateTime"].is_string());
    assert_eq!(read.body["accessPackage"]["id"], s.package.as_str());
    assert_eq!(read.body["requestor"]["subjectType"], "servicePrincipal");
    let assignment = read.body["assignment"].clone();
    assert_eq!(assignment["state"], "delivered");
    assert_eq!(
        assignment["schedule"]["expiration"]["type"],
        "afterDateTime"
    );
    let start = time::OffsetDateTime::parse(
        assignment["schedule"]["startDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let end = time::OffsetDateTime::parse(
        assignment["schedule"]["expiration"]["endDateTime"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(end - start, Duration::hours(2), "the policy's PT2H");
    let assignment = id(&assignment);

    // Delivered: a member of the group, and the API token carries the app role.
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));
    assert_eq!(token_roles(&app, &s).await, json!(["Tickets.Read"]));

    let listed = app
        .get(
            &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{}'&$expand=target,assignmentPolicy", s.agent),
            &app.admin,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], assignment.as_str());
    assert_eq!(items[0]["target"]["objectId"], s.agent.as_str());
    assert_eq!(items[0]["target"]["subjectType"], "servicePrincipal");
    assert_eq!(items[0]["assignmentPolicy"]["id"], s.policy.as_str());
    let by_state = app
        .get(&format!("{EM}/assignmentRequests?$filter=state%20eq%20'delivered'%20and%20accessPackage/id%20eq%20'{}'", s.package), &app.admin)
        .await;
    assert_eq!(by_state.body["value"].as_array().unwrap().len(), 1);

    // History is kept: the completed request cannot be deleted.
    let delete = app
        .request(
            Method::DELETE,
            &format!("{EM}/assignmentRequests/{request}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "{}", delete.body);
    assert!(
        delete.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retention")
    );

    // The package cannot be deleted while it is assigned.
    let delete = app
        .request(
            Method::DELETE,
            &format!("{EM}/accessPackages/{}", s.package),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "{}", delete.body);

    // A second add while assigned is refused, naming the rule.
    let again = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extend it instead")
    );

    // The agent is also a member directly: removal keeps that membership, not the app role.
    let direct = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{}/members/$ref", s.group),
            &app.admin,
            json!({"@odata.id": format!("{}/v1.0/directoryObjects/{}", crate::harness::PUBLIC_URL, s.agent)}),
        )
        .await;
    assert_eq!(direct.status, StatusCode::NO_CONTENT, "{}", direct.body);
    let removed = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({"requestType": "adminRemove", "assignment": {"id": assignment}}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::CREATED, "{}", removed.body);
    assert_eq!(removed.body["requestType"], "adminRemove");
    assert_eq!(removed.body["state"], "delivered");
    assert_eq!(
        token_roles(&app, &s).await,
        json!([]),
        "the role is gone at once"
    );
    assert!(
        member_ids(&app, &s.group).await.contains(&s.agent),
        "the direct membership stays"
    );
    let ended = app
        .get(&format!("{EM}/assignments/{assignment}"), &app.admin)
        .await;
    assert_eq!(ended.body["state"], "expired");
    assert_eq!(ended.body["status"], "Removed");
    assert!(ended.body["expiredDateTime"].is_string());
    let twice = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({"requestType": "adminRemove", "assignment": {"id": assignment}}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);

    // One audit record per change: the add, its delivery, the removal, each naming the agent
    // as the principal acted for.
    let activities = request_activities(&app, audits_before).await;
    assert_eq!(
        activities,
        [
            "Create access package assignment request",
            "Fulfill access package assignment request",
            "Remove access package assignment"
        ]
    );
    let events = app.store.outbox_events(100).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    for expected in [
        "request.created",
        "assignment.delivered",
        "assignment.removed",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let delivered = events
        .iter()
        .find(|e| e.event_type == "assignment.delivered")
        .unwrap();
    assert_eq!(
        delivered.recipients[0].id, s.sponsor,
        "the agent's sponsor is told"
    );
}

async fn access_ends_at_the_end_instant_and_expiry_is_recorded(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let created = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(created.status, StatusCode::CREATED);
    run_jobs(&app).await;
    assert_eq!(token_roles(&app, &s).await, json!(["Tickets.Read"]));

    // At the end instant the access is gone for every read, before any worker has run.
    app.clock.advance(Duration::hours(2));
    // The administrator's token expired too.
    app.admin = app
        .client_token(
            crate::harness::ADMIN_CLIENT_ID,
            crate::harness::ADMIN_SECRET,
        )
        .await;
    assert!(!member_ids(&app, &s.group).await.contains(&s.agent));
    assert_eq!(token_roles(&app, &s).await, json!([]));
    let listed = app.get(&format!("{EM}/assignments"), &app.admin).await;
    assert_eq!(
        listed.body["value"][0]["state"], "delivered",
        "recorded state follows the sweep"
    );

    assert_eq!(run_jobs(&app).await.completed, 1);
    let listed = app.get(&format!("{EM}/assignments"), &app.admin).await;
    assert_eq!(listed.body["value"][0]["state"], "expired");
    assert_eq!(listed.body["value"][0]["status"], "Expired");
    let system = app
        .get(
            &format!("{EM}/assignmentRequests?$filter=requestType%20eq%20'systemRemove'"),
            &app.admin,
        )
        .await;
    assert_eq!(
        system.body["value"].as_array().unwrap().len(),
        1,
        "{}",
        system.body
    );
    // Expired: a new assignment may be made.
    let again = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

/// The end the API shows (whole seconds) is the instant access ends, also when the assignment
/// was delivered at a fraction of a second.
async fn the_end_shown_is_the_instant_access_ends(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let fraction = Duration::nanoseconds(i64::from(app.clock.now().nanosecond()));
    app.clock
        .advance(Duration::milliseconds(700) + Duration::seconds(1) - fraction);
    let created = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(created.status, StatusCode::CREATED);
    run_jobs(&app).await;
    let listed = app.get(&format!("{EM}/assignments"), &app.admin).await;
    let end = time::OffsetDateTime::parse(
        listed.body["value"][0]["schedule"]["expiration"]["endDateTime"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    app.clock.set(end - Duration::seconds(1));
    app.admin = app
        .client_token(
            crate::harness::ADMIN_CLIENT_ID,
            crate::harness::ADMIN_SECRET,
        )
        .await;
    assert_eq!(token_roles(&app, &s).await, json!(["Tickets.Read"]));
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));
    app.clock.set(end);
    assert_eq!(token_roles(&app, &s).await, json!([]), "no role at {end}");
    assert!(!member_ids(&app, &s.group).await.contains(&s.agent));
    assert_eq!(run_jobs(&app).await.completed, 1);
    let listed = app.get(&format!("{EM}/assignments"), &app.admin).await;
    assert_eq!(listed.body["value"][0]["state"], "expired");
    assert_eq!(
        listed.body["value"][0]["expiredDateTime"],
        listed.body["value"][0]["schedule"]["expiration"]["endDateTime"]
    );
}

async fn admin_add_refusals(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let audits_before = app.audit_count().await;
    let human = app.create_user("Harriet Human").await;

    let refused = admin_add(&app, &app.admin, &s, &human).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside the policy's allowedTargetScope")
    );

    let other_package = id(&post(
        &app,
        "/accessPackages",
        json!({"displayName": "Other", "catalog": {"id": s.catalog}}),
    )
    .await);
    let reply = app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), &app.admin, json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": other_package},
        }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("belongs to another access package")
    );

    // An admin-only policy without an end: anyone may be assigned, but never an agent.
    let forever = id(&post(
        &app,
        "/assignmentPolicies",
        json!({
            "displayName": "Admin only, no end", "allowedTargetScope": "notSpecified",
            "expiration": {"type": "noExpiration"}, "accessPackage": {"id": s.package},
        }),
    )
    .await);
    let reply = app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), &app.admin, json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": s.agent, "assignmentPolicyId": forever, "accessPackageId": s.package},
        }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("time-bound")
    );

    for (body, needle) in [
        (
            json!({"requestType": "grantEverything", "assignment": {}}),
            "not a valid accessPackageRequestType",
        ),
        (
            json!({"requestType": "adminAdd", "assignment": {"targetId": s.agent, "accessPackageId": s.package}}),
            "assignmentPolicyId",
        ),
        (
            json!({"requestType": "adminAdd", "assignment": {"targetId": "nobody", "assignmentPolicyId": s.policy, "accessPackageId": s.package}}),
            "not a user or service principal",
        ),
        (
            json!({"requestType": "adminAdd", "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": s.package, "grantAll": true}}),
            "assignment.grantAll",
        ),
    ] {
        let reply = app
            .send(
                Method::POST,
                &format!("{EM}/assignmentRequests"),
                &app.admin,
                body,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{needle}: {}",
            reply.body
        );
    }
    let unknown = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({"requestType": "adminUpdate", "assignment": {"id": "anything"}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("assignment 'anything' does not exist")
    );

    // Callers without the right: a plain user, the agent itself.
    let (_, plain) = app.user_token("Pat Plain").await;
    assert_eq!(
        admin_add(&app, &plain, &s, &s.agent).await.status,
        StatusCode::FORBIDDEN
    );
    let (agent_writ_token, _) =
        agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let reply = admin_add(&app, &agent_writ_token, &s, &s.agent).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "an agent is never an administrator"
    );

    // A catalog assignment manager may assign, but not its own agent.
    let (manager, manager_token) = app.user_token("Morgan Manager").await;
    let reply = app
        .send(Method::POST, EM_ROLES, &app.admin, json!({"principalId": manager, "roleDefinitionId": ASSIGNMENT_MANAGER, "appScopeId": format!("/AccessPackageCatalog/{}", s.catalog)}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let own = create_agent(&app, &s.fleet, "morgans-agent", &[&manager]).await;
    let own = id(&own.body);
    let reply = admin_add(&app, &manager_token, &s, &own).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = admin_add(&app, &manager_token, &s, &s.agent).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);

    // An open request for the same target and package.
    let reply = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("open request")
    );

    // Reads: the plain user sees no requests; a missing one is 404.
    assert_eq!(
        app.get(&format!("{EM}/assignmentRequests"), &plain)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("{EM}/assignmentRequests"), &plain)
            .await
            .body["value"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let missing = app
        .get(
            &format!("{EM}/assignments/00000000-0000-0000-0000-000000000000"),
            &app.admin,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // The refusals left no record; only the manager's accepted request did.
    assert_eq!(
        request_activities(&app, audits_before).await,
        ["Create access package assignment request"]
    );
}

async fn deleting_the_target_ends_its_assignments_and_cancels_its_requests(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let delivered = admin_add(&app, &app.admin, &s, &s.agent).await;
    assert_eq!(delivered.status, StatusCode::CREATED);
    run_jobs(&app).await;
    let other = create_agent(&app, &s.fleet, "support-agent-8", &[&s.sponsor]).await;
    let other = id(&other.body);
    let pending = admin_add(&app, &app.admin, &s, &other).await;
    assert_eq!(pending.status, StatusCode::CREATED);
    let pending = id(&pending.body);

    for agent in [&s.agent, &other] {
        let reply = app
            .request(
                Method::DELETE,
                &format!("/v1.0/servicePrincipals/{agent}"),
                Some(&app.admin),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    // History stays readable: the assignment ended as removed, the open request canceled.
    let listed = app.get(&format!("{EM}/assignments"), &app.admin).await;
    assert_eq!(listed.body["value"][0]["state"], "expired");
    assert_eq!(listed.body["value"][0]["status"], "Removed");
    let read = app
        .get(&format!("{EM}/assignmentRequests/{pending}"), &app.admin)
        .await;
    assert_eq!(read.body["state"], "canceled");
    assert_eq!(read.body["status"], "Canceled");
    // The canceled request's job finds nothing to do.
    assert_eq!(run_jobs(&app).await.completed, 1);
    let read = app
        .get(&format!("{EM}/assignmentRequests/{pending}"), &app.admin)
        .await;
    assert_eq!(read.body["state"], "canceled");
}

pub(crate) async fn post_request(app: &TestApp, token: &str, body: Value) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/assignmentRequests"),
        token,
        body,
    )
    .await
}

async fn agents_and_sponsors_request_under_a_policy_without_approval(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let self_service = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents and their sponsors, no approval",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true, "enableTargetsToSelfRemoveAccess": true,
            "enableOnBehalfRequestorsToAddAccess": true, "enableOnBehalfRequestorsToRemoveAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
        },
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "accessPackage": {"id": s.package},
    }))
    .await);
    let add = |target: Option<&str>| {
        let mut assignment =
            json!({"accessPackageId": s.package, "assignmentPolicyId": self_service});
        if let Some(target) = target {
            assignment["targetId"] = json!(target);
        }
        json!({"requestType": "userAdd", "assignment": assignment})
    };

    // The agent requests for itself.
    let (agent_token_writ, _) =
        agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let created = post_request(&app, &agent_token_writ, add(None)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["requestType"], "userAdd");
    let request = id(&created.body);
    assert_eq!(run_jobs(&app).await.completed, 1);
    let own = app
        .get(
            &format!("{EM}/assignmentRequests/{request}?$expand=requestor,assignment"),
            &agent_token_writ,
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "the requestor reads its request: {}",
        own.body
    );
    assert_eq!(own.body["state"], "delivered");
    assert_eq!(own.body["requestor"]["objectId"], s.agent.as_str());
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));
    let again = post_request(&app, &agent_token_writ, add(None)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);

    // ... and removes it.
    let assignment = own.body["assignment"]["id"].as_str().unwrap().to_owned();
    let removed = post_request(
        &app,
        &agent_token_writ,
        json!({"requestType": "userRemove", "assignment": {"id": assignment}}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::CREATED, "{}", removed.body);
    assert!(!member_ids(&app, &s.group).await.contains(&s.agent));

    // Its sponsor requests on its behalf.
    let sponsor = app
        .password_token("samsponsor@example.org", "a long passphrase 1")
        .await;
    let sponsor = sponsor.body["access_token"].as_str().unwrap().to_owned();
    let on_behalf = post_request(&app, &sponsor, add(Some(&s.agent))).await;
    assert_eq!(on_behalf.status, StatusCode::CREATED, "{}", on_behalf.body);
    run_jobs(&app).await;
    let read = app
        .get(
            &format!(
                "{EM}/assignmentRequests/{}?$expand=requestor",
                id(&on_behalf.body)
            ),
            &sponsor,
        )
        .await;
    assert_eq!(read.body["state"], "delivered");
    assert_eq!(read.body["requestor"]["objectId"], s.sponsor.as_str());
    assert_eq!(read.body["requestor"]["subjectType"], "user");
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));

    // Each sees its own side with filterByCurrentUser, though neither may list everything.
    let count = |body: &Value| body["value"].as_array().unwrap().len();
    assert_eq!(
        app.get(&format!("{EM}/assignmentRequests"), &agent_token_writ)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mine = app
        .get(
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='target')"),
            &agent_token_writ,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(
        count(&mine.body),
        3,
        "its add, its removal, the sponsor's add: {}",
        mine.body
    );
    let made = app
        .get(
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on=%27createdBy%27)"),
            &sponsor,
        )
        .await;
    assert_eq!(count(&made.body), 1);
    assert_eq!(made.body["value"][0]["id"], id(&on_behalf.body).as_str());
    let held = app
        .get(
            &format!(
                "{EM}/assignments/filterByCurrentUser(on='target')?$filter=state%20eq%20'delivered'"
            ),
            &agent_token_writ,
        )
        .await;
    assert_eq!(count(&held.body), 1, "{}", held.body);
    let created_by = app
        .get(
            &format!("{EM}/assignments/filterByCurrentUser(on='createdBy')"),
            &sponsor,
        )
        .await;
    assert_eq!(count(&created_by.body), 1, "{}", created_by.body);

    // Refused: a human who sponsors nothing, another agent, a human for itself (All agents).
    // None of them may see the package through this policy (nor the other agent the target),
    // so each is told what naming a package that does not exist tells (issue 14, item 8).
    let does_not_exist = |reply: &crate::harness::Reply| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("does not exist")
                || message.contains("is not a user or service principal"),
            "{message}"
        );
    };
    let (_, stranger) = app.user_token("Stella Stranger").await;
    does_not_exist(&post_request(&app, &stranger, add(Some(&s.agent))).await);
    let other = create_agent(&app, &s.fleet, "support-agent-9", &[&s.sponsor]).await;
    let other = id(&other.body);
    let (other_token, _) = agent_token(&app, &other, "https://graph.microsoft.com/.default").await;
    does_not_exist(&post_request(&app, &other_token, add(Some(&s.agent))).await);
    does_not_exist(&post_request(&app, &stranger, add(None)).await);
    // The stranger cannot read the sponsor's request either.
    let hidden = app
        .get(
            &format!("{EM}/assignmentRequests/{}", id(&on_behalf.body)),
            &stranger,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // Nor remove the assignment; the sponsor can.
    let listed = app
        .get(
            &format!("{EM}/assignments?$filter=state%20eq%20'delivered'"),
            &app.admin,
        )
        .await;
    let live = listed.body["value"][0]["id"].as_str().unwrap().to_owned();
    let remove = json!({"requestType": "userRemove", "assignment": {"id": live}});
    does_not_exist(&post_request(&app, &stranger, remove.clone()).await);
    assert_eq!(
        post_request(&app, &sponsor, remove).await.status,
        StatusCode::CREATED
    );
    assert!(!member_ids(&app, &s.group).await.contains(&s.agent));
}

const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

pub(crate) async fn login(app: &TestApp, nickname: &str) -> String {
    let reply = app
        .password_token(&format!("{nickname}@example.org"), "a long passphrase 1")
        .await;
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// The stage of a request's first stage, read by `token`.
async fn first_stage(app: &TestApp, request: &str, token: &str) -> Value {
    let approval = app.get(&format!("{APPROVALS}/{request}"), token).await;
    assert_eq!(approval.status, StatusCode::OK, "{}", approval.body);
    approval.body["stages"][0].clone()
}

async fn decide(
    app: &TestApp,
    token: &str,
    request: &str,
    stage: &str,
    result: &str,
) -> crate::harness::Reply {
    app.send(
        Method::PATCH,
        &format!("{APPROVALS}/{request}/stages/{stage}"),
        token,
        json!({"reviewResult": result, "justification": "checked the ticket queue"}),
    )
    .await
}

pub(crate) async fn request_state(app: &TestApp, request: &str) -> String {
    app.get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await
        .body["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sponsors_approve_with_a_fallback_approver(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let fallback = app.create_user("Fiona Fallback").await;
    let co_sponsor = app.create_user("Cody Cosponsor").await;
    let policy = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "All agents, sponsors approve",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true, "enableOnBehalfRequestorsToAddAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isRequestorJustificationRequired": true,
            "stages": [{
                "durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": true,
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                "fallbackPrimaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": fallback}]
            }]
        },
        "accessPackage": {"id": s.package},
    }))
    .await);
    let add = |target: &str| json!({"requestType": "userAdd", "justification": "ticket queue 7", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy, "targetId": target}});
    let sponsor = login(&app, "samsponsor").await;
    let fallback_token = login(&app, "fionafallback").await;
    let co_token = login(&app, "codycosponsor").await;
    let (stranger_id, stranger) = app.user_token("Stella Stranger").await;
    let _ = stranger_id;

    // 1. The agent asks for itself; its two sponsors may approve; the first decision wins.
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{}/sponsors/$ref", s.agent),
            &app.admin,
            json!({"@odata.id": user_url(&co_sponsor)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let (agent_writ, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let without = post_request(&app, &agent_writ, json!({"requestType": "userAdd", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy}})).await;
    assert_eq!(
        without.status,
        StatusCode::BAD_REQUEST,
        "justification required: {}",
        without.body
    );
    let created = post_request(&app, &agent_writ, add(&s.agent)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let request = id(&created.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &request).await, "pendingApproval");
    let stage = first_stage(&app, &request, &sponsor).await;
    assert_eq!(stage["status"], "InProgress");
    assert_eq!(stage["assignedToMe"], true);
    assert_eq!(stage["reviewResult"], "NotReviewed");
    let stage_id = stage["id"].as_str().unwrap().to_owned();
    let mine = app
        .get(
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='approver')"),
            &sponsor,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(mine.body["value"][0]["id"], request.as_str());
    assert_eq!(
        app.get(
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='approver')"),
            &fallback_token
        )
        .await
        .body["value"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "the fallback approver is not asked while sponsors exist"
    );
    // Who may not decide: the agent (403), a stranger who cannot see it (404), the fallback
    // approver, who is not asked while sponsors are (404), an approver without the required
    // justification (400).
    assert_eq!(
        decide(&app, &agent_writ, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        decide(&app, &stranger, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        decide(&app, &fallback_token, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bare = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage_id}"),
            &sponsor,
            json!({"reviewResult": "Approve"}),
        )
        .await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.body);
    // Both sponsors approve at once: one decision is recorded, the other is a conflict.
    let (a, b) = tokio::join!(
        decide(&app, &co_token, &request, &stage_id, "Approve"),
        decide(&app, &sponsor, &request, &stage_id, "Approve"),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
        "{} / {}",
        a.body,
        b.body
    );
    let winner = if a.status == StatusCode::NO_CONTENT {
        co_sponsor.clone()
    } else {
        s.sponsor.clone()
    };
    let late = decide(&app, &sponsor, &request, &stage_id, "Deny").await;
    assert_eq!(
        late.status,
        StatusCode::CONFLICT,
        "the stage is decided: {}",
        late.body
    );
    assert_eq!(request_state(&app, &request).await, "delivering");
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &request).await, "delivered");
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));
    let decided = first_stage(&app, &request, &app.admin).await;
    assert_eq!(decided["reviewResult"], "Approved");
    assert_eq!(decided["reviewedBy"]["id"], winner.as_str());

    // 2. The sponsor asks on behalf of an agent it alone sponsors: only the fallback decides.
    let other = create_agent(&app, &s.fleet, "support-agent-10", &[&s.sponsor]).await;
    let other = id(&other.body);
    let created = post_request(&app, &sponsor, add(&other)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let request = id(&created.body);
    run_jobs(&app).await;
    let stage = first_stage(&app, &request, &fallback_token).await;
    assert_eq!(stage["assignedToMe"], true);
    let stage_id = stage["id"].as_str().unwrap().to_owned();
    assert_eq!(
        decide(&app, &sponsor, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::FORBIDDEN,
        "the requestor never approves"
    );
    assert_eq!(
        decide(&app, &fallback_token, &request, &stage_id, "approve")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &request).await, "delivered");
    assert!(member_ids(&app, &s.group).await.contains(&other));

    // 3. A sponsor removed between the stage's start and the decision cannot decide.
    let third = create_agent(
        &app,
        &s.fleet,
        "support-agent-11",
        &[&s.sponsor, &co_sponsor],
    )
    .await;
    let third = id(&third.body);
    let (third_writ, _) = agent_token(&app, &third, "https://graph.microsoft.com/.default").await;
    let request = id(&post_request(&app, &third_writ, add(&third)).await.body);
    run_jobs(&app).await;
    let stage_id = first_stage(&app, &request, &co_token).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = app
        .request(
            Method::DELETE,
            &format!("/v1.0/servicePrincipals/{third}/sponsors/{co_sponsor}/$ref"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(
        decide(&app, &co_token, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A denial ends it.
    assert_eq!(
        decide(&app, &sponsor, &request, &stage_id, "Deny")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(request_state(&app, &request).await, "denied");

    // 4. Cancel while pending; then approving is a conflict, and so is a second cancel.
    let fourth = create_agent(&app, &s.fleet, "support-agent-12", &[&s.sponsor]).await;
    let fourth = id(&fourth.body);
    let (fourth_writ, _) = agent_token(&app, &fourth, "https://graph.microsoft.com/.default").await;
    let request = id(&post_request(&app, &fourth_writ, add(&fourth)).await.body);
    run_jobs(&app).await;
    let stage_id = first_stage(&app, &request, &sponsor).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = app
        .request(
            Method::POST,
            &format!("{EM}/assignmentRequests/{request}/cancel"),
            Some(&fourth_writ),
            None,
            &[],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT, "{}", cancel.body);
    assert_eq!(request_state(&app, &request).await, "canceled");
    assert_eq!(
        decide(&app, &sponsor, &request, &stage_id, "Approve")
            .await
            .status,
        StatusCode::CONFLICT
    );
    let again = app
        .request(
            Method::POST,
            &format!("{EM}/assignmentRequests/{request}/cancel"),
            Some(&fourth_writ),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

async fn a_future_start_is_scheduled_and_a_shared_grant_outlives_one_holder(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    // A second package granting the same group.
    let second = id(&post(
        &app,
        "/accessPackages",
        json!({"displayName": "Ticket triage too", "catalog": {"id": s.catalog}}),
    )
    .await);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{}/resourceRoles", s.catalog),
            &app.admin,
        )
        .await;
    let member_role = roles.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()["id"]
        .clone();
    post(
        &app,
        &format!("/accessPackages/{second}/resourceRoleScopes"),
        json!({"role": {"id": member_role}}),
    )
    .await;
    let second_policy = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents, a day", "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "P1D"}, "accessPackage": {"id": second},
    })).await);

    // The first assignment starts in an hour: scheduled until then.
    let start = app.clock.now() + Duration::hours(1);
    let start_text = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "schedule": {"startDateTime": start_text},
        "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
    })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let first = id(&created.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &first).await, "scheduled");
    assert!(!member_ids(&app, &s.group).await.contains(&s.agent));
    app.clock.advance(Duration::hours(1));
    assert_eq!(run_jobs(&app).await.completed, 1);
    assert_eq!(request_state(&app, &first).await, "delivered");
    assert!(member_ids(&app, &s.group).await.contains(&s.agent));

    // The second package grants the same membership; removing the first keeps it.
    let other = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": s.agent, "assignmentPolicyId": second_policy, "accessPackageId": second},
    })).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    run_jobs(&app).await;
    let assignments = app
        .get(
            &format!(
                "{EM}/assignments?$filter=accessPackage/id%20eq%20'{}'",
                s.package
            ),
            &app.admin,
        )
        .await;
    let first_assignment = assignments.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = post_request(
        &app,
        &app.admin,
        json!({"requestType": "adminRemove", "assignment": {"id": first_assignment}}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::CREATED);
    assert!(
        member_ids(&app, &s.group).await.contains(&s.agent),
        "the other assignment still holds it"
    );
    let assignments = app
        .get(
            &format!("{EM}/assignments?$filter=accessPackage/id%20eq%20'{second}'"),
            &app.admin,
        )
        .await;
    let second_assignment = assignments.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = post_request(
        &app,
        &app.admin,
        json!({"requestType": "adminRemove", "assignment": {"id": second_assignment}}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::CREATED);
    assert!(
        !member_ids(&app, &s.group).await.contains(&s.agent),
        "the last holder is gone"
    );
}

crate::on_both_backends!(
    a_future_start_is_scheduled_and_a_shared_grant_outlives_one_holder,
    sponsors_approve_with_a_fallback_approver,
    agents_and_sponsors_request_under_a_policy_without_approval,
    deleting_the_target_ends_its_assignments_and_cancels_its_requests,
    admin_assigns_delivers_and_removes,
    access_ends_at_the_end_instant_and_expiry_is_recorded,
    the_end_shown_is_the_instant_access_ends,
    admin_add_refusals,
);
