//! `…/entitlementManagement/subjects`: the principals that have been the target or the requestor
//! of an assignment request, as Graph's `accessPackageSubject`; `$filter` on `objectId`,
//! `subjectType` and `displayName`, paging and `$count` in the query; readable by callers that
//! read every catalog only; a deleted principal's subject gone with it.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_domain::store::DirectoryStore;
use writ_store::Backend;

use crate::current_user::world;
use crate::harness::{ADMIN_CLIENT_ID, PUBLIC_URL, TestApp, app};

const SUBJECTS: &str = "/v1.0/identityGovernance/entitlementManagement/subjects";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const CATALOG_READER: &str = "44272f93-9762-48e8-af59-1b5351b1d6b3";

/// The ids of a subject list (every page).
async fn ids(app: &TestApp, query: &str, token: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut next = Some(format!("{SUBJECTS}{query}"));
    while let Some(uri) = next {
        let reply = app.get(&uri, token).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        for item in reply.body["value"].as_array().unwrap() {
            assert!(out.insert(item["id"].as_str().unwrap().to_owned()));
        }
        next = reply.body["@odata.nextLink"]
            .as_str()
            .map(|l| l.strip_prefix(PUBLIC_URL).unwrap().to_owned());
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn login(app: &TestApp, nickname: &str) -> String {
    let reply = app
        .password_token(&format!("{nickname}@example.org"), "a long passphrase 1")
        .await;
    reply.body["access_token"].as_str().unwrap().to_owned()
}

async fn subjects_are_the_targets_and_requestors(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let admin_sp = app
        .store
        .service_principal_by_app_id(ADMIN_CLIENT_ID)
        .await
        .unwrap()
        .unwrap()
        .id;
    // Targets: A, B, C, U, Hugh; requestors: the administrator, Sam, C and B. Not Gina, Olive,
    // Pat, Mona or agent D, who only sponsor, own, manage or are a parent.
    let everyone = set(&[&admin_sp, &w.sam, &w.hugh, &w.a, &w.b, &w.c, &w.u]);
    assert_eq!(ids(&app, "", &app.admin).await, everyone);
    for outsider in [&w.gina, &w.olive, &w.pat, &w.mona, &w.d] {
        let reply = app.get(&format!("{SUBJECTS}/{outsider}"), &app.admin).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        assert_eq!(reply.error_code(), "Request_ResourceNotFound");
    }

    // The shape: Graph's accessPackageSubject, exactly, for each kind of principal.
    let read = app.get(&format!("{SUBJECTS}/{}", w.a), &app.admin).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let agent = app
        .get(&format!("/v1.0/servicePrincipals/{}", w.a), &app.admin)
        .await;
    assert_eq!(
        read.body,
        json!({
            "@odata.context": format!("{PUBLIC_URL}/v1.0/$metadata#identityGovernance/entitlementManagement/subjects/$entity"),
            "id": w.a, "objectId": w.a, "displayName": "agent-a",
            "principalName": agent.body["appId"], "email": null,
            "onPremisesSecurityIdentifier": null, "subjectType": "servicePrincipal",
            "subjectLifecycle": "notDefined",
        })
    );
    let sam = app.get(&format!("{SUBJECTS}/{}", w.sam), &app.admin).await;
    assert_eq!(sam.body["subjectType"], "user");
    assert_eq!(sam.body["principalName"], "samsponsor@example.org");
    assert_eq!(sam.body["displayName"], "Sam Sponsor");
    let agent_user = app.get(&format!("{SUBJECTS}/{}", w.u), &app.admin).await;
    assert_eq!(agent_user.body["subjectType"], "user");
    // The same rendering as $expand=target.
    let expanded = app
        .get(
            &format!(
                "/v1.0/identityGovernance/entitlementManagement/assignments?$filter=target/objectId%20eq%20'{}'&$expand=target",
                w.hugh
            ),
            &app.admin,
        )
        .await;
    let hugh = app.get(&format!("{SUBJECTS}/{}", w.hugh), &app.admin).await;
    let mut target = expanded.body["value"][0]["target"].clone();
    target["@odata.context"] = hugh.body["@odata.context"].clone();
    assert_eq!(target, hugh.body);
    let selected = app
        .get(
            &format!("{SUBJECTS}/{}?$select=displayName,subjectType", w.u),
            &app.admin,
        )
        .await;
    assert_eq!(
        selected.body.as_object().unwrap().len(),
        3,
        "{}",
        selected.body
    );

    // $filter in the query, in any case where the property folds it.
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        (
            "subjectType eq 'servicePrincipal'".into(),
            set(&[&admin_sp, &w.a, &w.b, &w.c]),
        ),
        (
            "subjectType eq 'USER'".into(),
            set(&[&w.sam, &w.hugh, &w.u]),
        ),
        ("subjectType eq 'notSpecified'".into(), set(&[])),
        (
            "startswith(displayName,'AGENT-')".into(),
            set(&[&w.a, &w.b, &w.c, &w.u]),
        ),
        ("displayName eq 'hugh human'".into(), set(&[&w.hugh])),
        (format!("objectId eq '{}'", w.b), set(&[&w.b])),
        (
            format!("objectId in ('{}', '{}', '{}')", w.b, w.u, w.gina),
            set(&[&w.b, &w.u]),
        ),
        (
            "subjectType eq 'user' and startswith(displayName,'agent')".into(),
            set(&[&w.u]),
        ),
    ];
    for (filter, expected) in cases {
        let query = format!("?$filter={}", filter.replace(' ', "%20"));
        assert_eq!(ids(&app, &query, &app.admin).await, expected, "{filter}");
    }
    for bad in [
        "subjectType eq 'agent'",
        "email eq 'x@example.org'",
        "principalName eq 'x'",
        "subjectType gt 'user'",
    ] {
        let reply = app
            .get(
                &format!("{SUBJECTS}?$filter={}", bad.replace(' ', "%20")),
                &app.admin,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest");
    }
    let expand = app
        .get(
            &format!("{SUBJECTS}?$expand=connectedOrganization"),
            &app.admin,
        )
        .await;
    assert_eq!(expand.status, StatusCode::BAD_REQUEST);

    // Paging and $count: keyset pages of two, ordered by name when asked.
    let page = app
        .get(&format!("{SUBJECTS}?$top=2&$count=true"), &app.admin)
        .await;
    assert_eq!(page.body["@odata.count"], 7, "{}", page.body);
    assert_eq!(page.body["value"].as_array().unwrap().len(), 2);
    assert!(page.body["@odata.nextLink"].is_string());
    assert_eq!(ids(&app, "?$top=2", &app.admin).await, everyone);
    let ordered = app
        .get(
            &format!(
                "{SUBJECTS}?$orderby=displayName%20desc&$filter=startswith(displayName,'agent-')"
            ),
            &app.admin,
        )
        .await;
    let names: Vec<&str> = ordered.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent-d user", "agent-c", "agent-b", "agent-a"]);
    let stale = app
        .get(
            &format!(
                "{SUBJECTS}?$filter=subjectType%20eq%20'user'&$skiptoken={}",
                page.body["@odata.nextLink"]
                    .as_str()
                    .unwrap()
                    .split("skiptoken=")
                    .nth(1)
                    .unwrap()
            ),
            &app.admin,
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::BAD_REQUEST,
        "a token of another query"
    );

    // A deleted principal's subject is gone; its requests remain.
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{}", w.hugh),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(
        app.get(&format!("{SUBJECTS}/{}", w.hugh), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(!ids(&app, "", &app.admin).await.contains(&w.hugh));
    let request = app
        .get(
            &format!(
                "/v1.0/identityGovernance/entitlementManagement/assignmentRequests/{}",
                w.r5
            ),
            &app.admin,
        )
        .await;
    assert_eq!(request.status, StatusCode::OK, "{}", request.body);
}

async fn only_tenant_wide_readers_read_subjects(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    // A Global Reader and a Catalog reader at '/' read them.
    let (reader, reader_token) = app.user_token("Greta Globalreader").await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": reader, "roleDefinitionId": GLOBAL_READER, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let (all_catalogs, all_catalogs_token) = app.user_token("Carl Catalogreader").await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/entitlementManagement/roleAssignments",
            &app.admin,
            json!({"principalId": all_catalogs, "roleDefinitionId": CATALOG_READER, "appScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    for token in [&reader_token, &all_catalogs_token] {
        assert_eq!(ids(&app, "", token).await.len(), 7);
        let one = app.get(&format!("{SUBJECTS}/{}", w.a), token).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    }
    // Anyone else is refused, whether or not the subject exists, even a subject reading itself:
    // an ordinary user, a sponsor, an agent.
    let sam = login(&app, "samsponsor").await;
    let gina = login(&app, "ginagroupmember").await;
    let (agent, _) =
        crate::agents::agent_token(&app, &w.a, "https://graph.microsoft.com/.default").await;
    for (who, token) in [("Sam", &sam), ("Gina", &gina), ("agent A", &agent)] {
        for path in [
            SUBJECTS.to_owned(),
            format!("{SUBJECTS}/{}", w.sam),
            format!("{SUBJECTS}/{}", w.a),
            format!("{SUBJECTS}/00000000-0000-0000-0000-000000000000"),
        ] {
            let reply = app.get(&path, token).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path} as {who}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "accessDenied");
        }
    }
    let reply = app.request(Method::GET, SUBJECTS, None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

crate::on_both_backends!(
    subjects_are_the_targets_and_requestors,
    only_tenant_wide_readers_read_subjects,
);
