//! Graph-shaped handlers, one file per resource, each declaring its own routes. The wire form of
//! the entities (property names, enum spellings, `@odata.type`) is [`crate::wire`]'s.

pub mod applications;
pub mod audit_logs;
pub mod directory_objects;
pub mod entitlement;
pub mod grants;
pub mod groups;
pub mod lifecycle_policies;
pub mod risky_agents;
pub mod role_management;
pub mod service_principals;
pub mod users;

use serde_json::{Map, Value};
use writ_domain::directory::DirectoryObject;

use crate::wire;

/// A directory object in a polymorphic collection: its own properties plus `@odata.type`. Kept
/// for callers outside the directory handlers; the form is [`wire::directory::DirectoryObject`]'s.
pub(crate) fn directory_object_json(object: &DirectoryObject) -> Map<String, Value> {
    wire::object(&wire::directory::DirectoryObject::from(object))
}

/// A bounded list (sponsors, owners: at most a few hundred) paged in memory with an opaque
/// offset token. Filtering and ordering are refused, never done in memory.
pub(crate) fn small_collection(
    query: &crate::odata::ODataQuery,
    items: Vec<Map<String, Value>>,
) -> crate::error::ApiResult<writ_domain::query::Page<Map<String, Value>>> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if query.filter.is_some() || query.orderby.is_some() {
        return Err(crate::error::ApiError::bad_request(
            "$filter and $orderby are not supported on this collection",
        ));
    }
    let offset = match &query.skiptoken {
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| {
                crate::error::ApiError::bad_request("$skiptoken is not valid for this query")
            })?,
        None => 0,
    };
    let total = items.len();
    let top = query.top as usize;
    let page: Vec<_> = items.into_iter().skip(offset).take(top).collect();
    // The offset comes from the client: a forged one near usize::MAX must not overflow.
    let end = offset.saturating_add(top);
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    Ok(writ_domain::query::Page {
        items: page,
        next_skiptoken: next,
        count: query
            .count
            .then(|| i64::try_from(total).unwrap_or(i64::MAX)),
    })
}

/// `GET …/sponsors` of any sponsor-holding object.
pub(crate) async fn sponsors_response(
    state: &crate::state::AppState,
    auth: &crate::auth::Authenticated,
    query: &crate::odata::ODataQuery,
    object_id: &str,
) -> crate::error::ApiResult<axum::Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let sponsors = state
        .directory
        .list_sponsors(&auth.caller, object_id)
        .await?;
    let items = sponsors.iter().map(directory_object_json).collect();
    let page = small_collection(query, items)?;
    Ok(axum::Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}

/// `GET …/owners` of an application or service principal.
pub(crate) async fn owners_response(
    state: &crate::state::AppState,
    auth: &crate::auth::Authenticated,
    query: &crate::odata::ODataQuery,
    object_id: &str,
) -> crate::error::ApiResult<axum::Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let owners = state
        .directory
        .list_object_owners(&auth.caller, object_id)
        .await?;
    let items = owners.iter().map(directory_object_json).collect();
    let page = small_collection(query, items)?;
    Ok(axum::Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}

/// Adds Graph's `signInActivity` to a rendered user or service principal when `$select` names
/// it (Graph returns it only when selected): the instant of the last token Writ issued to the
/// principal, as the successful and the non-interactive sign-in (Writ records no failed
/// attempts and no interactive sign-in apart from a token).
pub(crate) async fn add_sign_in_activity(
    state: &crate::state::AppState,
    auth: &crate::auth::Authenticated,
    query: &crate::odata::ODataQuery,
    principal_id: &str,
    rendered: &mut Map<String, Value>,
) -> crate::error::ApiResult<()> {
    let selected = query
        .select
        .as_ref()
        .is_some_and(|fields| fields.iter().any(|f| f == "signInActivity"));
    if !selected {
        return Ok(());
    }
    let last = state
        .directory
        .sign_in_activity(&auth.caller, principal_id)
        .await?
        .map(wire::instant);
    rendered.insert(
        "signInActivity".into(),
        serde_json::json!({
            "lastSignInDateTime": last,
            "lastSignInRequestId": null,
            "lastNonInteractiveSignInDateTime": last,
            "lastNonInteractiveSignInRequestId": null,
            "lastSuccessfulSignInDateTime": last,
            "lastSuccessfulSignInRequestId": null,
        }),
    );
    Ok(())
}
