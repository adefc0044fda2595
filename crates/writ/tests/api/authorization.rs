//! The table-driven authorization test of entitlement management: every endpoint below, called
//! by each kind of caller, answers exactly the status in the table (404 for what the caller may
//! not see, 403 for what it may see but not change).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::harness::{PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement/roleAssignments";
const IGA: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";

/// The callers, in the order of the table's columns.
const CALLERS: [&str; 9] = [
    "global admin",
    "governance admin",
    "owner of this catalog",
    "owner of another catalog",
    "catalog reader",
    "package manager",
    "assignment manager",
    "ordinary user",
    "agent identity",
];

/// (what, method, path, body, expected status per caller in [`CALLERS`] order; 0 = not run).
type Row<'a> = (&'a str, Method, String, Option<Value>, [u16; 9]);

fn id(reply: &crate::harness::Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", reply.body))
        .to_owned()
}

async fn user_with_catalog_role(app: &TestApp, name: &str, role: &str, catalog: &str) -> String {
    let (user, token) = app.user_token(name).await;
    let reply = app
        .send(Method::POST, EM_ROLES, &app.admin, json!({"principalId": user, "roleDefinitionId": role, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    token
}

async fn agent_token(app: &TestApp) -> String {
    let sponsor = app.create_user("Matrix Sponsor").await;
    let bind = json!([format!("{PUBLIC_URL}/v1.0/users/{sponsor}")]);
    let bp = app.send(Method::POST, "/v1.0/applications", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "matrix bp", "sponsors@odata.bind": bind})).await;
    let bp_app = bp.body["appId"].as_str().unwrap().to_owned();
    app.send(
        Method::POST,
        "/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        &app.admin,
        json!({"appId": bp_app}),
    )
    .await;
    let agent = app
        .send(Method::POST, "/v1.0/servicePrincipals", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "matrix agent", "agentIdentityBlueprintId": bp_app, "sponsors@odata.bind": bind}))
        .await;
    let agent_id = id(&agent);
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent_id}/addPassword"),
            &app.admin,
            json!({}),
        )
        .await;
    let reply = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            agent.body["appId"].as_str().unwrap(),
            secret.body["secretText"].as_str().unwrap()
        ))
        .await;
    reply.body["access_token"].as_str().unwrap().to_owned()
}

async fn catalog_endpoints_answer_by_role(backend: Backend) {
    let app = app(backend).await;
    // Catalog A with a group resource, a package and a policy; catalog B, owned by someone else.
    let catalog_a = id(&app
        .send(
            Method::POST,
            &format!("{EM}/catalogs"),
            &app.admin,
            json!({"displayName": "Catalog A"}),
        )
        .await);
    let catalog_b = id(&app
        .send(
            Method::POST,
            &format!("{EM}/catalogs"),
            &app.admin,
            json!({"displayName": "Catalog B"}),
        )
        .await);
    let group = app.create_group("Matrix Group").await;
    let added = app
        .send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminAdd", "catalog": {"id": catalog_a}, "resource": {"originId": group, "originSystem": "AadGroup"}}))
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let resource = app
        .get(&format!("{EM}/catalogs/{catalog_a}/resources"), &app.admin)
        .await;
    let resource = resource.body["value"][0]["id"].as_str().unwrap().to_owned();
    let package = id(&app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &app.admin,
            json!({"displayName": "Package P", "catalog": {"id": catalog_a}}),
        )
        .await);
    let policy = app
        .send(Method::POST, &format!("{EM}/assignmentPolicies"), &app.admin, json!({"displayName": "Policy X", "allowedTargetScope": "notSpecified", "expiration": {"type": "afterDuration", "duration": "P1D"}, "accessPackage": {"id": package}}))
        .await;
    let policy = id(&policy);
    // Two humans as assignment targets under the admin-only policy X: one assigned by the
    // administrator up front (read by the table), one for the callers to try to assign.
    let assigned = app.create_user("Matrix Assigned").await;
    let request_x = id(&app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), &app.admin, json!({"requestType": "adminAdd", "assignment": {"targetId": assigned, "assignmentPolicyId": policy, "accessPackageId": package}}))
        .await);
    let target = app.create_user("Matrix Target").await;
    let assign_target = json!({"requestType": "adminAdd", "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package}});
    let bypass_target = json!({"requestType": "adminAdd", "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package}, "parameters": {"bypassApproval": true}});

    let (iga_user, iga) = app.user_token("Governance Admin").await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": iga_user, "roleDefinitionId": IGA, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let tokens = [
        app.admin.clone(),
        iga,
        user_with_catalog_role(
            &app,
            "Owner A",
            "ae79f266-94d4-4dab-b730-feca7e132178",
            &catalog_a,
        )
        .await,
        user_with_catalog_role(
            &app,
            "Owner B",
            "ae79f266-94d4-4dab-b730-feca7e132178",
            &catalog_b,
        )
        .await,
        user_with_catalog_role(
            &app,
            "Reader A",
            "44272f93-9762-48e8-af59-1b5351b1d6b3",
            &catalog_a,
        )
        .await,
        user_with_catalog_role(
            &app,
            "Manager A",
            "7f480852-ebdc-47d4-87de-0d8498384a83",
            &catalog_a,
        )
        .await,
        user_with_catalog_role(
            &app,
            "Assigner A",
            "e2182095-804a-4656-ae11-64734e9b7ae5",
            &catalog_a,
        )
        .await,
        app.user_token("Ordinary User").await.1,
        agent_token(&app).await,
    ];

    let extension = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "displayName": "hook",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://hooks.example/a"}
    });
    let organization = json!({"displayName": "Org", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "org.example"}]});
    // A user none of the callers is, so that the grant changes nobody's rights in the table.
    let ordinary = app.create_user("Grant Target").await;
    let grant_reader = json!({"principalId": ordinary, "roleDefinitionId": "44272f93-9762-48e8-af59-1b5351b1d6b3", "appScopeId": format!("/AccessPackageCatalog/{catalog_a}")});
    let refresh = json!({"requestType": "adminUpdate", "catalog": {"id": catalog_a}, "resource": {"originId": group, "originSystem": "AadGroup"}});
    let new_package = json!({"displayName": "New package", "catalog": {"id": catalog_a}});
    let tenant = app.state.settings.tenant_id.clone();
    // Compromised agents (issue 19, part J; risky_agents.rs): one agent confirmed compromised up
    // front (read, confirmed safe and dismissed in the table), one the callers try to confirm.
    let risk_fleet = crate::agents::fleet(&app).await;
    let risky = crate::agents::create_agent(&app, &risk_fleet, "risky", &[&risk_fleet.sponsor])
        .await
        .id();
    let unrisked =
        crate::agents::create_agent(&app, &risk_fleet, "unrisked", &[&risk_fleet.sponsor])
            .await
            .id();
    let confirmed = app
        .send(
            Method::POST,
            "/beta/identityProtection/riskyAgents/confirmCompromised",
            &app.admin,
            json!({"agentIds": [risky]}),
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{}",
        confirmed.body
    );
    // Lifecycle policies (issue 19, part K; lifecycle_policies.rs): one policy and one agent.
    let lifecycle_body = json!({
        "@odata.type": "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy",
        "displayName": "Matrix lifecycle",
        "enforcementAction": {"@odata.type": "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction"},
        "rules": [{"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule", "attestationIntervalInDays": 90}],
    });
    let lifecycle_policies = "/v1.0/identityGovernance/lifecycleWorkflows/lifecyclePolicies";
    let lifecycle_policy = app
        .created(&app.admin, lifecycle_policies, lifecycle_body.clone())
        .await;
    let governed =
        crate::agents::create_agent(&app, &risk_fleet, "governed", &[&risk_fleet.sponsor])
            .await
            .id();
    // (what, method, path, body, expected status per caller in CALLERS order)
    let table: Vec<Row> = vec![
        (
            "read catalog A",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "update catalog A",
            Method::PATCH,
            format!("{EM}/catalogs/{catalog_a}"),
            Some(json!({"description": "changed"})),
            [204, 204, 204, 404, 403, 403, 403, 404, 404],
        ),
        (
            "list A's resources",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}/resources"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "A's resource through catalog B",
            Method::GET,
            format!("{EM}/catalogs/{catalog_b}/resources/{resource}"),
            None,
            [404, 404, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "refresh a group nobody owns",
            Method::POST,
            format!("{EM}/resourceRequests"),
            Some(refresh),
            [201, 201, 403, 404, 403, 403, 403, 404, 404],
        ),
        (
            "read package P",
            Method::GET,
            format!("{EM}/accessPackages/{package}"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "update package P",
            Method::PATCH,
            format!("{EM}/accessPackages/{package}"),
            Some(json!({"description": "changed"})),
            [204, 204, 204, 404, 403, 204, 403, 404, 404],
        ),
        (
            "create a package in A",
            Method::POST,
            format!("{EM}/accessPackages"),
            Some(new_package),
            [201, 201, 201, 400, 403, 201, 403, 400, 400],
        ),
        (
            "read policy X",
            Method::GET,
            format!("{EM}/assignmentPolicies/{policy}"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "update policy X",
            Method::PATCH,
            format!("{EM}/assignmentPolicies/{policy}"),
            Some(json!({"description": "changed"})),
            [204, 204, 204, 404, 403, 204, 403, 404, 404],
        ),
        (
            "list catalogs",
            Method::GET,
            format!("{EM}/catalogs"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "list catalog role assignments",
            Method::GET,
            EM_ROLES.to_owned(),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "list A's resource roles",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}/resourceRoles"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "list A's resource scopes",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}/resourceScopes"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "list A's packages",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}/accessPackages"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "list A's custom extensions",
            Method::GET,
            format!("{EM}/catalogs/{catalog_a}/customWorkflowExtensions"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "create an extension in A",
            Method::POST,
            format!("{EM}/catalogs/{catalog_a}/customWorkflowExtensions"),
            Some(extension),
            [201, 201, 201, 404, 403, 403, 403, 404, 404],
        ),
        (
            "list P's role scopes",
            Method::GET,
            format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "remove a role scope P does not have",
            Method::DELETE,
            format!("{EM}/accessPackages/{package}/resourceRoleScopes/none_none"),
            None,
            [404, 404, 404, 404, 403, 404, 403, 404, 404],
        ),
        (
            "list P's incompatible packages",
            Method::GET,
            format!("{EM}/accessPackages/{package}/incompatibleAccessPackages"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "list P's incompatible groups",
            Method::GET,
            format!("{EM}/accessPackages/{package}/incompatibleGroups"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "P's requirements for the caller",
            Method::POST,
            format!("{EM}/accessPackages/{package}/getApplicablePolicyRequirements"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "packages the caller may request",
            Method::GET,
            format!("{EM}/accessPackages/filterByCurrentUser(on='allowedRequestor')"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "list policies",
            Method::GET,
            format!("{EM}/assignmentPolicies"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "list resource requests",
            Method::GET,
            format!("{EM}/resourceRequests"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "list assignment requests",
            Method::GET,
            format!("{EM}/assignmentRequests"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "list assignments",
            Method::GET,
            format!("{EM}/assignments"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "requests of agents the caller sponsors or owns",
            Method::GET,
            format!(
                "{EM}/assignmentRequests/filterByCurrentUser(on='targetAgentIdentitySponsorOrOwner')"
            ),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "requests the caller made for others",
            Method::GET,
            format!("{EM}/assignmentRequests/filterByCurrentUser(on=%27requestForOthers%27)"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "assignments of the caller's reports",
            Method::GET,
            format!("{EM}/assignments/filterByCurrentUser(on='targetManager')"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "approvals the caller may decide",
            Method::GET,
            format!("{EM}/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "filterByCurrentUser with unknownFutureValue",
            Method::GET,
            format!("{EM}/assignments/filterByCurrentUser(on='unknownFutureValue')"),
            None,
            [400, 400, 400, 400, 400, 400, 400, 400, 400],
        ),
        (
            "list subjects (tenant-wide readers only)",
            Method::GET,
            format!("{EM}/subjects"),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read the subject P was assigned to",
            Method::GET,
            format!("{EM}/subjects/{assigned}"),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read the subject of a principal that is none",
            Method::GET,
            format!("{EM}/subjects/{target}"),
            None,
            [404, 404, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read the request that assigned P",
            Method::GET,
            format!("{EM}/assignmentRequests/{request_x}"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "reprocess the request that assigned P (still submitted, so 409 for who may)",
            Method::POST,
            format!("{EM}/assignmentRequests/{request_x}/reprocess"),
            None,
            [409, 409, 409, 404, 403, 409, 409, 404, 404],
        ),
        (
            "assign P directly (only the assignment manager's call is made)",
            Method::POST,
            format!("{EM}/assignmentRequests"),
            Some(assign_target),
            [0, 0, 0, 403, 403, 0, 201, 403, 403],
        ),
        (
            "list connected organizations",
            Method::GET,
            format!("{EM}/connectedOrganizations"),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "create a connected organization",
            Method::POST,
            format!("{EM}/connectedOrganizations"),
            Some(organization),
            [201, 201, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read settings",
            Method::GET,
            format!("{EM}/settings"),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "change settings",
            Method::PATCH,
            format!("{EM}/settings"),
            Some(json!({"externalUserLifecycleAction": "none"})),
            [204, 204, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "list the job queue (administrators only)",
            Method::GET,
            "/writ/v1/jobs".to_owned(),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read a job that does not exist (403 before 404)",
            Method::GET,
            "/writ/v1/jobs/no-such-job".to_owned(),
            None,
            [404, 404, 403, 403, 403, 403, 403, 403, 403],
        ),
        // Issue 19, break-glass: a policy's Writ-only setting reads and changes as the policy
        // does, and `bypassApproval` is refused to all but the tenant-wide administrators (whose
        // calls are not made: the target already holds P).
        (
            "read policy X's break-glass setting",
            Method::GET,
            format!("/writ/v1/assignmentPolicies/{policy}/breakGlass"),
            None,
            [200, 200, 200, 404, 200, 200, 200, 404, 404],
        ),
        (
            "change policy X's break-glass setting",
            Method::PATCH,
            format!("/writ/v1/assignmentPolicies/{policy}/breakGlass"),
            Some(json!({"isApprovalBypassAllowed": true})),
            [204, 204, 204, 404, 403, 204, 403, 404, 404],
        ),
        (
            "assign P bypassing approval",
            Method::POST,
            format!("{EM}/assignmentRequests"),
            Some(bypass_target),
            [0, 0, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "make another user a reader of A",
            Method::POST,
            EM_ROLES.to_owned(),
            Some(grant_reader),
            [0, 0, 201, 400, 403, 403, 403, 400, 400],
        ),
        (
            "delete policy X",
            Method::DELETE,
            format!("{EM}/assignmentPolicies/{policy}"),
            None,
            [0, 0, 0, 404, 403, 0, 403, 404, 404],
        ),
        (
            "delete package P",
            Method::DELETE,
            format!("{EM}/accessPackages/{package}"),
            None,
            [0, 0, 0, 404, 403, 0, 403, 404, 404],
        ),
        (
            "delete catalog B",
            Method::DELETE,
            format!("{EM}/catalogs/{catalog_b}"),
            None,
            [0, 0, 404, 0, 404, 404, 404, 404, 404],
        ),
        // The sign-in pages (issue 16) know people by their session cookie only: a bearer
        // token, whoever's, signs no one in there.
        (
            "sign-in page",
            Method::GET,
            format!("/{tenant}/login"),
            None,
            [200; 9],
        ),
        (
            "sign in without the form's CSRF token",
            Method::POST,
            format!("/{tenant}/login"),
            None,
            [403; 9],
        ),
        (
            "device code entry page",
            Method::GET,
            "/devicelogin".to_owned(),
            None,
            [303; 9],
        ),
        (
            "enter a device code",
            Method::POST,
            "/devicelogin".to_owned(),
            None,
            [401; 9],
        ),
        (
            "decide a device code",
            Method::POST,
            "/devicelogin/decision".to_owned(),
            None,
            [401; 9],
        ),
        (
            "sign-out page",
            Method::GET,
            format!("/{tenant}/oauth2/v2.0/logout"),
            None,
            [200; 9],
        ),
        (
            "sign out without a session",
            Method::POST,
            format!("/{tenant}/oauth2/v2.0/logout"),
            None,
            [200; 9],
        ),
        (
            "user realm discovery (the same answer for anyone)",
            Method::GET,
            "/common/userrealm/someone@example.org".to_owned(),
            None,
            [200; 9],
        ),
        (
            "device authorization without a client",
            Method::POST,
            format!("/{tenant}/oauth2/v2.0/devicecode"),
            None,
            [400; 9],
        ),
        // The authorization endpoint: without a client, an error page for everyone; a bearer
        // token signs no one in.
        (
            "authorize without a client",
            Method::GET,
            format!("/{tenant}/oauth2/v2.0/authorize"),
            None,
            [400; 9],
        ),
        (
            "authorize by form without a client",
            Method::POST,
            format!("/{tenant}/oauth2/v2.0/authorize"),
            None,
            [400; 9],
        ),
        (
            "sign-in stylesheet",
            Method::GET,
            "/writ/assets/writ.css".to_owned(),
            None,
            [200; 9],
        ),
        // Single sign-on (not configured in this table's app: the routes say so to everyone;
        // `sso_browser.rs` covers them configured).
        (
            "start single sign-on",
            Method::GET,
            "/signin/sso".to_owned(),
            None,
            [404; 9],
        ),
        (
            "single sign-on callback",
            Method::GET,
            "/signin/sso/callback?code=x&state=y".to_owned(),
            None,
            [404; 9],
        ),
        // The portal's agents pages (issue 17, part A): a bearer token, whoever's, opens no
        // page and sends no form (portal_agents.rs covers them signed in).
        (
            "portal: My agents",
            Method::GET,
            "/portal/agents".to_owned(),
            None,
            [401; 9],
        ),
        (
            "portal: an agent's page",
            Method::GET,
            format!("/portal/agents/{ordinary}"),
            None,
            [401; 9],
        ),
        (
            "portal: request for an agent page",
            Method::GET,
            format!("/portal/agents/{ordinary}/request"),
            None,
            [401; 9],
        ),
        (
            "portal: request for an agent",
            Method::POST,
            format!("/portal/agents/{ordinary}/request"),
            None,
            [401; 9],
        ),
        (
            "portal: an assignment's page",
            Method::GET,
            format!("/portal/assignments/{ordinary}"),
            None,
            [401; 9],
        ),
        (
            "portal: extend an assignment",
            Method::POST,
            format!("/portal/assignments/{ordinary}/extend"),
            None,
            [401; 9],
        ),
        (
            "portal: remove an assignment",
            Method::POST,
            format!("/portal/assignments/{ordinary}/remove"),
            None,
            [401; 9],
        ),
        // The portal's requests pages (issue 17, part C): a bearer token, whoever's, opens
        // no page and sends no form (the 401 page).
        (
            "portal: my requests",
            Method::GET,
            "/portal/requests".to_owned(),
            None,
            [401; 9],
        ),
        (
            "portal: a request's page",
            Method::GET,
            format!("/portal/requests/{request_x}"),
            None,
            [401; 9],
        ),
        (
            "portal: cancel a request",
            Method::POST,
            format!("/portal/requests/{request_x}/cancel"),
            None,
            [401; 9],
        ),
        // The portal's entry and script (issue 17): the same for everyone, bearer or not; the
        // pages they lead to check the session.
        ("home", Method::GET, "/".to_owned(), None, [303; 9]),
        (
            "portal: home",
            Method::GET,
            "/portal".to_owned(),
            None,
            [303; 9],
        ),
        (
            "portal: script",
            Method::GET,
            "/writ/assets/portal.js".to_owned(),
            None,
            [200; 9],
        ),
        // The portal's approvals pages (issue 17, part B): a bearer token opens none of them,
        // whoever's; `portal_approvals.rs` covers them with a browser session.
        (
            "portal: approvals waiting for me",
            Method::GET,
            "/portal/approvals".to_owned(),
            None,
            [401; 9],
        ),
        (
            "portal: my decisions",
            Method::GET,
            "/portal/approvals/history".to_owned(),
            None,
            [401; 9],
        ),
        (
            "portal: an approval",
            Method::GET,
            format!("/portal/approvals/{request_x}"),
            None,
            [401; 9],
        ),
        (
            "portal: decide a stage",
            Method::POST,
            format!("/portal/approvals/{request_x}/decision"),
            None,
            [401; 9],
        ),
        // Access evaluation (issue 18, part F; authzen.rs): administrators may evaluate anyone,
        // everyone else only itself (sponsors are covered in authzen.rs), and a principal that
        // does not exist is refused the same way; the metadata is public.
        (
            "evaluate another principal's access",
            Method::POST,
            "/access/v1/evaluation".to_owned(),
            Some(
                json!({"subject": {"type": "user", "id": ordinary}, "resource": {"type": "group", "id": group}, "action": {"name": "member"}}),
            ),
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "evaluate a principal that does not exist",
            Method::POST,
            "/access/v1/evaluation".to_owned(),
            Some(
                json!({"subject": {"type": "agent", "id": "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b"}, "resource": {"type": "group", "id": group}, "action": {"name": "member"}}),
            ),
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "evaluate another principal's access in a batch",
            Method::POST,
            "/access/v1/evaluations".to_owned(),
            Some(
                json!({"subject": {"type": "user", "id": ordinary}, "action": {"name": "member"}, "evaluations": [{"resource": {"type": "group", "id": group}}]}),
            ),
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "evaluate with a body missing its subject",
            Method::POST,
            "/access/v1/evaluation".to_owned(),
            Some(json!({"resource": {"type": "group", "id": group}, "action": {"name": "member"}})),
            [400; 9],
        ),
        (
            "read the AuthZEN metadata",
            Method::GET,
            "/.well-known/authzen-configuration".to_owned(),
            None,
            [200; 9],
        ),
        // Tokens for people (user_tokens.rs): revoking another user's sign-ins is a user
        // administrator's; one's own is anyone's; userinfo answers people's tokens only.
        (
            "revoke another user's sign-in sessions",
            Method::POST,
            format!("/v1.0/users/{ordinary}/revokeSignInSessions"),
            None,
            [200, 403, 403, 403, 403, 403, 403, 403, 404],
        ),
        (
            "revoke my own sign-in sessions",
            Method::POST,
            "/v1.0/me/revokeSignInSessions".to_owned(),
            None,
            [400, 200, 200, 200, 200, 200, 200, 200, 400],
        ),
        (
            "read my userinfo",
            Method::GET,
            "/oidc/userinfo".to_owned(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200, 401],
        ),
        (
            "read my userinfo by POST",
            Method::POST,
            "/oidc/userinfo".to_owned(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200, 401],
        ),
        // The MCP server (issue 18, part H): every caller reaches it, as itself (what each tool
        // lets it do is the domain's, answered inside the JSON-RPC result; mcp.rs covers it);
        // there is no stream to open, and the resource metadata is public.
        (
            "MCP: list the tools",
            Method::POST,
            "/mcp".to_owned(),
            Some(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
            [200; 9],
        ),
        (
            "MCP: open a server stream",
            Method::GET,
            "/mcp".to_owned(),
            None,
            [405; 9],
        ),
        (
            "MCP: end a session",
            Method::DELETE,
            "/mcp".to_owned(),
            None,
            [405; 9],
        ),
        (
            "MCP: protected-resource metadata",
            Method::GET,
            "/.well-known/oauth-protected-resource/mcp".to_owned(),
            None,
            [200; 9],
        ),
        (
            "API: protected-resource metadata",
            Method::GET,
            "/.well-known/oauth-protected-resource".to_owned(),
            None,
            [200; 9],
        ),
        // Compromised agents (issue 19, part J; risky_agents.rs): Global Administrators decide
        // and read (Global Readers read too); to anyone else the collection is 403 and an
        // agent's risk does not exist; a body without agentIds is 400 for everyone.
        (
            "list risky agents",
            Method::GET,
            "/beta/identityProtection/riskyAgents".to_owned(),
            None,
            [200, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read a risky agent",
            Method::GET,
            format!("/beta/identityProtection/riskyAgents/{risky}"),
            None,
            [200, 404, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "confirm an agent compromised",
            Method::POST,
            "/beta/identityProtection/riskyAgents/confirmCompromised".to_owned(),
            Some(json!({"agentIds": [unrisked]})),
            [0, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "confirm an agent safe",
            Method::POST,
            "/beta/identityProtection/riskyAgents/confirmSafe".to_owned(),
            Some(json!({"agentIds": [risky]})),
            [0, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "dismiss an agent's risk",
            Method::POST,
            "/v1.0/identityProtection/riskyAgents/dismiss".to_owned(),
            Some(json!({"agentIds": [risky]})),
            [0, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "decide risk without agentIds",
            Method::POST,
            "/beta/identityProtection/riskyAgents/dismiss".to_owned(),
            Some(json!({})),
            [400; 9],
        ),
        // Sponsor succession (issue 19, part L; sponsor_succession.rs): only who may disable or
        // delete a user (Global Administrator) sets it off (an agent does not see users); the
        // agents it leaves without a sponsor are listed to readers of the whole directory.
        (
            "disable a sponsor (succession)",
            Method::PATCH,
            format!("/v1.0/users/{}", risk_fleet.sponsor),
            Some(json!({"accountEnabled": false})),
            [0, 403, 403, 403, 403, 403, 403, 403, 404],
        ),
        (
            "delete a sponsor (succession)",
            Method::DELETE,
            format!("/v1.0/users/{}", risk_fleet.sponsor),
            None,
            [0, 403, 403, 403, 403, 403, 403, 403, 404],
        ),
        (
            "list agents without sponsors",
            Method::GET,
            "/writ/v1/agentsWithoutSponsors".to_owned(),
            None,
            [200, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        // Lifecycle policies (issue 19, part K; lifecycle_policies.rs): Global and Identity
        // Governance Administrators manage them; to anyone else the collection is 403 and a
        // policy does not exist. An agent's lifecycle is read by whoever reads the agent; a
        // sponsor or owner, or a Global Administrator, attests it (the others see it: 403; the
        // agent identity does not see another agent: 404).
        (
            "list lifecycle policies",
            Method::GET,
            lifecycle_policies.to_owned(),
            None,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "create a lifecycle policy",
            Method::POST,
            lifecycle_policies.to_owned(),
            Some(lifecycle_body.clone()),
            [201, 201, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "read a lifecycle policy",
            Method::GET,
            format!("{lifecycle_policies}/{lifecycle_policy}"),
            None,
            [200, 200, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "update a lifecycle policy",
            Method::PATCH,
            format!("{lifecycle_policies}/{lifecycle_policy}"),
            Some(json!({"description": "changed"})),
            [204, 204, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "delete a lifecycle policy",
            Method::DELETE,
            format!("{lifecycle_policies}/{lifecycle_policy}"),
            None,
            [0, 0, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "read an agent's lifecycle",
            Method::GET,
            format!("/v1.0/servicePrincipals/{governed}/lifecycle"),
            None,
            [200, 200, 200, 200, 200, 200, 200, 200, 404],
        ),
        (
            "attest an agent",
            Method::POST,
            format!("/v1.0/servicePrincipals/{governed}/attest"),
            Some(json!({})),
            [204, 403, 403, 403, 403, 403, 403, 403, 404],
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, path, body, expected) in &table {
        for (i, caller) in CALLERS.iter().enumerate() {
            // Destructive rows run only for callers expected to be refused.
            if expected[i] == 0 {
                continue;
            }
            let reply = match body {
                Some(body) => {
                    app.send(method.clone(), path, &tokens[i], body.clone())
                        .await
                }
                None => {
                    app.request(method.clone(), path, Some(&tokens[i]), None, &[])
                        .await
                }
            };
            if reply.status.as_u16() != expected[i] {
                failures.push(format!(
                    "{what} as {caller}: expected {}, got {} {}",
                    expected[i], reply.status, reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization table mismatches:\n{}",
        failures.join("\n")
    );
    // The refused decisions changed nothing.
    let risk = app
        .get(
            &format!("/beta/identityProtection/riskyAgents/{risky}"),
            &app.admin,
        )
        .await;
    assert_eq!(
        risk.body["riskState"], "confirmedCompromised",
        "{}",
        risk.body
    );
    let untouched = app
        .get(
            &format!("/beta/identityProtection/riskyAgents/{unrisked}"),
            &app.admin,
        )
        .await;
    assert_eq!(
        untouched.status,
        StatusCode::NOT_FOUND,
        "{}",
        untouched.body
    );
    // Lists are filtered in the query: the owner of B sees only B; the ordinary user nothing.
    let listed = app.get(&format!("{EM}/catalogs"), &tokens[3]).await;
    let names: Vec<&str> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Catalog B"]);
    assert_eq!(
        app.get(&format!("{EM}/accessPackages"), &tokens[7])
            .await
            .body["value"],
        json!([])
    );
}

crate::on_both_backends!(catalog_endpoints_answer_by_role);
