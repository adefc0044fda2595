//! `GET /directoryObjects/{id}`: any object of the directory, typed by `@odata.type`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;

use crate::wire::directory::DirectoryObject;
use crate::wire::object;

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("directoryObject", &[])?;
    let found = state
        .directory
        .get_directory_object(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        "directoryObjects",
        "directoryObject",
        object(&DirectoryObject::from(&found)),
    )?))
}

/// `GET /servicePrincipals(appId='…')` and `GET /applications(appId='…')`: Graph's alternate
/// keys, which arrive as one path segment.
pub async fn alternate_key(
    State(state): State<AppState>,
    query: ODataQuery,
    Path(segment): Path<String>,
    request: axum::extract::Request,
) -> ApiResult<Json<Value>> {
    let parsed = segment
        .split_once("(appId=")
        .and_then(|(collection, rest)| {
            let key = rest.strip_suffix(')')?.trim_matches('\'');
            Some((collection, writ_domain::ids::parse_guid(key)?))
        });
    let not_found = || {
        crate::error::ApiError::not_found(format!(
            "Resource not found for the segment '{segment}'."
        ))
    };
    // Unknown paths are 404 whether or not a token came with them; only a real alternate key
    // goes on to authentication.
    let Some((collection, app_id)) = parsed else {
        return Err(not_found());
    };
    let (mut parts, _) = request.into_parts();
    let auth = <Authenticated as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await?;
    match collection {
        "servicePrincipals" => {
            super::service_principals::get_by_app_id(&state, &auth, &query, &app_id).await
        }
        "applications" => super::applications::get_by_app_id(&state, &auth, &query, &app_id).await,
        _ => Err(not_found()),
    }
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/directoryObjects/{id}",
        Entity,
        "Get any directory object",
        get,
    )
    .returns("directoryObject")
    .route(
        Get,
        "/{key}",
        Entity,
        "servicePrincipals(appId='…') and applications(appId='…')",
        alternate_key,
    )
    .returns("directoryObject")
}
