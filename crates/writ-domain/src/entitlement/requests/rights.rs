//! Who may request for whom: sponsors and owners of the target, the policy's on-behalf
//! requestors, and the requestor settings a pathway needs.

use time::OffsetDateTime;

use crate::entitlement::Entitlement;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{AssignmentPolicy, Subject, SubjectSet};

impl Entitlement {
    /// Whether `caller` is among the target's sponsors or owners, as the one resolver of DESIGN
    /// section 5 finds them (`Store::human_sponsors_of`: an agent identity's sponsors and human
    /// owners, an agent user's sponsors and its parent's, a user's sponsors, sponsor groups
    /// through their enabled members).
    pub(crate) async fn sponsors_or_owns(
        &self,
        caller: &Caller,
        target_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        if !caller.is_human_user() || !caller.enabled {
            return Ok(false);
        }
        Ok(self
            .store
            .human_sponsors_of(&[target_id.to_owned()], now)
            .await?
            .iter()
            .any(|(_, sponsor)| sponsor.id == caller.id))
    }

    /// Whether the policy's `onBehalfRequestors` name the caller for this target. Agents are
    /// never on-behalf requestors.
    pub(crate) async fn may_act_on_behalf(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        if !caller.is_human_user() || !caller.enabled {
            return Ok(false);
        }
        let now = self.clock.now();
        for set in &policy.settings.requestor_settings.on_behalf_requestors {
            let allowed = match set {
                SubjectSet::TargetAgentIdentitySponsorsOrOwners {} => {
                    target.is_agent && self.sponsors_or_owns(caller, &target.id, now).await?
                }
                SubjectSet::SingleUser { user_id, .. } => user_id == &caller.id,
                SubjectSet::GroupMembers { group_id, .. } => {
                    self.store
                        .is_group_member(group_id, &caller.id, now)
                        .await?
                }
                SubjectSet::TargetManager { .. } => self
                    .store
                    .user(&target.id)
                    .await?
                    .is_some_and(|u| u.manager_id.as_deref() == Some(caller.id.as_str())),
                SubjectSet::TargetApplicationOwners {} => self
                    .store
                    .object_owners(&target.id)
                    .await?
                    .iter()
                    .any(|o| o.id() == caller.id),
                _ => false,
            };
            if allowed {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The requestor rule of the `userAdd` and `userUpdate` pathways (DESIGN section 5): the
    /// target itself where the policy lets targets (`for_self`: the flag and the refusal's
    /// message), else a human the policy's `onBehalfRequestors` name where `on_behalf` is set;
    /// an agent never for another principal.
    pub(in crate::entitlement) async fn require_requestor(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
        for_self: (bool, &str),
        on_behalf: bool,
    ) -> DomainResult<()> {
        if target.id == caller.id {
            let (allowed, refusal) = for_self;
            return if allowed {
                Ok(())
            } else {
                Err(DomainError::forbidden(refusal))
            };
        }
        if caller.is_agent {
            return Err(DomainError::forbidden(
                "an agent never requests access on behalf of another principal",
            ));
        }
        if !on_behalf || !self.may_act_on_behalf(caller, target, policy).await? {
            return Err(DomainError::forbidden(
                "the caller is not an allowed on-behalf requestor of this policy for this target",
            ));
        }
        Ok(())
    }

    /// Whether the caller may request access under this policy for this target: the target
    /// itself where the policy lets targets add access and the target is in its scope, or a human
    /// the policy's `onBehalfRequestors` name where it lets them add access.
    pub(crate) async fn may_request_under(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        let requestors = &policy.settings.requestor_settings;
        if target.id == caller.id {
            Ok(requestors.enable_targets_to_self_add_access
                && self.principal_in_scope(target, policy).await?)
        } else {
            Ok(requestors.enable_on_behalf_requestors_to_add_access
                && self.may_act_on_behalf(caller, target, policy).await?)
        }
    }
}
