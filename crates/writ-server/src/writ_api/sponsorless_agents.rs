//! `GET /writ/v1/agentsWithoutSponsors`: the agent identities, blueprints and agent users with
//! no sponsor (what sponsor succession left without one), for readers of the whole directory
//! (issue 19, sponsor succession).

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::DirectoryObject;
use crate::wire::object;

/// By object id; `$top`, `$skiptoken`, `$count` and `$select`, no `$filter` or `$orderby`.
pub async fn list(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let page = state
        .directory
        .agents_without_sponsors(&auth.caller, &query.list_query())
        .await?;
    let page = Page {
        items: page
            .items
            .iter()
            .map(|o| object(&DirectoryObject::from(o)))
            .collect(),
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.writ_collection("directoryObject", page)?))
}
