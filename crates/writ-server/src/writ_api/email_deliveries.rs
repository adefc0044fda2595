//! `GET /writ/v1/emailDeliveries` and `/{id}`: each (event, recipient) notification email with
//! its state, attempts and last outcome, for administrators (DESIGN section 8's dead letters).
//! Nothing secret is in a row: the relay's URL and credentials are configuration, never stored.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value};
use writ_domain::email::{EmailDelivery, host_of};
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::object;
use crate::wire::writ::WireEmailDelivery;

/// `host`: the host of the public URL, as in the messages' `Message-ID`.
fn delivery_json(d: EmailDelivery, host: &str) -> Map<String, Value> {
    object(&WireEmailDelivery::new(d, host))
}

/// Lists deliveries in id order; `$filter` (e.g. `state eq 'deadLettered'`), `$orderby`,
/// `$top`, `$skiptoken`, `$count` and `$select` as on Graph collections.
pub async fn list(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("emailDelivery", &[])?;
    let page = state
        .directory
        .email_deliveries(&auth.caller, &query.list_query())
        .await?;
    let host = host_of(&state.settings.public_url);
    let page = Page {
        items: page
            .items
            .into_iter()
            .map(|d| delivery_json(d, &host))
            .collect(),
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.writ_collection("emailDelivery", page)?))
}

/// One delivery; `$select` applies.
pub async fn get(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("emailDelivery", &[])?;
    query.single_entity()?;
    let delivery = state.directory.email_delivery(&auth.caller, &id).await?;
    let mut item = delivery_json(delivery, &host_of(&state.settings.public_url));
    query.project(&mut item, "emailDelivery")?;
    Ok(Json(Value::Object(item)))
}
