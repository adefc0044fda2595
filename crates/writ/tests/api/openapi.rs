//! The OpenAPI description is generated from the route table; the committed copy in
//! `docs/openapi.json` must match it, so a route change without a docs update fails here.
//! Regenerate with `WRIT_UPDATE_OPENAPI=1 cargo test -p writ --test suite openapi`.

use axum::http::{Method, StatusCode};

use crate::harness::app;

#[test]
fn committed_openapi_matches_the_code() {
    let generated = writ_server::openapi_document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let rendered = format!("{}\n", serde_json::to_string_pretty(&generated).unwrap());
    if std::env::var("WRIT_UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/openapi.json is out of date: run WRIT_UPDATE_OPENAPI=1 cargo test -p writ --test suite openapi"
    );
    // Every served Graph route is described under both versions.
    let paths = generated["paths"].as_object().unwrap();
    for p in [
        "/v1.0/users",
        "/beta/users/{id}",
        "/v1.0/groups/{id}/members/$ref",
        "/oauth2/v2.0/token",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the description");
    }
}

#[tokio::test]
async fn the_description_is_served() {
    let app = app(writ_store::Backend::Sqlite).await;
    let reply = app
        .request(Method::GET, "/writ/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, writ_server::openapi_document());
}
