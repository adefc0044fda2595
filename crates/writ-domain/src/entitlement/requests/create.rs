//! The add pathways: `adminAdd`, and `userAdd` by the target or on its behalf, each checked and
//! recorded as submitted with its `assignmentRequestCreated` callout.

use time::OffsetDateTime;

use super::{Submitted, required, rule};
use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::entitlement::answers::check_answers;
use crate::entitlement::break_glass::check_bypass_caller;
use crate::entitlement::callouts::CalloutOn;
use crate::entitlement::records::{self, SubmitMarks, record_submitted};
use crate::entitlement::schedule::{assignment_end, check_schedule};
use crate::entitlement::{Entitlement, require};
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{
    Answer, AssignmentPolicy, AssignmentRequest, AssignmentRequestInput, Callout, CalloutStage,
    ExpirationKind, RequestSchedule, RequestState, RequestStatus, RequestType, RiskState, Subject,
    TargetScope,
};

impl Entitlement {
    /// `POST …/assignmentRequests`.
    pub async fn create_assignment_request(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<Submitted> {
        let request_type = RequestType::parse(&input.request_type).ok_or_else(|| {
            rule(format!(
                "requestType '{}' is not a valid accessPackageRequestType",
                input.request_type
            ))
        })?;
        check_bypass_caller(caller, input.parameters.as_ref())?;
        match request_type {
            RequestType::AdminAdd => self.admin_add(caller, ctx, input).await,
            RequestType::AdminRemove => self.admin_remove(caller, ctx, input).await,
            RequestType::UserAdd => self.user_add(caller, ctx, input).await,
            RequestType::UserRemove => self.user_remove(caller, ctx, input).await,
            RequestType::UserUpdate | RequestType::AdminUpdate => {
                self.request_update(caller, ctx, input, request_type).await
            }
            RequestType::SystemRemove => Err(DomainError::forbidden(
                "systemRemove requests are made by Writ itself",
            )),
        }
    }

    pub(super) async fn admin_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<Submitted> {
        let package = self
            .requested_package(&required(input.access_package_id, "accessPackageId")?)
            .await?;
        // admin* types are for the catalog's administrators: anyone else is refused outright
        // (DESIGN section 5), whether or not it can see the catalog.
        require(
            caller
                .catalog_rights(&package.catalog_id)
                .manage_assignments,
            "assigning access packages",
        )?;
        let policy_id = required(input.policy_id, "assignmentPolicyId")?;
        let policy = self.policy_of(caller, &package, Some(policy_id)).await?;
        let (target, target_risk) = self
            .target(caller, &required(input.target_id, "targetId")?)
            .await?;
        let self_assignment = self.refuse_self_or_own_agent(caller, &target).await?;
        let time_bound = policy
            .settings
            .expiration
            .expiration_kind()
            .is_some_and(ExpirationKind::is_time_bound);
        let schedule = input.schedule.unwrap_or_default();
        if target.is_agent && !time_bound && !schedule.expiration.is(ExpirationKind::AfterDateTime)
        {
            return Err(rule(format!(
                "access for agents is always time-bound: policy '{}' has no expiration",
                policy.display_name
            )));
        }
        if policy.target_scope() != Some(TargetScope::NotSpecified)
            && !self.principal_in_scope(&target, &policy).await?
        {
            return Err(rule(format!(
                "target '{}' is outside the policy's allowedTargetScope '{}'",
                target.id, policy.allowed_target_scope
            )));
        }
        let answers = check_answers(&policy.settings.questions, input.answers, false)?;
        let bypass = self
            .plan_bypass(caller, input.parameters.as_ref(), &policy, &target.id)
            .await?;
        self.record_add(
            caller,
            ctx,
            NewAdd {
                request_type: RequestType::AdminAdd,
                package: &package,
                policy: &policy,
                target: &target,
                target_risk,
                justification: input.justification,
                parameters: input.parameters,
                schedule,
                answers,
                self_assignment,
                bypass,
            },
        )
        .await
    }

    /// Anti-escalation (DESIGN section 3): a catalog role is not a way to give, or prolong,
    /// access for oneself or for one's own agents (`403`). A tenant-wide administrator may; what
    /// it did is returned for the request's audit record (`selfAssignment`: `self` or
    /// `sponsoredAgent`).
    pub(in crate::entitlement) async fn refuse_self_or_own_agent(
        &self,
        caller: &Caller,
        target: &Subject,
    ) -> DomainResult<Option<&'static str>> {
        let relation = if target.id == caller.id {
            Some("self")
        } else if target.is_agent
            // The one sponsor resolver (DESIGN section 5): sponsoring through a group, or
            // through an agent user's parent, counts as sponsoring.
            && self
                .sponsors_or_owns(caller, &target.id, self.clock.now())
                .await?
        {
            Some("sponsoredAgent")
        } else {
            None
        };
        match relation {
            Some(relation) if !caller.is_em_admin() => {
                Err(DomainError::forbidden(if relation == "self" {
                    "a catalog role does not allow assigning or extending access for oneself"
                } else {
                    "a catalog role does not allow assigning access to an agent its holder sponsors or owns"
                }))
            }
            relation => Ok(relation),
        }
    }

    /// The checks every add shares (schedule, incompatibility, no open request, no live
    /// assignment) and the transaction that records the request with its job.
    pub(super) async fn record_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        add: NewAdd<'_>,
    ) -> DomainResult<Submitted> {
        let NewAdd {
            request_type,
            package,
            policy,
            target,
            target_risk,
            justification,
            parameters,
            schedule,
            answers,
            self_assignment,
            bypass,
        } = add;
        let now = self.clock.now();
        check_schedule(&schedule)?;
        let start = schedule.start_date_time.unwrap_or(now);
        assignment_end(policy, &schedule, start, self.agent_limit(target))?;
        refuse_compromised_target(target, target_risk)?;

        let mut request = AssignmentRequest {
            id: new_object_id(),
            request_type,
            state: RequestState::Submitted,
            status: RequestStatus::Accepted.as_str().into(),
            catalog_id: package.catalog_id.clone(),
            access_package_id: package.id.clone(),
            policy_id: Some(policy.id.clone()),
            assignment_id: None,
            target_id: target.id.clone(),
            target_kind: target.kind,
            requestor_id: caller.id.clone(),
            requestor_kind: caller.kind,
            justification,
            schedule,
            answers,
            parameters,
            created_date_time: now,
            completed_date_time: None,
        };
        let callout = self.created_callout(policy, &mut request, now).await?;
        let mut tx = self.store.begin().await?;
        // Incompatibilities, the open request and the live assignment in one statement
        // (issue 20), read in the transaction that records the request.
        if let Some(blocker) = tx.add_blocker(&target.id, &package.id, now).await? {
            return Err(rule(blocker.to_string()));
        }
        record_submitted(
            tx.as_mut(),
            caller,
            ctx,
            &request,
            &target.display_name,
            callout.as_ref(),
            SubmitMarks {
                self_assignment,
                bypass,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Submitted::new(request, callout.as_ref()))
    }

    /// The `assignmentRequestCreated` callout of a new request, if its policy configures one; a
    /// launch-and-wait one holds the request at `WaitingForCallback`.
    pub(in crate::entitlement) async fn created_callout(
        &self,
        policy: &AssignmentPolicy,
        request: &mut AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<Option<Callout>> {
        let callout = self
            .plan_callout(
                policy,
                CalloutStage::RequestCreated,
                CalloutOn::Request(request),
                now,
            )
            .await?;
        if records::holds(callout.as_ref()) {
            request.status = RequestStatus::WaitingForCallback.as_str().into();
        }
        Ok(callout)
    }

    /// The package and policy a `userAdd` names, as far as the caller may see them: a reader of
    /// the package's catalog sees them all; anyone else sees a package only through the
    /// policies under which it may request it for this target (what
    /// `filterByCurrentUser(on='allowedRequestor')` and `getApplicablePolicyRequirements` show
    /// it), and only those policies. An object the caller may not see answers exactly as one
    /// that does not exist (`400`, the same message), so requests are no existence oracle.
    pub(super) async fn user_add_policy(
        &self,
        caller: &Caller,
        target: &Subject,
        package_id: &str,
        policy_id: Option<String>,
    ) -> DomainResult<(crate::entitlement::AccessPackage, AssignmentPolicy)> {
        // The package and its policies in one read (issue 20).
        let (package, policies) = self
            .store
            .package_with_policies(package_id)
            .await?
            .ok_or_else(|| rule(format!("access package '{package_id}' does not exist")))?;
        if caller.catalog_rights(&package.catalog_id).read {
            let policy = self.policy_of(caller, &package, policy_id).await?;
            return Ok((package, policy));
        }
        let mut usable = Vec::new();
        for policy in policies {
            if self.may_request_under(caller, target, &policy).await? {
                usable.push(policy);
            }
        }
        if usable.is_empty() {
            return Err(rule(format!(
                "access package '{package_id}' does not exist"
            )));
        }
        let policy = match policy_id {
            Some(policy_id) => usable
                .into_iter()
                .find(|p| p.id == policy_id)
                .ok_or_else(|| rule(format!("assignment policy '{policy_id}' does not exist")))?,
            None if usable.len() == 1 => usable.remove(0),
            None => return Err(rule("property 'assignment.assignmentPolicyId' is required")),
        };
        Ok((package, policy))
    }

    /// `userAdd`: the target requests for itself, or an allowed on-behalf requestor (an agent's
    /// sponsor) for it.
    pub(super) async fn user_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<Submitted> {
        let package_id = required(input.access_package_id, "accessPackageId")?;
        let (target, target_risk) = self
            .target(
                caller,
                &input.target_id.unwrap_or_else(|| caller.id.clone()),
            )
            .await?;
        let (package, policy) = self
            .user_add_policy(
                caller,
                &target,
                &package_id,
                input.policy_id.filter(|p| !p.is_empty()),
            )
            .await?;
        let settings = &policy.settings;
        let requestors = &settings.requestor_settings;
        self.require_requestor(
            caller,
            &target,
            &policy,
            (
                requestors.enable_targets_to_self_add_access,
                "this policy does not let targets request access for themselves",
            ),
            requestors.enable_on_behalf_requestors_to_add_access,
        )
        .await?;
        if !self.principal_in_scope(&target, &policy).await? {
            return Err(rule(format!(
                "target '{}' is outside the policy's allowedTargetScope '{}'{}",
                target.id,
                policy.allowed_target_scope,
                if target.is_agent {
                    " (access for agents is always time-bound)"
                } else {
                    ""
                }
            )));
        }
        if settings
            .request_approval_settings
            .is_requestor_justification_required
            && input
                .justification
                .as_deref()
                .is_none_or(|j| j.trim().is_empty())
        {
            return Err(rule("this policy requires a justification"));
        }
        let answers = check_answers(&settings.questions, input.answers, true)?;
        let schedule = input.schedule.unwrap_or_default();
        if (schedule.start_date_time.is_some()
            || !schedule.expiration.is(ExpirationKind::NotSpecified))
            && !settings.requestor_settings.allow_custom_assignment_schedule
        {
            return Err(rule("this policy does not allow a custom schedule"));
        }
        let bypass = self
            .plan_bypass(caller, input.parameters.as_ref(), &policy, &target.id)
            .await?;
        self.record_add(
            caller,
            ctx,
            NewAdd {
                request_type: RequestType::UserAdd,
                package: &package,
                policy: &policy,
                target: &target,
                target_risk,
                justification: input.justification,
                parameters: input.parameters,
                schedule,
                answers,
                self_assignment: None,
                bypass,
            },
        )
        .await
    }
}

/// Refuses new access for an agent confirmed compromised: `confirmCompromised` ended its access,
/// and `confirmSafe` restores sign-in but deliberately not access, so access comes back only
/// through a request made after the agent is declared safe. The risk state is the one read with
/// the target.
fn refuse_compromised_target(target: &Subject, risk: Option<RiskState>) -> DomainResult<()> {
    if target.is_agent && risk == Some(RiskState::ConfirmedCompromised) {
        return Err(rule(format!(
            "the target agent '{}' is confirmed compromised; an administrator must confirm it safe (or dismiss its risk) before it can be given access",
            target.id
        )));
    }
    Ok(())
}

/// What an add request records, once its pathway's own checks passed.
pub(super) struct NewAdd<'a> {
    request_type: RequestType,
    package: &'a crate::entitlement::AccessPackage,
    policy: &'a AssignmentPolicy,
    target: &'a Subject,
    /// The target's risk state, read with it.
    target_risk: Option<RiskState>,
    justification: Option<String>,
    parameters: Option<crate::model::RequestParameters>,
    schedule: RequestSchedule,
    answers: Vec<Answer>,
    /// A tenant-wide administrator assigning itself or an agent it sponsors (audited as such).
    self_assignment: Option<&'static str>,
    /// An accepted break-glass, recorded with the request.
    bypass: Option<crate::entitlement::records::Bypass>,
}
