//! What an agent (or a person for an agent it sponsors) asks about its own access, for the MCP
//! server's tools (DESIGN section 16): whom a call acts for ([`Entitlement::acting_subject`]),
//! the packages it may request with what their policies require
//! ([`Entitlement::requestable_for`], [`PolicyRequirements`]), and the access it holds or has
//! asked for ([`Entitlement::access_of`]). The changes themselves (`userAdd`, `userUpdate`,
//! `userRemove`) are the Graph pathways, `Entitlement::create_assignment_request`.
//!
//! Everything here reuses the rules of the Graph routes and the portal: a package is offered
//! exactly when `filterByCurrentUser(on='allowedRequestor')` (for oneself) or the portal's
//! request page (for a sponsored agent) offers it, and an agent a caller may not act for is a
//! `404` whether or not it exists.

use crate::authz::Caller;
use crate::entitlement::{AccessPackage, Entitlement};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    Assignment, AssignmentPolicy, AssignmentRequest, ExpirationKind, Question, Subject,
};

/// The most live assignments or open requests [`Entitlement::access_of`] reads.
pub const ACCESS_LIST_LIMIT: u32 = 200;

/// What requesting a package under one policy takes, as a requestor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRequirements {
    pub policy_id: String,
    pub policy_name: String,
    /// Someone must approve a new request (`isApprovalRequiredForAdd`).
    pub approval_required: bool,
    /// Someone must approve an extension (`isApprovalRequiredForUpdate`).
    pub approval_required_for_extension: bool,
    pub justification_required: bool,
    /// The policy's expiration: `afterDuration`, `afterDateTime`, `noExpiration`, `notSpecified`.
    pub expiration: String,
    /// The longest access granted (`afterDuration`'s ISO 8601 duration), when the policy says.
    pub maximum_duration: Option<String>,
    /// The fixed end of every assignment (`afterDateTime`), when the policy says.
    pub end_date_time: Option<time::OffsetDateTime>,
    /// The requestor may ask for a shorter duration (`allowCustomAssignmentSchedule`).
    pub custom_duration_allowed: bool,
    pub questions: Vec<QuestionRequirement>,
}

/// One question of a policy, as a requestor answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionRequirement {
    pub id: String,
    pub text: String,
    pub required: bool,
    /// The accepted `actualValue`s of a multiple-choice question; empty for a text question.
    pub choices: Vec<String>,
    pub multiple_selection_allowed: bool,
    /// The pattern a text answer must match, when there is one.
    pub pattern: Option<String>,
}

impl PolicyRequirements {
    pub fn of(policy: &AssignmentPolicy) -> Self {
        let settings = &policy.settings;
        let expiration = &settings.expiration;
        let questions = settings
            .questions
            .iter()
            .filter_map(|q| match q {
                Question::TextInput {
                    id,
                    is_required,
                    text,
                    regex_pattern,
                    ..
                } => Some(QuestionRequirement {
                    id: id.clone()?,
                    text: text.clone(),
                    required: *is_required,
                    choices: Vec::new(),
                    multiple_selection_allowed: false,
                    pattern: regex_pattern.clone().filter(|p| !p.is_empty()),
                }),
                Question::MultipleChoice {
                    id,
                    is_required,
                    text,
                    choices,
                    is_multiple_selection_allowed,
                    ..
                } => Some(QuestionRequirement {
                    id: id.clone()?,
                    text: text.clone(),
                    required: *is_required,
                    choices: choices.iter().map(|c| c.actual_value.clone()).collect(),
                    multiple_selection_allowed: *is_multiple_selection_allowed,
                    pattern: None,
                }),
            })
            .collect();
        Self {
            policy_id: policy.id.clone(),
            policy_name: policy.display_name.clone(),
            approval_required: settings
                .request_approval_settings
                .is_approval_required_for_add,
            approval_required_for_extension: settings
                .request_approval_settings
                .is_approval_required_for_update,
            justification_required: settings
                .request_approval_settings
                .is_requestor_justification_required,
            expiration: expiration.kind.clone(),
            maximum_duration: expiration
                .duration
                .clone()
                .filter(|_| expiration.is(ExpirationKind::AfterDuration)),
            end_date_time: expiration
                .end_date_time
                .filter(|_| expiration.is(ExpirationKind::AfterDateTime)),
            custom_duration_allowed: settings.requestor_settings.allow_custom_assignment_schedule,
            questions,
        }
    }
}

/// A package a subject may request, with the policies it may request it under.
#[derive(Debug, Clone)]
pub struct RequestablePackage {
    pub package: AccessPackage,
    pub policies: Vec<AssignmentPolicy>,
}

/// What a subject holds and has asked for.
#[derive(Debug, Clone)]
pub struct AccessHeld {
    /// Live assignments (not expired), soonest end first.
    pub assignments: Vec<Assignment>,
    /// Open requests (submitted, pending approval, scheduled, delivering), oldest first.
    pub open_requests: Vec<AssignmentRequest>,
}

impl Entitlement {
    /// Whom a call acts for: the caller itself without `agent_id` (or with its own id); with
    /// another id, an agent the caller sponsors or owns (a person acting for its agent, with
    /// the person's rights). An agent naming another agent, or anyone naming an agent it does
    /// not sponsor or that does not exist, gets the same `404`.
    pub async fn acting_subject(
        &self,
        caller: &Caller,
        agent_id: Option<&str>,
    ) -> DomainResult<Subject> {
        match agent_id {
            Some(id) if !id.eq_ignore_ascii_case(&caller.id) => {
                if caller.is_agent {
                    return Err(DomainError::not_found("agent", id));
                }
                self.portal_sponsored_agent(caller, id).await
            }
            _ => self
                .subject(&caller.id)
                .await?
                .ok_or_else(|| DomainError::not_found("principal", &caller.id)),
        }
    }

    /// The packages `caller` may request for `target` ([`Self::acting_subject`]), by name, each
    /// with the policies it may request it under: for itself, those of
    /// `filterByCurrentUser(on='allowedRequestor')` under the policies of
    /// `getApplicablePolicyRequirements`; for a sponsored agent, the portal's offers.
    pub async fn requestable_for(
        &self,
        caller: &Caller,
        target: &Subject,
    ) -> DomainResult<Vec<RequestablePackage>> {
        let mut out: Vec<RequestablePackage> = Vec::new();
        if target.id == caller.id {
            for package in self.requestable_packages(caller).await? {
                let policies = self.applicable_policies(caller, &package.id).await?;
                if !policies.is_empty() {
                    out.push(RequestablePackage { package, policies });
                }
            }
            return Ok(out);
        }
        let (_, offers) = self.portal_offers(caller, &target.id).await?;
        for offer in offers {
            match out.iter_mut().find(|p| p.package.id == offer.package.id) {
                Some(entry) => entry.policies.push(offer.policy),
                None => out.push(RequestablePackage {
                    package: offer.package,
                    policies: vec![offer.policy],
                }),
            }
        }
        Ok(out)
    }

    /// One package of [`Self::requestable_for`]; `404` when `target` may not request it (as
    /// when it does not exist).
    pub async fn requestable_package(
        &self,
        caller: &Caller,
        target: &Subject,
        package_id: &str,
    ) -> DomainResult<RequestablePackage> {
        self.requestable_for(caller, target)
            .await?
            .into_iter()
            .find(|p| p.package.id.eq_ignore_ascii_case(package_id))
            .ok_or_else(|| DomainError::not_found("accessPackage", package_id))
    }

    /// Whom `agent_id` names for `caller` ([`Self::acting_subject`]), with its live assignments
    /// and open requests, at most [`ACCESS_LIST_LIMIT`] each.
    pub async fn access_of(
        &self,
        caller: &Caller,
        agent_id: Option<&str>,
    ) -> DomainResult<(Subject, AccessHeld)> {
        let target = self.acting_subject(caller, agent_id).await?;
        let ids = [target.id.clone()];
        let held = AccessHeld {
            assignments: self
                .store
                .assignments_of_targets(&ids, true, ACCESS_LIST_LIMIT)
                .await?,
            open_requests: self
                .store
                .requests_of_targets(&ids, true, ACCESS_LIST_LIMIT)
                .await?,
        };
        Ok((target, held))
    }
}
