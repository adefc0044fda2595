//! The caller-relative conditions of `filterByCurrentUser`: each [`Party`] as an SQL condition on
//! a request or assignment row `t` (columns `t.id`, `t.target_id`, `t.state`), applied inside the
//! list query so that `$filter`, paging and `$count` see only the caller's rows. Also the list of
//! approvals (`accessPackageAssignmentApprovals/filterByCurrentUser`), whose rows are the requests
//! that have approval stages.

use sqlx::AnyPool;
use writ_domain::clock::to_micros;
use writ_domain::entitlement::AssignmentRequest;
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{Party, StoreResult};
use writ_odata::SqlValue;

use crate::assignments::{REQUEST_COLUMNS, request};
use crate::list::{ListSpec, list};
use crate::schema;

/// Whether the object whose id is the SQL expression `object` is sponsored by principal `$1`:
/// directly, or through a sponsor group of which `$1` is a member at `$2`.
fn sponsored_by_caller(object: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM sponsors sp WHERE sp.object_id = {object} \
         AND (sp.sponsor_id = $1 OR EXISTS (SELECT 1 FROM group_members gm \
         WHERE gm.group_id = sp.sponsor_id AND gm.member_id = $1 \
         AND (gm.ends_at IS NULL OR gm.ends_at > $2))))"
    )
}

/// The condition that principal `id` is on side `party` of row `t`, with its parameters
/// (numbered from 1). `requestor_column` is the SQL of the row's requestor: the request's own
/// for requests, the creating request's for assignments. [`Party::Approver`] applies to requests
/// only (on assignment rows it matches nothing).
pub(crate) fn condition(party: Party, id: &str, requestor_column: &str) -> (String, Vec<SqlValue>) {
    let caller = vec![SqlValue::Text(id.to_owned())];
    match party {
        Party::Target => ("t.target_id = $1".to_owned(), caller),
        Party::Requestor => (format!("{requestor_column} = $1"), caller),
        Party::TargetOrRequestor => (
            format!("(t.target_id = $1 OR {requestor_column} = $1)"),
            caller,
        ),
        Party::RequestorForOther => (
            format!("({requestor_column} = $1 AND t.target_id <> $1)"),
            caller,
        ),
        Party::TargetManager => (
            "EXISTS (SELECT 1 FROM users tm WHERE tm.id = t.target_id AND tm.manager_id = $1)"
                .to_owned(),
            caller,
        ),
        Party::TargetSponsorOrOwner { at } => {
            // Only an enabled human user sponsors or owns (DESIGN section 3); an agent identity
            // counts its sponsors and owners, an agent user its own sponsors and its parent's.
            let sql = format!(
                "(EXISTS (SELECT 1 FROM users c WHERE c.id = $1 AND c.kind = 'user' \
                 AND c.account_enabled = TRUE) \
                 AND (EXISTS (SELECT 1 FROM service_principals ai WHERE ai.id = t.target_id \
                 AND ai.kind = 'agentIdentity' AND (EXISTS (SELECT 1 FROM object_owners ow \
                 WHERE ow.object_id = ai.id AND ow.owner_id = $1) OR {ai_sponsored})) \
                 OR EXISTS (SELECT 1 FROM users au WHERE au.id = t.target_id \
                 AND au.kind = 'agentUser' AND ({au_sponsored} OR {parent_sponsored}))))",
                ai_sponsored = sponsored_by_caller("ai.id"),
                au_sponsored = sponsored_by_caller("au.id"),
                parent_sponsored = sponsored_by_caller("au.identity_parent_id"),
            );
            (sql, vec![caller[0].clone(), SqlValue::I64(to_micros(at))])
        }
        Party::Approver => (
            // The approver lists (primary, and escalation once the stage escalated) are small
            // JSON arrays; the quoted id cannot match anything but an id.
            "(t.state = 'pendingApproval' AND EXISTS (SELECT 1 FROM approval_stages st \
             WHERE st.request_id = t.id AND st.status = 'InProgress' \
             AND (st.approver_ids LIKE $1 OR st.escalation_approver_ids LIKE $1)))"
                .to_owned(),
            vec![SqlValue::Text(format!("%\"{id}\"%"))],
        ),
    }
}

/// The approvals of the requests principal `id` is on side `party` of: requests with stages,
/// filtered on the `approval` entity's properties (its `id`, the request's).
pub(crate) async fn list_approvals(
    pool: &AnyPool,
    query: &ListQuery,
    (party, id): (Party, &str),
) -> StoreResult<Page<AssignmentRequest>> {
    let (side, params) = condition(party, id, "t.requestor_id");
    list(
        pool,
        ListSpec {
            schema: &schema::APPROVAL,
            from: "assignment_requests t",
            columns: REQUEST_COLUMNS,
            base_where: Some((
                format!(
                    "{side} AND EXISTS (SELECT 1 FROM approval_stages sx WHERE sx.request_id = t.id)"
                ),
                params,
            )),
        },
        query,
        request,
    )
    .await
}
