//! The Graph wire types (`writ_server::wire`) against what the API serves: the OpenAPI
//! description names a component schema for every route that returns an entity and every
//! `$ref` in it resolves; and each entitlement entity, read back from the API on both backends,
//! deserialises into its wire type and serialises back to exactly the JSON served (so the type
//! names every property, with its JSON type).

use axum::http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use writ_server::routes::Kind;
use writ_server::wire::entitlement::{catalogs, organizations, policies, requests, roles};
use writ_store::Backend;

use crate::assignments::{run_jobs, setup};
use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement";
const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref"
                    && let Some(target) = inner.as_str()
                {
                    found.push(target.to_owned());
                }
                refs(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_and_every_entity_route_names_a_schema() {
    let document = writ_server::openapi_document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(!found.is_empty());
    for target in &found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a component schema"));
        assert!(schemas.contains_key(name), "{target} does not resolve");
    }
    for doc in writ_server::route_docs() {
        let returns_entity = matches!(doc.kind, Kind::Collection | Kind::Entity | Kind::Create);
        if !returns_entity {
            continue;
        }
        let name = doc
            .returns
            .unwrap_or_else(|| panic!("{:?} {} names no schema", doc.method, doc.path));
        assert!(schemas.contains_key(name), "{}: {name}", doc.path);
        if let Some(body) = doc.body {
            assert!(schemas.contains_key(body), "{}: {body}", doc.path);
        }
    }
    // The two halves of the wire types may share a nested type, never a name for two shapes.
    let entitlement = writ_server::wire::entitlement::schemas();
    let directory = writ_server::wire::directory::schemas();
    for (name, schema) in &entitlement {
        for (other, other_schema) in &directory {
            if name == other {
                assert_eq!(
                    serde_json::to_value(schema).unwrap(),
                    serde_json::to_value(other_schema).unwrap(),
                    "two schemas named {name}"
                );
            }
        }
    }
}

/// `body` (a served entity, its `@odata.context` aside) read into `T` and written back is `body`.
fn round_trips<T: DeserializeOwned + Serialize>(body: &Value, what: &str) {
    let mut served = body.clone();
    if let Some(map) = served.as_object_mut() {
        map.remove("@odata.context");
    }
    let typed: T = serde_json::from_value(served.clone())
        .unwrap_or_else(|e| panic!("{what} does not read into its wire type: {e}\n{served}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), served, "{what}");
}

/// Every item of the collection at `uri` round-trips through `T`; the number of items.
async fn collection_round_trips<T: DeserializeOwned + Serialize>(
    app: &TestApp,
    uri: &str,
) -> usize {
    let reply = app.get(uri, &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
    let items = reply.body["value"].as_array().unwrap();
    for item in items {
        round_trips::<T>(item, uri);
    }
    items.len()
}

async fn entity_round_trips<T: DeserializeOwned + Serialize>(app: &TestApp, uri: &str) {
    let reply = app.get(uri, &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
    round_trips::<T>(&reply.body, uri);
}

async fn entitlement_entities_read_into_their_wire_types(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let created = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({
                "requestType": "adminAdd",
                "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    round_trips::<requests::AccessPackageAssignmentRequest>(&created.body, "created request");
    let request = created.id();
    run_jobs(&app).await;

    let catalog = &s.catalog;
    let package = &s.package;
    entity_round_trips::<catalogs::AccessPackageCatalog>(
        &app,
        &format!("{EM}/catalogs/{catalog}?$expand=accessPackages"),
    )
    .await;
    assert!(
        collection_round_trips::<catalogs::AccessPackageResource>(
            &app,
            &format!("{EM}/catalogs/{catalog}/resources?$expand=roles,scopes"),
        )
        .await
            > 0
    );
    assert!(
        collection_round_trips::<catalogs::AccessPackageResourceRole>(
            &app,
            &format!("{EM}/catalogs/{catalog}/resourceRoles?$expand=resource"),
        )
        .await
            > 0
    );
    assert_eq!(
        collection_round_trips::<catalogs::AccessPackage>(
            &app,
            &format!("{EM}/catalogs/{catalog}/accessPackages"),
        )
        .await,
        1
    );
    assert!(
        collection_round_trips::<catalogs::AccessPackageResourceScope>(
            &app,
            &format!("{EM}/catalogs/{catalog}/resourceScopes?$expand=resource"),
        )
        .await
            > 0
    );
    assert!(
        collection_round_trips::<catalogs::AccessPackageResourceRequest>(
            &app,
            &format!("{EM}/resourceRequests"),
        )
        .await
            > 0
    );
    entity_round_trips::<catalogs::AccessPackage>(
        &app,
        &format!(
            "{EM}/accessPackages/{package}?$expand=catalog,resourceRoleScopes($expand=role,scope)"
        ),
    )
    .await;
    assert!(
        collection_round_trips::<catalogs::AccessPackageResourceRoleScope>(
            &app,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes?$expand=role,scope"),
        )
        .await
            > 0
    );
    entity_round_trips::<policies::AccessPackageAssignmentPolicy>(
        &app,
        &format!(
            "{EM}/assignmentPolicies/{}?$expand=accessPackage,catalog",
            s.policy
        ),
    )
    .await;
    entity_round_trips::<requests::AccessPackageAssignmentRequest>(
        &app,
        &format!("{EM}/assignmentRequests/{request}?$expand=accessPackage,assignment,requestor"),
    )
    .await;
    assert_eq!(
        collection_round_trips::<requests::AccessPackageAssignment>(
            &app,
            &format!("{EM}/assignments?$expand=accessPackage,assignmentPolicy,target"),
        )
        .await,
        1
    );
    assert!(
        collection_round_trips::<requests::AccessPackageSubject>(&app, &format!("{EM}/subjects"))
            .await
            > 0
    );

    let organization = app
        .created(
            &app.admin,
            &format!("{EM}/connectedOrganizations"),
            json!({"displayName": "Contoso", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "contoso.example", "displayName": "Contoso"}]}),
        )
        .await;
    entity_round_trips::<organizations::ConnectedOrganization>(
        &app,
        &format!("{EM}/connectedOrganizations/{organization}"),
    )
    .await;
    entity_round_trips::<organizations::EntitlementManagementSettings>(
        &app,
        &format!("{EM}/settings"),
    )
    .await;
    let extensions = format!("{EM}/catalogs/{catalog}/customWorkflowExtensions");
    let extension = app
        .created(
            &app.admin,
            &extensions,
            json!({
                "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
                "displayName": "Hook",
                "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://tickets.example/hook"},
                "clientConfiguration": {"maximumRetries": 0, "timeoutInMilliseconds": 5000},
            }),
        )
        .await;
    entity_round_trips::<organizations::CustomCalloutExtension>(
        &app,
        &format!("{extensions}/{extension}"),
    )
    .await;

    assert!(
        collection_round_trips::<roles::UnifiedRoleDefinition>(
            &app,
            &format!("{EM_ROLES}/roleDefinitions"),
        )
        .await
            > 0
    );
    let role_assignment = app
        .created(
            &app.admin,
            &format!("{EM_ROLES}/roleAssignments"),
            json!({"principalId": s.sponsor, "roleDefinitionId": ASSIGNMENT_MANAGER, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
        )
        .await;
    entity_round_trips::<roles::UnifiedRoleAssignment>(
        &app,
        &format!("{EM_ROLES}/roleAssignments/{role_assignment}"),
    )
    .await;
}

crate::on_both_backends!(entitlement_entities_read_into_their_wire_types);
