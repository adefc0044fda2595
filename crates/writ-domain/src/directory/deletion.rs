//! What deleting a principal does to what depends on it: the objects it sponsors pass to its
//! manager or lose it as a sponsor ([`super::succession`], run inside the deleting transaction,
//! before the row and its sponsor links cascade away), and the last enabled Global
//! Administrator is kept.

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::error::DomainResult;
use crate::store::StoreTx;

use super::RequestContext;
use super::succession::{Departing, Departure};

/// Sponsor succession for a deleted user (`manager_id`: its manager), group or service principal
/// (no manager).
pub(crate) async fn release_sponsorships(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    deleted: (&str, &'static str, &str),
    manager_id: Option<&str>,
) -> DomainResult<()> {
    let (id, kind, display_name) = deleted;
    super::succession::hand_over(
        tx,
        caller,
        ctx,
        now,
        &Departing {
            id,
            kind,
            display_name,
            manager_id,
            why: Departure::Deleted,
        },
    )
    .await?;
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
