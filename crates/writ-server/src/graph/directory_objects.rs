//! `GET /directoryObjects/{id}`: any object of the directory, typed by `@odata.type`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::directory_object_json;

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("directoryObject", &[])?;
    let object = state
        .directory
        .get_directory_object(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        "directoryObjects",
        "directoryObject",
        directory_object_json(&object),
    )?))
}
