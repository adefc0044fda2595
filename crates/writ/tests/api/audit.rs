//! `auditLogs/directoryAudits` as a client sees it: one record per lifecycle transition with the
//! caller as initiator and the agent as the principal acted for; the filters and order the issue
//! names, paging, and refusals; who may read which records (administrators all, a catalog owner
//! its catalog's, an ordinary user and an agent nothing); and every record in Graph's
//! `directoryAudit` shape, no property more.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_store::Backend;

use crate::agents::agent_token;
use crate::assignments::{Setup, login, post, post_request, run_jobs, setup};
use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

/// `?$filter=…` with the filter URL-encoded.
fn filtered(filter: &str, rest: &str) -> String {
    let encoded: String = form_urlencoded_byte_serialize(filter);
    format!("{AUDITS}?$filter={encoded}{rest}")
}

fn form_urlencoded_byte_serialize(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every record the filter selects, following `@odata.nextLink`.
async fn all_pages(app: &TestApp, token: &str, first: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(uri) = next {
        let uri = uri
            .trim_start_matches(crate::harness::PUBLIC_URL)
            .to_owned();
        let page = app.get(&uri, token).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
        for record in page.body["value"].as_array().unwrap() {
            assert_directory_audit(record);
            records.push(record.clone());
        }
        next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    records
}

/// The properties Graph v1.0 declares (the SDK's `DirectoryAudit` and the complex types it
/// holds); a property not listed here, or a value of the wrong type, fails the test.
fn assert_directory_audit(record: &Value) {
    fn keys_within(value: &Value, allowed: &[&str], what: &str) {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
        for key in object.keys() {
            assert!(
                allowed.contains(&key.as_str()) || key.starts_with("@odata."),
                "{what} has a property Graph does not declare: {key} in {value}"
            );
        }
    }
    fn string_or_null(value: &Value, what: &str) {
        assert!(
            value.is_string() || value.is_null(),
            "{what} must be a string: {value}"
        );
    }
    keys_within(
        record,
        &[
            "id",
            "activityDateTime",
            "activityDisplayName",
            "additionalDetails",
            "category",
            "correlationId",
            "initiatedBy",
            "loggedByService",
            "operationType",
            "result",
            "resultReason",
            "targetResources",
        ],
        "directoryAudit",
    );
    for key in [
        "id",
        "activityDisplayName",
        "category",
        "loggedByService",
        "operationType",
        "resultReason",
    ] {
        assert!(record[key].is_string(), "{key}: {record}");
    }
    string_or_null(&record["correlationId"], "correlationId");
    let when = record["activityDateTime"].as_str().unwrap();
    time::OffsetDateTime::parse(when, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        ["success", "failure", "timeout"].contains(&record["result"].as_str().unwrap()),
        "operationResult: {record}"
    );
    let initiator = &record["initiatedBy"];
    keys_within(initiator, &["app", "user"], "auditActivityInitiator");
    assert!(
        initiator["app"].is_object() != initiator["user"].is_object(),
        "exactly one initiator kind: {initiator}"
    );
    if initiator["user"].is_object() {
        keys_within(
            &initiator["user"],
            &["id", "displayName", "userPrincipalName", "ipAddress"],
            "userIdentity",
        );
        for key in ["id", "displayName", "userPrincipalName", "ipAddress"] {
            string_or_null(&initiator["user"][key], key);
        }
    } else {
        keys_within(
            &initiator["app"],
            &[
                "appId",
                "displayName",
                "servicePrincipalId",
                "servicePrincipalName",
            ],
            "appIdentity",
        );
        for key in [
            "appId",
            "displayName",
            "servicePrincipalId",
            "servicePrincipalName",
        ] {
            string_or_null(&initiator["app"][key], key);
        }
    }
    for target in record["targetResources"].as_array().unwrap() {
        keys_within(
            target,
            &[
                "id",
                "displayName",
                "type",
                "userPrincipalName",
                "groupType",
                "modifiedProperties",
            ],
            "targetResource",
        );
        for key in ["id", "displayName", "type", "userPrincipalName"] {
            string_or_null(&target[key], key);
        }
        for property in target["modifiedProperties"].as_array().unwrap() {
            keys_within(
                property,
                &["displayName", "oldValue", "newValue"],
                "modifiedProperty",
            );
        }
    }
    for detail in record["additionalDetails"].as_array().unwrap() {
        keys_within(detail, &["key", "value"], "keyValue");
        assert!(detail["key"].is_string() && detail["value"].is_string());
    }
}

fn detail<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record["additionalDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key)
        .and_then(|d| d["value"].as_str())
}

fn targets(record: &Value) -> Vec<String> {
    record["targetResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The initiator's id: a user's or an app's service principal.
fn initiator(record: &Value) -> String {
    let by = &record["initiatedBy"];
    by["user"]["id"]
        .as_str()
        .or_else(|| by["app"]["servicePrincipalId"].as_str())
        .unwrap_or("system")
        .to_owned()
}

/// A policy under which the agent requests for itself with its sponsor's approval, and the
/// sponsor extends on its behalf without approval.
async fn agent_policy(app: &TestApp, s: &Setup) -> String {
    id(&post(app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, sponsors approve",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true,
            "enableOnBehalfRequestorsToUpdateAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
            "stages": [{"durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": false,
                "isEscalationEnabled": false,
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]}],
        },
        "accessPackage": {"id": s.package},
    }))
    .await)
}

async fn a_full_lifecycle_leaves_one_record_per_transition(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let policy = agent_policy(&app, &s).await;
    let (agent, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let sponsor = login(&app, "samsponsor").await;
    let about_agent = format!("targetResources/any(t: t/id eq '{}')", s.agent);
    let before = all_pages(&app, &app.admin, &filtered(&about_agent, "")).await;

    // The agent asks.
    let created = post_request(
        &app,
        &agent,
        json!({
            "requestType": "userAdd", "justification": "triage rota",
            "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy},
        }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let request = id(&created.body);
    run_jobs(&app).await;
    // The sponsor approves.
    app.clock.advance(Duration::minutes(1));
    let stages = app
        .get(&format!("{APPROVALS}/{request}/stages"), &sponsor)
        .await;
    let stage = stages.body["value"][0]["id"].as_str().unwrap().to_owned();
    let decided = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage}"),
            &sponsor,
            json!({"reviewResult": "Approve", "justification": "on the rota"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::NO_CONTENT, "{}", decided.body);
    run_jobs(&app).await;
    let read = app
        .get(
            &format!("{EM}/assignmentRequests/{request}?$expand=assignment"),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "delivered", "{}", read.body);
    let assignment = read.body["assignment"]["id"].as_str().unwrap().to_owned();
    // The sponsor extends on the agent's behalf.
    app.clock.advance(Duration::minutes(30));
    let extension = post_request(
        &app,
        &sponsor,
        json!({"requestType": "userUpdate", "assignment": {"id": assignment}}),
    )
    .await;
    assert_eq!(extension.status, StatusCode::CREATED, "{}", extension.body);
    run_jobs(&app).await;
    // The end passes.
    app.clock.advance(Duration::hours(3));
    run_jobs(&app).await;
    app.refresh_admin().await;

    let after = all_pages(
        &app,
        &app.admin,
        &filtered(&about_agent, "&$orderby=activityDateTime%20asc"),
    )
    .await;
    let lifecycle: Vec<(String, String, Option<String>)> = after[before.len()..]
        .iter()
        .filter(|r| r["category"] == "EntitlementManagement")
        .map(|r| {
            assert!(targets(r).contains(&s.agent), "{r}");
            (
                r["activityDisplayName"].as_str().unwrap().to_owned(),
                initiator(r),
                detail(r, "onBehalfOf").map(str::to_owned),
            )
        })
        .collect();
    let agent_id = Some(s.agent.clone());
    let system = "system".to_owned();
    assert_eq!(
        lifecycle,
        vec![
            // The agent asks for itself; the queue starts the approval.
            (
                "Create access package assignment request".into(),
                s.agent.clone(),
                agent_id.clone()
            ),
            (
                "Start approval of access package assignment request".into(),
                system.clone(),
                agent_id.clone()
            ),
            // The sponsor approves; the queue delivers.
            (
                "Approve access package assignment request".into(),
                s.sponsor.clone(),
                agent_id.clone()
            ),
            (
                "Fulfill access package assignment request".into(),
                system.clone(),
                agent_id.clone()
            ),
            // The sponsor extends for the agent; the queue moves the end.
            (
                "Create access package assignment request".into(),
                s.sponsor.clone(),
                agent_id.clone()
            ),
            (
                "Extend access package assignment".into(),
                system.clone(),
                agent_id.clone()
            ),
            // The end passes.
            ("Access package assignment expired".into(), system, agent_id),
        ]
    );
    // The agent's request names the agent as initiator (an app), the sponsor's the sponsor (a
    // user); each carries the request id of the call that made it.
    let asked = &after[before.len()..]
        .iter()
        .find(|r| r["activityDisplayName"] == "Create access package assignment request")
        .unwrap();
    assert_eq!(
        asked["initiatedBy"]["app"]["servicePrincipalId"],
        s.agent.as_str()
    );
    assert_eq!(asked["loggedByService"], "Entitlement Management");
    assert!(asked["correlationId"].is_string());
    assert_eq!(detail(asked, "requestType"), Some("userAdd"));

    // The auditor's first question, one query: every grant the agent held and who approved it.
    let grants = all_pages(
        &app,
        &app.admin,
        &filtered(
            &format!(
                "targetResources/any(t: t/id eq '{}') and activityDisplayName in \
                 ('Approve access package assignment request', 'Fulfill access package assignment request')",
                s.agent
            ),
            "&$orderby=activityDateTime%20asc",
        ),
    )
    .await;
    let answer: Vec<(String, String, Option<&str>)> = grants
        .iter()
        .map(|r| {
            (
                r["activityDisplayName"].as_str().unwrap().to_owned(),
                initiator(r),
                detail(r, "accessPackageId"),
            )
        })
        .collect();
    assert_eq!(
        answer,
        vec![
            (
                "Approve access package assignment request".into(),
                s.sponsor.clone(),
                Some(s.package.as_str())
            ),
            (
                "Fulfill access package assignment request".into(),
                "system".into(),
                Some(s.package.as_str())
            ),
        ]
    );
    // The second, one query: everything the sponsor did, each naming the agent acted for.
    let by_sponsor = all_pages(
        &app,
        &app.admin,
        &filtered(&format!("initiatedBy/user/id eq '{}'", s.sponsor), ""),
    )
    .await;
    // (The sponsor's own sign-ins are audited too; the question is about what it changed.)
    let done: Vec<(&str, Option<&str>)> = by_sponsor
        .iter()
        .filter(|r| r["activityDisplayName"] != "Sign-in")
        .map(|r| {
            (
                r["activityDisplayName"].as_str().unwrap(),
                detail(r, "onBehalfOf"),
            )
        })
        .collect();
    assert_eq!(
        done,
        vec![
            (
                "Approve access package assignment request",
                Some(s.agent.as_str())
            ),
            (
                "Create access package assignment request",
                Some(s.agent.as_str())
            ),
        ]
    );
    // The agent's own actions, by its service principal id.
    let by_agent = all_pages(
        &app,
        &app.admin,
        &filtered(
            &format!("initiatedBy/app/servicePrincipalId eq '{}'", s.agent),
            "",
        ),
    )
    .await;
    assert_eq!(by_agent.len(), 1, "{by_agent:?}");
}

/// Grants `role` in `catalog` to a new user; its token.
async fn catalog_role_holder(
    app: &TestApp,
    name: &str,
    role: &str,
    catalog: &str,
) -> (String, String) {
    let (user, token) = app.user_token(name).await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/entitlementManagement/roleAssignments",
            &app.admin,
            json!({"principalId": user, "roleDefinitionId": role, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (user, token)
}

const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

async fn only_administrators_and_catalog_roles_read_the_log(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let other = id(&post(&app, "/catalogs", json!({"displayName": "Finance"})).await);
    let adminadd = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
    }))
    .await;
    assert_eq!(adminadd.status, StatusCode::CREATED, "{}", adminadd.body);
    run_jobs(&app).await;
    let (_, owner) = catalog_role_holder(&app, "Olive Owner", CATALOG_OWNER, &s.catalog).await;
    let (_, user) = app.user_token("Uma User").await;
    let (agent, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;

    // An ordinary user and an agent get nothing: the collection is 403, a record too.
    let everything = all_pages(&app, &app.admin, AUDITS).await;
    let some_id = everything[0]["id"].as_str().unwrap().to_owned();
    for token in [&user, &agent] {
        let listed = app.get(AUDITS, token).await;
        assert_eq!(listed.status, StatusCode::FORBIDDEN, "{}", listed.body);
        assert_eq!(listed.error_code(), "accessDenied");
        let one = app.get(&format!("{AUDITS}/{some_id}"), token).await;
        assert_eq!(one.status, StatusCode::FORBIDDEN, "{}", one.body);
    }
    // A sponsor is an ordinary user here: it reads its agents' requests, not the log.
    let sponsor = login(&app, "samsponsor").await;
    assert_eq!(
        app.get(AUDITS, &sponsor).await.status,
        StatusCode::FORBIDDEN
    );

    // The catalog owner sees its catalog's records, and only those.
    let seen = all_pages(&app, &owner, AUDITS).await;
    let seen_ids: Vec<&str> = seen.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(!seen.is_empty());
    for record in &seen {
        assert_eq!(record["category"], "EntitlementManagement", "{record}");
        assert!(!targets(record).contains(&other), "{record}");
    }
    let in_catalog = |r: &&Value| {
        targets(r).contains(&s.catalog)
            || targets(r).contains(&s.package)
            || targets(r).contains(&s.agent)
    };
    let expected: Vec<&str> = everything
        .iter()
        .filter(|r| r["category"] == "EntitlementManagement")
        .filter(in_catalog)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in &expected {
        assert!(seen_ids.contains(id), "the owner misses {id}");
    }
    assert!(
        seen.iter()
            .any(|r| r["activityDisplayName"] == "Fulfill access package assignment request")
    );
    let finance = everything
        .iter()
        .find(|r| targets(r).contains(&other))
        .unwrap();
    let hidden = app
        .get(
            &format!("{AUDITS}/{}", finance["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    assert_eq!(hidden.error_code(), "Request_ResourceNotFound");
    let visible = app.get(&format!("{AUDITS}/{}", expected[0]), &owner).await;
    assert_eq!(visible.status, StatusCode::OK, "{}", visible.body);
    assert_directory_audit(&visible.body);
    // A filter narrows within the scope; it never widens it.
    let directory = all_pages(&app, &owner, &filtered("category eq 'UserManagement'", "")).await;
    assert!(directory.is_empty());

    // Administrators see everything, directory records included; so does a Global Reader.
    assert!(everything.iter().any(|r| r["category"] == "UserManagement"));
    assert!(everything.iter().any(|r| targets(r).contains(&other)));
    let (reader, _) = app.user_token("Gail Reader").await;
    let assigned = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": reader, "roleDefinitionId": GLOBAL_READER, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    let reader = login(&app, "gailreader").await;
    let read = all_pages(&app, &reader, AUDITS).await;
    assert!(read.len() >= everything.len());
}

async fn filters_order_and_paging(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let started = app.clock.now() + Duration::seconds(1);
    app.clock.advance(Duration::minutes(5));
    let late_user = app.create_user("Late Larry").await;

    // activityDateTime, category, activityDisplayName, result.
    let late = all_pages(
        &app,
        &app.admin,
        &filtered(
            &format!(
                "activityDateTime ge {} and category eq 'UserManagement'",
                started
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
            ),
            "",
        ),
    )
    .await;
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["activityDisplayName"], "Add user");
    assert_eq!(targets(&late[0]), vec![late_user.clone()]);
    let adds = all_pages(
        &app,
        &app.admin,
        &filtered(
            "activityDisplayName eq 'Add user' and result eq 'success'",
            "",
        ),
    )
    .await;
    assert_eq!(adds.len(), 2, "the sponsor and Larry: {adds:?}");
    assert!(adds.iter().all(|r| r["activityDisplayName"] == "Add user"));
    let failures = all_pages(&app, &app.admin, &filtered("result eq 'failure'", "")).await;
    assert!(failures.is_empty());
    let about_package = all_pages(
        &app,
        &app.admin,
        &filtered(
            &format!("targetResources/any(t: t/id eq '{}')", s.package),
            "",
        ),
    )
    .await;
    assert!(
        about_package
            .iter()
            .all(|r| targets(r).contains(&s.package))
    );
    assert!(
        about_package
            .iter()
            .any(|r| r["activityDisplayName"] == "Create access package")
    );

    // Newest first, paged by $top with nextLink, and counted.
    let first = app
        .get(
            &format!("{AUDITS}?$orderby=activityDateTime%20desc&$top=2&$count=true"),
            &app.admin,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let total = first.body["@odata.count"].as_i64().unwrap();
    assert_eq!(first.body["value"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["value"][0]["id"], late[0]["id"], "newest first");
    let all = all_pages(
        &app,
        &app.admin,
        &format!("{AUDITS}?$orderby=activityDateTime%20desc&$top=3"),
    )
    .await;
    assert_eq!(all.len() as i64, total);
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["activityDateTime"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    let mut ids: Vec<&str> = all.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as i64, total, "no record twice across pages");
    // $select.
    let selected = app
        .get(
            &format!("{AUDITS}?$select=id,activityDisplayName&$top=1"),
            &app.admin,
        )
        .await;
    let keys: Vec<&String> = selected.body["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, vec!["activityDisplayName", "id"]);

    // What the allow-list does not hold is a named 400, never a silently wrong answer.
    for bad in [
        filtered("operationTypeX eq 'Add'", ""),
        filtered("resultReason eq 'x'", ""),
        filtered("result eq 'maybe'", ""),
        filtered("targetResources/any(t: t/displayName eq 'x')", ""),
        filtered("activityDateTime ge 'yesterday'", ""),
        format!("{AUDITS}?$orderby=category"),
        format!("{AUDITS}?$top=0"),
        format!("{AUDITS}?$skiptoken=garbage"),
        format!("{AUDITS}?$expand=initiatedBy"),
    ] {
        let reply = app.get(&bad, &app.admin).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
        assert!(
            ["invalidRequest", "BadRequest"].contains(&reply.error_code()),
            "{bad}: {}",
            reply.body
        );
    }
    let missing = app
        .get(
            &format!("{AUDITS}/00000000-0000-0000-0000-000000000000"),
            &app.admin,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unauthenticated = app.request(Method::GET, AUDITS, None, None, &[]).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

/// Directory writes by an administrator name the principal they act on (invariant 4): the user
/// created, the member added, the role holder, the agent whose sponsors change.
async fn directory_changes_name_the_principal_acted_for(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let user = app.create_user("Nia Newcomer").await;
    let group = app.create_group("Night Shift").await;
    let added = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &app.admin,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{user}")}),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    let role = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": user, "roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let sponsored = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{}/sponsors/$ref", s.agent),
            &app.admin,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{user}")}),
        )
        .await;
    assert_eq!(
        sponsored.status,
        StatusCode::NO_CONTENT,
        "{}",
        sponsored.body
    );

    let about_user = all_pages(
        &app,
        &app.admin,
        &filtered(&format!("targetResources/any(t: t/id eq '{user}')"), ""),
    )
    .await;
    let activities: Vec<(&str, Option<&str>)> = about_user
        .iter()
        .map(|r| {
            (
                r["activityDisplayName"].as_str().unwrap(),
                detail(r, "onBehalfOf"),
            )
        })
        .collect();
    assert_eq!(
        activities,
        vec![
            ("Add user", Some(user.as_str())),
            ("Add member to group", Some(user.as_str())),
            ("Add member to role", Some(user.as_str())),
            // The new sponsor is a target; the agent is the principal acted for.
            ("Add sponsor", Some(s.agent.as_str())),
        ]
    );
    for record in &about_user {
        assert_eq!(
            record["initiatedBy"]["app"]["appId"],
            crate::harness::ADMIN_CLIENT_ID,
            "{record}"
        );
        assert!(record["correlationId"].is_string());
    }
}

crate::on_both_backends!(
    directory_changes_name_the_principal_acted_for,
    a_full_lifecycle_leaves_one_record_per_transition,
    only_administrators_and_catalog_roles_read_the_log,
    filters_order_and_paging,
);
