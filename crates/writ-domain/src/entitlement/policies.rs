//! Assignment policies: who can get a package, who may request it, approval, expiration,
//! questions. Every setting is validated here, statically (what the policy allows by its
//! settings); what a caller already holds or has requested is checked when requests arrive.
//! Invalid input is `400` naming the rule.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::authz::{Caller, roles};
use crate::directory::{ObjectKind, RequestContext};
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_object_id, parse_guid};
use crate::model::{
    ApprovalSettings, AssignmentPolicy, CalloutStage, Expiration, ExpirationKind,
    NotificationSettings, ORIGIN_DIRECTORY_ROLE, PolicySettings, PrincipalKind, Question,
    RequestorSettings, ResourceRole, SubjectSet, TargetScope,
};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};
use crate::store::DirectoryStore;

use super::catalogs::audit;

use super::{Entitlement, bounds, require};

/// `allowedTargetScope` values Writ accepts (Graph's, with the evolvable agent scope).
pub const TARGET_SCOPES: &[&str] = TargetScope::NAMES;
const VISIBILITIES: &[&str] = &["default", "notVisible", "visible"];
const MAX_STAGES: usize = 3;
const MAX_SUBJECT_SETS: usize = 100;

/// A policy as the client sent it; `None`/`Absent` fields keep their value on PATCH and take
/// their default on create and PUT.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub allowed_target_scope: Patch<String>,
    pub specific_allowed_targets: Option<Vec<SubjectSet>>,
    pub expiration: Option<Expiration>,
    pub requestor_settings: Option<RequestorSettings>,
    pub request_approval_settings: Option<ApprovalSettings>,
    pub notification_settings: Option<NotificationSettings>,
    pub questions: Option<Vec<Question>>,
    pub custom_extension_stage_settings:
        Option<Vec<super::policy_model::CustomExtensionStageSetting>>,
    pub automatic_requests_enabled: bool,
    pub reviews_enabled: bool,
    pub access_package_id: Option<String>,
    /// `catalog.id`, if the body names one: it must be the package's catalog.
    pub catalog_id: Option<String>,
}

fn canonical(value: &str, allowed: &[&str], name: &str) -> DomainResult<String> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "'{value}' is not a valid value for '{name}' ({})",
                allowed.join(", ")
            ))
        })
}

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

/// Whether a subject-set type may stand in a slot.
fn allowed_in(slot: &str, set: &SubjectSet) -> bool {
    use SubjectSet::*;
    match slot {
        "specificAllowedTargets" => matches!(
            set,
            SingleUser { .. }
                | GroupMembers { .. }
                | SingleServicePrincipal { .. }
                | ConnectedOrganizationMembers { .. }
                | AttributeRuleMembers { .. }
        ),
        "onBehalfRequestors" => matches!(
            set,
            TargetAgentIdentitySponsorsOrOwners {}
                | TargetManager { .. }
                | TargetApplicationOwners {}
                | SingleUser { .. }
                | GroupMembers { .. }
        ),
        _ => matches!(
            set,
            SingleUser { .. }
                | GroupMembers { .. }
                | RequestorManager { .. }
                | TargetUserSponsors {}
                | TargetAgentIdentitySponsorsOrOwners {}
                | InternalSponsors {}
                | ExternalSponsors {}
        ),
    }
}

/// Whether a policy's targets may include agents, so that its expiration is bounded by
/// `WRIT_MAX_AGENT_ACCESS` when it is written: the all-agents and all-service-principals scopes
/// (agent identities are service principals), and specific targets naming an agent identity or
/// an agent user. Other policies (`notSpecified`, groups) can reach an agent only through a
/// request, where the bound is checked for the agent at hand.
async fn reaches_agents(
    store: &dyn crate::store::Store,
    scope: Option<TargetScope>,
    specific: &[SubjectSet],
) -> DomainResult<bool> {
    if matches!(
        scope,
        Some(TargetScope::AllDirectoryAgentIdentities | TargetScope::AllDirectoryServicePrincipals)
    ) {
        return Ok(true);
    }
    for set in specific {
        let agent = match set {
            SubjectSet::SingleUser { user_id, .. } => store
                .user(user_id)
                .await?
                .is_some_and(|u| u.kind == crate::directory::UserKind::AgentUser),
            SubjectSet::SingleServicePrincipal {
                service_principal_id,
                ..
            } => store
                .service_principal(service_principal_id)
                .await?
                .is_some_and(|sp| sp.is_agent()),
            _ => false,
        };
        if agent {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The kinds of principal a scope can target: (`User` principals, `Application` principals,
/// only agents).
fn target_kinds(scope: Option<TargetScope>, specific: &[SubjectSet]) -> (bool, bool, bool) {
    match scope {
        Some(TargetScope::AllDirectoryAgentIdentities) => (true, true, true),
        Some(
            TargetScope::AllDirectoryServicePrincipals
            | TargetScope::SpecificDirectoryServicePrincipals,
        ) => (false, true, false),
        Some(TargetScope::NotSpecified) => (true, true, false),
        Some(TargetScope::SpecificDirectoryUsers) => (
            true,
            specific
                .iter()
                .any(|s| matches!(s, SubjectSet::GroupMembers { .. })),
            false,
        ),
        _ => (true, false, false),
    }
}

impl Entitlement {
    async fn check_subjects(
        &self,
        slot: &str,
        sets: &[SubjectSet],
        subjects: &mut HashSet<String>,
    ) -> DomainResult<()> {
        if sets.len() > MAX_SUBJECT_SETS {
            return Err(rule(format!(
                "{slot} holds at most {MAX_SUBJECT_SETS} subject sets"
            )));
        }
        for set in sets {
            if !allowed_in(slot, set) {
                return Err(rule(format!(
                    "a {} subject set cannot be used in {slot}",
                    set.type_name()
                )));
            }
            match set {
                SubjectSet::RequestorManager { manager_level }
                    if !(1..=2).contains(manager_level) =>
                {
                    return Err(rule(format!(
                        "{slot}: requestorManager.managerLevel must be 1 or 2"
                    )));
                }
                SubjectSet::TargetManager { manager_level } if !(1..=4).contains(manager_level) => {
                    return Err(rule(format!(
                        "{slot}: targetManager.managerLevel must be 1 to 4"
                    )));
                }
                SubjectSet::ConnectedOrganizationMembers {
                    connected_organization_id,
                    ..
                } => {
                    if self
                        .store
                        .connected_organization(connected_organization_id)
                        .await?
                        .is_none()
                    {
                        return Err(rule(format!(
                            "{slot}: connected organization '{connected_organization_id}' does not exist"
                        )));
                    }
                    subjects.insert(connected_organization_id.clone());
                }
                SubjectSet::AttributeRuleMembers { .. } => {
                    return Err(DomainError::Invalid {
                        code: "notSupported",
                        message: format!(
                            "{slot}: attributeRuleMembers (automatic assignment rules) are not supported yet"
                        ),
                    });
                }
                _ => {}
            }
            if let Some(id) = set.object_id() {
                let id = parse_guid(id).ok_or_else(|| {
                    rule(format!(
                        "{slot}: '{id}' in a {} is not a GUID",
                        set.type_name()
                    ))
                })?;
                if matches!(set, SubjectSet::SingleUser { .. })
                    && slot != "specificAllowedTargets"
                    && self
                        .store
                        .user(&id)
                        .await?
                        .is_some_and(|u| u.kind != crate::directory::UserKind::User)
                {
                    return Err(rule(format!(
                        "{slot}: '{id}' is an agent user: approvers and on-behalf requestors are human users"
                    )));
                }
                let expected = match set {
                    SubjectSet::SingleUser { .. } => ObjectKind::User,
                    SubjectSet::GroupMembers { .. } => ObjectKind::Group,
                    _ => ObjectKind::ServicePrincipal,
                };
                if self.store.object_kind(&id).await? != Some(expected) {
                    return Err(rule(format!(
                        "{slot}: {} '{id}' does not exist",
                        expected.as_str()
                    )));
                }
                subjects.insert(id);
            }
        }
        Ok(())
    }

    /// The whole static validation of a policy; returns the ids of the principals it names.
    pub(super) async fn validate_policy(
        &self,
        policy: &mut AssignmentPolicy,
        roles_of_package: &[ResourceRole],
        now: OffsetDateTime,
    ) -> DomainResult<Vec<String>> {
        crate::text::check_display_name(&policy.display_name, "displayName")?;
        let scope = policy.allowed_target_scope.clone();
        let scope_kind = TargetScope::parse(&scope);
        let catalog_id = policy.catalog_id.clone();
        let settings = &mut policy.settings;
        let mut subjects = HashSet::new();

        // Who can get access.
        let specific = scope_kind.is_some_and(TargetScope::is_specific);
        if specific && settings.specific_allowed_targets.is_empty() {
            return Err(rule(format!(
                "allowedTargetScope '{scope}' needs at least one specificAllowedTargets entry"
            )));
        }
        if !specific && !settings.specific_allowed_targets.is_empty() {
            return Err(rule(format!(
                "specificAllowedTargets apply only to the specific* scopes, not '{scope}'"
            )));
        }
        self.check_subjects(
            "specificAllowedTargets",
            &settings.specific_allowed_targets,
            &mut subjects,
        )
        .await?;
        if scope_kind == Some(TargetScope::SpecificDirectoryServicePrincipals)
            && settings
                .specific_allowed_targets
                .iter()
                .any(|s| !matches!(s, SubjectSet::SingleServicePrincipal { .. }))
        {
            return Err(rule(
                "specificDirectoryServicePrincipals takes singleServicePrincipal subject sets",
            ));
        }
        if scope_kind == Some(TargetScope::SpecificConnectedOrganizationUsers)
            && settings
                .specific_allowed_targets
                .iter()
                .any(|s| !matches!(s, SubjectSet::ConnectedOrganizationMembers { .. }))
        {
            return Err(rule(
                "specificConnectedOrganizationUsers takes connectedOrganizationMembers subject sets",
            ));
        }
        if scope_kind == Some(TargetScope::SpecificDirectoryUsers)
            && settings.specific_allowed_targets.iter().any(|s| {
                !matches!(
                    s,
                    SubjectSet::SingleUser { .. } | SubjectSet::GroupMembers { .. }
                )
            })
        {
            return Err(rule(
                "specificDirectoryUsers takes singleUser and groupMembers subject sets",
            ));
        }

        // How long: at most Entra's 3660 days, and WRIT_MAX_AGENT_ACCESS when agents are
        // among the targets.
        let agent_limit = reaches_agents(
            self.store.as_ref(),
            scope_kind,
            &settings.specific_allowed_targets,
        )
        .await?
        .then_some(self.max_agent_access);
        let expiration = &mut settings.expiration;
        let kind = ExpirationKind::parse_field(&expiration.kind, "expiration.type")?;
        expiration.kind = kind.as_str().into();
        match kind {
            ExpirationKind::AfterDuration => {
                let duration = expiration.duration.clone().ok_or_else(|| {
                    rule("expiration.duration is required when expiration.type is afterDuration")
                })?;
                let d = bounds::duration_within(
                    &duration,
                    "expiration.duration",
                    true,
                    bounds::MAX_ASSIGNMENT_DURATION,
                )?;
                if let Some(limit) = agent_limit
                    && d > limit
                {
                    return Err(rule(format!(
                        "expiration.duration must be at most {} ({} days) for a policy whose targets include agents (WRIT_MAX_AGENT_ACCESS)",
                        crate::duration::format(limit),
                        limit.whole_days()
                    )));
                }
                expiration.end_date_time = None;
            }
            ExpirationKind::AfterDateTime => {
                let end = expiration.end_date_time.ok_or_else(|| {
                    rule("expiration.endDateTime is required when expiration.type is afterDateTime")
                })?;
                crate::instant::check_input(end, "expiration.endDateTime")?;
                if end <= now {
                    return Err(rule("expiration.endDateTime is in the past"));
                }
                if let Some(limit) = agent_limit {
                    bounds::agent_end_within(end, now, limit, "expiration.endDateTime").map_err(
                        |_| {
                            rule(format!(
                                "expiration.endDateTime must be at most {} ({} days) from now for a policy whose targets include agents (WRIT_MAX_AGENT_ACCESS)",
                                crate::duration::format(limit),
                                limit.whole_days()
                            ))
                        },
                    )?;
                }
                expiration.duration = None;
            }
            ExpirationKind::NotSpecified | ExpirationKind::NoExpiration => {
                if scope_kind == Some(TargetScope::AllDirectoryAgentIdentities) {
                    return Err(rule(
                        "access for agents is always time-bound: a policy for allDirectoryAgentIdentities needs expiration afterDuration or afterDateTime",
                    ));
                }
                expiration.duration = None;
                expiration.end_date_time = None;
            }
        }

        // Who may request.
        let requestor = &settings.requestor_settings;
        self.check_subjects(
            "onBehalfRequestors",
            &requestor.on_behalf_requestors,
            &mut subjects,
        )
        .await?;
        let on_behalf = requestor.enable_on_behalf_requestors_to_add_access
            || requestor.enable_on_behalf_requestors_to_update_access
            || requestor.enable_on_behalf_requestors_to_remove_access;
        if on_behalf && requestor.on_behalf_requestors.is_empty() {
            return Err(rule(
                "on-behalf requests are enabled but requestorSettings.onBehalfRequestors is empty",
            ));
        }
        let self_service = requestor.enable_targets_to_self_add_access
            || requestor.enable_targets_to_self_update_access
            || requestor.enable_targets_to_self_remove_access;
        if scope_kind == Some(TargetScope::NotSpecified) && (self_service || on_behalf) {
            return Err(rule(
                "a policy with allowedTargetScope notSpecified is for direct assignment by administrators: requests cannot be enabled",
            ));
        }

        // Approval.
        let approval = &mut settings.request_approval_settings;
        if (approval.is_approval_required_for_add || approval.is_approval_required_for_update)
            && approval.stages.is_empty()
        {
            return Err(rule(
                "approval is required but requestApprovalSettings.stages is empty",
            ));
        }
        if approval.stages.len() > MAX_STAGES {
            return Err(rule(format!(
                "a policy has at most {MAX_STAGES} approval stages"
            )));
        }
        for (index, stage) in approval.stages.iter_mut().enumerate() {
            let n = index + 1;
            stage.approver_information_visibility = canonical(
                &stage.approver_information_visibility,
                VISIBILITIES,
                "approverInformationVisibility",
            )?;
            if stage.primary_approvers.is_empty() && stage.fallback_primary_approvers.is_empty() {
                return Err(rule(format!(
                    "approval stage {n} has no primaryApprovers and no fallbackPrimaryApprovers"
                )));
            }
            for (slot, sets) in [
                ("primaryApprovers", &stage.primary_approvers),
                (
                    "fallbackPrimaryApprovers",
                    &stage.fallback_primary_approvers,
                ),
                ("escalationApprovers", &stage.escalation_approvers),
                (
                    "fallbackEscalationApprovers",
                    &stage.fallback_escalation_approvers,
                ),
            ] {
                self.check_subjects(slot, sets, &mut subjects).await?;
            }
            let denial = match &stage.duration_before_automatic_denial {
                Some(d) => Some(bounds::duration_within(
                    d,
                    &format!("stage {n} durationBeforeAutomaticDenial"),
                    true,
                    bounds::MAX_APPROVAL_DECISION,
                )?),
                None => None,
            };
            let escalation = match &stage.duration_before_escalation {
                Some(d) => Some(bounds::duration_within(
                    d,
                    &format!("stage {n} durationBeforeEscalation"),
                    false,
                    bounds::MAX_APPROVAL_DECISION,
                )?),
                None => None,
            };
            if stage.is_escalation_enabled {
                if stage.escalation_approvers.is_empty()
                    && stage.fallback_escalation_approvers.is_empty()
                {
                    return Err(rule(format!(
                        "approval stage {n} enables escalation but has no escalationApprovers"
                    )));
                }
                let escalation = escalation.filter(|d| *d > time::Duration::ZERO).ok_or_else(|| {
                    rule(format!("approval stage {n} enables escalation: durationBeforeEscalation must be positive"))
                })?;
                if let Some(denial) = denial
                    && escalation >= denial
                {
                    return Err(rule(format!(
                        "approval stage {n}: durationBeforeEscalation must be shorter than durationBeforeAutomaticDenial"
                    )));
                }
            }
        }

        // Questions.
        let mut sequences = HashSet::new();
        for question in settings.questions.iter_mut() {
            let (id, text, localizations, sequence) = match question {
                Question::TextInput {
                    id,
                    text,
                    localizations,
                    sequence,
                    ..
                }
                | Question::MultipleChoice {
                    id,
                    text,
                    localizations,
                    sequence,
                    ..
                } => (id, text, localizations, sequence),
            };
            if text.trim().is_empty() {
                return Err(rule("a question needs text"));
            }
            if localizations
                .iter()
                .any(|l| l.language_code.trim().is_empty())
            {
                return Err(rule("a question localization needs a languageCode"));
            }
            if !sequences.insert(*sequence) {
                return Err(rule(format!("two questions have sequence {sequence}")));
            }
            if id.is_none() {
                *id = Some(new_object_id());
            }
            if let Question::TextInput {
                regex_pattern: Some(pattern),
                ..
            } = question
                && !pattern.is_empty()
            {
                super::answers::anchored(pattern)?;
            }
            if let Question::MultipleChoice { choices, .. } = question {
                if choices.is_empty() {
                    return Err(rule("a multiple-choice question needs at least one choice"));
                }
                let mut values = HashSet::new();
                for choice in choices.iter() {
                    if choice.actual_value.is_empty() || !values.insert(choice.actual_value.clone())
                    {
                        return Err(rule(
                            "the choices of a question need distinct, non-empty actualValue",
                        ));
                    }
                }
            }
        }

        // Custom extensions: of this catalog, at a stage their type serves.
        let mut stages_seen = HashSet::new();
        for setting in settings.custom_extension_stage_settings.iter_mut() {
            let stage =
                CalloutStage::parse_field(&setting.stage, "customExtensionStageSettings.stage")?;
            setting.stage = stage.as_str().into();
            if !stages_seen.insert(setting.stage.clone()) {
                return Err(rule(format!(
                    "two customExtensionStageSettings name stage '{}'",
                    setting.stage
                )));
            }
            let extension = self
                .store
                .custom_extension(&setting.custom_extension.id)
                .await?
                .filter(|e| e.catalog_id == catalog_id)
                .ok_or_else(|| {
                    rule(format!(
                        "custom extension '{}' is not an extension of this catalog",
                        setting.custom_extension.id
                    ))
                })?;
            let serves = if !stage.of_assignment() {
                extension.kind == super::REQUEST_EXTENSION
            } else {
                extension.kind == super::ASSIGNMENT_EXTENSION
            };
            if !serves {
                return Err(rule(format!(
                    "a {} cannot be called at stage '{}'",
                    extension.kind, setting.stage
                )));
            }
            if setting.id.is_none() {
                setting.id = Some(new_object_id());
            }
            subjects.insert(extension.id.clone());
        }

        // The roles the package grants must be deliverable to the policy's targets.
        let (users, applications, agents_only) =
            target_kinds(scope_kind, &settings.specific_allowed_targets);
        for role in roles_of_package {
            self.check_deliverable(role, &scope, users, applications, agents_only)
                .await?;
        }
        Ok(subjects.into_iter().collect())
    }

    async fn check_deliverable(
        &self,
        role: &ResourceRole,
        scope: &str,
        users: bool,
        applications: bool,
        agents_only: bool,
    ) -> DomainResult<()> {
        let fits = role
            .allowed_member_types
            .iter()
            .any(|t| (t == "User" && users) || (t == "Application" && applications));
        if !fits {
            return Err(rule(format!(
                "role '{}' ({}) can never be delivered to the targets of allowedTargetScope '{scope}' (it is for {})",
                role.display_name,
                role.origin_id,
                role.allowed_member_types.join(", ")
            )));
        }
        if agents_only && role.origin_system == ORIGIN_DIRECTORY_ROLE {
            let privileged = match self.store.catalog_resource(&role.resource_id).await? {
                Some(resource) => roles::definition(&resource.origin_id).is_some_and(|(.., p)| p),
                None => false,
            };
            if privileged {
                return Err(rule(format!(
                    "an agent never receives a privileged directory role: '{}' cannot be delivered through an allDirectoryAgentIdentities policy",
                    role.display_name
                )));
            }
        }
        Ok(())
    }

    /// The roles a package grants.
    pub(super) async fn package_roles(&self, package_id: &str) -> DomainResult<Vec<ResourceRole>> {
        let mut out = Vec::new();
        for rs in self.store.package_role_scopes(package_id).await? {
            if let Some(role) = self.store.resource_role(&rs.role_id).await? {
                out.push(role);
            }
        }
        Ok(out)
    }

    /// Refuses a role that some policy of the package could never deliver (when the role is added).
    pub(super) async fn check_role_against_policies(
        &self,
        package_id: &str,
        role: &ResourceRole,
    ) -> DomainResult<()> {
        for policy in self.store.policies_of_package(package_id).await? {
            let (users, applications, agents_only) = target_kinds(
                policy.target_scope(),
                &policy.settings.specific_allowed_targets,
            );
            self.check_deliverable(
                role,
                &policy.allowed_target_scope,
                users,
                applications,
                agents_only,
            )
            .await?;
        }
        Ok(())
    }

    fn apply(policy: &mut AssignmentPolicy, input: PolicyInput, replace: bool) -> DomainResult<()> {
        if input.automatic_requests_enabled {
            return Err(DomainError::Invalid {
                code: "notSupported",
                message: "automaticRequestSettings (automatic assignment) are not supported yet"
                    .into(),
            });
        }
        if input.reviews_enabled {
            return Err(DomainError::Invalid {
                code: "notSupported",
                message: "reviewSettings (access reviews) are not supported yet".into(),
            });
        }
        match input.display_name {
            Patch::Value(v) => policy.display_name = v,
            Patch::Null => return Err(rule("property 'displayName' cannot be null")),
            Patch::Absent if replace => return Err(rule("property 'displayName' is required")),
            Patch::Absent => {}
        }
        match input.description {
            Patch::Absent if !replace => {}
            other => policy.description = other.into_option(),
        }
        match input.allowed_target_scope {
            Patch::Value(v) => {
                policy.allowed_target_scope = TargetScope::parse_field(&v, "allowedTargetScope")?
                    .as_str()
                    .into()
            }
            Patch::Null => return Err(rule("property 'allowedTargetScope' cannot be null")),
            Patch::Absent if replace => {
                policy.allowed_target_scope = TargetScope::NotSpecified.as_str().into()
            }
            Patch::Absent => {}
        }
        let s = &mut policy.settings;
        macro_rules! field {
            ($name:ident) => {
                match input.$name {
                    Some(v) => s.$name = v,
                    None if replace => s.$name = Default::default(),
                    None => {}
                }
            };
        }
        field!(specific_allowed_targets);
        field!(expiration);
        field!(requestor_settings);
        field!(request_approval_settings);
        field!(notification_settings);
        field!(questions);
        field!(custom_extension_stage_settings);
        Ok(())
    }

    pub(super) async fn policy_with_rights(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<(AssignmentPolicy, crate::authz::CatalogRights)> {
        let policy = self
            .store
            .assignment_policy(id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackageAssignmentPolicy", id))?;
        let rights = caller.catalog_rights(&policy.catalog_id);
        if !rights.read {
            return Err(DomainError::not_found("accessPackageAssignmentPolicy", id));
        }
        Ok((policy, rights))
    }

    pub async fn create_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: PolicyInput,
    ) -> DomainResult<AssignmentPolicy> {
        let package_id = input
            .access_package_id
            .clone()
            .ok_or_else(|| rule("property 'accessPackage' ({\"id\": …}) is required"))?;
        let package = self
            .store
            .access_package(&package_id)
            .await?
            .filter(|p| caller.catalog_rights(&p.catalog_id).read)
            .ok_or_else(|| rule(format!("access package '{package_id}' does not exist")))?;
        require(
            caller.catalog_rights(&package.catalog_id).manage_packages,
            "creating policies",
        )?;
        if let Some(catalog) = &input.catalog_id
            && catalog != &package.catalog_id
        {
            return Err(rule("catalog.id must be the access package's catalog"));
        }
        let now = self.clock.now();
        let mut policy = AssignmentPolicy {
            id: new_object_id(),
            access_package_id: package.id.clone(),
            catalog_id: package.catalog_id.clone(),
            display_name: String::new(),
            description: None,
            allowed_target_scope: TargetScope::NotSpecified.as_str().into(),
            settings: PolicySettings::default(),
            created_date_time: now,
            modified_date_time: now,
        };
        Self::apply(&mut policy, input, true)?;
        let roles = self.package_roles(&package.id).await?;
        let subjects = self.validate_policy(&mut policy, &roles, now).await?;
        let mut tx = self.store.begin().await?;
        tx.insert_policy(&policy, &subjects).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Create access package assignment policy", "Add"),
                (
                    "AccessPackageAssignmentPolicy",
                    &policy.id,
                    &policy.display_name,
                ),
            )
            .in_catalog(&policy.catalog_id)
            .detail("accessPackageId", package.id.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(policy)
    }

    pub async fn get_policy(&self, caller: &Caller, id: &str) -> DomainResult<AssignmentPolicy> {
        Ok(self.policy_with_rights(caller, id).await?.0)
    }

    pub async fn list_policies(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentPolicy>> {
        let restriction = self.list_restriction(caller, "assignment policies")?;
        Ok(self
            .store
            .list_policies(query, restriction.as_deref())
            .await?)
    }

    pub async fn policies_of_package(
        &self,
        caller: &Caller,
        package_id: &str,
    ) -> DomainResult<Vec<AssignmentPolicy>> {
        self.get_package(caller, package_id).await?;
        Ok(self.store.policies_of_package(package_id).await?)
    }

    /// PUT (`replace`: absent settings take their defaults) or PATCH (absent settings stay).
    pub async fn update_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        input: PolicyInput,
        replace: bool,
    ) -> DomainResult<AssignmentPolicy> {
        let (mut policy, rights) = self.policy_with_rights(caller, id).await?;
        require(rights.manage_packages, "changing policies")?;
        if let Some(package) = &input.access_package_id
            && package != &policy.access_package_id
        {
            return Err(rule("a policy cannot move to another access package"));
        }
        if let Some(catalog) = &input.catalog_id
            && catalog != &policy.catalog_id
        {
            return Err(rule("catalog.id must be the access package's catalog"));
        }
        Self::apply(&mut policy, input, replace)?;
        self.save_changed_policy(caller, ctx, policy, None).await
    }

    /// Validates a changed policy again and stores it with its one "Update" audit record
    /// (`detail` added to it when given): the Graph update and Writ's own settings of a policy
    /// (break-glass) save through here.
    pub(super) async fn save_changed_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut policy: AssignmentPolicy,
        detail: Option<(&str, String)>,
    ) -> DomainResult<AssignmentPolicy> {
        let now = self.clock.now();
        policy.modified_date_time = now;
        let roles = self.package_roles(&policy.access_package_id).await?;
        let subjects = self.validate_policy(&mut policy, &roles, now).await?;
        let mut tx = self.store.begin().await?;
        tx.update_policy(&policy, &subjects).await?;
        let mut record = audit(
            caller,
            ctx,
            now,
            ("Update access package assignment policy", "Update"),
            (
                "AccessPackageAssignmentPolicy",
                &policy.id,
                &policy.display_name,
            ),
        )
        .in_catalog(&policy.catalog_id);
        if let Some((key, value)) = detail {
            record = record.detail(key, value);
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(policy)
    }

    pub async fn delete_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let (policy, rights) = self.policy_with_rights(caller, id).await?;
        require(rights.manage_packages, "deleting policies")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        // Assignments arrive with requests; a policy with active assignments will be refused here.
        tx.delete_policy(id).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Delete access package assignment policy", "Delete"),
                (
                    "AccessPackageAssignmentPolicy",
                    &policy.id,
                    &policy.display_name,
                ),
            )
            .in_catalog(&policy.catalog_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Takes a deleted principal out of every policy that names it (inside the deleting transaction).
pub(crate) async fn remove_from_policies(
    tx: &mut dyn crate::store::StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    object_id: &str,
) -> DomainResult<()> {
    for mut policy in tx.policies_naming(object_id).await? {
        let keep = |s: &SubjectSet| s.object_id() != Some(object_id);
        let settings = &mut policy.settings;
        settings.specific_allowed_targets.retain(keep);
        settings
            .requestor_settings
            .on_behalf_requestors
            .retain(keep);
        for stage in settings.request_approval_settings.stages.iter_mut() {
            stage.primary_approvers.retain(keep);
            stage.fallback_primary_approvers.retain(keep);
            stage.escalation_approvers.retain(keep);
            stage.fallback_escalation_approvers.retain(keep);
        }
        let mut subjects: Vec<String> = settings
            .custom_extension_stage_settings
            .iter()
            .map(|c| c.custom_extension.id.clone())
            .collect();
        let mut collect = |sets: &[SubjectSet]| {
            subjects.extend(sets.iter().filter_map(|s| match s {
                SubjectSet::ConnectedOrganizationMembers {
                    connected_organization_id,
                    ..
                } => Some(connected_organization_id.clone()),
                other => other.object_id().map(str::to_owned),
            }))
        };
        collect(&settings.specific_allowed_targets);
        collect(&settings.requestor_settings.on_behalf_requestors);
        for stage in &settings.request_approval_settings.stages {
            collect(&stage.primary_approvers);
            collect(&stage.fallback_primary_approvers);
            collect(&stage.escalation_approvers);
            collect(&stage.fallback_escalation_approvers);
        }
        subjects.sort();
        subjects.dedup();
        tx.update_policy(&policy, &subjects).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Update access package assignment policy", "Update"),
                (
                    "AccessPackageAssignmentPolicy",
                    &policy.id,
                    &policy.display_name,
                ),
            )
            .in_catalog(&policy.catalog_id)
            .detail("removedPrincipal", object_id)
            .detail("reason", "the principal was deleted"),
        )
        .await?;
    }
    Ok(())
}

impl Entitlement {
    /// Whether the caller itself falls within a policy's `allowedTargetScope` (and its specific
    /// targets) now.
    async fn caller_in_scope(
        &self,
        caller: &Caller,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        let subject = crate::model::Subject {
            id: caller.id.clone(),
            kind: caller.kind,
            is_agent: caller.is_agent,
            display_name: caller.display_name.clone(),
            principal_name: None,
            mail: None,
            identity_parent_id: None,
        };
        self.principal_in_scope(&subject, policy).await
    }

    /// Whether a principal falls within a policy's `allowedTargetScope` (and its specific
    /// targets) now.
    pub(crate) async fn principal_in_scope(
        &self,
        caller: &crate::model::Subject,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        principal_in_scope(self.store.as_ref(), caller, policy, self.clock.now()).await
    }
}

/// Whether a principal falls within a policy's `allowedTargetScope` (and its specific targets)
/// at `now`. A rule of the directory alone, so it takes only that capability.
pub(crate) async fn principal_in_scope(
    store: &dyn DirectoryStore,
    caller: &crate::model::Subject,
    policy: &AssignmentPolicy,
    now: OffsetDateTime,
) -> DomainResult<bool> {
    // Access for agents is always time-bound: a policy without an end is never theirs.
    if caller.is_agent
        && !policy
            .settings
            .expiration
            .expiration_kind()
            .is_some_and(ExpirationKind::is_time_bound)
    {
        return Ok(false);
    }
    let user = match caller.kind {
        PrincipalKind::User => store.user(&caller.id).await?,
        PrincipalKind::ServicePrincipal => None,
    };
    let is_sp = caller.kind == PrincipalKind::ServicePrincipal;
    Ok(match policy.target_scope() {
        Some(TargetScope::AllDirectoryAgentIdentities) => caller.is_agent,
        Some(TargetScope::AllDirectoryServicePrincipals) => is_sp,
        Some(TargetScope::AllMemberUsers) => user
            .as_ref()
            .is_some_and(|u| !caller.is_agent && u.user_type == "Member"),
        Some(TargetScope::AllDirectoryUsers) => user.is_some() && !caller.is_agent,
        Some(
            TargetScope::SpecificDirectoryUsers | TargetScope::SpecificDirectoryServicePrincipals,
        ) => {
            let mut found = false;
            for set in &policy.settings.specific_allowed_targets {
                found = match set {
                    SubjectSet::SingleUser { user_id, .. } => {
                        user.is_some() && user_id == &caller.id
                    }
                    SubjectSet::SingleServicePrincipal {
                        service_principal_id,
                        ..
                    } => is_sp && service_principal_id == &caller.id,
                    SubjectSet::GroupMembers { group_id, .. } => {
                        store.is_group_member(group_id, &caller.id, now).await?
                    }
                    _ => false,
                };
                if found {
                    break;
                }
            }
            found
        }
        // Direct assignment only, or external users Writ does not have.
        _ => false,
    })
}

impl Entitlement {
    /// Policies of a package under which the caller may request it for itself.
    async fn self_policies(
        &self,
        caller: &Caller,
        package_id: &str,
    ) -> DomainResult<Vec<AssignmentPolicy>> {
        let mut out = Vec::new();
        for policy in self.store.policies_of_package(package_id).await? {
            if policy
                .settings
                .requestor_settings
                .enable_targets_to_self_add_access
                && self.caller_in_scope(caller, &policy).await?
            {
                out.push(policy);
            }
        }
        Ok(out)
    }

    /// `accessPackages/filterByCurrentUser(on='allowedRequestor')`: the packages the caller may
    /// request for itself (hidden ones excluded), whatever catalog they are in.
    pub async fn requestable_packages(
        &self,
        caller: &Caller,
    ) -> DomainResult<Vec<super::AccessPackage>> {
        let mut ids: Vec<String> = Vec::new();
        for policy in self.store.self_requestable_policies().await? {
            if !ids.contains(&policy.access_package_id)
                && self.caller_in_scope(caller, &policy).await?
            {
                ids.push(policy.access_package_id.clone());
            }
        }
        let mut packages = Vec::new();
        for id in ids {
            if let Some(package) = self.store.access_package(&id).await?
                && !package.is_hidden
            {
                packages.push(package);
            }
        }
        packages.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(packages)
    }

    /// `accessPackages/{id}/getApplicablePolicyRequirements`: one entry per policy under which
    /// the caller may request the package for itself.
    pub async fn applicable_policies(
        &self,
        caller: &Caller,
        package_id: &str,
    ) -> DomainResult<Vec<AssignmentPolicy>> {
        let package = self
            .store
            .access_package(package_id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackage", package_id))?;
        let policies = self.self_policies(caller, &package.id).await?;
        if policies.is_empty() && !caller.catalog_rights(&package.catalog_id).read {
            return Err(DomainError::not_found("accessPackage", package_id));
        }
        Ok(policies)
    }
}

#[cfg(test)]
mod tests {
    //! Who falls within a policy's target scope, against the in-memory directory, without a
    //! database.

    use time::{Duration, OffsetDateTime};

    use super::principal_in_scope;
    use crate::authz::PrincipalKind;
    use crate::entitlement::Subject;
    use crate::entitlement::policy_model::{AssignmentPolicy, PolicySettings};
    use crate::store::fake::{FakeDirectory, block_on};

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    /// A policy of `scope` with `settings` given as Graph writes them.
    fn policy(scope: &str, settings: serde_json::Value) -> AssignmentPolicy {
        let settings: PolicySettings = serde_json::from_value(settings).unwrap();
        AssignmentPolicy {
            id: "policy".into(),
            access_package_id: "package".into(),
            catalog_id: "catalog".into(),
            display_name: "policy".into(),
            description: None,
            allowed_target_scope: scope.into(),
            settings,
            created_date_time: NOW,
            modified_date_time: NOW,
        }
    }

    fn subject(id: &str, kind: PrincipalKind, is_agent: bool) -> Subject {
        Subject {
            id: id.into(),
            kind,
            is_agent,
            display_name: id.into(),
            principal_name: None,
            mail: None,
            identity_parent_id: None,
        }
    }

    fn in_scope(directory: &FakeDirectory, who: &Subject, policy: &AssignmentPolicy) -> bool {
        block_on(principal_in_scope(directory, who, policy, NOW)).unwrap()
    }

    #[test]
    fn specific_targets_include_current_group_members_only() {
        let mut directory = FakeDirectory::default();
        for id in ["member", "former", "stranger"] {
            directory.users.push(FakeDirectory::person(id));
        }
        directory.add_member("g", "member", Some(NOW + Duration::hours(1)));
        directory.add_member("g", "former", Some(NOW));
        let p = policy(
            "specificDirectoryUsers",
            serde_json::json!({"specificAllowedTargets": [
                {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g"}
            ]}),
        );
        let user = |id| subject(id, PrincipalKind::User, false);
        assert!(in_scope(&directory, &user("member"), &p));
        assert!(!in_scope(&directory, &user("former"), &p));
        assert!(!in_scope(&directory, &user("stranger"), &p));
    }

    #[test]
    fn member_users_exclude_guests_agents_and_unknown_users() {
        let mut directory = FakeDirectory::default();
        directory.users.push(FakeDirectory::person("member"));
        let mut guest = FakeDirectory::person("guest");
        guest.user_type = "Guest".into();
        directory.users.push(guest);
        directory.users.push(FakeDirectory::person("agent"));
        let p = policy(
            "allMemberUsers",
            serde_json::json!({"expiration": {"type": "afterDuration", "duration": "P1D"}}),
        );
        assert!(in_scope(
            &directory,
            &subject("member", PrincipalKind::User, false),
            &p
        ));
        assert!(!in_scope(
            &directory,
            &subject("guest", PrincipalKind::User, false),
            &p
        ));
        assert!(!in_scope(
            &directory,
            &subject("agent", PrincipalKind::User, true),
            &p
        ));
        assert!(!in_scope(
            &directory,
            &subject("ghost", PrincipalKind::User, false),
            &p
        ));
    }

    #[test]
    fn agents_are_in_scope_only_of_a_policy_with_an_end() {
        let directory = FakeDirectory::default();
        let agent = subject("agent-sp", PrincipalKind::ServicePrincipal, true);
        let bounded = policy(
            "allDirectoryAgentIdentities",
            serde_json::json!({"expiration": {"type": "afterDuration", "duration": "P1D"}}),
        );
        let endless = policy(
            "allDirectoryAgentIdentities",
            serde_json::json!({"expiration": {"type": "noExpiration"}}),
        );
        assert!(in_scope(&directory, &agent, &bounded));
        assert!(!in_scope(&directory, &agent, &endless));
        let sp = subject("plain-sp", PrincipalKind::ServicePrincipal, false);
        assert!(!in_scope(&directory, &sp, &bounded));
    }
}
