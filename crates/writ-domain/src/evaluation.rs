//! Access evaluation (DESIGN section 16, OpenID AuthZEN Authorization API 1.0): whether a
//! principal holds a grant — a group's membership or ownership, an app role on a service
//! principal, a directory role, a delegated scope — at the instant of the clock, and, when it
//! does not, which access packages would grant exactly that and may be requested by that
//! principal for itself, with what their policies require.
//!
//! **One rule of what is held.** Each decision reads the grants in force at `now` through the
//! same store reads and folds that decide what a token carries (`identity::claims`): directory
//! roles through `held_directory_roles` (an agent never holds a privileged one), app roles
//! through `held_app_roles` (a human user's also through its groups); group membership and
//! ownership and delegated grants by the same "not ended at `now`" condition. So an evaluation
//! answers `true` exactly while a token issued now would carry the grant (or the membership is
//! in force), and `false` from the instant it ends.
//!
//! **Who may ask.** A principal about itself; administrators (Global Administrator, Identity
//! Governance Administrator, Global Reader) and the subject's sponsors and owners (DESIGN
//! section 5's resolver, `human_sponsors_of`) about anyone. Anyone else asking about another
//! principal is refused (`403`) whether or not that principal exists. A subject or resource that
//! does not exist (or is of another type than named) is a `false` decision, never an error.
//!
//! **The actionable denial.** A `false` decision lists the packages with a resource role that
//! is exactly this grant, not hidden, under a policy that lets targets request for themselves
//! and whose target scope includes the subject now (`principal_in_scope`, the rule of
//! `filterByCurrentUser(on='allowedRequestor')`).
//!
//! HTTP (the AuthZEN wire shapes) is `writ-server`'s `authzen`; the MCP `check_access` tool
//! calls [`Entitlement::evaluate`] the same way.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use crate::authz::{Caller, PrincipalKind};
use crate::directory::UserKind;
use crate::entitlement::{AccessPackage, AssignmentPolicy, Entitlement};
use crate::error::{DomainError, DomainResult};
use crate::identity::claims::held_app_roles;
use crate::identity::held_directory_roles;
use crate::model::{
    ExpirationKind, ORIGIN_APPLICATION, ORIGIN_DIRECTORY_ROLE, ORIGIN_GROUP, Subject,
};

/// The most evaluations one batch may hold; a larger batch is refused (`400`).
pub const MAX_BATCH: usize = 100;

/// Where an assignment request is created (relative to the public URL): the `requestUrl` of a
/// requestable package.
pub const ASSIGNMENT_REQUESTS_PATH: &str =
    "/v1.0/identityGovernance/entitlementManagement/assignmentRequests";

/// The principal types a subject may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectType {
    /// An agent identity (service principal) or an agent user.
    Agent,
    /// A user, an agent user included.
    User,
    /// A service principal, an agent identity included.
    ServicePrincipal,
}

impl SubjectType {
    pub const ALL: [SubjectType; 3] = [
        SubjectType::Agent,
        SubjectType::User,
        SubjectType::ServicePrincipal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Agent => "agent",
            SubjectType::User => "user",
            SubjectType::ServicePrincipal => "servicePrincipal",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether a principal of this kind is of this type.
    fn names(self, kind: PrincipalKind, is_agent: bool) -> bool {
        match self {
            SubjectType::Agent => is_agent,
            SubjectType::User => kind == PrincipalKind::User,
            SubjectType::ServicePrincipal => kind == PrincipalKind::ServicePrincipal,
        }
    }
}

/// The resource types and the one or two actions each accepts.
pub const RESOURCE_TYPES: [(&str, &[&str]); 4] = [
    ("group", &["member", "owner"]),
    ("appRole", &["assigned"]),
    ("directoryRole", &["assigned"]),
    ("oauth2PermissionScope", &["granted"]),
];

/// What is evaluated: one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// `group` / `member`.
    GroupMember { group_id: String },
    /// `group` / `owner`.
    GroupOwner { group_id: String },
    /// `appRole` / `assigned`: the app role `app_role_id` on the service principal
    /// `resource_id` (`resource.properties.resourceId`).
    AppRole {
        app_role_id: String,
        resource_id: String,
    },
    /// `directoryRole` / `assigned`: a directory role by its template id.
    DirectoryRole { role_id: String },
    /// `oauth2PermissionScope` / `granted`: the delegated scope `value` of the API whose
    /// service principal is `resource_id`.
    Scope { value: String, resource_id: String },
}

/// One evaluation: a subject and a grant. Ids that are not GUIDs are kept as given: they name
/// nothing, so the decision is `false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub subject_type: SubjectType,
    pub subject_id: String,
    pub grant: Grant,
}

/// A GUID in its stored form, or the text as given (which then matches nothing).
fn id_form(text: &str) -> String {
    crate::ids::parse_guid(text).unwrap_or_else(|| text.to_owned())
}

impl Evaluation {
    /// An evaluation from the AuthZEN request's strings: the subject's `type` and `id`, the
    /// resource's `type`, `id` and `properties.resourceId`, the action's `name`. An unknown type,
    /// an action the resource type does not have, or a missing `resourceId` is a `400` naming
    /// the property under the prefix of its part (`at`: the subject's, the resource's and the
    /// action's, e.g. `evaluations[2].` for a part of a batch's item, `` for a default).
    pub fn new(
        at: (&str, &str, &str),
        subject: (&str, &str),
        resource: (&str, &str, Option<&str>),
        action: &str,
    ) -> DomainResult<Self> {
        let (subject_at, resource_at, action_at) = at;
        let (subject_type, subject_id) = subject;
        let subject_type = SubjectType::parse(subject_type).ok_or_else(|| {
            DomainError::invalid(format!(
                "property '{subject_at}subject.type' must be one of 'agent', 'user', 'servicePrincipal', \
                 not '{subject_type}'"
            ))
        })?;
        let (resource_type, resource_id, owner) = resource;
        let Some((_, actions)) = RESOURCE_TYPES.iter().find(|(t, _)| *t == resource_type) else {
            let known: Vec<String> = RESOURCE_TYPES
                .iter()
                .map(|(t, _)| format!("'{t}'"))
                .collect();
            return Err(DomainError::invalid(format!(
                "property '{resource_at}resource.type' must be one of {}, not '{resource_type}'",
                known.join(", ")
            )));
        };
        if !actions.contains(&action) {
            let known: Vec<String> = actions.iter().map(|a| format!("'{a}'")).collect();
            return Err(DomainError::invalid(format!(
                "property '{action_at}action.name' must be {} for a resource of type '{resource_type}', \
                 not '{action}'",
                known.join(" or ")
            )));
        }
        let owner = |what: &str| {
            owner.map(id_form).ok_or_else(|| {
                DomainError::invalid(format!(
                    "property '{resource_at}resource.properties.resourceId' is required for a resource of \
                     type '{resource_type}': the id of the service principal {what}"
                ))
            })
        };
        let grant = match (resource_type, action) {
            ("group", "member") => Grant::GroupMember {
                group_id: id_form(resource_id),
            },
            ("group", _) => Grant::GroupOwner {
                group_id: id_form(resource_id),
            },
            ("appRole", _) => Grant::AppRole {
                app_role_id: id_form(resource_id),
                resource_id: owner("that defines the app role")?,
            },
            ("directoryRole", _) => Grant::DirectoryRole {
                role_id: id_form(resource_id),
            },
            _ => Grant::Scope {
                value: resource_id.to_owned(),
                resource_id: owner("of the API that offers the scope")?,
            },
        };
        Ok(Self {
            subject_type,
            subject_id: id_form(subject_id),
            grant,
        })
    }
}

/// How a batch runs (AuthZEN's `options.evaluations_semantic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantic {
    /// Every evaluation, in order.
    #[default]
    ExecuteAll,
    /// Stops after the first `false`.
    DenyOnFirstDeny,
    /// Stops after the first `true`.
    PermitOnFirstPermit,
}

impl Semantic {
    pub const ALL: [Semantic; 3] = [
        Semantic::ExecuteAll,
        Semantic::DenyOnFirstDeny,
        Semantic::PermitOnFirstPermit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Semantic::ExecuteAll => "execute_all",
            Semantic::DenyOnFirstDeny => "deny_on_first_deny",
            Semantic::PermitOnFirstPermit => "permit_on_first_permit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the batch stops after this decision.
    fn stops_at(self, decision: bool) -> bool {
        match self {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !decision,
            Semantic::PermitOnFirstPermit => decision,
        }
    }
}

/// A package that would grant what was denied, under a policy the subject may request it by.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestablePackage {
    pub package_id: String,
    pub package_name: String,
    pub policy_id: String,
    pub policy_name: String,
    pub approval_required: bool,
    pub justification_required: bool,
    /// The longest assignment the policy gives this subject (`afterDuration`, capped by
    /// `WRIT_MAX_AGENT_ACCESS` for an agent), as an ISO 8601 duration.
    pub maximum_duration: Option<String>,
    /// The fixed end of the policy's assignments (`afterDateTime`).
    pub expiration_date_time: Option<OffsetDateTime>,
}

impl RequestablePackage {
    /// The body of the assignment request that asks for this package for `subject_id`
    /// (`POST {public}/v1.0/identityGovernance/entitlementManagement/assignmentRequests`); the
    /// justification is left empty for the requestor to write.
    pub fn request_body(&self, subject_id: &str) -> serde_json::Value {
        let mut body = serde_json::json!({
            "requestType": "userAdd",
            "assignment": {
                "targetId": subject_id,
                "accessPackageId": self.package_id,
                "assignmentPolicyId": self.policy_id,
            },
        });
        if self.justification_required
            && let Some(fields) = body.as_object_mut()
        {
            fields.insert("justification".into(), serde_json::Value::from(""));
        }
        body
    }
}

/// The answer to one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub decision: bool,
    /// The subject the evaluation named, in its stored form (the request bodies name it).
    pub subject_id: String,
    /// For a `false` decision: the packages that would grant it and that the subject may
    /// request (empty when none; also for a subject or resource that does not exist).
    pub requestable: Vec<RequestablePackage>,
}

/// The subject as resolved once per batch: `None` when it does not exist, is disabled, or is
/// not of the type named.
type Resolved = Option<Subject>;

impl Entitlement {
    /// Evaluates one grant for `caller`: `403` when the caller may not ask about that subject
    /// (whether or not it exists), otherwise the decision at the clock's instant with, when
    /// `false`, the packages the subject may request that would grant it.
    pub async fn evaluate(
        &self,
        caller: &Caller,
        evaluation: &Evaluation,
    ) -> DomainResult<Decision> {
        let mut decisions = self
            .evaluate_batch(
                caller,
                std::slice::from_ref(evaluation),
                Semantic::ExecuteAll,
            )
            .await?;
        decisions
            .pop()
            .ok_or_else(|| DomainError::invalid("the evaluation gave no decision"))
    }

    /// Evaluates a batch in order under `semantic` (at most [`MAX_BATCH`]): every subject is
    /// checked for the caller first, so a batch naming a subject the caller may not ask about
    /// is refused whole (`403`); each distinct subject is read once; all decisions are at the
    /// same instant.
    pub async fn evaluate_batch(
        &self,
        caller: &Caller,
        evaluations: &[Evaluation],
        semantic: Semantic,
    ) -> DomainResult<Vec<Decision>> {
        if evaluations.len() > MAX_BATCH {
            return Err(DomainError::invalid(format!(
                "property 'evaluations' holds {} evaluations; at most {MAX_BATCH} are evaluated \
                 in one request",
                evaluations.len()
            )));
        }
        let now = self.now();
        let mut ids: Vec<&str> = Vec::new();
        for evaluation in evaluations {
            if !ids.contains(&evaluation.subject_id.as_str()) {
                ids.push(&evaluation.subject_id);
            }
        }
        self.require_may_evaluate(caller, &ids, now).await?;
        let mut subjects: HashMap<&str, Resolved> = HashMap::with_capacity(ids.len());
        for id in ids {
            subjects.insert(id, self.evaluated_subject(caller, id).await?);
        }
        let mut decisions = Vec::with_capacity(evaluations.len());
        for evaluation in evaluations {
            let subject = subjects
                .get(evaluation.subject_id.as_str())
                .and_then(Option::as_ref)
                .filter(|s| evaluation.subject_type.names(s.kind, s.is_agent));
            let decision = match subject {
                Some(subject) => self.decide(subject, &evaluation.grant, now).await?,
                None => Decision {
                    decision: false,
                    subject_id: evaluation.subject_id.clone(),
                    requestable: Vec::new(),
                },
            };
            let stop = semantic.stops_at(decision.decision);
            decisions.push(decision);
            if stop {
                break;
            }
        }
        Ok(decisions)
    }

    /// `403` unless `caller` may ask about every one of `subject_ids`: itself, or anyone for an
    /// administrator, or principals it sponsors or owns by DESIGN section 5's resolver (one
    /// read for the whole batch). The refusal is the same whether or not a subject exists.
    async fn require_may_evaluate(
        &self,
        caller: &Caller,
        subject_ids: &[&str],
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let others: Vec<String> = subject_ids
            .iter()
            .filter(|id| **id != caller.id)
            .map(|id| (*id).to_owned())
            .collect();
        if others.is_empty() || caller.is_em_admin() || caller.is_global_reader() {
            return Ok(());
        }
        // Only an enabled human user sponsors (as `sponsors_or_owns` rules).
        let sponsored: Vec<String> = if caller.is_human_user() && caller.enabled {
            self.store()
                .human_sponsors_of(&others, now)
                .await?
                .into_iter()
                .filter(|(_, sponsor)| sponsor.id == caller.id)
                .map(|(target, _)| target)
                .collect()
        } else {
            Vec::new()
        };
        if others.iter().all(|id| sponsored.contains(id)) {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "a principal may evaluate its own access only; administrators and the subject's \
                 sponsors or owners may evaluate anyone's",
            ))
        }
    }

    /// The subject with this id if it exists and is enabled: the caller itself without a read.
    async fn evaluated_subject(&self, caller: &Caller, id: &str) -> DomainResult<Resolved> {
        if caller.id == id {
            return Ok(caller.enabled.then(|| Subject {
                id: caller.id.clone(),
                kind: caller.kind,
                is_agent: caller.is_agent,
                display_name: caller.display_name.clone(),
                principal_name: Some(caller.login_name.clone()),
                mail: None,
                identity_parent_id: None,
            }));
        }
        let store = self.store();
        if let Some(user) = store.user(id).await? {
            return Ok(user.account_enabled.then(|| Subject {
                id: user.id,
                kind: PrincipalKind::User,
                is_agent: user.kind == UserKind::AgentUser,
                display_name: user.display_name,
                principal_name: Some(user.user_principal_name),
                mail: user.mail,
                identity_parent_id: user.identity_parent_id,
            }));
        }
        Ok(store
            .service_principal(id)
            .await?
            .filter(|sp| sp.account_enabled)
            .map(|sp| Subject {
                is_agent: sp.is_agent(),
                id: sp.id,
                kind: PrincipalKind::ServicePrincipal,
                display_name: sp.display_name,
                principal_name: Some(sp.app_id),
                mail: None,
                identity_parent_id: None,
            }))
    }

    /// The decision for an existing subject: whether it holds the grant at `now`, and if not,
    /// what it may request.
    async fn decide(
        &self,
        subject: &Subject,
        grant: &Grant,
        now: OffsetDateTime,
    ) -> DomainResult<Decision> {
        let held = self.holds(subject, grant, now).await?;
        let requestable = if held {
            Vec::new()
        } else {
            self.requestable_granting(subject, grant).await?
        };
        Ok(Decision {
            decision: held,
            subject_id: subject.id.clone(),
            requestable,
        })
    }

    /// Whether `subject` holds `grant` at `now`, by the rules tokens are issued by.
    async fn holds(
        &self,
        subject: &Subject,
        grant: &Grant,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        let store = self.store();
        let human = subject.kind == PrincipalKind::User && !subject.is_agent;
        Ok(match grant {
            Grant::GroupMember { group_id } => {
                store.is_group_member(group_id, &subject.id, now).await?
            }
            Grant::GroupOwner { group_id } => {
                store.is_group_owner(group_id, &subject.id, now).await?
            }
            Grant::AppRole {
                app_role_id,
                resource_id,
            } => {
                let paths: Vec<_> = store
                    .effective_app_roles(&subject.id, resource_id, now, human)
                    .await?
                    .into_iter()
                    .filter(|(id, _)| id == app_role_id)
                    .collect();
                if paths.is_empty() {
                    return Ok(false);
                }
                // Held as a token would carry it: an enabled role of the application, with a
                // value.
                let Some(resource) = store.service_principal(resource_id).await? else {
                    return Ok(false);
                };
                let defined = store
                    .application_by_app_id(&resource.app_id)
                    .await?
                    .map(|a| a.app_roles)
                    .unwrap_or_default();
                !held_app_roles(paths, &defined).0.is_empty()
            }
            Grant::DirectoryRole { role_id } => {
                let paths = store.effective_directory_roles(&subject.id, now).await?;
                held_directory_roles(subject.is_agent, paths)
                    .iter()
                    .any(|(role, _)| role == role_id)
            }
            Grant::Scope { value, resource_id } => {
                // Delegated permissions are a user's (agent users included).
                subject.kind == PrincipalKind::User
                    && store
                        .permission_grants_reaching(&subject.id, resource_id, now)
                        .await?
                        .iter()
                        .any(|g| {
                            g.scope
                                .split_whitespace()
                                .any(|s| s.eq_ignore_ascii_case(value))
                        })
            }
        })
    }

    /// The resource role that is exactly `grant`, as catalogs store it: (origin system, the
    /// resource's origin id, the role's origin id). `None` when nothing could grant it (a scope
    /// the API does not offer).
    async fn resource_role_of(
        &self,
        grant: &Grant,
    ) -> DomainResult<Option<(&'static str, String, String)>> {
        Ok(match grant {
            Grant::GroupMember { group_id } => {
                Some((ORIGIN_GROUP, group_id.clone(), format!("Member_{group_id}")))
            }
            Grant::GroupOwner { group_id } => {
                Some((ORIGIN_GROUP, group_id.clone(), format!("Owner_{group_id}")))
            }
            Grant::AppRole {
                app_role_id,
                resource_id,
            } => Some((ORIGIN_APPLICATION, resource_id.clone(), app_role_id.clone())),
            // A directory role resource has one role, its active membership.
            Grant::DirectoryRole { role_id } => {
                Some((ORIGIN_DIRECTORY_ROLE, role_id.clone(), "Active".to_owned()))
            }
            Grant::Scope { value, resource_id } => {
                // Catalogs name a delegated permission by its id; the evaluation by its value.
                let store = self.store();
                let Some(api) = store.service_principal(resource_id).await? else {
                    return Ok(None);
                };
                store
                    .application_by_app_id(&api.app_id)
                    .await?
                    .and_then(|app| {
                        app.oauth2_permission_scopes
                            .into_iter()
                            .find(|s| {
                                s.value
                                    .as_deref()
                                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
                            })
                            .map(|s| (ORIGIN_APPLICATION, api.id.clone(), s.id))
                    })
            }
        })
    }

    /// The packages that grant exactly `grant`, are not hidden, and that `subject` may request
    /// for itself now, one entry per such policy.
    async fn requestable_granting(
        &self,
        subject: &Subject,
        grant: &Grant,
    ) -> DomainResult<Vec<RequestablePackage>> {
        let Some((system, resource, role)) = self.resource_role_of(grant).await? else {
            return Ok(Vec::new());
        };
        let offered = self
            .store()
            .packages_granting(system, &resource, &role)
            .await?;
        let mut out = Vec::new();
        for (package, policies) in offered {
            if package.is_hidden {
                continue;
            }
            for policy in policies {
                if policy
                    .settings
                    .requestor_settings
                    .enable_targets_to_self_add_access
                    && self.principal_in_scope(subject, &policy).await?
                {
                    out.push(self.requestable(subject, &package, &policy));
                }
            }
        }
        Ok(out)
    }

    fn requestable(
        &self,
        subject: &Subject,
        package: &AccessPackage,
        policy: &AssignmentPolicy,
    ) -> RequestablePackage {
        let settings = &policy.settings;
        let expiration = &settings.expiration;
        let policy_duration = if expiration.is(ExpirationKind::AfterDuration) {
            expiration
                .duration
                .as_deref()
                .and_then(|d| crate::duration::parse(d).ok())
        } else {
            None
        };
        let maximum = match (policy_duration, self.agent_limit(subject)) {
            (Some(d), Some(cap)) => Some(d.min(cap)),
            (Some(d), None) => Some(d),
            (None, _) => None,
        };
        RequestablePackage {
            package_id: package.id.clone(),
            package_name: package.display_name.clone(),
            policy_id: policy.id.clone(),
            policy_name: policy.display_name.clone(),
            approval_required: settings
                .request_approval_settings
                .is_approval_required_for_add,
            justification_required: settings
                .request_approval_settings
                .is_requestor_justification_required,
            maximum_duration: maximum.map(|d: Duration| crate::duration::format(d)),
            expiration_date_time: expiration
                .is(ExpirationKind::AfterDateTime)
                .then_some(expiration.end_date_time)
                .flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        subject: (&str, &str),
        resource: (&str, &str, Option<&str>),
        action: &str,
    ) -> Result<Evaluation, String> {
        Evaluation::new(("", "", ""), subject, resource, action).map_err(|e| e.to_string())
    }

    #[test]
    fn types_and_actions_are_checked_and_ids_normalized() {
        let group = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        let e = parse(("agent", group), ("group", group, None), "owner").unwrap();
        assert_eq!(e.subject_id, group.to_lowercase());
        assert_eq!(
            e.grant,
            Grant::GroupOwner {
                group_id: group.to_lowercase()
            }
        );
        // Not a GUID: kept, so it names nothing.
        let e = parse(("user", "nobody"), ("directoryRole", "x", None), "assigned").unwrap();
        assert_eq!(e.subject_id, "nobody");

        let err = parse(("robot", "a"), ("group", "g", None), "member").unwrap_err();
        assert!(
            err.contains("'subject.type'") && err.contains("'robot'"),
            "{err}"
        );
        let err = parse(("user", "a"), ("group", "g", None), "assigned").unwrap_err();
        assert!(
            err.contains("'action.name'") && err.contains("'member' or 'owner'"),
            "{err}"
        );
        let err = parse(("user", "a"), ("file", "g", None), "read").unwrap_err();
        assert!(err.contains("'resource.type'"), "{err}");
        let err = parse(("user", "a"), ("appRole", "r", None), "assigned").unwrap_err();
        assert!(err.contains("'resource.properties.resourceId'"), "{err}");
        let e = parse(
            ("servicePrincipal", "a"),
            ("oauth2PermissionScope", "Notes.Read", Some("sp")),
            "granted",
        )
        .unwrap();
        assert_eq!(
            e.grant,
            Grant::Scope {
                value: "Notes.Read".into(),
                resource_id: "sp".into()
            }
        );
    }

    #[test]
    fn semantics_stop_where_the_spec_says() {
        assert!(!Semantic::ExecuteAll.stops_at(false));
        assert!(Semantic::DenyOnFirstDeny.stops_at(false));
        assert!(!Semantic::DenyOnFirstDeny.stops_at(true));
        assert!(Semantic::PermitOnFirstPermit.stops_at(true));
        assert_eq!(
            Semantic::parse("permit_on_first_permit"),
            Some(Semantic::PermitOnFirstPermit)
        );
        assert_eq!(Semantic::parse("EXECUTE_ALL"), None);
    }

    #[test]
    fn subject_types_name_principals() {
        use PrincipalKind::*;
        assert!(SubjectType::Agent.names(ServicePrincipal, true));
        assert!(SubjectType::Agent.names(User, true));
        assert!(!SubjectType::Agent.names(User, false));
        assert!(SubjectType::User.names(User, true));
        assert!(!SubjectType::User.names(ServicePrincipal, true));
        assert!(SubjectType::ServicePrincipal.names(ServicePrincipal, false));
    }

    #[test]
    fn the_request_body_asks_for_the_package_for_the_subject() {
        let p = RequestablePackage {
            package_id: "p".into(),
            package_name: "P".into(),
            policy_id: "q".into(),
            policy_name: "Q".into(),
            approval_required: true,
            justification_required: true,
            maximum_duration: Some("P1D".into()),
            expiration_date_time: None,
        };
        let body = p.request_body("s");
        assert_eq!(body["assignment"]["targetId"], "s");
        assert_eq!(body["assignment"]["assignmentPolicyId"], "q");
        assert_eq!(body["justification"], "");
        let p = RequestablePackage {
            justification_required: false,
            ..p
        };
        assert!(p.request_body("s").get("justification").is_none());
    }
}
