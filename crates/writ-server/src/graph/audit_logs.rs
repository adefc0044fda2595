//! `/auditLogs/directoryAudits`: the audit log read as Graph's `directoryAudit`, and the wire form
//! of a record (also what `writ audit export` writes). Who may read which records is the
//! domain's decision (`Caller::audit_scope`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value};
use writ_domain::audit::AuditRecord;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::DirectoryAudit;
use crate::wire::object;

const CONTEXT: &str = "auditLogs/directoryAudits";
const TYPE_NAME: &str = "directoryAudit";

/// A record in Graph's `directoryAudit` shape (kept for `writ audit export`).
pub fn directory_audit_json(record: &AuditRecord) -> Map<String, Value> {
    object(&DirectoryAudit::from(record))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE_NAME, &[])?;
    let page = state
        .directory
        .list_directory_audits(&auth.caller, &query.list_query())
        .await?;
    Ok(Json(query.collection(
        CONTEXT,
        TYPE_NAME,
        page.map(|r| object(&DirectoryAudit::from(&r))),
    )?))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(TYPE_NAME, &[])?;
    let record = state
        .directory
        .get_directory_audit(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        CONTEXT,
        TYPE_NAME,
        object(&DirectoryAudit::from(&record)),
    )?))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/auditLogs/directoryAudits",
        Collection,
        "List audit records (administrators: all; catalog roles: their catalogs')",
        list,
    )
    .returns("directoryAudit")
    .route(
        Get,
        "/auditLogs/directoryAudits/{id}",
        Entity,
        "Get an audit record",
        get,
    )
    .returns("directoryAudit")
}
