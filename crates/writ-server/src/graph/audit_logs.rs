//! `/auditLogs/directoryAudits`: the audit log read as Graph's `directoryAudit`, and the wire form
//! of a record (also what `writ audit export` writes). Who may read which records is the
//! domain's decision (`Caller::audit_scope`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};
use writ_domain::audit::{AuditRecord, ENTITLEMENT_MANAGEMENT};

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::datetime;

const CONTEXT: &str = "auditLogs/directoryAudits";
const TYPE_NAME: &str = "directoryAudit";

fn initiated_by(record: &AuditRecord) -> Value {
    let actor = &record.initiated_by;
    match actor.kind.as_str() {
        "user" => json!({
            "app": null,
            "user": {
                "id": actor.id,
                "displayName": actor.display_name,
                "userPrincipalName": actor.login_name,
                "ipAddress": null,
            },
        }),
        // `app` (a service principal, agent identities included) and `system` (Writ itself,
        // which Entra also reports as an app with no service principal of its own).
        _ => json!({
            "app": {
                "appId": if actor.kind == "app" { actor.login_name.clone() } else { None },
                "displayName": actor.display_name,
                "servicePrincipalId": actor.id,
                "servicePrincipalName": actor.display_name,
            },
            "user": null,
        }),
    }
}

/// A record in Graph's `directoryAudit` shape.
pub fn directory_audit_json(record: &AuditRecord) -> Map<String, Value> {
    let targets: Vec<Value> = record
        .target_resources
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "displayName": t.display_name,
                "type": t.kind,
                "userPrincipalName": t.user_principal_name,
                // Writ records which properties changed, not their values.
                "modifiedProperties": t.modified_properties.iter().map(|name| json!({
                    "displayName": name,
                    "oldValue": null,
                    "newValue": null,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let details: Vec<Value> = record
        .additional_details
        .iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), Value::from(record.id.clone()));
    m.insert("category".into(), Value::from(record.category.clone()));
    m.insert(
        "correlationId".into(),
        record.request_id.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "activityDateTime".into(),
        datetime(record.activity_date_time),
    );
    m.insert(
        "activityDisplayName".into(),
        Value::from(record.activity_display_name.clone()),
    );
    m.insert(
        "loggedByService".into(),
        Value::from(if record.category == ENTITLEMENT_MANAGEMENT {
            "Entitlement Management"
        } else {
            "Core Directory"
        }),
    );
    m.insert(
        "operationType".into(),
        Value::from(record.operation_type.clone()),
    );
    m.insert("result".into(), Value::from(record.result.clone()));
    m.insert(
        "resultReason".into(),
        Value::from(record.result_reason.clone().unwrap_or_default()),
    );
    m.insert("initiatedBy".into(), initiated_by(record));
    m.insert("targetResources".into(), Value::Array(targets));
    m.insert("additionalDetails".into(), Value::Array(details));
    m
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
        page.map(|r| directory_audit_json(&r)),
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
        directory_audit_json(&record),
    )?))
}
