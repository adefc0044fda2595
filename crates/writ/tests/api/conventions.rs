//! The Graph conventions every endpoint shares: envelopes, ids in headers, query options, paging,
//! bad input refused without touching the database, idempotent creates.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::harness::{PUBLIC_URL, app};

fn user_body(name: &str) -> Value {
    json!({
        "displayName": name,
        "userPrincipalName": format!("{}@example.org", name.to_lowercase().replace(' ', ".")),
        "mailNickname": name.to_lowercase().replace(' ', ""),
        "accountEnabled": true,
        "passwordProfile": {"password": "a long passphrase 1"},
    })
}

async fn bad_input_is_answered_and_changes_nothing(backend: Backend) {
    let app = app(backend).await;
    let existing = app.create_user("Existing One").await;
    let users_before = app.user_count().await;
    let groups_before = app.group_count().await;
    let audits_before = app.audit_count().await;

    let mut missing_name = user_body("Missing Name");
    missing_name.as_object_mut().unwrap().remove("displayName");
    let mut missing_password = user_body("No Password");
    missing_password
        .as_object_mut()
        .unwrap()
        .remove("passwordProfile");
    let mut wrong_type = user_body("Wrong Type");
    wrong_type["accountEnabled"] = json!("yes");
    let mut bad_enum = user_body("Bad Enum");
    bad_enum["userType"] = json!("Robot");
    let mut unknown_property = user_body("Unknown Prop");
    unknown_property["favouriteColour"] = json!("teal");
    let mut short_password = user_body("Short Password");
    short_password["passwordProfile"] = json!({"password": "short"});
    let mut bad_upn = user_body("Bad Upn");
    bad_upn["userPrincipalName"] = json!("no-at-sign");
    let mut duplicate = user_body("Existing One");
    duplicate["mailNickname"] = json!("other");
    duplicate["userPrincipalName"] = json!("EXISTINGONE@example.org");

    let cases: Vec<(&str, Method, String, String, &str)> = vec![
        ("malformed JSON", Method::POST, "/v1.0/users".into(), "{\"displayName\": ".into(), "JSON"),
        ("not an object", Method::POST, "/v1.0/users".into(), "[1,2]".into(), "object"),
        ("missing required", Method::POST, "/v1.0/users".into(), missing_name.to_string(), "displayName"),
        ("missing password", Method::POST, "/v1.0/users".into(), missing_password.to_string(), "passwordProfile"),
        ("wrong type", Method::POST, "/v1.0/users".into(), wrong_type.to_string(), "accountEnabled"),
        ("unknown enum", Method::POST, "/v1.0/users".into(), bad_enum.to_string(), "userType"),
        ("unknown property", Method::POST, "/v1.0/users".into(), unknown_property.to_string(), "favouriteColour"),
        ("weak password", Method::POST, "/v1.0/users".into(), short_password.to_string(), "password"),
        ("bad upn", Method::POST, "/v1.0/users".into(), bad_upn.to_string(), "userPrincipalName"),
        ("duplicate upn", Method::POST, "/v1.0/users".into(), duplicate.to_string(), "userPrincipalName"),
        ("null required on patch", Method::PATCH, format!("/v1.0/users/{existing}"), "{\"displayName\": null}".into(), "displayName"),
        ("wrong type on patch", Method::PATCH, format!("/v1.0/users/{existing}"), "{\"businessPhones\": \"555\"}".into(), "businessPhones"),
        (
            "dangling @odata.bind",
            Method::POST,
            "/v1.0/groups".into(),
            json!({
                "displayName": "Dangling", "mailNickname": "dangling", "mailEnabled": false, "securityEnabled": true,
                "members@odata.bind": [format!("{PUBLIC_URL}/v1.0/users/6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b")],
            })
            .to_string(),
            "does not exist",
        ),
        (
            "@odata.bind that is not a directory URL",
            Method::POST,
            "/v1.0/groups".into(),
            json!({
                "displayName": "Bad bind", "mailNickname": "badbind", "mailEnabled": false, "securityEnabled": true,
                "members@odata.bind": ["https://example.org/not/an/object"],
            })
            .to_string(),
            "members@odata.bind",
        ),
        (
            "unknown group enum",
            Method::POST,
            "/v1.0/groups".into(),
            json!({"displayName": "V", "mailNickname": "v", "mailEnabled": false, "securityEnabled": true, "visibility": "Secret"}).to_string(),
            "visibility",
        ),
    ];
    for (name, method, uri, body, mentions) in cases {
        let reply = app.raw(method, &uri, &app.admin, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest", "{name}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{name}: '{message}' should mention '{mentions}'"
        );
    }
    // A body that is not JSON at all is refused before parsing.
    let reply = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(axum::body::Body::from("displayName=x")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    reply.error_code();

    assert_eq!(app.user_count().await, users_before);
    assert_eq!(app.group_count().await, groups_before);
    assert_eq!(app.audit_count().await, audits_before);
    let unchanged = app
        .get(&format!("/v1.0/users/{existing}"), &app.admin)
        .await;
    assert_eq!(unchanged.body["displayName"], "Existing One");
}

async fn bad_query_options_are_400(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Query Target").await;
    let cases = [
        ("$top=0", "$top"),
        ("$top=5000", "$top"),
        ("$top=abc", "$top"),
        ("$filter=displayName eq", "syntax"),
        ("$filter=substring(displayName,1) eq 'a'", "substring"),
        ("$filter=passwordHash eq 'x'", "passwordHash"),
        ("$filter=userType eq 'Robot'", "Robot"),
        ("$filter=accountEnabled eq 'yes'", "accountEnabled"),
        ("$orderby=mail", "mail"),
        ("$select=displayName,nonsense", "nonsense"),
        ("$expand=memberOf", "memberOf"),
        ("$search=\"x\"", "$search"),
        ("$skiptoken=garbage", "skiptoken"),
        ("$count=maybe", "$count"),
    ];
    for (query, mentions) in cases {
        let encoded: String = form_encode(query);
        let reply = app.get(&format!("/v1.0/users?{encoded}"), &app.admin).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{query}: '{message}' should mention '{mentions}'"
        );
    }
    let deep = format!(
        "$filter={}displayName eq 'x'{}",
        "(".repeat(40),
        ")".repeat(40)
    );
    let reply = app
        .get(&format!("/v1.0/users?{}", form_encode(&deep)), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let long = format!("$filter=displayName eq '{}'", "x".repeat(5000));
    let reply = app
        .get(&format!("/v1.0/users?{}", form_encode(&long)), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

fn form_encode(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            format!("{}={}", k, encode(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn collections_page_filter_select_and_count(backend: Backend) {
    let app = app(backend).await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_user(&format!("Pager {i}")).await);
    }
    app.create_user("Someone Else").await;

    let mut uri = format!(
        "/v1.0/users?{}",
        form_encode(
            "$filter=startswith(displayName,'pager')&$top=3&$count=true&$select=id,displayName&$orderby=displayName desc"
        )
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let reply = app.get(&uri, &app.admin).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        pages += 1;
        assert_eq!(reply.body["@odata.count"], 7);
        assert_eq!(
            reply.body["@odata.context"],
            format!("{PUBLIC_URL}/v1.0/$metadata#users(id,displayName)")
        );
        for item in reply.body["value"].as_array().unwrap() {
            let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(
                keys.len(),
                2,
                "$select keeps only the selected properties: {item}"
            );
            seen.push(item["displayName"].as_str().unwrap().to_owned());
        }
        match reply.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{PUBLIC_URL}/v1.0/users?")),
                    "absolute nextLink: {next}"
                );
                uri = next.trim_start_matches(PUBLIC_URL).to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let counted = app
        .get(
            &format!(
                "/v1.0/users/$count?{}",
                form_encode("$filter=startswith(displayName,'pager')")
            ),
            &app.admin,
        )
        .await;
    assert_eq!(counted.status, StatusCode::OK);
    assert!(
        counted.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(counted.body, 7);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Pager {i}")).collect();
    assert_eq!(seen, expected);

    // Enum input in any case; the stored and returned spelling is canonical.
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{}", created[0]),
            &app.admin,
            json!({"userType": "gUEST"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app
        .get(
            &format!("/v1.0/users?{}", form_encode("$filter=userType eq 'GUEST'")),
            &app.admin,
        )
        .await;
    let value = reply.body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["userType"], "Guest");

    // The same handlers serve /beta.
    let reply = app
        .get(&format!("/beta/users/{}", created[1]), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["@odata.context"],
        format!("{PUBLIC_URL}/beta/$metadata#users/$entity")
    );
}

async fn responses_carry_request_ids(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .request(
            Method::GET,
            "/v1.0/users/6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b",
            Some(&app.admin),
            None,
            &[("client-request-id", "my-correlation-42")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "Request_ResourceNotFound");
    assert_eq!(reply.headers["client-request-id"], "my-correlation-42");
    assert_eq!(
        reply.body["error"]["innerError"]["client-request-id"],
        "my-correlation-42"
    );

    let ok = app.get("/v1.0/users", &app.admin).await;
    assert!(ok.headers.get("request-id").is_some());

    let unknown = app.get("/v1.0/nothingHere", &app.admin).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    unknown.error_code();
    let not_allowed = app
        .request(Method::PUT, "/v1.0/users", Some(&app.admin), None, &[])
        .await;
    assert_eq!(not_allowed.status, StatusCode::METHOD_NOT_ALLOWED);
    not_allowed.error_code();
}

async fn idempotency_key_replays_the_first_create(backend: Backend) {
    let app = app(backend).await;
    let body = user_body("Idem Potent").to_string();
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "create-idem-1"),
    ];
    let first = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(body.clone().into()),
            &headers,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(body.clone().into()),
            &headers,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.user_count().await, 1);

    let other = user_body("Someone Different").to_string();
    let reused = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(other.clone().into()),
            &headers,
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    reused.error_code();

    // A failed create releases its key: fixing the body and retrying with the key works.
    let bad = json!({"displayName": "Broken"}).to_string();
    let key2 = [
        ("content-type", "application/json"),
        ("idempotency-key", "create-idem-2"),
    ];
    let failed = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(bad.into()),
            &key2,
        )
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    let ok = app
        .request(
            Method::POST,
            "/v1.0/users",
            Some(&app.admin),
            Some(other.into()),
            &key2,
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(app.user_count().await, 2);
}

async fn health_and_readiness(backend: Backend) {
    let app = app(backend).await;
    let healthz = app.request(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(healthz.status, StatusCode::OK);
    let readyz = app.request(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(readyz.status, StatusCode::OK);
    assert_eq!(readyz.body["database"], backend.name());
    app.store.close().await;
    let readyz = app.request(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(readyz.status, StatusCode::SERVICE_UNAVAILABLE);
}

crate::on_both_backends!(
    bad_input_is_answered_and_changes_nothing,
    bad_query_options_are_400,
    collections_page_filter_select_and_count,
    responses_carry_request_ids,
    idempotency_key_replays_the_first_create,
    health_and_readiness,
);
