//! `/identityProtection/riskyAgents` (DESIGN section 17, Graph beta's `riskyAgent`, served under
//! both prefixes): the agents with a risk state, and the administrator's three decisions
//! (`confirmCompromised`, `confirmSafe`, `dismiss`), each taking `agentIds` and answering `204`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::input;
use crate::wire::directory::risky_agent::{RiskyAgent, RiskyAgentIdsBody};
use crate::wire::object;

const CONTEXT: &str = "identityProtection/riskyAgents";

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("riskyAgent", &[])?;
    let page = state
        .directory
        .list_risky_agents(&auth.caller, &query.list_query())
        .await?;
    let page: Page<_> = page.map(|r| object(&RiskyAgent::from(&r)));
    Ok(Json(query.collection(CONTEXT, "riskyAgent", page)?))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("riskyAgent", &[])?;
    let risk = state.directory.get_risky_agent(&auth.caller, &id).await?;
    Ok(Json(query.entity(
        CONTEXT,
        "riskyAgent",
        object(&RiskyAgent::from(&risk)),
    )?))
}

fn agent_ids(action: &str, body: &JsonObject) -> ApiResult<Vec<String>> {
    body.check_properties(action, &["agentIds"])?;
    input::read::<RiskyAgentIdsBody>(body)?.agent_ids()
}

pub async fn confirm_compromised(
    State(state): State<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let ids = agent_ids("confirmCompromised", &body)?;
    state
        .directory
        .confirm_agents_compromised(&auth.caller, &auth.context(), &ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn confirm_safe(
    State(state): State<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let ids = agent_ids("confirmSafe", &body)?;
    state
        .directory
        .confirm_agents_safe(&auth.caller, &auth.context(), &ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn dismiss(
    State(state): State<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let ids = agent_ids("dismiss", &body)?;
    state
        .directory
        .dismiss_agent_risk(&auth.caller, &auth.context(), &ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/identityProtection/riskyAgents",
        Collection,
        "List risky agents",
        list,
    )
    .returns("riskyAgent")
    .route(
        Get,
        "/identityProtection/riskyAgents/{id}",
        Entity,
        "Get a risky agent",
        get,
    )
    .returns("riskyAgent")
    .route(
        Post,
        "/identityProtection/riskyAgents/confirmCompromised",
        NoContent,
        "Confirm agents compromised: end their assignments, refuse their tokens, notify sponsors",
        confirm_compromised,
    )
    .body("riskyAgentIdsBody")
    .route(
        Post,
        "/identityProtection/riskyAgents/confirmSafe",
        NoContent,
        "Confirm agents safe: restore their sign-in",
        confirm_safe,
    )
    .body("riskyAgentIdsBody")
    .route(
        Post,
        "/identityProtection/riskyAgents/dismiss",
        NoContent,
        "Dismiss agents' risk: restore their sign-in",
        dismiss,
    )
    .body("riskyAgentIdsBody")
}
