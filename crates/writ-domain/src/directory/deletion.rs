//! What deleting a principal does to the objects it sponsors: an object with
//! other sponsors just loses this one; an object whose only sponsor this was passes to that
//! sponsor's manager; with no manager it is left without sponsor, and an audit record says so.
//! Runs inside the deleting transaction, before the row (and its sponsor links) cascade away.

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::error::DomainResult;
use crate::model::{Actor, AuditRecord};
use crate::store::StoreTx;

use super::{RequestContext, UserKind};

pub(crate) async fn release_sponsorships(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    deleted_id: &str,
    manager_id: Option<&str>,
) -> DomainResult<()> {
    // Only an enabled human manager can take a sponsorship over.
    let heir = match manager_id {
        Some(id) => tx
            .user(id)
            .await?
            .filter(|m| m.account_enabled && m.kind == UserKind::User)
            .map(|m| m.id),
        None => None,
    };
    for object_id in tx.sponsored_by(deleted_id).await? {
        let others: Vec<String> = tx
            .sponsor_ids(&object_id)
            .await?
            .into_iter()
            .filter(|s| s != deleted_id)
            .collect();
        if !others.is_empty() {
            continue;
        }
        let kind = tx
            .object_kind(&object_id)
            .await?
            .map_or("DirectoryObject", |k| k.audit_type());
        let record = match heir.as_deref().filter(|h| *h != object_id) {
            Some(heir) => {
                tx.add_sponsor(&object_id, heir).await?;
                AuditRecord::success(
                    Actor::from(caller),
                    now,
                    "ApplicationManagement",
                    "Transfer sponsorship to manager",
                    "Assign",
                    ctx.request_id.as_deref(),
                )
                .target(&object_id, kind, None, vec!["sponsors".into()])
                .target(heir, "User", None, Vec::new())
                .detail("previousSponsorId", deleted_id)
                .detail("newSponsorId", heir)
                .on_behalf_of(&object_id, kind, None)
            }
            None => {
                let mut record = AuditRecord::success(
                    Actor::from(caller),
                    now,
                    "ApplicationManagement",
                    "Agent left without sponsor",
                    "Unassign",
                    ctx.request_id.as_deref(),
                )
                .target(&object_id, kind, None, vec!["sponsors".into()])
                .detail("previousSponsorId", deleted_id)
                .on_behalf_of(&object_id, kind, None);
                record.result_reason = Some(
                    "its only sponsor was deleted and had no manager to take the sponsorship over"
                        .into(),
                );
                record
            }
        };
        tx.append_audit(&record).await?;
    }
    Ok(())
}

/// Refuses a change that would leave no enabled Global Administrator: deleting or disabling the
/// last one, or removing its assignment (`409`, as for other dependent-state refusals).
pub(crate) async fn guard_last_admin(
    tx: &mut dyn StoreTx,
    principal_id: &str,
    now: OffsetDateTime,
) -> DomainResult<()> {
    use crate::authz::roles::GLOBAL_ADMINISTRATOR;
    // Only an enabled holder counts: removing a disabled one takes nothing away.
    let enabled = match tx.user(principal_id).await? {
        Some(user) => user.account_enabled,
        None => tx
            .service_principal(principal_id)
            .await?
            .is_some_and(|sp| sp.account_enabled),
    };
    if enabled
        && tx
            .holds_role(principal_id, GLOBAL_ADMINISTRATOR, now)
            .await?
        && tx
            .count_enabled_role_holders(GLOBAL_ADMINISTRATOR, now)
            .await?
            <= 1
    {
        return Err(crate::error::DomainError::Conflict(
            "this is the last enabled Global Administrator: assign the role to another principal first".into(),
        ));
    }
    Ok(())
}
