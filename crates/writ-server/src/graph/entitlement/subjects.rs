//! `…/entitlementManagement/subjects` and `…/subjects/{id}`: Graph's `accessPackageSubject`,
//! rendered as for `$expand=target` and `$expand=requestor` (see the domain for which principals
//! are subjects and who may read them).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::entitlement::requests::AccessPackageSubject;
use crate::wire::object;

const TYPE: &str = "accessPackageSubject";

/// `GET …/subjects`: `$filter` on `id`, `objectId`, `displayName`, `subjectType`; `$orderby` on
/// `displayName`; paging and `$count` in the database.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &[])?;
    let page = state
        .entitlement
        .list_subjects(&auth.caller, &query.list_query())
        .await?;
    Ok(Json(query.collection(
        &format!("{BASE}/subjects"),
        TYPE,
        page.map(|s| object(&AccessPackageSubject::from(&s))),
    )?))
}

/// `GET …/subjects/{id}`, the id being the principal's directory object id.
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(TYPE, &[])?;
    let subject = state.entitlement.get_subject(&auth.caller, &id).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/subjects"),
        TYPE,
        object(&AccessPackageSubject::from(&subject)),
    )?))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/identityGovernance/entitlementManagement/subjects",
        Collection,
        "List the principals that have been a request's target or requestor",
        list,
    )
    .returns("accessPackageSubject")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/subjects/{id}",
        Entity,
        "Get a subject (by directory object id)",
        get,
    )
    .returns("accessPackageSubject")
}
