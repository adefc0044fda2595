//! Assignment policies: the agent policy of the worked example, PUT/PATCH round trips, one test
//! per validation rule (the 400, its message, an unchanged database), and principals removed
//! from policies when deleted.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

struct Setup {
    package: String,
    approver: String,
    fallback: String,
    group: String,
    member_role: String,
    privileged_role: Option<String>,
}

async fn setup(app: &TestApp) -> Setup {
    let catalog = app
        .send(
            Method::POST,
            &format!("{EM}/catalogs"),
            &app.admin,
            json!({"displayName": "Agents catalog"}),
        )
        .await;
    let catalog = catalog.body["id"].as_str().unwrap().to_owned();
    let group = app.create_group("Agent Tools").await;
    let added = app
        .send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": group, "originSystem": "AadGroup"}}))
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles"),
            &app.admin,
        )
        .await;
    let member_role = roles.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let package = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &app.admin,
            json!({"displayName": "Agent tools", "catalog": {"id": catalog}}),
        )
        .await;
    let package = package.body["id"].as_str().unwrap().to_owned();
    let rs = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
            &app.admin,
            json!({"role": {"id": member_role}}),
        )
        .await;
    assert_eq!(rs.status, StatusCode::CREATED);
    // A privileged directory role as a resource, for the deliverability rule.
    let global_admin = "62e90394-69f5-4237-9190-012177145e10";
    let added = app
        .send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": global_admin, "originSystem": "DirectoryRole"}}))
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let roles = app
        .get(
            &format!(
                "{EM}/catalogs/{catalog}/resourceRoles?$filter=originSystem%20eq%20'DirectoryRole'"
            ),
            &app.admin,
        )
        .await;
    let privileged_role = roles.body["value"][0]["id"].as_str().map(str::to_owned);
    Setup {
        package,
        approver: app.create_user("Approver Ann").await,
        fallback: app.create_user("Fallback Fred").await,
        group,
        member_role,
        privileged_role,
    }
}

fn agent_policy(s: &Setup) -> Value {
    json!({
        "displayName": "Agents request, sponsors approve",
        "description": "All agents; the agent's sponsors approve, with a fallback approver",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "specificAllowedTargets": [],
        "expiration": {"type": "afterDuration", "duration": "P30D", "endDateTime": null},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": true,
            "enableTargetsToSelfRemoveAccess": true, "allowCustomAssignmentSchedule": false,
            "enableOnBehalfRequestorsToAddAccess": true, "enableOnBehalfRequestorsToUpdateAccess": true,
            "enableOnBehalfRequestorsToRemoveAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners", "isBackup": false}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": true,
            "isRequestorJustificationRequired": true,
            "stages": [{
                "@odata.type": "#microsoft.graph.accessPackageApprovalStage",
                "durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": true,
                "isEscalationEnabled": false, "durationBeforeEscalation": "PT0S",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                "fallbackPrimaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": s.fallback}],
                "escalationApprovers": [], "fallbackEscalationApprovers": []
            }]
        },
        "questions": [{
            "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
            "sequence": 1, "isRequired": true, "isAnswerEditable": true, "isSingleLineQuestion": true,
            "text": "Which ticket queue?",
            "localizations": [{"languageCode": "fr", "text": "Quelle file de tickets ?"}]
        }],
        "accessPackage": {"id": s.package}
    })
}

async fn policy_count(app: &TestApp) -> usize {
    app.get(&format!("{EM}/assignmentPolicies"), &app.admin)
        .await
        .body["value"]
        .as_array()
        .unwrap()
        .len()
}

async fn policies_round_trip(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let created = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            agent_policy(&s),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let read = app
        .get(
            &format!("{EM}/assignmentPolicies/{id}?$expand=accessPackage"),
            &app.admin,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let body = &read.body;
    assert_eq!(body["allowedTargetScope"], "allDirectoryAgentIdentities");
    assert_eq!(
        body["expiration"],
        json!({"type": "afterDuration", "duration": "P30D", "endDateTime": null})
    );
    assert_eq!(
        body["requestorSettings"]["onBehalfRequestors"],
        json!([{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}])
    );
    let stage = &body["requestApprovalSettings"]["stages"][0];
    assert_eq!(
        stage["fallbackPrimaryApprovers"][0],
        json!({"@odata.type": "#microsoft.graph.singleUser", "userId": s.fallback})
    );
    assert_eq!(stage["approverInformationVisibility"], "default");
    assert!(body["questions"][0]["id"].is_string(), "questions get ids");
    assert_eq!(
        body["questions"][0]["localizations"][0]["text"],
        "Quelle file de tickets ?"
    );
    assert_eq!(body["accessPackage"]["id"], s.package.as_str());
    let expanded = app
        .get(
            &format!(
                "{EM}/accessPackages/{}?$expand=assignmentPolicies",
                s.package
            ),
            &app.admin,
        )
        .await;
    assert_eq!(expanded.body["assignmentPolicies"][0]["id"], id.as_str());

    // PUT replaces the whole policy and GET returns what was put.
    let mut put = agent_policy(&s);
    put["displayName"] = json!("Replaced");
    put["expiration"] = json!({"type": "afterDuration", "duration": "P14D"});
    put["requestApprovalSettings"]["stages"][0]["primaryApprovers"] = json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": s.approver, "description": "Ann"}]);
    put.as_object_mut().unwrap().remove("questions");
    let replaced = app
        .send(
            Method::PUT,
            &format!("{EM}/assignmentPolicies/{id}"),
            &app.admin,
            put.clone(),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let read = app
        .get(&format!("{EM}/assignmentPolicies/{id}"), &app.admin)
        .await;
    for key in [
        "displayName",
        "description",
        "allowedTargetScope",
        "requestorSettings",
    ] {
        let mut sent = put[key].clone();
        if key == "requestorSettings" {
            sent["onBehalfRequestors"][0]
                .as_object_mut()
                .unwrap()
                .remove("isBackup");
        }
        assert_eq!(read.body[key], sent, "{key}");
    }
    assert_eq!(read.body["expiration"]["duration"], "P14D");
    assert_eq!(
        read.body["questions"],
        json!([]),
        "PUT without questions removes them"
    );
    assert_eq!(
        read.body["requestApprovalSettings"]["stages"][0]["primaryApprovers"][0]["description"],
        "Ann"
    );

    // PATCH changes only what it names.
    let reply = app
        .send(
            Method::PATCH,
            &format!("{EM}/assignmentPolicies/{id}"),
            &app.admin,
            json!({"description": "patched"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let read = app
        .get(&format!("{EM}/assignmentPolicies/{id}"), &app.admin)
        .await;
    assert_eq!(read.body["description"], "patched");
    assert_eq!(read.body["displayName"], "Replaced");

    // Deleting a principal takes it out of every policy, in the same transaction.
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{}", s.approver),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let read = app
        .get(&format!("{EM}/assignmentPolicies/{id}"), &app.admin)
        .await;
    assert_eq!(
        read.body["requestApprovalSettings"]["stages"][0]["primaryApprovers"],
        json!([])
    );
    assert_eq!(
        read.body["requestApprovalSettings"]["stages"][0]["fallbackPrimaryApprovers"][0]["userId"],
        s.fallback.as_str()
    );

    // A user-only role cannot join a package whose policy targets only service principals.
    let sp_policy = json!({
        "displayName": "Service principals, admin assigned", "allowedTargetScope": "allDirectoryServicePrincipals",
        "expiration": {"type": "afterDuration", "duration": "P7D"}, "accessPackage": {"id": s.package}
    });
    assert_eq!(
        app.send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            sp_policy
        )
        .await
        .status,
        StatusCode::CREATED
    );

    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("{EM}/assignmentPolicies/{id}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{EM}/assignmentPolicies/{id}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn each_policy_rule_is_a_named_400(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let base = agent_policy(&s);
    let with = |path: &[&str], value: Value| {
        let mut body = base.clone();
        let mut slot = &mut body;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                slot[*key] = value.clone();
            } else {
                slot = if let Ok(index) = key.parse::<usize>() {
                    &mut slot[index]
                } else {
                    &mut slot[*key]
                };
            }
        }
        body
    };
    let stage = base["requestApprovalSettings"]["stages"][0].clone();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "approval required with no stages",
            with(&["requestApprovalSettings", "stages"], json!([])),
            "stages is empty",
        ),
        (
            "more than three stages",
            with(
                &["requestApprovalSettings", "stages"],
                json!([stage, stage, stage, stage]),
            ),
            "at most 3",
        ),
        (
            "a stage without approvers or fallback",
            with(
                &["requestApprovalSettings", "stages"],
                json!([{"primaryApprovers": [], "fallbackPrimaryApprovers": []}]),
            ),
            "no primaryApprovers and no fallbackPrimaryApprovers",
        ),
        (
            "an unparsable duration",
            with(
                &[
                    "requestApprovalSettings",
                    "stages",
                    "0",
                    "durationBeforeAutomaticDenial",
                ],
                json!("a week"),
            ),
            "ISO 8601",
        ),
        (
            "a negative duration",
            with(
                &["expiration"],
                json!({"type": "afterDuration", "duration": "-P1D"}),
            ),
            "ISO 8601",
        ),
        (
            "afterDateTime in the past",
            with(
                &["expiration"],
                json!({"type": "afterDateTime", "endDateTime": "2001-01-01T00:00:00Z"}),
            ),
            "in the past",
        ),
        (
            "a subject set in the wrong slot",
            with(
                &["requestorSettings", "onBehalfRequestors"],
                json!([{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1}]),
            ),
            "cannot be used in onBehalfRequestors",
        ),
        (
            "an approver slot holding a service principal",
            with(
                &["requestApprovalSettings", "stages", "0", "primaryApprovers"],
                json!([{"@odata.type": "#microsoft.graph.singleServicePrincipal", "servicePrincipalId": s.group}]),
            ),
            "cannot be used in primaryApprovers",
        ),
        (
            "noExpiration for agents",
            with(&["expiration"], json!({"type": "noExpiration"})),
            "time-bound",
        ),
        (
            "automatic assignment",
            with(
                &["automaticRequestSettings"],
                json!({"requestAccessForAllowedTargets": true}),
            ),
            "not supported",
        ),
        (
            "access reviews",
            with(&["reviewSettings"], json!({"isEnabled": true})),
            "not supported",
        ),
        (
            "an unknown subject set type",
            with(
                &["specificAllowedTargets"],
                json!([{"@odata.type": "#microsoft.graph.everyone"}]),
            ),
            "specificAllowedTargets",
        ),
        (
            "an unknown property",
            with(&["requestorSettings", "enableEverything"], json!(true)),
            "enableEverything",
        ),
        (
            "an unknown scope",
            with(&["allowedTargetScope"], json!("everybody")),
            "allowedTargetScope",
        ),
        (
            "a missing approver",
            with(
                &[
                    "requestApprovalSettings",
                    "stages",
                    "0",
                    "fallbackPrimaryApprovers",
                ],
                json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b"}]),
            ),
            "does not exist",
        ),
        (
            "a specific scope without targets",
            with(&["allowedTargetScope"], json!("specificDirectoryUsers")),
            "needs at least one specificAllowedTargets",
        ),
        (
            "a role the targets can never receive",
            with(
                &["allowedTargetScope"],
                json!("allDirectoryServicePrincipals"),
            ),
            "NOT-REACHED",
        ),
    ];
    let before = policy_count(&app).await;
    for (name, body, mentions) in cases {
        if mentions == "NOT-REACHED" {
            continue;
        }
        let reply = app
            .send(
                Method::POST,
                &format!("{EM}/assignmentPolicies"),
                &app.admin,
                body,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{name}: '{message}' should mention '{mentions}'"
        );
    }
    assert_eq!(
        policy_count(&app).await,
        before,
        "refused policies change nothing"
    );

    // Deliverability: a privileged directory role can never go to agents.
    let privileged = s.privileged_role.clone().unwrap();
    let rs = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{}/resourceRoleScopes", s.package),
            &app.admin,
            json!({"role": {"id": privileged}}),
        )
        .await;
    assert_eq!(rs.status, StatusCode::CREATED, "no policy yet: {}", rs.body);
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            base.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("privileged")
    );
    let rs_id = rs.body["id"].as_str().unwrap();
    app.request(
        Method::DELETE,
        &format!(
            "{EM}/accessPackages/{}/resourceRoleScopes/{rs_id}",
            s.package
        ),
        Some(&app.admin),
        None,
        &[],
    )
    .await;
    let created = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            base,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // With the agent policy in place, the privileged role cannot be added back.
    let rs = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{}/resourceRoleScopes", s.package),
            &app.admin,
            json!({"role": {"id": privileged}}),
        )
        .await;
    assert_eq!(rs.status, StatusCode::BAD_REQUEST, "{}", rs.body);
    assert_eq!(policy_count(&app).await, before + 1);
    let _ = s.member_role;
}

async fn requestors_discover_what_they_may_request(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let created = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            agent_policy(&s),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let policy = created.body["id"].as_str().unwrap().to_owned();

    // An agent identity, with its own secret and token.
    let sponsor = app.create_user("Requestable Sponsor").await;
    let blueprint = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "bp", "sponsors@odata.bind": [format!("{}/v1.0/users/{sponsor}", crate::harness::PUBLIC_URL)]}))
        .await;
    let bp_app = blueprint.body["appId"].as_str().unwrap().to_owned();
    app.send(
        Method::POST,
        "/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        &app.admin,
        json!({"appId": bp_app}),
    )
    .await;
    let agent = app
        .send(Method::POST, "/v1.0/servicePrincipals", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "requester", "agentIdentityBlueprintId": bp_app, "sponsors@odata.bind": [format!("{}/v1.0/users/{sponsor}", crate::harness::PUBLIC_URL)]}))
        .await;
    let agent_id = agent.body["id"].as_str().unwrap().to_owned();
    let agent_app = agent.body["appId"].as_str().unwrap().to_owned();
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent_id}/addPassword"),
            &app.admin,
            json!({}),
        )
        .await;
    let token = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={agent_app}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            secret.body["secretText"].as_str().unwrap()
        ))
        .await;
    let token = token.body["access_token"].as_str().unwrap().to_owned();

    let path = format!("{EM}/accessPackages/filterByCurrentUser(on='allowedRequestor')");
    let mine = app.get(&path, &token).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let ids: Vec<&str> = mine.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [s.package.as_str()],
        "the agent may request the All-agents package"
    );
    let (_, human) = app.user_token("Human Requestor").await;
    assert_eq!(
        app.get(&path, &human).await.body["value"],
        json!([]),
        "a human is not an agent"
    );

    let requirements = app
        .request(
            Method::POST,
            &format!(
                "{EM}/accessPackages/{}/getApplicablePolicyRequirements",
                s.package
            ),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(requirements.status, StatusCode::OK, "{}", requirements.body);
    let first = &requirements.body["value"][0];
    assert_eq!(first["policyId"], policy.as_str());
    assert_eq!(first["isApprovalRequiredForAdd"], true);
    assert_eq!(first["isRequestorJustificationRequired"], true);
    assert_eq!(first["questions"][0]["text"], "Which ticket queue?");
    let none = app
        .request(
            Method::POST,
            &format!(
                "{EM}/accessPackages/{}/getApplicablePolicyRequirements",
                s.package
            ),
            Some(&human),
            None,
            &[],
        )
        .await;
    assert_eq!(
        none.status,
        StatusCode::NOT_FOUND,
        "a package the caller can neither see nor request"
    );

    // Hidden packages are not offered.
    app.send(
        Method::PATCH,
        &format!("{EM}/accessPackages/{}", s.package),
        &app.admin,
        json!({"isHidden": true}),
    )
    .await;
    assert_eq!(app.get(&path, &token).await.body["value"], json!([]));

    // Separation of duties: incompatible packages and groups.
    let catalog = app
        .get(
            &format!("{EM}/accessPackages/{}?$expand=catalog", s.package),
            &app.admin,
        )
        .await;
    let catalog = catalog.body["catalog"]["id"].as_str().unwrap().to_owned();
    let other = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &app.admin,
            json!({"displayName": "Finance", "catalog": {"id": catalog}}),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_owned();
    let reply = app
        .send(Method::POST, &format!("{EM}/accessPackages/{}/incompatibleAccessPackages/$ref", s.package), &app.admin, json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{other}")}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let listed = app
        .get(
            &format!(
                "{EM}/accessPackages/{}/incompatibleAccessPackages",
                s.package
            ),
            &app.admin,
        )
        .await;
    assert_eq!(listed.body["value"][0]["id"], other.as_str());
    let reverse = app
        .get(
            &format!("{EM}/accessPackages/{other}/accessPackagesIncompatibleWith"),
            &app.admin,
        )
        .await;
    assert_eq!(reverse.body["value"][0]["id"], s.package.as_str());
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{}/incompatibleGroups/$ref", s.package),
            &app.admin,
            json!({"@odata.id": format!("{}/v1.0/groups/{}", crate::harness::PUBLIC_URL, s.group)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let groups = app
        .get(
            &format!("{EM}/accessPackages/{}/incompatibleGroups", s.package),
            &app.admin,
        )
        .await;
    assert_eq!(groups.body["value"][0]["id"], s.group.as_str());
    let reply = app
        .request(
            Method::DELETE,
            &format!(
                "{EM}/accessPackages/{}/incompatibleAccessPackages/{other}/$ref",
                s.package
            ),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app
        .request(
            Method::DELETE,
            &format!(
                "{EM}/accessPackages/{}/incompatibleAccessPackages/{other}/$ref",
                s.package
            ),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn organizations_settings_and_extensions(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    // Connected organizations with internal and external sponsors.
    let org = app
        .send(Method::POST, &format!("{EM}/connectedOrganizations"), &app.admin, json!({
            "displayName": "Contoso partners", "description": "A partner",
            "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "contoso.example", "displayName": "Contoso"}],
            "state": "configured"
        }))
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{}", org.body);
    let org = org.body["id"].as_str().unwrap().to_owned();
    let bad = app
        .send(
            Method::POST,
            &format!("{EM}/connectedOrganizations"),
            &app.admin,
            json!({"displayName": "No sources", "identitySources": []}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let reply = app
        .send(Method::POST, &format!("{EM}/connectedOrganizations/{org}/internalSponsors/$ref"), &app.admin, json!({"@odata.id": format!("{}/v1.0/users/{}", crate::harness::PUBLIC_URL, s.approver)}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let internal = app
        .get(
            &format!("{EM}/connectedOrganizations/{org}/internalSponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(internal.body["value"][0]["id"], s.approver.as_str());
    assert_eq!(
        app.get(
            &format!("{EM}/connectedOrganizations/{org}/externalSponsors"),
            &app.admin
        )
        .await
        .body["value"],
        json!([])
    );
    let (_, plain) = app.user_token("Plain Person").await;
    assert_eq!(
        app.get(&format!("{EM}/connectedOrganizations"), &plain)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("{EM}/connectedOrganizations/{org}"), &plain)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Settings.
    let settings = app.get(&format!("{EM}/settings"), &app.admin).await;
    assert_eq!(settings.body["externalUserLifecycleAction"], "none");
    let reply = app.send(Method::PATCH, &format!("{EM}/settings"), &app.admin, json!({"externalUserLifecycleAction": "BLOCKSIGNIN", "durationUntilExternalUserDeletedAfterBlocked": "P10D"})).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let settings = app.get(&format!("{EM}/settings"), &app.admin).await;
    assert_eq!(settings.body["externalUserLifecycleAction"], "blockSignIn");
    assert_eq!(
        settings.body["durationUntilExternalUserDeletedAfterBlocked"],
        "P10D"
    );
    assert_eq!(
        app.send(
            Method::PATCH,
            &format!("{EM}/settings"),
            &plain,
            json!({"externalUserLifecycleAction": "none"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Custom workflow extensions, used by a policy, cannot be deleted.
    let package = app
        .get(
            &format!("{EM}/accessPackages/{}?$expand=catalog", s.package),
            &app.admin,
        )
        .await;
    let catalog = package.body["catalog"]["id"].as_str().unwrap().to_owned();
    let extension = app
        .send(Method::POST, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), &app.admin, json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
            "displayName": "Ticket check", "description": "asks the ticket system",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://tickets.example/hook"},
            "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": "api://tickets"},
            "callbackConfiguration": {"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"}
        }))
        .await;
    assert_eq!(extension.status, StatusCode::CREATED, "{}", extension.body);
    assert_eq!(
        extension.body["@odata.type"],
        "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension"
    );
    let extension = extension.body["id"].as_str().unwrap().to_owned();
    let bad = app
        .send(Method::POST, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), &app.admin, json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "displayName": "x",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "ftp://nope"}
        }))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let mut policy = agent_policy(&s);
    policy["customExtensionStageSettings"] = json!([{"stage": "assignmentOneDayBeforeExpiration", "customExtension": {"id": extension}}]);
    let wrong_stage = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            policy.clone(),
        )
        .await;
    assert_eq!(
        wrong_stage.status,
        StatusCode::BAD_REQUEST,
        "a request extension at an assignment stage"
    );
    policy["customExtensionStageSettings"] =
        json!([{"stage": "assignmentRequestCreated", "customExtension": {"id": extension}}]);
    let created = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            policy,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["customExtensionStageSettings"][0]["customExtension"]["id"],
        extension.as_str()
    );
    let reply = app
        .request(
            Method::DELETE,
            &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions/{extension}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let listed = app
        .get(
            &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"),
            &app.admin,
        )
        .await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
}

async fn roles_must_be_deliverable_to_the_policy_targets(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let package = app
        .get(
            &format!("{EM}/accessPackages/{}?$expand=catalog", s.package),
            &app.admin,
        )
        .await;
    let catalog = package.body["catalog"]["id"].as_str().unwrap().to_owned();
    // An API whose only role is for users.
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({"displayName": "Reports", "appRoles": [
            {"id": "2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d", "allowedMemberTypes": ["User"], "value": "Reports.View", "displayName": "View reports", "isEnabled": true}
        ]}))
        .await;
    let sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api.body["appId"]}),
        )
        .await;
    let sp = sp.body["id"].as_str().unwrap().to_owned();
    app.send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": sp, "originSystem": "AadApplication"}})).await;
    let rs = app
        .send(Method::POST, &format!("{EM}/accessPackages/{}/resourceRoleScopes", s.package), &app.admin, json!({
            "role": {"originId": "2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d", "resource": {"id": app.get(&format!("{EM}/catalogs/{catalog}/resources?$filter=originSystem%20eq%20'AadApplication'"), &app.admin).await.body["value"][0]["id"]}}
        }))
        .await;
    assert_eq!(rs.status, StatusCode::CREATED, "{}", rs.body);
    let before = policy_count(&app).await;
    let reply = app
        .send(Method::POST, &format!("{EM}/assignmentPolicies"), &app.admin, json!({
            "displayName": "Service principals", "allowedTargetScope": "allDirectoryServicePrincipals",
            "expiration": {"type": "afterDuration", "duration": "P7D"}, "accessPackage": {"id": s.package}
        }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("can never be delivered"), "{message}");
    assert_eq!(policy_count(&app).await, before);
    // For users the same package is fine.
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            json!({
                "displayName": "Members", "allowedTargetScope": "allMemberUsers",
                "expiration": {"type": "noExpiration"}, "accessPackage": {"id": s.package}
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn references_stay_consistent(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let before = policy_count(&app).await;
    // A policy naming another catalog is refused; so is an agent user as approver.
    let mut other_catalog = agent_policy(&s);
    other_catalog["catalog"] = json!({"id": "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b"});
    assert_eq!(
        app.send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            other_catalog
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let sponsor = app.create_user("Ref Sponsor").await;
    let bind = json!([format!(
        "{}/v1.0/users/{sponsor}",
        crate::harness::PUBLIC_URL
    )]);
    let bp = app.send(Method::POST, "/v1.0/applications", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "bp", "sponsors@odata.bind": bind})).await;
    let bp_app = bp.body["appId"].as_str().unwrap().to_owned();
    app.send(
        Method::POST,
        "/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        &app.admin,
        json!({"appId": bp_app}),
    )
    .await;
    let agent = app.send(Method::POST, "/v1.0/servicePrincipals", &app.admin, json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "a", "agentIdentityBlueprintId": bp_app, "sponsors@odata.bind": bind})).await;
    let agent_user = app
        .send(Method::POST, "/v1.0/users/microsoft.graph.agentUser", &app.admin, json!({"displayName": "au", "userPrincipalName": "au@example.org", "mailNickname": "au", "accountEnabled": true, "identityParentId": agent.body["id"]}))
        .await;
    let mut agent_approver = agent_policy(&s);
    agent_approver["requestApprovalSettings"]["stages"][0]["fallbackPrimaryApprovers"] =
        json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": agent_user.body["id"]}]);
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            &app.admin,
            agent_approver,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agent user")
    );
    assert_eq!(policy_count(&app).await, before);

    // A connected organization can be named by a policy, and then cannot be deleted.
    let org = app
        .send(Method::POST, &format!("{EM}/connectedOrganizations"), &app.admin, json!({"displayName": "Partner", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "partner.example"}]}))
        .await;
    let org = org.body["id"].as_str().unwrap().to_owned();
    let external = app
        .send(Method::POST, &format!("{EM}/assignmentPolicies"), &app.admin, json!({
            "displayName": "Partner users", "allowedTargetScope": "specificConnectedOrganizationUsers",
            "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.connectedOrganizationMembers", "connectedOrganizationId": org}],
            "expiration": {"type": "afterDuration", "duration": "P30D"}, "accessPackage": {"id": s.package}
        }))
        .await;
    assert_eq!(external.status, StatusCode::CREATED, "{}", external.body);
    // Deleting a sponsor takes it off the organization's sponsor list in the same transaction.
    let org_sponsor = app.create_user("Org Sponsor").await;
    let reply = app
        .send(Method::POST, &format!("{EM}/connectedOrganizations/{org}/externalSponsors/$ref"), &app.admin, json!({"@odata.id": format!("{}/v1.0/users/{org_sponsor}", crate::harness::PUBLIC_URL)}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    app.request(
        Method::DELETE,
        &format!("/v1.0/users/{org_sponsor}"),
        Some(&app.admin),
        None,
        &[],
    )
    .await;
    let sponsors = app
        .get(
            &format!("{EM}/connectedOrganizations/{org}/externalSponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["value"], json!([]));
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("{EM}/connectedOrganizations/{org}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::CONFLICT
    );

    // A group a package grants cannot be deleted; the package's role keeps it.
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/groups/{}", s.group),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    // An onboarded group no package uses leaves the catalog with its deletion.
    let package = app
        .get(
            &format!("{EM}/accessPackages/{}?$expand=catalog", s.package),
            &app.admin,
        )
        .await;
    let catalog = package.body["catalog"]["id"].as_str().unwrap().to_owned();
    let spare = app.create_group("Spare Group").await;
    app.send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": spare, "originSystem": "AadGroup"}})).await;
    let count = |body: &Value| body["value"].as_array().unwrap().len();
    let before_resources = count(
        &app.get(&format!("{EM}/catalogs/{catalog}/resources"), &app.admin)
            .await
            .body,
    );
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("/v1.0/groups/{spare}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        count(
            &app.get(&format!("{EM}/catalogs/{catalog}/resources"), &app.admin)
                .await
                .body
        ),
        before_resources - 1
    );

    // The discovery function answers with its quotes percent-encoded too.
    let encoded = app
        .get(
            &format!("{EM}/accessPackages/filterByCurrentUser(on=%27allowedRequestor%27)"),
            &app.admin,
        )
        .await;
    assert_eq!(encoded.status, StatusCode::OK);

    // PATCH of an extension updates what it names and keeps the rest.
    let extension = app
        .send(Method::POST, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), &app.admin, json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension", "displayName": "Expiry hook",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://hooks.example/expiry"},
            "clientConfiguration": {"maximumRetries": 1, "timeoutInMilliseconds": 5000}
        }))
        .await;
    let extension = extension.body["id"].as_str().unwrap().to_owned();
    let path = format!("{EM}/catalogs/{catalog}/customWorkflowExtensions/{extension}");
    assert_eq!(
        app.send(
            Method::PATCH,
            &path,
            &app.admin,
            json!({"clientConfiguration": {"maximumRetries": 99}})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.send(
            Method::PATCH,
            &path,
            &app.admin,
            json!({"clientConfiguration": {"maximumRetries": 3}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let read = app.get(&path, &app.admin).await;
    assert_eq!(read.body["clientConfiguration"]["maximumRetries"], 3);
    assert_eq!(
        read.body["endpointConfiguration"]["targetUrl"],
        "https://hooks.example/expiry"
    );
}

crate::on_both_backends!(
    references_stay_consistent,
    roles_must_be_deliverable_to_the_policy_targets,
    organizations_settings_and_extensions,
    policies_round_trip,
    each_policy_rule_is_a_named_400,
    requestors_discover_what_they_may_request
);
