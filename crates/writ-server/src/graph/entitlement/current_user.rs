//! The `filterByCurrentUser(on='…')` functions of `assignmentRequests`, `assignments` and
//! `accessPackageAssignmentApprovals` (and the parser `accessPackages` shares): one route per
//! function whatever the value, the arguments parsed here once for all of them.
//!
//! The router hands over everything after `filterByCurrentUser(`, percent-decoded, so
//! `on='target')` and `on=%27target%27)` arrive alike. The value is a single-quoted enumeration
//! member, optionally qualified with its enumeration's name as OData allows
//! (`microsoft.graph.accessPackageAssignmentFilterByCurrentUserOptions'target'`); the member is
//! matched in any case by the domain, which refuses `unknownFutureValue` and unknown names with
//! `400 invalidRequest` listing the accepted values.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;
use writ_domain::entitlement::{CurrentUserFunction, CurrentUserOption};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::odata::ODataQuery;
use crate::routes::FunctionParameter;
use crate::state::AppState;

use super::assignments::{
    APPROVALS, ASSIGNMENT_EXPANDS, ASSIGNMENT_TYPE, REQUEST_EXPANDS, REQUEST_TYPE, approval_object,
    assignment_page, request_page,
};

/// The route declaration's parameter of `function`: `on`, with the accepted values.
pub fn on_parameter(function: CurrentUserFunction) -> FunctionParameter {
    FunctionParameter {
        name: "on",
        values: function.options().iter().map(|o| o.name()).collect(),
    }
}

/// The `on` member of a `filterByCurrentUser(` call whose remaining text is `arguments`.
pub fn parse_on(arguments: &str, function: CurrentUserFunction) -> ApiResult<CurrentUserOption> {
    let syntax = || {
        ApiError::bad_request(format!(
            "filterByCurrentUser takes one parameter, written on='value', with value one of {}",
            function
                .options()
                .iter()
                .map(|o| format!("'{}'", o.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let inner = arguments.strip_suffix(')').ok_or_else(syntax)?;
    let (name, value) = inner.split_once('=').ok_or_else(syntax)?;
    if !name.trim().eq_ignore_ascii_case("on") {
        return Err(ApiError::bad_request(format!(
            "filterByCurrentUser has no parameter '{}'; it takes 'on'",
            name.trim()
        )));
    }
    let value = value.trim();
    // `'member'`, or `Namespace.EnumType'member'`.
    let (qualifier, quoted) = value.split_at(value.find('\'').ok_or_else(syntax)?);
    let member = quoted
        .strip_prefix('\'')
        .and_then(|q| q.strip_suffix('\''))
        .filter(|m| !m.contains('\''))
        .ok_or_else(syntax)?;
    if !qualifier.is_empty()
        && !qualifier.eq_ignore_ascii_case(&format!("microsoft.graph.{}", function.enum_name()))
    {
        return Err(ApiError::bad_request(format!(
            "'{qualifier}' is not the type of parameter 'on' (microsoft.graph.{})",
            function.enum_name()
        )));
    }
    Ok(function.parse_option(member)?)
}

/// `GET …/assignmentRequests/filterByCurrentUser(on='…')`: `target`, `createdBy`, `approver`
/// (a stage in progress names the caller), `targetOrRequestor`, `targetManager`,
/// `requestForOthers`, `targetAgentIdentitySponsorOrOwner`; `$filter`, `$expand` and paging as
/// the list.
pub async fn requests(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(arguments): Path<String>,
) -> ApiResult<Json<Value>> {
    let on = parse_on(&arguments, CurrentUserFunction::AssignmentRequests)?;
    query.check_expand(REQUEST_TYPE, REQUEST_EXPANDS)?;
    let page = state
        .entitlement
        .list_requests_for_current_user(&auth.caller, on, &query.list_query())
        .await?;
    request_page(&state, &query, page).await
}

/// `GET …/assignments/filterByCurrentUser(on='…')`: `target`, `createdBy`, `targetManager`,
/// `targetAgentIdentitySponsorOrOwner`.
pub async fn assignments(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(arguments): Path<String>,
) -> ApiResult<Json<Value>> {
    let on = parse_on(&arguments, CurrentUserFunction::Assignments)?;
    query.check_expand(ASSIGNMENT_TYPE, ASSIGNMENT_EXPANDS)?;
    let page = state
        .entitlement
        .list_assignments_for_current_user(&auth.caller, on, &query.list_query())
        .await?;
    assignment_page(&state, &query, page).await
}

/// `GET …/accessPackageAssignmentApprovals/filterByCurrentUser(on='…')`: `approver` (the
/// approvals the caller may decide now), `target`, `createdBy`; each as
/// `GET accessPackageAssignmentApprovals/{id}` answers it, stages inline.
pub async fn approvals(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(arguments): Path<String>,
) -> ApiResult<Json<Value>> {
    let on = parse_on(&arguments, CurrentUserFunction::Approvals)?;
    query.check_expand("approval", &["stages"])?;
    let page = state
        .entitlement
        .list_approvals_for_current_user(&auth.caller, on, &query.list_query())
        .await?;
    let page =
        page.map(|(id, stages, assigned)| approval_object(&id, &stages, assigned.as_deref()));
    Ok(Json(query.collection(APPROVALS, "approval", page)?))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    r
        .function("/identityGovernance/entitlementManagement/assignmentRequests", "filterByCurrentUser", vec![on_parameter(CurrentUserFunction::AssignmentRequests)], Collection, "Requests the caller is the target, requestor, approver, target's manager or agent sponsor of", requests).returns("accessPackageAssignmentRequest")
        .function("/identityGovernance/entitlementManagement/assignments", "filterByCurrentUser", vec![on_parameter(CurrentUserFunction::Assignments)], Collection, "Assignments the caller is the target, requestor, target's manager or agent sponsor of", assignments).returns("accessPackageAssignment")
        .function("/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals", "filterByCurrentUser", vec![on_parameter(CurrentUserFunction::Approvals)], Collection, "Approvals the caller may decide now, or of its own requests", approvals).returns("approval")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(arguments: &str) -> Result<&'static str, String> {
        parse_on(arguments, CurrentUserFunction::AssignmentRequests)
            .map(|o| o.name())
            .map_err(|e| e.message)
    }

    #[test]
    fn the_on_parameter_is_parsed_in_every_spelling() {
        assert_eq!(on("on='target')"), Ok("target"));
        assert_eq!(on("on='TargetManager')"), Ok("targetManager"));
        assert_eq!(on(" on = 'requestForOthers' )"), Ok("requestForOthers"));
        assert_eq!(
            on(
                "on=microsoft.graph.accessPackageAssignmentRequestFilterByCurrentUserOptions'approver')"
            ),
            Ok("approver")
        );
        for bad in [
            "on='target'",
            "on=target)",
            "on=''target')",
            ")",
            "by='target')",
            "on=microsoft.graph.other'target')",
        ] {
            assert!(on(bad).is_err(), "{bad}");
        }
        let unknown = on("on='unknownFutureValue')").unwrap_err();
        assert!(
            unknown.contains("'targetAgentIdentitySponsorOrOwner'"),
            "{unknown}"
        );
        let unknown = on("on='everyone')").unwrap_err();
        assert!(unknown.contains("'targetOrRequestor'"), "{unknown}");
    }
}
