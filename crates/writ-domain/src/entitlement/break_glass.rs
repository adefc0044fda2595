//! Break-glass (DESIGN section 17): Graph's `parameters.bypassApproval` on an assignment request.
//! Accepted from tenant-wide administrators only (Global Administrator, Identity Governance
//! Administrator; anyone else `403` before anything is read), and refused (`403`) under a policy
//! whose Writ setting `isApprovalBypassAllowed` is false. An accepted bypass is recorded with the
//! request it rides on: the creation's audit record says `approvalBypassed`, and a
//! `request.approvalBypassed` event notifies the approvers the policy names for its first stage
//! (primary, or fallback when none resolves) and the target's sponsors: planned here, written by
//! `records::record_submitted` in the request's transaction. The request then skips
//! its approval stages (`lifecycle::needs_approval`); an `adminAdd` or `adminUpdate`, which never
//! waits for approval, records the intent alike.
//!
//! The policy setting is Writ's own, so it lives under `/writ/v1/assignmentPolicies/{id}/breakGlass`
//! and never in the policy's Graph shape (DESIGN section 4).

use super::Entitlement;
use super::approvals::resolve_approvers;
use super::records::Bypass;
use super::require;

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::error::{DomainError, DomainResult};
use crate::model::{ApprovalBypass, AssignmentPolicy, RequestParameters};

/// Refuses `bypassApproval: true` from anyone but a tenant-wide administrator (`403`). Checked
/// first, so nothing is read or created for such a caller.
pub(super) fn check_bypass_caller(
    caller: &Caller,
    parameters: Option<&RequestParameters>,
) -> DomainResult<()> {
    if RequestParameters::bypasses(parameters) && !caller.is_em_admin() {
        return Err(DomainError::forbidden(
            "parameters.bypassApproval is accepted only from a Global Administrator or an Identity Governance Administrator",
        ));
    }
    Ok(())
}

impl Entitlement {
    /// The bypass a request under `policy` for `target_id` carries, if its `parameters` ask for
    /// one: refused (`403`) where the policy forbids it; otherwise the recipients of its notice,
    /// resolved now. The caller was checked by [`check_bypass_caller`].
    pub(super) async fn plan_bypass(
        &self,
        caller: &Caller,
        parameters: Option<&RequestParameters>,
        policy: &AssignmentPolicy,
        target_id: &str,
    ) -> DomainResult<Option<Bypass>> {
        if !RequestParameters::bypasses(parameters) {
            return Ok(None);
        }
        if !policy.settings.approval_bypass.0 {
            return Err(DomainError::forbidden(format!(
                "policy '{}' does not allow bypassing approval (isApprovalBypassAllowed is false)",
                policy.display_name
            )));
        }
        let now = self.clock.now();
        let mut recipients = Vec::new();
        if let Some(first) = policy.settings.request_approval_settings.stages.first() {
            let store = self.store.as_ref();
            recipients =
                resolve_approvers(store, &first.primary_approvers, &caller.id, target_id, now)
                    .await?;
            if recipients.is_empty() {
                recipients = resolve_approvers(
                    store,
                    &first.fallback_primary_approvers,
                    &caller.id,
                    target_id,
                    now,
                )
                .await?;
            }
        }
        for sponsor in self.sponsor_recipients(target_id).await? {
            if !recipients.iter().any(|r| r.id == sponsor.id) {
                recipients.push(sponsor);
            }
        }
        Ok(Some(Bypass { recipients }))
    }

    /// `GET /writ/v1/assignmentPolicies/{id}/breakGlass`: whether the policy accepts
    /// `bypassApproval`. `404` for a caller who may not see the policy.
    pub async fn approval_bypass_allowed(
        &self,
        caller: &Caller,
        policy_id: &str,
    ) -> DomainResult<bool> {
        let (policy, _) = self.policy_with_rights(caller, policy_id).await?;
        Ok(policy.settings.approval_bypass.0)
    }

    /// `PATCH /writ/v1/assignmentPolicies/{id}/breakGlass`: allows or forbids bypassing approval
    /// under the policy, for those who may change the policy; audited as a policy update.
    pub async fn set_approval_bypass_allowed(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        policy_id: &str,
        allowed: bool,
    ) -> DomainResult<()> {
        let (mut policy, rights) = self.policy_with_rights(caller, policy_id).await?;
        require(rights.manage_packages, "changing policies")?;
        policy.settings.approval_bypass = ApprovalBypass(allowed);
        self.save_changed_policy(
            caller,
            ctx,
            policy,
            Some(("isApprovalBypassAllowed", allowed.to_string())),
        )
        .await?;
        Ok(())
    }
}
