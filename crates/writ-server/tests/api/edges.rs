//! Issue 14's edges of the server (items 6, 7, 9 and 10 where they are observable over HTTP):
//! forged `$skiptoken`s, control characters in names, the sign-in rate limiter, the metrics
//! listener.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use writ_store::Backend;

use crate::harness::app;

/// The skiptoken fingerprint of `writ-store/src/list.rs` (FNV-1a of entity, filter, order), so
/// a forged token gets past the "made for this query" check and reaches the database.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn forged_token(entity: &str, orderby: &str, keys: Value) -> String {
    let body = json!({ "f": fingerprint(&[entity, "", orderby]), "k": keys });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

async fn forged_skiptokens_of_the_wrong_type_are_400(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Ada Lovelace").await;
    let some_id = "00000000-0000-0000-0000-000000000000";
    let cases = [
        // (collection, entity, $orderby, keys)
        (
            "/v1.0/users",
            "user",
            "createdDateTime",
            json!(["yesterday", some_id]),
        ),
        (
            "/v1.0/users",
            "user",
            "createdDateTime",
            json!([true, some_id]),
        ),
        ("/v1.0/users", "user", "displayName", json!([42, some_id])),
        ("/v1.0/users", "user", "", json!([42])),
        ("/v1.0/users", "user", "", json!([null])),
        (
            "/v1.0/identityGovernance/entitlementManagement/catalogs",
            "accessPackageCatalog",
            "modifiedDateTime desc",
            json!(["2024-01-01", some_id]),
        ),
        (
            "/v1.0/auditLogs/directoryAudits",
            "directoryAudit",
            "",
            json!([7]),
        ),
    ];
    for (collection, entity, orderby, keys) in cases {
        let token = forged_token(entity, orderby, keys.clone());
        let order = if orderby.is_empty() {
            String::new()
        } else {
            format!("&$orderby={}", orderby.replace(' ', "%20"))
        };
        let reply = app
            .get(
                &format!("{collection}?$skiptoken={token}{order}"),
                &app.admin,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{collection} {orderby} {keys}: {}",
            reply.body
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("$skiptoken"),
            "{}",
            reply.body
        );
    }
    // A well-typed token is still a page.
    let token = forged_token("user", "createdDateTime", json!([0, some_id]));
    let reply = app
        .get(
            &format!("/v1.0/users?$skiptoken={token}&$orderby=createdDateTime"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // And a real next link still works.
    app.create_user("Grace Hopper").await;
    let first = app
        .get(
            "/v1.0/users?$top=1&$orderby=createdDateTime%20desc",
            &app.admin,
        )
        .await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_owned();
    let next = next.trim_start_matches(crate::harness::PUBLIC_URL);
    let second = app.get(next, &app.admin).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
}

crate::on_both_backends!(forged_skiptokens_of_the_wrong_type_are_400);
