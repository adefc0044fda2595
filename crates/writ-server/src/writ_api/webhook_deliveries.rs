//! `GET /writ/v1/webhookDeliveries`: each (event, endpoint) webhook delivery with its state,
//! attempts and last outcome, for administrators (DESIGN section 8's dead-letter list).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};
use writ_domain::query::Page;
use writ_domain::webhooks::{DeliveryProgress, WebhookDelivery};

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::graph::datetime;
use crate::odata::ODataQuery;
use crate::state::AppState;

fn instant(value: Option<time::OffsetDateTime>) -> Value {
    value.map_or(Value::Null, datetime)
}

fn delivery_json(d: WebhookDelivery) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(d.id));
    m.insert("eventId".into(), Value::from(d.event_id));
    m.insert("eventType".into(), Value::from(d.event_type));
    m.insert("endpointUrl".into(), Value::from(d.endpoint_url));
    progress_json(&mut m, d.progress);
    m
}

/// Where a delivery stands, as both delivery lists (webhooks, email) show it.
pub(super) fn progress_json(m: &mut Map<String, Value>, p: DeliveryProgress) {
    m.insert(
        "state".into(),
        Value::from(p.state.map_or(p.state_name, |s| s.as_str().to_owned())),
    );
    m.insert("attempts".into(), Value::from(p.attempts));
    m.insert(
        "lastStatusCode".into(),
        p.last_status.map_or(Value::Null, Value::from),
    );
    m.insert(
        "lastError".into(),
        p.last_error.map_or(Value::Null, Value::from),
    );
    m.insert("lastAttemptDateTime".into(), instant(p.last_attempt_at));
    m.insert("nextAttemptDateTime".into(), instant(p.next_attempt_at));
    m.insert("createdDateTime".into(), datetime(p.created_at));
    m.insert("deliveredDateTime".into(), instant(p.delivered_at));
    m.insert("deadLetteredDateTime".into(), instant(p.dead_lettered_at));
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
