//! `assignments/additionalAccess(…)`: the assignments of a package whose targets also hold
//! another (named, or any incompatible one) — what an administrator reviews after making two
//! packages incompatible when people already hold both.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::clock::Clock;
use writ_domain::jobs::{WorkerConfig, run_due_jobs};
use writ_store::Backend;

use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app
        .send(Method::POST, &format!("{EM}{path}"), &app.admin, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body
}

/// A package with an admin-only policy (any principal, a day), granting nothing.
async fn package(app: &TestApp, catalog: &str, name: &str) -> (String, String) {
    let package = id(&post(
        app,
        "/accessPackages",
        json!({"displayName": name, "catalog": {"id": catalog}}),
    )
    .await);
    let policy = id(&post(app, "/assignmentPolicies", json!({
        "displayName": format!("{name}, a day"), "allowedTargetScope": "notSpecified",
        "expiration": {"type": "afterDuration", "duration": "P1D"}, "accessPackage": {"id": package},
    }))
    .await);
    (package, policy)
}

async fn assign(app: &TestApp, (package, policy): &(String, String), target: &str) {
    post(app, "/assignmentRequests", json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package},
    }))
    .await;
}

fn targets(reply: &crate::harness::Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut ids: Vec<String> = reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["target"]["objectId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn holders_of_both_are_listed(backend: Backend) {
    let app = app(backend).await;
    let catalog = id(&post(&app, "/catalogs", json!({"displayName": "Finance"})).await);
    let payments = package(&app, &catalog, "Payments").await;
    let approvals = package(&app, &catalog, "Payment approvals").await;
    let both = app.create_user("Holds both").await;
    let one = app.create_user("Holds payments only").await;
    assign(&app, &payments, &both).await;
    assign(&app, &payments, &one).await;
    assign(&app, &approvals, &both).await;
    run_due_jobs(
        &app.store,
        &app.state.entitlement,
        &WorkerConfig::default(),
        app.clock.now(),
    )
    .await
    .unwrap();

    let named = app
        .get(
            &format!(
                "{EM}/assignments/additionalAccess(accessPackageId='{}',incompatibleAccessPackageId='{}')?$expand=target",
                payments.0, approvals.0
            ),
            &app.admin,
        )
        .await;
    assert_eq!(targets(&named), vec![both.clone()]);
    assert_eq!(named.body["value"][0]["accessPackage"], Value::Null);
    // The quotes may come percent-encoded, as some clients send them.
    let encoded = app
        .get(
            &format!(
                "{EM}/assignments/additionalAccess(accessPackageId=%27{}%27,incompatibleAccessPackageId=%27{}%27)?$expand=target",
                payments.0, approvals.0
            ),
            &app.admin,
        )
        .await;
    assert_eq!(targets(&encoded), vec![both.clone()]);

    // Without a second package: none is incompatible yet, so nobody; once one is, its holders.
    let any = format!(
        "{EM}/assignments/additionalAccess(accessPackageId='{}')?$expand=target",
        payments.0
    );
    assert!(targets(&app.get(&any, &app.admin).await).is_empty());
    let marked = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{}/incompatibleAccessPackages/$ref", approvals.0),
            &app.admin,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{}", payments.0)}),
        )
        .await;
    assert_eq!(marked.status, StatusCode::NO_CONTENT, "{}", marked.body);
    assert_eq!(
        targets(&app.get(&any, &app.admin).await),
        vec![both.clone()]
    );

    // Bad calls are named.
    let missing = app
        .get(
            &format!(
                "{EM}/assignments/additionalAccess(incompatibleAccessPackageId='{}')",
                approvals.0
            ),
            &app.admin,
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert_eq!(missing.error_code(), "invalidRequest");
    let unknown_parameter = app
        .get(
            &format!(
                "{EM}/assignments/additionalAccess(packageId='{}')",
                payments.0
            ),
            &app.admin,
        )
        .await;
    assert_eq!(unknown_parameter.status, StatusCode::BAD_REQUEST);
    let unknown_package = app
        .get(
            &format!(
                "{EM}/assignments/additionalAccess(accessPackageId='00000000-0000-0000-0000-000000000000')"
            ),
            &app.admin,
        )
        .await;
    assert_eq!(unknown_package.status, StatusCode::NOT_FOUND);

    // A caller who cannot read the package's catalog learns nothing.
    let (_, ordinary) = app.user_token("Ordinary").await;
    let hidden = app.get(&any, &ordinary).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
}

crate::on_both_backends!(holders_of_both_are_listed);
