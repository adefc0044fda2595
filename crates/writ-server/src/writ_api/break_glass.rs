//! `GET`/`PATCH /writ/v1/assignmentPolicies/{id}/breakGlass`: an assignment policy's Writ-only
//! break-glass setting, `isApprovalBypassAllowed` (issue 19; the rule is in
//! `writ_domain::entitlement`'s `break_glass.rs`). Readable by whoever may read the policy (`404`
//! otherwise), changed by whoever may change it (`403` otherwise).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::body::read;
use crate::wire::object;
use crate::wire::writ::WireBreakGlass;

/// The setting; `$select` applies.
pub async fn get(
    auth: Authenticated,
    State(state): State<AppState>,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("assignmentPolicyBreakGlass", &[])?;
    query.single_entity()?;
    let allowed = state
        .entitlement
        .approval_bypass_allowed(&auth.caller, &id)
        .await?;
    let mut item = object(&WireBreakGlass {
        is_approval_bypass_allowed: allowed,
    });
    query.project(&mut item, "assignmentPolicyBreakGlass")?;
    Ok(Json(Value::Object(item)))
}

/// Sets it (`isApprovalBypassAllowed`, required); `204`.
pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let body = read::<WireBreakGlass>(&body)?;
    state
        .entitlement
        .set_approval_bypass_allowed(
            &auth.caller,
            &auth.context(),
            &id,
            body.is_approval_bypass_allowed,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
