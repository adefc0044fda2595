//! The route sweep: every route of the route table (`writ_server::route_docs()`, the table that
//! also generates the router and the OpenAPI document, so a new route is swept without being
//! named here) called with generated bad input — malformed and wrong-typed JSON bodies, huge
//! numbers, huge and negative durations, instants near years 9999 and 0001, very long strings,
//! control characters, ids that do not exist, are malformed or name another kind of object, and
//! bad query options — by every kind of caller. Nothing may panic or answer 5xx, every 4xx
//! carries the Graph error envelope (the OAuth error on the token endpoint, a JSON-RPC error
//! object on `/mcp`), and no route that needs a token answers 2xx without a valid one.
//!
//! The inputs come from a seeded generator: `WRIT_SWEEP_SEED` replays a run, `WRIT_SWEEP_CASES`
//! (random cases per route on top of one per caller; default 12) enlarges it (`scripts/fuzz.sh`).

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use serde_json::{Value, json};
use writ_server::routes::{Kind, RouteDoc};
use writ_store::Backend;

use crate::fuzz_inputs::pointers;
use crate::harness::{PUBLIC_URL, TestApp, app, exchange};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const IGA_ROLE: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";
const CATALOG_OWNER_ROLE: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const GLOBAL_ADMIN_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// A small deterministic generator, so a failing sweep replays exactly from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| {
            let v = v.trim();
            v.strip_prefix("0x")
                .map_or_else(|| v.parse().ok(), |hex| u64::from_str_radix(hex, 16).ok())
        })
        .unwrap_or(default)
}

/// One kind of caller and how it authenticates.
struct Caller {
    name: &'static str,
    /// `None`: no Authorization header; `Some(None)`: a bad one, chosen per request.
    token: Option<Option<String>>,
}

/// Everything the sweep draws from: callers, real ids by the collection they belong to, valid
/// bodies to damage, and real skiptokens to forge from.
struct Fixtures {
    callers: Vec<Caller>,
    ids: HashMap<&'static str, Vec<String>>,
    all_ids: Vec<String>,
    seeds: HashMap<&'static str, Vec<Value>>,
    all_seeds: Vec<Value>,
    skiptokens: Vec<String>,
    bad_tokens: Vec<String>,
    tenant: String,
    admin_app_id: String,
}

fn bind(kind: &str, id: &str) -> String {
    format!("{PUBLIC_URL}/v1.0/{kind}/{id}")
}

async fn post(app: &TestApp, path: &str, body: Value) -> crate::harness::Reply {
    let reply = app.send(Method::POST, path, &app.admin, body).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.body);
    reply
}

/// Builds a small tenant with one object of every kind the routes name, and the callers.
async fn fixtures(app: &TestApp) -> Fixtures {
    let mut ids: HashMap<&'static str, Vec<String>> = HashMap::new();
    let mut add = |kind: &'static str, id: &str| ids.entry(kind).or_default().push(id.to_owned());

    // People and their roles.
    let (iga_user, iga) = app.user_token("Sweep Governance").await;
    post(
        app,
        "/v1.0/roleManagement/directory/roleAssignments",
        json!({"principalId": iga_user, "roleDefinitionId": IGA_ROLE, "directoryScopeId": "/"}),
    )
    .await;
    let (owner_user, owner) = app.user_token("Sweep Owner").await;
    let (sponsor_user, sponsor) = app.user_token("Sweep Sponsor").await;
    let (other_user, other) = app.user_token("Sweep Stranger").await;
    for user in [&iga_user, &owner_user, &sponsor_user, &other_user] {
        add("users", user);
        add("members", user);
        add("owners", user);
        add("sponsors", user);
        add("internalSponsors", user);
        add("externalSponsors", user);
        add("subjects", user);
        add("directoryObjects", user);
    }
    add("users", "sweepsponsor@example.org");
    // Targets nobody has requested anything for yet: an assignment request for one of them
    // gets past the "open request" check to the schedule and policy rules.
    let mut spares = Vec::new();
    for name in ["Sweep Spare One", "Sweep Spare Two", "Sweep Spare Three"] {
        let spare = app.create_user(name).await;
        add("users", &spare);
        add("directoryObjects", &spare);
        spares.push(spare);
    }
    let group = app.create_group("Sweep Group").await;
    let role_group = app
        .send(
            Method::POST,
            "/v1.0/groups",
            &app.admin,
            json!({"displayName": "Sweep Admins", "mailNickname": "sweep-admins", "mailEnabled": false, "securityEnabled": true, "isAssignableToRole": true}),
        )
        .await;
    let role_group = role_group.id();
    for g in [&group, &role_group] {
        add("groups", g);
        add("incompatibleGroups", g);
        add("directoryObjects", g);
    }

    // An application with its principal, and an agent identity with its own secret.
    let application = post(
        app,
        "/v1.0/applications",
        json!({"displayName": "Sweep App"}),
    )
    .await;
    let app_object = application.id();
    let app_id = application.body["appId"].as_str().unwrap().to_owned();
    let app_sp = post(app, "/v1.0/servicePrincipals", json!({"appId": app_id}))
        .await
        .id();
    let sponsors = json!([bind("users", &sponsor_user)]);
    let blueprint = post(app, "/v1.0/applications", json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "Sweep Blueprint", "sponsors@odata.bind": sponsors})).await;
    let blueprint_app = blueprint.body["appId"].as_str().unwrap().to_owned();
    let blueprint_sp = post(
        app,
        "/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        json!({"appId": blueprint_app}),
    )
    .await
    .id();
    let agent = post(app, "/v1.0/servicePrincipals", json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "Sweep Agent", "agentIdentityBlueprintId": blueprint_app, "sponsors@odata.bind": sponsors})).await;
    let agent_id = agent.id();
    let secret = post(
        app,
        &format!("/v1.0/servicePrincipals/{agent_id}/addPassword"),
        json!({}),
    )
    .await;
    let agent_token = app
        .client_token(
            agent.body["appId"].as_str().unwrap(),
            secret.body["secretText"].as_str().unwrap(),
        )
        .await;
    let key_id = secret.body["keyId"].as_str().unwrap_or_default().to_owned();
    for a in [&app_object, &blueprint.id()] {
        add("applications", a);
        add("directoryObjects", a);
    }
    for sp in [&app_sp, &blueprint_sp, &agent_id] {
        add("servicePrincipals", sp);
        add("directoryObjects", sp);
        add("subjects", sp);
    }
    let grant = app
        .send(
            Method::POST,
            "/v1.0/oauth2PermissionGrants",
            &app.admin,
            json!({"clientId": app_sp, "consentType": "AllPrincipals", "resourceId": blueprint_sp, "scope": "read"}),
        )
        .await;
    if let Some(grant) = grant.body["id"].as_str() {
        add("oauth2PermissionGrants", grant);
    }

    // Entitlement management: two catalogs, a group resource, packages, policies, requests.
    let catalog = post(
        app,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Sweep Catalog"}),
    )
    .await
    .id();
    let catalog_b = post(
        app,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Sweep Other"}),
    )
    .await
    .id();
    add("catalogs", &catalog);
    add("catalogs", &catalog_b);
    let em_role = post(
        app,
        "/v1.0/roleManagement/entitlementManagement/roleAssignments",
        json!({"principalId": owner_user, "roleDefinitionId": CATALOG_OWNER_ROLE, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
    )
    .await;
    add("roleAssignments", &em_role.id());
    add("roleDefinitions", CATALOG_OWNER_ROLE);
    add("roleDefinitions", IGA_ROLE);
    add("roleDefinitions", GLOBAL_ADMIN_ROLE);
    app.onboard_group(&app.admin, &catalog, &group).await;
    let resources = app
        .get(&format!("{EM}/catalogs/{catalog}/resources"), &app.admin)
        .await;
    for r in resources.body["value"].as_array().unwrap() {
        add("resources", r["id"].as_str().unwrap());
    }
    let member_role = app.member_role(&app.admin, &catalog, &group).await;
    let package = post(
        app,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Sweep Package", "catalog": {"id": catalog}}),
    )
    .await
    .id();
    let package_b = post(
        app,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Sweep Package B", "catalog": {"id": catalog}}),
    )
    .await
    .id();
    for p in [&package, &package_b] {
        add("accessPackages", p);
        add("incompatibleAccessPackages", p);
    }
    let scope = post(
        app,
        &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
        json!({"role": {"id": member_role}}),
    )
    .await;
    add("resourceRoleScopes", &scope.id());
    let admin_policy = post(app, &format!("{EM}/assignmentPolicies"), json!({"displayName": "Sweep Admin Policy", "allowedTargetScope": "notSpecified", "expiration": {"type": "afterDuration", "duration": "P1D"}, "accessPackage": {"id": package}})).await.id();
    let agent_policy_body = agent_policy(&package, &sponsor_user);
    let agent_policy = post(
        app,
        &format!("{EM}/assignmentPolicies"),
        agent_policy_body.clone(),
    )
    .await
    .id();
    add("assignmentPolicies", &admin_policy);
    add("assignmentPolicies", &agent_policy);
    let admin_request = post(app, &format!("{EM}/assignmentRequests"), json!({"requestType": "adminAdd", "assignment": {"targetId": other_user, "assignmentPolicyId": admin_policy, "accessPackageId": package}})).await;
    add("assignmentRequests", &admin_request.id());
    let agent_request = app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), &agent_token, json!({"requestType": "userAdd", "justification": "sweep", "assignment": {"accessPackageId": package, "assignmentPolicyId": agent_policy}}))
        .await;
    assert_eq!(
        agent_request.status,
        StatusCode::CREATED,
        "{}",
        agent_request.body
    );
    let agent_request = agent_request.id();
    add("assignmentRequests", &agent_request);
    add("accessPackageAssignmentApprovals", &agent_request);
    let stages = app
        .get(
            &format!("{EM}/accessPackageAssignmentApprovals/{agent_request}/stages"),
            &sponsor,
        )
        .await;
    for s in stages.body["value"].as_array().into_iter().flatten() {
        add("stages", s["id"].as_str().unwrap());
    }
    let assignments = app.get(&format!("{EM}/assignments"), &app.admin).await;
    for a in assignments.body["value"].as_array().into_iter().flatten() {
        add("assignments", a["id"].as_str().unwrap());
    }
    let org = post(app, &format!("{EM}/connectedOrganizations"), json!({"displayName": "Sweep Org", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "sweep.example"}]})).await.id();
    add("connectedOrganizations", &org);
    let extension = post(
        app,
        &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"),
        extension_body(),
    )
    .await
    .id();
    add("customWorkflowExtensions", &extension);
    let directory_roles = app
        .get("/v1.0/roleManagement/directory/roleAssignments", &app.admin)
        .await;
    for r in directory_roles.body["value"]
        .as_array()
        .into_iter()
        .flatten()
    {
        add("roleAssignments", r["id"].as_str().unwrap());
    }
    let audits = app
        .get("/v1.0/auditLogs/directoryAudits?$top=3", &app.admin)
        .await;
    for a in audits.body["value"].as_array().into_iter().flatten() {
        add("directoryAudits", a["id"].as_str().unwrap());
    }
    add("keyId", &key_id);

    let all_ids: Vec<String> = ids.values().flatten().cloned().collect();
    let mut seeds: HashMap<&'static str, Vec<Value>> = HashMap::new();
    let user_ref = json!({"@odata.id": bind("users", &other_user)});
    let schedule = json!({"startDateTime": "2030-01-01T00:00:00Z", "expiration": {"type": "afterDateTime", "endDateTime": "2030-02-01T00:00:00Z"}});
    for (kind, body) in [
        (
            "users",
            json!({"displayName": "Swept", "userPrincipalName": "swept@example.org", "mailNickname": "swept", "accountEnabled": true, "passwordProfile": {"password": "a long passphrase 1"}}),
        ),
        (
            "agentUser",
            json!({"displayName": "Swept agent user", "userPrincipalName": "sweptagent@example.org", "mailNickname": "sweptagent", "accountEnabled": true, "identityParentId": agent_id}),
        ),
        (
            "groups",
            json!({"displayName": "Swept", "mailNickname": "swept", "mailEnabled": false, "securityEnabled": true, "isAssignableToRole": true, "members@odata.bind": [bind("users", &other_user)]}),
        ),
        (
            "applications",
            json!({"displayName": "Swept", "signInAudience": "AzureADMyOrg", "identifierUris": ["api://swept"], "appRoles": [{"id": "00000000-0000-0000-0000-0000000000aa", "value": "read", "displayName": "Read", "description": "Read", "allowedMemberTypes": ["Application"], "isEnabled": true}]}),
        ),
        (
            "applications",
            json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "Swept", "sponsors@odata.bind": sponsors}),
        ),
        (
            "servicePrincipals",
            json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "Swept", "agentIdentityBlueprintId": blueprint_app, "sponsors@odata.bind": sponsors, "accountEnabled": true}),
        ),
        ("servicePrincipals", json!({"appId": app_id})),
        (
            "addPassword",
            json!({"passwordCredential": {"displayName": "swept", "startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2031-01-01T00:00:00Z"}}),
        ),
        ("removePassword", json!({"keyId": key_id})),
        ("$ref", user_ref.clone()),
        (
            "$ref",
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/identityGovernance/entitlementManagement/accessPackages/{package_b}")}),
        ),
        ("manager", user_ref),
        (
            "appRoleAssignments",
            json!({"principalId": agent_id, "resourceId": app_sp, "appRoleId": "00000000-0000-0000-0000-000000000000"}),
        ),
        (
            "appRoleAssignedTo",
            json!({"principalId": agent_id, "resourceId": app_sp, "appRoleId": "00000000-0000-0000-0000-000000000000"}),
        ),
        (
            "oauth2PermissionGrants",
            json!({"clientId": agent_id, "consentType": "AllPrincipals", "resourceId": app_sp, "scope": "read write", "expiryTime": "2030-01-01T00:00:00Z"}),
        ),
        (
            "roleAssignments",
            json!({"principalId": role_group, "roleDefinitionId": GLOBAL_ADMIN_ROLE, "directoryScopeId": "/"}),
        ),
        (
            "roleAssignments",
            json!({"principalId": other_user, "roleDefinitionId": CATALOG_OWNER_ROLE, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
        ),
        (
            "catalogs",
            json!({"displayName": "Swept", "description": "d", "isExternallyVisible": false, "state": "published"}),
        ),
        (
            "accessPackages",
            json!({"displayName": "Swept", "description": "d", "isHidden": false, "catalog": {"id": catalog}}),
        ),
        (
            "resourceRoleScopes",
            json!({"role": {"id": member_role, "originSystem": "AadGroup"}, "scope": {"originId": group, "originSystem": "AadGroup"}}),
        ),
        (
            "resourceRequests",
            json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": role_group, "originSystem": "AadGroup"}}),
        ),
        (
            "resourceRequests",
            json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": GLOBAL_ADMIN_ROLE, "originSystem": "DirectoryRole"}}),
        ),
        ("assignmentPolicies", agent_policy_body),
        (
            "assignmentPolicies",
            json!({"displayName": "Swept", "allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.singleUser", "userId": other_user}], "expiration": {"type": "afterDateTime", "endDateTime": "2031-01-01T00:00:00Z"}, "requestorSettings": {"enableTargetsToSelfAddAccess": true, "allowCustomAssignmentSchedule": true}, "accessPackage": {"id": package}, "customExtensionStageSettings": [{"stage": "assignmentRequestCreated", "customExtension": {"id": extension}}]}),
        ),
        (
            "assignmentRequests",
            json!({"requestType": "adminAdd", "schedule": schedule, "assignment": {"targetId": other_user, "assignmentPolicyId": admin_policy, "accessPackageId": package}}),
        ),
        (
            "assignmentRequests",
            json!({"requestType": "userAdd", "justification": "j", "schedule": schedule, "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "x", "answeredQuestion": {"id": "q"}}], "assignment": {"accessPackageId": package, "assignmentPolicyId": agent_policy, "targetId": agent_id}}),
        ),
        (
            "assignmentRequests",
            json!({"requestType": "userUpdate", "schedule": schedule, "assignment": {"id": agent_request}}),
        ),
        (
            "assignmentRequests",
            json!({"requestType": "adminUpdate", "schedule": {"expiration": {"type": "afterDuration", "duration": "P30D"}}, "assignment": {"id": agent_request}}),
        ),
        (
            "assignmentRequests",
            json!({"requestType": "adminRemove", "assignment": {"id": agent_request}}),
        ),
        (
            "stages",
            json!({"reviewResult": "Approve", "justification": "ok"}),
        ),
        (
            "resume",
            json!({"source": "sweep", "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated", "data": {"@odata.type": "microsoft.graph.accessPackageAssignmentRequestCallbackData", "stage": "assignmentRequestCreated", "customExtensionStageInstanceId": agent_request, "customExtensionStageInstanceDetail": "d", "state": "approved"}}),
        ),
        (
            "connectedOrganizations",
            json!({"displayName": "Swept", "description": "d", "state": "configured", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "swept.example", "displayName": "s"}]}),
        ),
        ("customWorkflowExtensions", extension_body()),
        (
            "settings",
            json!({"externalUserLifecycleAction": "blockSignIn", "durationUntilExternalUserDeletedAfterBlocked": "P10D"}),
        ),
        ("getApplicablePolicyRequirements", json!({})),
        ("refresh", json!({})),
        // Access evaluation (issue 18, part F).
        (
            "evaluation",
            json!({"subject": {"type": "user", "id": other_user}, "resource": {"type": "group", "id": group}, "action": {"name": "member"}, "context": {}}),
        ),
        (
            "evaluations",
            json!({"subject": {"type": "user", "id": other_user}, "action": {"name": "member"}, "options": {"evaluations_semantic": "deny_on_first_deny"}, "evaluations": [{"resource": {"type": "group", "id": group}}, {"resource": {"type": "appRole", "id": group, "properties": {"resourceId": group}}, "action": {"name": "assigned"}}]}),
        ),
    ] {
        seeds.entry(kind).or_default().push(body);
    }
    for spare in &spares {
        seeds.entry("assignmentRequests").or_default().push(json!({"requestType": "adminAdd", "schedule": {"startDateTime": "2030-01-01T00:00:00Z", "expiration": {"type": "afterDuration", "duration": "PT12H"}}, "assignment": {"targetId": spare, "assignmentPolicyId": admin_policy, "accessPackageId": package}}));
    }
    let all_seeds: Vec<Value> = seeds.values().flatten().cloned().collect();

    // Real skiptokens of several collections, to forge wrong-typed keys from.
    let mut skiptokens = Vec::new();
    for path in [
        "/v1.0/users?$top=1",
        "/v1.0/users?$top=1&$orderby=displayName desc",
        "/v1.0/users?$top=1&$orderby=createdDateTime",
        "/v1.0/groups?$top=1&$orderby=displayName",
        "/v1.0/servicePrincipals?$top=1",
        "/v1.0/groups/{group}/members?$top=1",
        "/v1.0/auditLogs/directoryAudits?$top=1",
        "/v1.0/identityGovernance/entitlementManagement/accessPackages?$top=1",
        "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies?$top=1",
        "/v1.0/roleManagement/directory/roleDefinitions?$top=1",
    ] {
        let reply = app
            .get(
                &path.replace("{group}", &group).replace(' ', "%20"),
                &app.admin,
            )
            .await;
        if let Some(link) = reply.body["@odata.nextLink"].as_str()
            && let Some((_, token)) = link.split_once("skiptoken=")
        {
            skiptokens.push(token.split('&').next().unwrap_or(token).to_owned());
        }
    }
    assert!(!skiptokens.is_empty(), "no collection had a second page");

    // Bad tokens: garbage, and real tokens damaged, re-signed by nobody, or for another audience.
    let mut bad_tokens = vec![
        String::new(),
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJvaWQiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.".to_owned(),
        "x".repeat(20_000),
    ];
    for token in [&app.admin, &agent_token, &other] {
        let parts: Vec<&str> = token.split('.').collect();
        if let [header, payload, signature] = parts.as_slice() {
            bad_tokens.push(format!(
                "{header}.{payload}.{}",
                &signature[..signature.len() / 2]
            ));
            bad_tokens.push(format!("{header}.{payload}"));
            bad_tokens.push(format!("{payload}.{header}.{signature}"));
            bad_tokens.push(format!("{header}.e30.{signature}"));
            bad_tokens.push(format!("{header}.{payload}.{signature}x"));
        }
    }
    let resource_token = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=api%3A%2F%2F{app_id}%2F.default",
            agent.body["appId"].as_str().unwrap(),
            secret.body["secretText"].as_str().unwrap()
        ))
        .await;
    if let Some(t) = resource_token.body["access_token"].as_str() {
        bad_tokens.push(t.to_owned());
    }

    let callers = vec![
        Caller {
            name: "anonymous",
            token: None,
        },
        Caller {
            name: "bad token",
            token: Some(None),
        },
        Caller {
            name: "Global Administrator",
            token: Some(Some(app.admin.clone())),
        },
        Caller {
            name: "Identity Governance Administrator",
            token: Some(Some(iga)),
        },
        Caller {
            name: "catalog owner",
            token: Some(Some(owner)),
        },
        Caller {
            name: "agent identity",
            token: Some(Some(agent_token)),
        },
        Caller {
            name: "sponsor",
            token: Some(Some(sponsor)),
        },
        Caller {
            name: "unrelated user",
            token: Some(Some(other)),
        },
    ];
    let tenant = app.state.settings.tenant_id.clone();
    Fixtures {
        callers,
        ids,
        all_ids,
        seeds,
        all_seeds,
        skiptokens,
        bad_tokens,
        tenant,
        admin_app_id: crate::harness::ADMIN_CLIENT_ID.to_owned(),
    }
}

fn agent_policy(package: &str, approver: &str) -> Value {
    json!({
        "displayName": "Sweep Agent Policy",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "specificAllowedTargets": [],
        "expiration": {"type": "afterDuration", "duration": "P30D"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": true,
            "enableTargetsToSelfRemoveAccess": true, "allowCustomAssignmentSchedule": true,
            "enableOnBehalfRequestorsToAddAccess": true, "enableOnBehalfRequestorsToUpdateAccess": true,
            "enableOnBehalfRequestorsToRemoveAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners", "isBackup": false}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": true,
            "isRequestorJustificationRequired": false,
            "stages": [{
                "@odata.type": "#microsoft.graph.accessPackageApprovalStage",
                "durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": false,
                "isEscalationEnabled": true, "durationBeforeEscalation": "P2D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                "fallbackPrimaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}],
                "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}],
                "fallbackEscalationApprovers": []
            }]
        },
        "accessPackage": {"id": package}
    })
}

fn extension_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
        "displayName": "Sweep hook", "description": "d",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://hooks.example/sweep"},
        "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": "00000000-0000-0000-0000-000000000001"},
        "clientConfiguration": {"maximumRetries": 1, "timeoutInMilliseconds": 5000},
        "callbackConfiguration": {"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"}
    })
}

/// Path segment values that are not a valid id of the right kind; already in wire form.
#[rustfmt::skip]
const BAD_IDS: &[&str] = &[
    "00000000-0000-0000-0000-000000000000",
    "0190b3c4-1234-7abc-8def-0123456789ab",
    "not-a-guid",
    "%20",
    "%2e%2e",
    "%2F",
    "%00",
    "%0D%0A",
    "%C3%A9",
    "%FF",
    "%E2%80%AE",
    "'",
    "''",
    "appId='x'",
    "(appId='00000000-0000-0000-0000-000000000000')",
    "servicePrincipals(appId='%00')",
    "applications(appId='')",
    "$count",
    "$ref",
    "microsoft.graph.agentUser",
    "a@b@c",
    "12345678-1234-1234-1234-1234567890123",
    "-1",
    "99999999999999999999",
    "%25",
    "null",
    "none_none",
    "_",
];

/// JSON property names Graph bodies use, for generated objects.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "displayName",
    "description",
    "mailNickname",
    "userPrincipalName",
    "accountEnabled",
    "passwordProfile",
    "password",
    "mailEnabled",
    "securityEnabled",
    "isAssignableToRole",
    "groupTypes",
    "members@odata.bind",
    "owners@odata.bind",
    "sponsors@odata.bind",
    "@odata.type",
    "@odata.id",
    "appId",
    "agentIdentityBlueprintId",
    "identityParentId",
    "principalId",
    "resourceId",
    "appRoleId",
    "roleDefinitionId",
    "directoryScopeId",
    "appScopeId",
    "clientId",
    "consentType",
    "scope",
    "startTime",
    "expiryTime",
    "passwordCredential",
    "keyId",
    "startDateTime",
    "endDateTime",
    "catalog",
    "accessPackage",
    "assignment",
    "requestType",
    "justification",
    "schedule",
    "expiration",
    "duration",
    "type",
    "allowedTargetScope",
    "specificAllowedTargets",
    "requestorSettings",
    "requestApprovalSettings",
    "stages",
    "durationBeforeAutomaticDenial",
    "durationBeforeEscalation",
    "isEscalationEnabled",
    "primaryApprovers",
    "escalationApprovers",
    "userId",
    "groupId",
    "questions",
    "answers",
    "reviewResult",
    "isEnabled",
    "isHidden",
    "state",
    "identitySources",
    "domainName",
    "externalUserLifecycleAction",
    "durationUntilExternalUserDeletedAfterBlocked",
    "endpointConfiguration",
    "targetUrl",
    "authenticationConfiguration",
    "callbackConfiguration",
    "timeoutDuration",
    "clientConfiguration",
    "maximumRetries",
    "timeoutInMilliseconds",
    "role",
    "resource",
    "originId",
    "originSystem",
    "id",
    "targetId",
    "assignmentPolicyId",
    "accessPackageId",
    "customExtensionStageSettings",
    "customExtension",
    "data",
    "source",
    "stage",
    "customExtensionStageInstanceId",
    "recurrence",
    "sequence",
    "text",
    "choices",
    "isRequired",
    "localizations",
    "languageCode",
    "appRoles",
    "identifierUris",
    "value",
    "managerLevel",
    "isBackup",
    "signInAudience",
    "grantAll",
    "x",
    "",
];

/// Strings that are meaningful somewhere: enumeration members, types, durations, instants, urls.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "adminAdd", "userAdd", "userUpdate", "userRemove", "adminUpdate", "adminRemove",
    "afterDuration", "afterDateTime", "noExpiration", "notSpecified",
    "allDirectoryAgentIdentities", "allDirectoryUsers", "specificDirectoryUsers",
    "specificDirectoryServicePrincipals", "allMemberUsers", "AadGroup", "DirectoryRole",
    "AadApplication", "Approve", "Deny", "NotReviewed", "Member", "Owner", "published",
    "assignmentRequestCreated", "assignmentRequestApproved", "assignmentFourteenDaysBeforeExpiration",
    "#microsoft.graph.singleUser", "#microsoft.graph.groupMembers",
    "#microsoft.graph.targetAgentIdentitySponsorsOrOwners", "#microsoft.graph.requestorManager",
    "#microsoft.graph.agentIdentity", "#microsoft.graph.agentIdentityBlueprint",
    "#microsoft.graph.agentUser", "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
    "#microsoft.graph.httpRequestEndpoint", "#microsoft.graph.accessPackageTextInputQuestion",
    "#microsoft.graph.accessPackageMultipleChoiceQuestion", "#microsoft.graph.x", "#x.y.z",
    "microsoft.graph.accessPackageAssignmentRequestCallbackData",
    "https://hooks.example/a", "http://127.0.0.1:1/", "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/", "https://user:pass@hooks.example/?sig=secret", "file:///etc/passwd",
    "/", "/AccessPackageCatalog/x", "/AccessPackageCatalog/", "api://x/.default",
];

/// ISO 8601 durations: huge, negative, zero, at and around Graph's limits, malformed.
#[rustfmt::skip]
const DURATIONS: &[&str] = &[
    "P9999999999D", "-P1D", "P0D", "PT0S", "P1Y", "P1M", "P1W", "P14D", "P15D", "P365D", "P366D",
    "PT5M", "PT4M59S", "PT9999999999999H", "P99999999999999999999D", "P", "PT", "P1DT", "P1.5D",
    "PT-1S", "P-0D", "P1DT1H1M1.5S", "PT1H", "P10675199D", "PT9223372036854775807S",
    "P106751991167300D", "PT0.0000001S", "P1Y2M3DT4H5M6S", "p1d", "1D", "P1D ",
];

/// Instants near the ends of what can be represented, impossible dates, other spellings.
#[rustfmt::skip]
const INSTANTS: &[&str] = &[
    "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59-14:00",
    "9999-12-31T00:00:00Z", "9998-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2030-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2024-01-01", "not a date", "now",
    "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", "2030-13-01T00:00:00Z",
];

fn long_string(rng: &mut Rng) -> String {
    let unit = *rng.pick(&["a", "é", "🦀", "\u{202e}", "%", "'", "\\", " "]);
    unit.repeat(*rng.pick(&[257, 1025, 4097, 70_000]))
}

/// A long string for a URI: at most ~12 KB once percent-encoded, so that a query with several
/// of them stays under the 64 KB an `http::Uri` holds.
fn long_uri_string(rng: &mut Rng) -> String {
    let unit = *rng.pick(&["a", "é", "%", "'", " "]);
    unit.repeat(*rng.pick(&[257, 1025, 2049]))
}

fn control_string(rng: &mut Rng) -> String {
    let c = *rng.pick(&[
        "\u{0}",
        "\r\n",
        "\n",
        "\r",
        "\t",
        "\u{1b}[31m",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{feff}",
    ]);
    format!("Swept{c}name")
}

/// A JSON value meant to be wrong somewhere: wrong type, out of range, malformed, hostile.
fn bad_value(rng: &mut Rng, fx: &Fixtures, depth: u32) -> Value {
    match rng.below(if depth == 0 { 9 } else { 11 }) {
        0 => rng
            .pick(&[
                Value::Null,
                json!(true),
                json!(false),
                json!(0),
                json!(-1),
                json!(1.5),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1e308),
                json!(-1e308),
                json!(""),
                json!(" "),
            ])
            .clone(),
        1 => json!(rng.pick(WORDS)),
        2 => {
            let pool = if rng.chance(50) { DURATIONS } else { INSTANTS };
            json!(rng.pick(pool))
        }
        3 => json!(long_string(rng)),
        4 => json!(control_string(rng)),
        5 => json!(rng.pick(&fx.all_ids)),
        6 => json!(rng.pick(BAD_IDS)),
        7 => json!(rng.pick(KEYS)),
        8 => {
            // Deep nesting, within and beyond what the JSON parser accepts, is built as text
            // elsewhere; as a value it stays within 64 levels.
            let mut v = json!("deep");
            for _ in 0..rng.below(64) {
                v = json!([v]);
            }
            v
        }
        9 => Value::Array(
            (0..rng.below(4))
                .map(|_| bad_value(rng, fx, depth - 1))
                .collect(),
        ),
        _ => random_object(rng, fx, depth - 1),
    }
}

fn random_object(rng: &mut Rng, fx: &Fixtures, depth: u32) -> Value {
    let mut map = serde_json::Map::new();
    for _ in 0..rng.below(6) {
        let key = (*rng.pick(KEYS)).to_owned();
        let value = bad_value(rng, fx, depth);
        map.insert(key, value);
    }
    Value::Object(map)
}

/// A value of the same kind as `current` but out of range or malformed (a duration for a
/// duration, an instant for an instant, another id for an id), so the mutation gets past the
/// type checks to the rules behind them.
fn in_kind(rng: &mut Rng, fx: &Fixtures, current: &Value) -> Option<Value> {
    Some(match current {
        Value::String(s) if s.starts_with('P') || s.starts_with("-P") => {
            json!(rng.pick(DURATIONS))
        }
        Value::String(s) if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') => {
            json!(rng.pick(INSTANTS))
        }
        Value::String(s) if s.len() == 36 && s.matches('-').count() == 4 => match rng.below(3) {
            0 => json!(rng.pick(BAD_IDS)),
            _ => json!(rng.pick(&fx.all_ids)),
        },
        Value::String(_) => match rng.below(3) {
            0 => json!(long_string(rng)),
            1 => json!(control_string(rng)),
            _ => json!(rng.pick(WORDS)),
        },
        Value::Number(_) => rng
            .pick(&[
                json!(0),
                json!(-1),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1e308),
                json!(0.5),
                json!(2_147_483_648_u64),
            ])
            .clone(),
        Value::Bool(b) => json!(!b),
        Value::Array(items) if !items.is_empty() => {
            // Many copies of one element: lists have limits too.
            let item = rng.pick(items).clone();
            Value::Array(vec![item; *rng.pick(&[2, 21, 101, 1001])])
        }
        _ => return None,
    })
}

/// A valid body with one to three parts replaced, added or removed.
fn mutated(rng: &mut Rng, fx: &Fixtures, seed: &Value) -> Value {
    let mut body = seed.clone();
    // Mostly one fault at a time, so the others do not stop the request first.
    let faults = if rng.chance(60) { 1 } else { 2 + rng.below(2) };
    for _ in 0..faults {
        let mut all = vec![String::new()];
        pointers(&body, "", &mut all);
        let at = rng.pick(&all).clone();
        let replacement = bad_value(rng, fx, 2);
        let action = rng.below(4);
        if let Some(target) = body.pointer_mut(&at) {
            match (action, target) {
                (0, Value::Object(map)) => {
                    map.insert((*rng.pick(KEYS)).to_owned(), replacement);
                }
                (1, Value::Object(map)) if !map.is_empty() => {
                    let key = map.keys().nth(rng.below(map.len())).cloned().unwrap();
                    map.remove(&key);
                }
                (2, target) if !at.is_empty() => {
                    *target = in_kind(rng, fx, target).unwrap_or(replacement);
                }
                (_, target) if !at.is_empty() => *target = replacement,
                _ => {}
            }
        }
    }
    body
}

/// A body as bytes with its content type (`None`: no Content-Type header).
fn body_for(rng: &mut Rng, fx: &Fixtures, doc: &RouteDoc) -> (Vec<u8>, Option<&'static str>) {
    if doc.path.ends_with("/oauth2/v2.0/token") && rng.chance(70) {
        return (
            token_form(rng, fx).into_bytes(),
            Some("application/x-www-form-urlencoded"),
        );
    }
    let json = Some("application/json");
    let seeds = seeds_for(fx, doc);
    match rng.below(20) {
        0..=8 => {
            let seed = rng.pick(seeds).clone();
            (mutated(rng, fx, &seed).to_string().into_bytes(), json)
        }
        9..=11 => (random_object(rng, fx, 2).to_string().into_bytes(), json),
        12..=14 => {
            let raw: String = match rng.below(14) {
                0 => "{".into(),
                1 => "{\"displayName\":".into(),
                2 => "{\"displayName\": \"x\",}".into(),
                3 => "{\"displayName\": 1e400}".into(),
                4 => "{\"a\": -1e400, \"b\": 123456789012345678901234567890}".into(),
                5 => format!("{}1{}", "[".repeat(200), "]".repeat(200)),
                6 => format!("{{\"x\":{}1{}}}", "{\"y\":".repeat(130), "}".repeat(130)),
                7 => "{\"displayName\": \"\\ud800\"}".into(),
                8 => "{\"displayName\": \"a\", \"displayName\": \"b\"}".into(),
                9 => "\u{feff}{}".into(),
                10 => "{} {}".into(),
                11 => "{\"displayName\": \"\\u0000\"}".into(),
                12 => "null".into(),
                _ => String::new(),
            };
            (raw.into_bytes(), json)
        }
        15 => (bad_value(rng, fx, 1).to_string().into_bytes(), json),
        16 => (
            vec![0xff, 0xfe, b'{', b'}', 0x80],
            *rng.pick(&[Some("application/json"), None]),
        ),
        17 => (
            rng.pick(seeds).to_string().into_bytes(),
            *rng.pick(&[
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                Some("application/json; charset=latin1"),
                Some("application/merge-patch+json"),
                Some("multipart/form-data; boundary=x"),
                None,
            ]),
        ),
        18 => (
            token_form(rng, fx).into_bytes(),
            Some("application/x-www-form-urlencoded"),
        ),
        _ => (Vec::new(), *rng.pick(&[Some("application/json"), None])),
    }
}

/// The valid bodies of the collection a route writes to, if Writ has any for it.
fn route_seeds<'a>(fx: &'a Fixtures, doc: &RouteDoc) -> Option<&'a [Value]> {
    let last = doc
        .path
        .split('/')
        .rfind(|s| !s.starts_with('{') && !s.is_empty())
        .unwrap_or_default();
    let key = match last {
        "microsoft.graph.agentUser" => "agentUser",
        "microsoft.graph.agentIdentity" | "microsoft.graph.agentIdentityBlueprintPrincipal" => {
            "servicePrincipals"
        }
        "microsoft.graph.agentIdentityBlueprint" => "applications",
        other => other,
    };
    fx.seeds.get(key).map(Vec::as_slice)
}

/// The seeds of the route, or every seed for a route Writ has none for.
fn seeds_for<'a>(fx: &'a Fixtures, doc: &RouteDoc) -> &'a [Value] {
    route_seeds(fx, doc).unwrap_or(fx.all_seeds.as_slice())
}

/// A token request form: the real parameter names with good, bad and hostile values.
fn token_form(rng: &mut Rng, fx: &Fixtures) -> String {
    let names = [
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "username",
        "password",
        "refresh_token",
        "code",
        "assertion",
        "client_assertion",
        "x",
    ];
    let values: Vec<String> = vec![
        "client_credentials".into(),
        "password".into(),
        "refresh_token".into(),
        "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
        fx.admin_app_id.clone(),
        crate::harness::ADMIN_SECRET.into(),
        "https%3A%2F%2Fgraph.microsoft.com%2F.default".into(),
        "api%3A%2F%2Fx%2F.default".into(),
        "openid+profile".into(),
        "sweepsponsor%40example.org".into(),
        "a+long+passphrase+1".into(),
        "%00".into(),
        "%FF%FE".into(),
        "%ZZ".into(),
        "%0D%0A".into(),
        "a".repeat(5000),
        "%C3%A9".repeat(300),
        rng.pick(&fx.all_ids).clone(),
        String::new(),
    ];
    let mut pairs: Vec<String> = Vec::new();
    for _ in 0..rng.below(7) {
        let name = *rng.pick(&names);
        let value = rng.pick(&values).clone();
        pairs.push(match rng.below(10) {
            0 => name.to_owned(),
            1 => format!("{name}={value}={value}"),
            _ => format!("{name}={value}"),
        });
    }
    pairs.join(if rng.chance(90) { "&" } else { ";" })
}

/// Percent-encodes a query option's value.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A generated, mostly bad, query string (without the `?`).
fn query_for(rng: &mut Rng, fx: &Fixtures) -> String {
    let filters: Vec<String> = vec![
        "displayName eq 'x'".into(),
        "startswith(displayName,'Sweep')".into(),
        "createdDateTime ge 9999-12-31T23:59:59Z".into(),
        "createdDateTime lt 0001-01-01T00:00:00Z".into(),
        "createdDateTime ge 0001-01-01T00:00:00+14:00".into(),
        "createdDateTime eq 'aaaaaaaaaaaaaaaé'".into(),
        "createdDateTime eq '2024-01-02T03:0é'".into(),
        "activityDateTime ge 9999-12-31T23:59:59Z".into(),
        "id eq '00000000-0000-0000-0000-000000000000'".into(),
        format!("id eq '{}'", rng.pick(&fx.all_ids)),
        "id in ('a','b')".into(),
        "state eq 'delivered'".into(),
        "state eq 'nonsense'".into(),
        "accessPackage/id eq 'x'".into(),
        "catalog/id eq 'x'".into(),
        "target/objectId eq 'x'".into(),
        "displayName eq 99999999999999999999".into(),
        "displayName eq '\u{0}'".into(),
        "displayName eq 'x'' OR 1=1 --'".into(),
        "members/any(m: m/id eq 'x')".into(),
        "proxyAddresses/any(p: startswith(p,'smtp:'))".into(),
        "accountEnabled".into(),
        "accountEnabled eq 1".into(),
        "signInCount gt -9223372036854775808".into(),
        format!("{}x eq 1{}", "(".repeat(20), ")".repeat(20)),
        "not ".repeat(30) + "accountEnabled",
        "displayName eq '".to_owned() + &"a".repeat(3000) + "'",
        String::new(),
        " ".into(),
        "(".into(),
        "displayName eq".into(),
        "x eq 1".into(),
        "tolower(displayName) eq 'x'".into(),
        "substring(displayName,1) eq 'x'".into(),
        "appId eq 'x' and id eq 'y' or displayName ne null".into(),
    ];
    let orders = [
        "displayName",
        "displayName desc",
        "createdDateTime desc,id",
        "activityDateTime desc",
        "x",
        "displayName sideways",
        ",",
        "a,b,c,d,e,f",
        "id,id",
        "",
        "displayName asc desc",
    ];
    let tops = [
        "0",
        "-1",
        "1",
        "2",
        "999",
        "1000",
        "99999999999999999999",
        "abc",
        "",
        "1.5",
        "%205",
        "%00",
    ];
    let selects = [
        "id",
        "id,displayName",
        "*",
        "",
        ",",
        "a b",
        "@odata.type",
        "x",
        "id,,id",
        "é",
    ];
    let expands = [
        "members",
        "owners",
        "manager",
        "accessPackage",
        "catalog",
        "assignmentPolicies",
        "resourceRoleScopes($expand=role,scope)",
        "x",
        "members($select=id)",
        "members($filter=x eq 1)",
        "a($expand=b($expand=c($expand=d)))",
        "(",
        "members(",
        "*",
        "target,accessPackage,assignmentPolicy",
    ];
    let mut options: Vec<String> = Vec::new();
    for _ in 0..rng.below(4) {
        options.push(match rng.below(12) {
            0 | 1 => format!("$filter={}", encode(rng.pick(&filters).as_str())),
            2 => format!("$orderby={}", encode(rng.pick::<&str>(&orders))),
            3 => format!("$top={}", rng.pick(&tops)),
            4 | 5 => format!("$skiptoken={}", forged_skiptoken(rng, fx)),
            6 => format!("$select={}", encode(rng.pick::<&str>(&selects))),
            7 => format!("$expand={}", encode(rng.pick::<&str>(&expands))),
            8 => format!("$count={}", rng.pick(&["true", "false", "maybe", ""])),
            9 => (*rng.pick(&[
                "$foo=1",
                "foo=bar",
                "$search=x",
                "$format=json",
                "$top=1&$top=2",
                "$filter",
                "%FF=%FE",
                "$FILTER=id%20eq%20'x'",
                "$skip=1",
                "=",
                "&&",
            ]))
            .to_owned(),
            10 => format!("$filter={}", encode(&control_string(rng))),
            _ => format!("$filter={}", encode(&long_uri_string(rng))),
        });
    }
    options.join("&")
}

/// A `$skiptoken`: garbage, or a real one with its keys or fingerprint changed.
fn forged_skiptoken(rng: &mut Rng, fx: &Fixtures) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let real = rng.pick(&fx.skiptokens).clone();
    match rng.below(8) {
        0 => real,
        1 => URL_SAFE_NO_PAD.encode(format!(
            "offset:{}",
            rng.pick(&[
                "18446744073709551615",
                "9223372036854775807",
                "-1",
                "x",
                "1"
            ])
        )),
        2 => rng
            .pick(&["", "%00", "!!!", "e30", "bnVsbA", "W10"])
            .to_string(),
        3 => encode(&long_uri_string(rng)),
        _ => forge_keys(rng, &real),
    }
}

/// A real skiptoken with one of its sort keys replaced by a value of another type, or one
/// added.
fn forge_keys(rng: &mut Rng, real: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(mut body) = URL_SAFE_NO_PAD
        .decode(real)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return real.to_owned();
    };
    let replacement = rng
        .pick(&[
            json!(123),
            json!(-1),
            json!(true),
            json!("x"),
            json!(null),
            json!(1.5),
            json!(u64::MAX),
            json!({"a": 1}),
            json!([1]),
            json!("9999-12-31T23:59:59Z"),
            json!("\u{0}"),
        ])
        .clone();
    if let Some(keys) = body.get_mut("k").and_then(Value::as_array_mut)
        && !keys.is_empty()
    {
        let i = rng.below(keys.len());
        if rng.chance(80) {
            keys[i] = replacement;
        } else {
            keys.push(replacement);
        }
    } else {
        body["k"] = replacement;
    }
    URL_SAFE_NO_PAD.encode(body.to_string())
}

/// The concrete path of a route: each `{parameter}` replaced by an id of the right collection,
/// an id of another kind, or a bad one.
fn path_for(rng: &mut Rng, fx: &Fixtures, doc: &RouteDoc, exact: bool) -> String {
    let mut out = String::new();
    let mut previous = "";
    for (i, segment) in doc.path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            out.push_str(&rest[..open]);
            let name = &rest[open + 1..close];
            out.push_str(&parameter_value(rng, fx, doc, previous, name, exact));
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        if !segment.starts_with('{') {
            previous = segment;
        }
    }
    out
}

fn parameter_value(
    rng: &mut Rng,
    fx: &Fixtures,
    doc: &RouteDoc,
    collection: &str,
    name: &str,
    exact: bool,
) -> String {
    // A bound function's enumeration parameter: one of its values, any case, or junk.
    if let Some(parameter) = doc.function_parameters.iter().find(|p| p.name == name) {
        if !parameter.values.is_empty() && (exact || rng.chance(60)) {
            let value = rng.pick(&parameter.values);
            return if rng.chance(50) {
                value.to_ascii_uppercase()
            } else {
                (*value).to_owned()
            };
        }
        if parameter.values.is_empty() && (exact || rng.chance(60)) {
            return rng.pick(&fx.all_ids).clone();
        }
    }
    if name == "tenant" {
        return match rng.below(4) {
            0 | 1 => fx.tenant.clone(),
            2 => "common".to_owned(),
            _ => (*rng.pick(BAD_IDS)).to_owned(),
        };
    }
    if name == "key" {
        return match rng.below(5) {
            0 => format!("servicePrincipals(appId='{}')", fx.admin_app_id),
            1 => format!("applications(appId='{}')", rng.pick(&fx.all_ids)),
            2 => "servicePrincipals(appId=%27%00%27)".to_owned(),
            3 => format!("servicePrincipals(appId='{}')", "a".repeat(3000)),
            _ => (*rng.pick(BAD_IDS)).to_owned(),
        };
    }
    let collection = collection.split('(').next().unwrap_or(collection);
    if exact && let Some(ids) = fx.ids.get(collection) {
        return rng.pick(ids).clone();
    }
    match rng.below(10) {
        0..=5 => match fx.ids.get(collection) {
            Some(ids) if rng.chance(85) => {
                let id = rng.pick(ids).clone();
                if rng.chance(10) {
                    id.to_ascii_uppercase()
                } else {
                    id
                }
            }
            _ => rng.pick(&fx.all_ids).clone(),
        },
        6 => rng.pick(&fx.all_ids).clone(),
        7 => encode(&long_uri_string(rng)),
        _ => (*rng.pick(BAD_IDS)).to_owned(),
    }
}

/// One response judged; `None` when it is acceptable.
fn judge(
    doc: &RouteDoc,
    caller: &Caller,
    status: StatusCode,
    request_id: Option<&str>,
    body: &[u8],
) -> Option<String> {
    if status.is_server_error() {
        return Some(format!("{status}"));
    }
    if doc.authenticated && !matches!(caller.token, Some(Some(_))) && status.is_success() {
        return Some(format!("{status} without a valid token"));
    }
    if !status.is_client_error() {
        return None;
    }
    // The sign-in pages (issue 16) and the portal's (issue 17) answer people: their refusals
    // are pages.
    if matches!(doc.tag, "signIn" | "portal") && body.starts_with(b"<!doctype html>") {
        return None;
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Some(format!("{status} without a JSON body")),
    };
    let error = &value["error"];
    // The MCP server (issue 18, part H) refuses bad JSON-RPC with a JSON-RPC error object.
    if doc.tag == "mcp"
        && value["jsonrpc"] == "2.0"
        && error["code"].is_i64()
        && error["message"].is_string()
    {
        return None;
    }
    if doc.path.ends_with("/oauth2/v2.0/token") || doc.path.ends_with("/oauth2/v2.0/devicecode") {
        // The token endpoint answers in OAuth's error format (RFC 6749 section 5.2).
        if error.is_string() && value["error_description"].is_string() {
            return None;
        }
        return Some(format!("{status} without the OAuth error shape"));
    }
    let inner = &error["innerError"];
    let envelope = error["code"].as_str().is_some_and(|c| !c.is_empty())
        && error["message"].is_string()
        && inner["date"].is_string()
        && inner["request-id"].as_str().is_some()
        && inner["request-id"].as_str() == request_id;
    if envelope {
        None
    } else {
        Some(format!("{status} without the Graph error envelope"))
    }
}

fn clip(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let clipped: String = text.chars().take(limit).collect();
    if clipped.len() < text.len() {
        format!("{clipped}… ({} bytes)", bytes.len())
    } else {
        clipped
    }
}

/// One request to send: where, what, and in which format.
struct Sent {
    /// What was changed, for the report (the systematic pass names the leaf).
    note: String,
    uri: String,
    body: Vec<u8>,
    content_type: Option<&'static str>,
}

fn http_method(doc: &RouteDoc) -> Method {
    match doc.method {
        writ_server::routes::Method::Get => Method::GET,
        writ_server::routes::Method::Post => Method::POST,
        writ_server::routes::Method::Put => Method::PUT,
        writ_server::routes::Method::Patch => Method::PATCH,
        writ_server::routes::Method::Delete => Method::DELETE,
    }
}

fn writes(doc: &RouteDoc) -> bool {
    matches!(
        doc.method,
        writ_server::routes::Method::Post
            | writ_server::routes::Method::Put
            | writ_server::routes::Method::Patch
    )
}

/// A random request for `doc`: path, query options and body all generated.
async fn generate(
    app: &TestApp,
    rng: &mut Rng,
    fx: &Fixtures,
    doc: &RouteDoc,
    caller: &Caller,
) -> Sent {
    let mut uri = path_for(rng, fx, doc, false);
    // A paging attack: read a first page, then ask for the next one with its skiptoken forged
    // (keys of another type, out of range, hostile), so the fingerprint still matches.
    if doc.kind == Kind::Collection
        && doc.method == writ_server::routes::Method::Get
        && rng.chance(25)
    {
        let order = *rng.pick(&[
            "",
            "&$orderby=displayName%20desc",
            "&$orderby=createdDateTime",
            "&$orderby=activityDateTime%20desc",
            "&$orderby=id",
        ]);
        let token = match &caller.token {
            Some(Some(token)) => token.as_str(),
            _ => app.admin.as_str(),
        };
        let reply = app.get(&format!("{uri}?$top=1{order}"), token).await;
        if let Some(link) = reply.body["@odata.nextLink"].as_str()
            && let Some(next) = link.strip_prefix(PUBLIC_URL)
            && let Some((path, query)) = next.split_once('?')
        {
            let forged: Vec<String> = query
                .split('&')
                .map(|pair| {
                    match pair
                        .strip_prefix("%24skiptoken=")
                        .or_else(|| pair.strip_prefix("$skiptoken="))
                    {
                        Some(real) => format!("$skiptoken={}", forge_keys(rng, real)),
                        None => pair.to_owned(),
                    }
                })
                .collect();
            uri = format!("{path}?{}", forged.join("&"));
        }
    }
    let reads = matches!(
        doc.kind,
        Kind::Collection | Kind::Entity | Kind::Create | Kind::Plain
    );
    if !uri.contains('?') && rng.chance(if reads { 80 } else { 30 }) {
        let query = query_for(rng, fx);
        if !query.is_empty() {
            uri = format!("{uri}?{query}");
        }
    }
    let (body, content_type) = if writes(doc) || rng.chance(5) {
        body_for(rng, fx, doc)
    } else {
        (Vec::new(), None)
    };
    Sent {
        note: String::new(),
        uri,
        body,
        content_type,
    }
}

/// Sends `sent` for `doc` as `caller` (with a random bad Authorization header for the bad-token
/// caller, and now and then odd idempotency and correlation headers); returns the status and
/// a failure, if any.
async fn send(
    app: &TestApp,
    rng: &mut Rng,
    fx: &Fixtures,
    doc: &RouteDoc,
    caller: &Caller,
    sent: Sent,
) -> (StatusCode, Option<Failure>) {
    let method = http_method(doc);
    let Sent {
        note,
        uri,
        body,
        content_type,
    } = sent;
    let mut builder = Request::builder().method(method.clone()).uri(uri.as_str());
    match &caller.token {
        None => {}
        Some(Some(token)) => {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        Some(None) => {
            let token = rng.pick(&fx.bad_tokens).clone();
            let value = match rng.below(8) {
                0 => HeaderValue::from_str(&format!("bearer {token}")),
                1 => HeaderValue::from_str(&format!("Basic {token}")),
                2 => HeaderValue::from_str("Bearer"),
                3 => HeaderValue::from_bytes(b"Bearer \xff\xfe"),
                4 => HeaderValue::from_str(&format!("Bearer  {token}")),
                _ => HeaderValue::from_str(&format!("Bearer {token}")),
            };
            if let Ok(value) = value {
                builder = builder.header("authorization", value);
            }
        }
    }
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    if rng.chance(10) {
        let key: HeaderValue = match rng.below(4) {
            0 => HeaderValue::from_static("sweep-key"),
            1 => HeaderValue::from_str(&"k".repeat(5000)).unwrap(),
            2 => HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
            _ => HeaderValue::from_static(""),
        };
        builder = builder.header("idempotency-key", key);
    }
    if rng.chance(5) {
        builder = builder.header(
            "client-request-id",
            HeaderValue::from_bytes(b"\xffid\x80").unwrap(),
        );
    }
    let request = match builder.body(Body::from(body.clone())) {
        Ok(request) => request,
        Err(e) => panic!(
            "the sweep built an invalid request {method} {}: {e}",
            clip(uri.as_bytes(), 300)
        ),
    };
    let (status, headers, bytes) = exchange(&app.router, request).await;
    let request_id = headers.get("request-id").and_then(|v| v.to_str().ok());
    let failure = judge(doc, caller, status, request_id, &bytes).map(|what| Failure {
        kind: format!("{what}: {:?} {}{note}", doc.method, doc.path),
        detail: format!(
            "{method} {} as {}{note}\n      body: {}\n      answer: {}",
            clip(uri.as_bytes(), 300),
            caller.name,
            clip(&body, 400),
            clip(&bytes, 300)
        ),
    });
    (status, failure)
}

/// A response the sweep refuses: its kind (route template, verdict, the leaf changed) and the
/// exact request.
struct Failure {
    kind: String,
    detail: String,
}

/// Every way of getting one leaf of `value` wrong while keeping its kind: all the durations
/// for a duration, all the instants for an instant, extremes for a number, and so on.
fn leaf_variants(rng: &mut Rng, fx: &Fixtures, value: &Value) -> Vec<Value> {
    match value {
        Value::String(s) if s.starts_with('P') || s.starts_with("-P") => {
            DURATIONS.iter().map(|d| json!(d)).collect()
        }
        Value::String(s) if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') => {
            INSTANTS.iter().map(|i| json!(i)).collect()
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let mut variants: Vec<Value> = (0..3).filter_map(|_| in_kind(rng, fx, value)).collect();
            variants.extend([Value::Null, json!(rng.pick(BAD_IDS)), json!([]), json!({})]);
            variants
        }
        _ => Vec::new(),
    }
}

/// One fault at a time: every leaf of every valid body of the route's collection replaced by
/// each of its variants, sent by an administrator (who gets furthest past the permission
/// checks) or, for a third of them, a random caller.
async fn every_leaf(
    app: &TestApp,
    rng: &mut Rng,
    fx: &Fixtures,
    doc: &RouteDoc,
    tally: &mut Tally,
) {
    let Some(seeds) = route_seeds(fx, doc) else {
        return;
    };
    for seed in seeds {
        let mut leaves = Vec::new();
        pointers(seed, "", &mut leaves);
        for at in leaves {
            let Some(current) = seed.pointer(&at) else {
                continue;
            };
            for variant in leaf_variants(rng, fx, current) {
                let note = format!(" with {at} = {}", clip(variant.to_string().as_bytes(), 80));
                let mut body = seed.clone();
                if let Some(target) = body.pointer_mut(&at) {
                    *target = variant;
                }
                let caller = if rng.chance(66) {
                    &fx.callers[2]
                } else {
                    rng.pick(&fx.callers[2..])
                };
                let sent = Sent {
                    note,
                    uri: path_for(rng, fx, doc, true),
                    body: body.to_string().into_bytes(),
                    content_type: Some("application/json"),
                };
                let (status, failure) = send(app, rng, fx, doc, caller, sent).await;
                tally.record(status, failure);
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    sent: u64,
    by_class: HashMap<u16, u64>,
    failures: Vec<Failure>,
}

impl Tally {
    fn record(&mut self, status: StatusCode, failure: Option<Failure>) {
        self.sent += 1;
        *self.by_class.entry(status.as_u16() / 100).or_default() += 1;
        self.failures.extend(failure);
    }

    /// Each kind of failure once, with how often it happened and its first request.
    fn report(&self) -> String {
        let mut kinds: Vec<(&str, usize, &str)> = Vec::new();
        for f in &self.failures {
            match kinds.iter_mut().find(|(k, _, _)| *k == f.kind) {
                Some(entry) => entry.1 += 1,
                None => kinds.push((&f.kind, 1, &f.detail)),
            }
        }
        kinds.sort();
        kinds
            .iter()
            .map(|(kind, n, detail)| format!("{n}× {kind}\n    e.g. {detail}"))
            .collect::<Vec<_>>()
            .join("\n  ")
    }
}

/// Sweeps every route of the route table.
async fn every_route_survives_bad_input(backend: Backend) {
    let app = app(backend).await;
    let fx = fixtures(&app).await;
    let seed = env_number("WRIT_SWEEP_SEED", 0x005E_ED0F_5EED);
    let extra = env_number("WRIT_SWEEP_CASES", 12);
    let mut rng = Rng(seed.max(1));
    let mut docs = writ_server::route_docs();
    // Reads first, then creates, then updates and actions, then deletes: what a request
    // changes is least likely to take away what a later one needs.
    docs.sort_by_key(|d| match (d.method, d.kind) {
        (writ_server::routes::Method::Get, _) => 0,
        (_, Kind::Create) => 1,
        (writ_server::routes::Method::Delete, _) => 3,
        _ => 2,
    });
    let started = Instant::now();
    let mut tally = Tally::default();
    for doc in &docs {
        if writes(doc) {
            every_leaf(&app, &mut rng, &fx, doc, &mut tally).await;
        }
        let runs = fx.callers.len() + usize::try_from(extra).unwrap();
        for run in 0..runs {
            let caller = match fx.callers.get(run) {
                Some(caller) => caller,
                None => rng.pick(&fx.callers),
            };
            let sent = generate(&app, &mut rng, &fx, doc, caller).await;
            let (status, failure) = send(&app, &mut rng, &fx, doc, caller, sent).await;
            tally.record(status, failure);
        }
    }
    let mut classes: Vec<_> = tally.by_class.iter().map(|(k, v)| (*k, *v)).collect();
    classes.sort_unstable();
    println!(
        "route sweep ({backend:?}): {} routes, {} requests, seed {seed:#x}, {extra} extra cases per route, {:.1} s; by status class {classes:?}; {} failures",
        docs.len(),
        tally.sent,
        started.elapsed().as_secs_f64(),
        tally.failures.len(),
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed (seed {seed:#x}); by kind:\n  {}",
        tally.failures.len(),
        tally.sent,
        tally.report()
    );
}

crate::on_both_backends!(every_route_survives_bad_input);
