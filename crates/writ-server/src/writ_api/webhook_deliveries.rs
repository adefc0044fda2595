//! `GET /writ/v1/webhookDeliveries`: each (event, endpoint) webhook delivery with its state,
//! attempts and last outcome, for administrators (DESIGN section 8's dead-letter list).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};
use writ_domain::query::Page;
use writ_domain::webhooks::WebhookDelivery;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::object;
use crate::wire::writ::WireWebhookDelivery;

fn delivery_json(d: WebhookDelivery) -> Map<String, Value> {
    object(&WireWebhookDelivery::from(d))
}

/// Lists deliveries in creation order; `$filter` (e.g. `state eq 'deadLettered'`), `$orderby`,
/// `$top`, `$skiptoken`, `$count` and `$select` as on Graph collections.
pub async fn list(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("webhookDelivery", &[])?;
    let page = state
        .directory
        .webhook_deliveries(&auth.caller, &query.list_query())
        .await?;
    let page = Page {
        items: page.items.into_iter().map(delivery_json).collect(),
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.writ_collection("webhookDelivery", page)?))
}
