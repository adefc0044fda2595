//! `GET /writ/v1/jobs` and `/{id}`: the job queue as administrators read it (issue 14: a job the
//! worker gave up on is parked with its error, visible to administrators and `reprocess`-able).
//! Each row is a queued, leased or parked job with its kind, subject (the request, assignment or
//! callout it works on), due time, attempts, lease, last error and when it was parked. Who may
//! read, and why `lastError` is shown as stored, is in `writ_domain::jobs`'s module doc.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value};
use writ_domain::jobs::QueuedJob;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::object;
use crate::wire::writ::WireJob;

fn job_json(job: QueuedJob) -> Map<String, Value> {
    object(&WireJob::from(job))
}

/// Lists jobs in id (enqueue) order; `$filter` (e.g. `state eq 'parked'`), `$orderby`, `$top`,
/// `$skiptoken`, `$count` and `$select` as on Graph collections.
pub async fn list(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("job", &[])?;
    let page = state
        .directory
        .jobs(&auth.caller, &query.list_query())
        .await?;
    let page = Page {
        items: page.items.into_iter().map(job_json).collect(),
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.writ_collection("job", page)?))
}

/// One job; `$select` applies. A job that completed is deleted, so it is a 404.
pub async fn get(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("job", &[])?;
    query.single_entity()?;
    let job = state.directory.job(&auth.caller, &id).await?;
    let mut item = job_json(job);
    query.project(&mut item, "job")?;
    Ok(Json(Value::Object(item)))
}
