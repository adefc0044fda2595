//! The portal's approvals pages (DESIGN section 15, issue 17 part B): the stages waiting for the
//! person, one approval with the context its decision needs, and the person's decisions.
//!
//! **Who sees what.** The inbox is `assignmentRequests/filterByCurrentUser(on='approver')`
//! (stages in progress naming the person, each checked again as a decision would be). An
//! approval's page is gated by `GET accessPackageAssignmentApprovals/{id}`
//! ([`Entitlement::approval`]: `404` for anyone else); whoever may see the approval sees the
//! context of the request it decides (agent, requestor, justification, answers, package and its
//! roles), as Entra's approver view does, even without the catalog rights that reading the
//! package through the API would take: an approver cannot decide without it. The history lists
//! only stages the person decided.
//!
//! **Privileged roles** (marked on the approval page): a directory role whose built-in
//! definition is flagged privileged; a group's ownership (it controls who else gets the
//! group's access) and the membership of a role-assignable group (it carries the group's
//! directory roles); an application permission (an app role a principal holds as itself, which
//! Entra grants only with admin consent) and a delegated permission of type `Admin`.
//!
//! **Set-wise reads.** A page's stages, requests, names, packages and policies are read a set at
//! a time (packages and policies once per distinct id), so a page of a hundred rows costs a few
//! queries beyond the approver re-check the inbox shares with the API.

use std::collections::{BTreeMap, BTreeSet};

use time::{Duration, OffsetDateTime};

use crate::authz::{Caller, roles};
use crate::clock::{from_micros, to_micros};
use crate::directory::Directory;
use crate::entitlement::{CurrentUserOption, Entitlement};
use crate::error::{DomainError, DomainResult};
use crate::model::stage_status::IN_PROGRESS;
use crate::model::{
    AccessPackage, ApprovalStage, ApprovalStageRecord, AssignmentPolicy, AssignmentRequest,
    CatalogResource, DirectoryObject, Question, RequestType, ResourceRole, ServicePrincipalKind,
    UserKind,
};
use crate::query::ListQuery;
use crate::store::Store;

/// Rows per page of the inbox and of the history.
pub const PAGE_SIZE: u32 = 100;

/// The longest page cursor of the history accepted (a number, a dot and an object id).
const MAX_CURSOR_LEN: usize = 128;

/// The approvals pages' reads, on the domain services the server holds.
pub struct Approvals<'a> {
    entitlement: &'a Entitlement,
    directory: &'a Directory,
}

/// A stage waiting for the person, with what its row shows.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub request: AssignmentRequest,
    /// The stage in progress.
    pub stage: ApprovalStageRecord,
    /// How many stages the request has.
    pub stage_count: usize,
    pub agent: String,
    pub package: String,
    pub requestor: String,
    /// When the stage is denied if still undecided (the policy's
    /// `durationBeforeAutomaticDenial`).
    pub automatic_denial: Option<OffsetDateTime>,
}

/// One page of the inbox.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub rows: Vec<InboxRow>,
    /// The continuation of the next page, if any.
    pub next: Option<String>,
    /// How many requests name the person on a stage in progress (before the re-check).
    pub count: Option<i64>,
}

/// The agent (or other principal) a request is for.
#[derive(Debug, Clone)]
pub struct TargetView {
    pub id: String,
    pub name: String,
    /// "Agent identity", "Agent user", "User", "Service principal", "Deleted object".
    pub kind: &'static str,
    pub blueprint: Option<String>,
    pub created: Option<OffsetDateTime>,
    /// Display names of its sponsors and human owners (for an agent user, also its parent's).
    pub sponsors: Vec<String>,
}

/// The person or application that asked.
#[derive(Debug, Clone)]
pub struct RequestorView {
    pub name: String,
    /// The user principal name, or the application id.
    pub login: String,
}

/// A resource role the package grants.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub name: String,
    pub resource: String,
    /// "Group membership", "Group ownership", "Application permission", "Delegated
    /// permission", "Directory role".
    pub kind: &'static str,
    /// Why the role is privileged, when it is.
    pub privileged: Option<&'static str>,
}

/// A question of the policy with the requestor's answer.
#[derive(Debug, Clone)]
pub struct AnswerView {
    pub question: String,
    pub answer: String,
}

/// How long the access is asked for.
#[derive(Debug, Clone)]
pub struct DurationView {
    /// "2 hours", "No end"; `None` when it ends at `until` instead.
    pub length: Option<String>,
    pub until: Option<OffsetDateTime>,
    /// "as asked by the requestor" or "the policy's expiration".
    pub source: &'static str,
}

/// One approval with the context DESIGN section 15 lists.
#[derive(Debug, Clone)]
pub struct ApprovalView {
    pub request: AssignmentRequest,
    pub stages: Vec<ApprovalStageRecord>,
    /// The stage the person may decide now.
    pub decidable: Option<ApprovalStageRecord>,
    /// Whether deciding that stage takes a justification.
    pub justification_required: bool,
    /// When the stage in progress is denied if still undecided.
    pub automatic_denial: Option<OffsetDateTime>,
    pub target: TargetView,
    pub requestor: RequestorView,
    pub package_name: String,
    pub package_description: Option<String>,
    pub roles: Vec<RoleView>,
    pub answers: Vec<AnswerView>,
    pub duration: DurationView,
}

/// A stage the person decided.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub stage: ApprovalStageRecord,
    pub agent: String,
    pub package: String,
}

/// One page of the history.
#[derive(Debug, Clone)]
pub struct Decisions {
    pub rows: Vec<DecisionRow>,
    /// The cursor of the next page, if any.
    pub next: Option<String>,
}

/// "New access" or "Extension" (or the removal types, which never wait for approval).
pub fn request_kind(kind: RequestType) -> &'static str {
    match kind {
        RequestType::UserAdd | RequestType::AdminAdd => "New access",
        RequestType::UserUpdate | RequestType::AdminUpdate => "Extension",
        RequestType::UserRemove | RequestType::AdminRemove | RequestType::SystemRemove => "Removal",
    }
}

/// "2 hours", "1 day 6 hours", "90 seconds": a duration as people read it.
pub fn human_duration(d: Duration) -> String {
    let total = d.whole_seconds().max(0);
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    let mut parts = Vec::new();
    for (n, unit) in [
        (days, "day"),
        (hours, "hour"),
        (minutes, "minute"),
        (seconds, "second"),
    ] {
        if n > 0 {
            let plural = if n == 1 { "" } else { "s" };
            parts.push(format!("{n} {unit}{plural}"));
        }
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

fn display_name(object: &DirectoryObject) -> &str {
    match object {
        DirectoryObject::User(u) => &u.display_name,
        DirectoryObject::Group(g) => &g.display_name,
        DirectoryObject::ServicePrincipal(s) => &s.display_name,
        DirectoryObject::Application(a) => &a.display_name,
    }
}

/// The stage settings of `stage` in `policy`.
fn stage_settings<'p>(
    policy: Option<&'p AssignmentPolicy>,
    stage: &ApprovalStageRecord,
) -> Option<&'p ApprovalStage> {
    let index = usize::try_from(stage.stage_index).ok()?;
    policy?.settings.request_approval_settings.stages.get(index)
}

/// When an undecided stage is denied: its start plus the policy's positive
/// `durationBeforeAutomaticDenial` (none for a duration that does not parse or overflows).
fn automatic_denial(
    stage: &ApprovalStageRecord,
    settings: Option<&ApprovalStage>,
) -> Option<OffsetDateTime> {
    let after = crate::duration::parse(settings?.duration_before_automatic_denial.as_deref()?)
        .ok()
        .filter(|d| d.is_positive())?;
    stage.started_date_time?.checked_add(after)
}

/// The history's cursor: the decision instant (microseconds) and the stage id.
fn parse_cursor(text: &str) -> DomainResult<(OffsetDateTime, String)> {
    let bad = || DomainError::invalid("the link to the next page of decisions is not valid");
    if text.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let (micros, id) = text.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad());
    }
    Ok((from_micros(micros), id.to_owned()))
}

impl<'a> Approvals<'a> {
    pub fn new(entitlement: &'a Entitlement, directory: &'a Directory) -> Self {
        Self {
            entitlement,
            directory,
        }
    }

    /// The store both services share (the directory's port: one store serves both).
    fn store(&self) -> &dyn Store {
        self.directory.port()
    }

    /// Display names of these principals (users and service principals), by id.
    async fn names(
        &self,
        ids: impl Iterator<Item = String>,
    ) -> DomainResult<BTreeMap<String, String>> {
        let ids: BTreeSet<String> = ids.collect();
        let ids: Vec<String> = ids.into_iter().collect();
        Ok(self
            .store()
            .principal_names(&ids)
            .await?
            .into_iter()
            .collect())
    }

    /// The packages with these ids, once per distinct id.
    async fn packages(
        &self,
        ids: impl Iterator<Item = String>,
    ) -> DomainResult<BTreeMap<String, AccessPackage>> {
        let mut out = BTreeMap::new();
        for id in ids.collect::<BTreeSet<String>>() {
            if let Some(package) = self.store().access_package(&id).await? {
                out.insert(id, package);
            }
        }
        Ok(out)
    }

    /// The policies with these ids, once per distinct id.
    async fn policies(
        &self,
        ids: impl Iterator<Item = String>,
    ) -> DomainResult<BTreeMap<String, AssignmentPolicy>> {
        let mut out = BTreeMap::new();
        for id in ids.collect::<BTreeSet<String>>() {
            if let Some(policy) = self.store().assignment_policy(&id).await? {
                out.insert(id, policy);
            }
        }
        Ok(out)
    }

    /// `GET /portal/approvals`: a page of the stages waiting for the person, oldest request
    /// first.
    pub async fn inbox(&self, caller: &Caller, skiptoken: Option<String>) -> DomainResult<Inbox> {
        let query = ListQuery {
            top: PAGE_SIZE,
            skiptoken,
            count: true,
            // Oldest first across pages: the longest waiting is decided first.
            orderby: Some("createdDateTime".to_owned()),
            ..ListQuery::default()
        };
        let page = self
            .entitlement
            .list_requests_for_current_user(caller, CurrentUserOption::Approver, &query)
            .await?;
        let ids: Vec<String> = page.items.iter().map(|r| r.id.clone()).collect();
        let mut current: BTreeMap<String, ApprovalStageRecord> = BTreeMap::new();
        let mut stage_counts: BTreeMap<String, usize> = BTreeMap::new();
        for stage in self.store().approval_stages_of_requests(&ids).await? {
            *stage_counts.entry(stage.request_id.clone()).or_default() += 1;
            if stage.status == IN_PROGRESS {
                current.insert(stage.request_id.clone(), stage);
            }
        }
        let names = self
            .names(
                page.items
                    .iter()
                    .flat_map(|r| [r.target_id.clone(), r.requestor_id.clone()]),
            )
            .await?;
        let packages = self
            .packages(page.items.iter().map(|r| r.access_package_id.clone()))
            .await?;
        let policies = self
            .policies(page.items.iter().filter_map(|r| r.policy_id.clone()))
            .await?;
        let mut rows = Vec::with_capacity(page.items.len());
        for request in page.items {
            let Some(stage) = current.remove(&request.id) else {
                continue;
            };
            let policy = request.policy_id.as_ref().and_then(|id| policies.get(id));
            let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
            rows.push(InboxRow {
                stage_count: stage_counts.get(&request.id).copied().unwrap_or(1),
                automatic_denial: automatic_denial(&stage, stage_settings(policy, &stage)),
                agent: name(&request.target_id),
                requestor: name(&request.requestor_id),
                package: packages
                    .get(&request.access_package_id)
                    .map(|p| p.display_name.clone())
                    .unwrap_or_else(|| request.access_package_id.clone()),
                stage,
                request,
            });
        }
        Ok(Inbox {
            rows,
            next: page.next_skiptoken,
            count: page.count,
        })
    }

    /// `GET /portal/approvals/{requestId}`: `404` exactly when
    /// `GET accessPackageAssignmentApprovals/{id}` is for the caller.
    pub async fn view(&self, caller: &Caller, request_id: &str) -> DomainResult<ApprovalView> {
        let stages = self.entitlement.approval(caller, request_id).await?;
        let request = self
            .store()
            .assignment_request(request_id)
            .await?
            .ok_or_else(|| DomainError::not_found("approval", request_id))?;
        let decidable_id = self
            .entitlement
            .stage_assigned_to(caller, request_id)
            .await?;
        let policy = match &request.policy_id {
            Some(id) => self.store().assignment_policy(id).await?,
            None => None,
        };
        let decidable = decidable_id.and_then(|id| stages.iter().find(|s| s.id == id).cloned());
        let justification_required = decidable
            .as_ref()
            .and_then(|s| stage_settings(policy.as_ref(), s))
            .is_some_and(|s| s.is_approver_justification_required);
        let automatic_denial = stages
            .iter()
            .find(|s| s.status == IN_PROGRESS)
            .and_then(|s| automatic_denial(s, stage_settings(policy.as_ref(), s)));
        let package = self
            .store()
            .access_package(&request.access_package_id)
            .await?;
        Ok(ApprovalView {
            target: self.target(&request.target_id).await?,
            requestor: self.requestor(&request.requestor_id).await?,
            package_name: package
                .as_ref()
                .map(|p| p.display_name.clone())
                .unwrap_or_else(|| request.access_package_id.clone()),
            package_description: package.and_then(|p| p.description),
            roles: self.roles(&request.access_package_id).await?,
            answers: answers(&request, policy.as_ref()),
            duration: duration_asked(&request, policy.as_ref()),
            request,
            stages,
            decidable,
            justification_required,
            automatic_denial,
        })
    }

    async fn target(&self, id: &str) -> DomainResult<TargetView> {
        let store = self.store();
        let mut view = TargetView {
            id: id.to_owned(),
            name: id.to_owned(),
            kind: "Deleted object",
            blueprint: None,
            created: None,
            sponsors: Vec::new(),
        };
        let mut sponsored = vec![id.to_owned()];
        let mut blueprint_app_id = None;
        match store.directory_object(id).await? {
            Some(DirectoryObject::ServicePrincipal(sp)) => {
                view.kind = if sp.kind == ServicePrincipalKind::AgentIdentity {
                    "Agent identity"
                } else {
                    "Service principal"
                };
                view.name = sp.display_name;
                view.created = Some(sp.created_date_time);
                blueprint_app_id = sp.agent_identity_blueprint_id;
            }
            Some(DirectoryObject::User(user)) => {
                view.kind = if user.kind == UserKind::AgentUser {
                    "Agent user"
                } else {
                    "User"
                };
                view.name = user.display_name;
                view.created = Some(user.created_date_time);
                if let Some(parent) = user.identity_parent_id {
                    if let Some(sp) = store.service_principal(&parent).await? {
                        blueprint_app_id = sp.agent_identity_blueprint_id;
                    }
                    sponsored.push(parent);
                }
            }
            Some(other) => view.name = display_name(&other).to_owned(),
            None => {}
        }
        if let Some(app_id) = blueprint_app_id {
            view.blueprint = Some(match store.application_by_app_id(&app_id).await? {
                Some(app) => app.display_name,
                None => app_id,
            });
        }
        for object in &sponsored {
            for sponsor in store.sponsors(object).await? {
                view.sponsors.push(display_name(&sponsor).to_owned());
            }
            for owner in store.object_owners(object).await? {
                if let DirectoryObject::User(user) = &owner
                    && user.kind == UserKind::User
                {
                    view.sponsors.push(format!("{} (owner)", user.display_name));
                }
            }
        }
        view.sponsors.sort();
        view.sponsors.dedup();
        Ok(view)
    }

    async fn requestor(&self, id: &str) -> DomainResult<RequestorView> {
        Ok(match self.store().directory_object(id).await? {
            Some(DirectoryObject::User(user)) => RequestorView {
                name: user.display_name,
                login: user.user_principal_name,
            },
            Some(DirectoryObject::ServicePrincipal(sp)) => RequestorView {
                name: sp.display_name,
                login: sp.app_id,
            },
            Some(other) => RequestorView {
                name: display_name(&other).to_owned(),
                login: id.to_owned(),
            },
            None => RequestorView {
                name: "A deleted principal".into(),
                login: id.to_owned(),
            },
        })
    }

    /// The package's resource roles, privileged ones marked (see the module's doc).
    async fn roles(&self, package_id: &str) -> DomainResult<Vec<RoleView>> {
        let store = self.store();
        let mut out = Vec::new();
        for scope in store.package_role_scopes(package_id).await? {
            let Some(role) = store.resource_role(&scope.role_id).await? else {
                continue;
            };
            let resource = store.catalog_resource(&role.resource_id).await?;
            let (kind, privileged) = self.privilege(&role, resource.as_ref()).await?;
            out.push(RoleView {
                name: role.display_name.clone(),
                resource: resource
                    .map(|r| r.display_name)
                    .unwrap_or_else(|| role.resource_id.clone()),
                kind,
                privileged,
            });
        }
        out.sort_by(|a, b| (&a.resource, &a.name).cmp(&(&b.resource, &b.name)));
        Ok(out)
    }

    async fn privilege(
        &self,
        role: &ResourceRole,
        resource: Option<&CatalogResource>,
    ) -> DomainResult<(&'static str, Option<&'static str>)> {
        let store = self.store();
        let origin = resource.map(|r| r.origin_id.as_str()).unwrap_or_default();
        Ok(match role.origin_system.as_str() {
            "DirectoryRole" => (
                "Directory role",
                roles::definition(origin)
                    .filter(|(.., privileged)| *privileged)
                    .map(|_| "a privileged directory role"),
            ),
            "AadGroup" if role.origin_id.starts_with("Owner_") => (
                "Group ownership",
                Some("the group's owner decides who else is a member"),
            ),
            "AadGroup" => {
                let assignable = store
                    .group(origin)
                    .await?
                    .is_some_and(|g| g.is_assignable_to_role);
                (
                    "Group membership",
                    assignable
                        .then_some("a role-assignable group: members hold its directory roles"),
                )
            }
            "AadApplication" if role.role_type.as_deref() == Some("delegated") => {
                let admin = match store.service_principal(origin).await? {
                    Some(sp) => store
                        .application_by_app_id(&sp.app_id)
                        .await?
                        .is_some_and(|app| {
                            app.oauth2_permission_scopes.iter().any(|s| {
                                s.id == role.origin_id && s.kind.as_deref() == Some("Admin")
                            })
                        }),
                    None => false,
                };
                (
                    "Delegated permission",
                    admin.then_some("a delegated permission that needs admin consent"),
                )
            }
            "AadApplication" => (
                "Application permission",
                Some("an application permission: granted only with admin consent"),
            ),
            _ => ("Role", None),
        })
    }

    /// `GET /portal/approvals/history`: a page of the stages the person decided, newest first.
    pub async fn decisions(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
    ) -> DomainResult<Decisions> {
        let before = cursor.map(parse_cursor).transpose()?;
        let store = self.store();
        let mut stages = store
            .stages_decided_by(&caller.id, PAGE_SIZE.saturating_add(1), before)
            .await?;
        let more = stages.len() > PAGE_SIZE as usize;
        stages.truncate(PAGE_SIZE as usize);
        let next = if more {
            stages.last().and_then(|s| {
                s.reviewed_date_time
                    .map(|at| format!("{}.{}", to_micros(at), s.id))
            })
        } else {
            None
        };
        let ids: Vec<String> = stages.iter().map(|s| s.request_id.clone()).collect();
        let requests: BTreeMap<String, AssignmentRequest> = store
            .assignment_requests_by_ids(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let names = self
            .names(requests.values().map(|r| r.target_id.clone()))
            .await?;
        let packages = self
            .packages(requests.values().map(|r| r.access_package_id.clone()))
            .await?;
        let rows = stages
            .into_iter()
            .map(|stage| {
                let request = requests.get(&stage.request_id);
                DecisionRow {
                    agent: request
                        .and_then(|r| names.get(&r.target_id).cloned())
                        .unwrap_or_else(|| "A deleted agent".into()),
                    package: request
                        .and_then(|r| packages.get(&r.access_package_id))
                        .map(|p| p.display_name.clone())
                        .unwrap_or_else(|| "A deleted package".into()),
                    stage,
                }
            })
            .collect();
        Ok(Decisions { rows, next })
    }
}

/// The requestor's answers with the policy's question texts, in the policy's order of questions.
fn answers(request: &AssignmentRequest, policy: Option<&AssignmentPolicy>) -> Vec<AnswerView> {
    let questions: Vec<(String, String)> = policy
        .map(|p| {
            p.settings
                .questions
                .iter()
                .filter_map(|q| match q {
                    Question::TextInput { id, text, .. }
                    | Question::MultipleChoice { id, text, .. } => {
                        id.clone().map(|id| (id, text.clone()))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<(usize, AnswerView)> = request
        .answers
        .iter()
        .map(|a| {
            let position = questions.iter().position(|(id, _)| *id == a.question_id);
            let question = position
                .and_then(|i| questions.get(i))
                .map(|(_, text)| text.clone())
                .unwrap_or_else(|| "A question no longer in the policy".into());
            (
                position.unwrap_or(usize::MAX),
                AnswerView {
                    question,
                    answer: a.display_value.clone().unwrap_or_else(|| a.value.clone()),
                },
            )
        })
        .collect();
    out.sort_by_key(|(position, _)| *position);
    out.into_iter().map(|(_, a)| a).collect()
}

/// The request's own schedule when it asks for one, else the policy's expiration.
fn duration_asked(request: &AssignmentRequest, policy: Option<&AssignmentPolicy>) -> DurationView {
    let of = |expiration: &crate::model::Expiration, source: &'static str| match expiration
        .kind
        .as_str()
    {
        "afterDuration" => expiration
            .duration
            .as_deref()
            .and_then(|d| crate::duration::parse(d).ok())
            .map(|d| DurationView {
                length: Some(human_duration(d)),
                until: None,
                source,
            }),
        "afterDateTime" => expiration.end_date_time.map(|end| DurationView {
            length: None,
            until: Some(end),
            source,
        }),
        "noExpiration" => Some(DurationView {
            length: Some("No end".into()),
            until: None,
            source,
        }),
        _ => None,
    };
    of(&request.schedule.expiration, "as asked by the requestor")
        .or_else(|| policy.and_then(|p| of(&p.settings.expiration, "the policy's expiration")))
        .unwrap_or(DurationView {
            length: Some("Not stated".into()),
            until: None,
            source: "neither the request nor its policy states one",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::hours(2)), "2 hours");
        assert_eq!(
            human_duration(Duration::hours(30) + Duration::seconds(1)),
            "1 day 6 hours 1 second"
        );
        assert_eq!(human_duration(Duration::ZERO), "0 seconds");
    }

    #[test]
    fn a_history_cursor_is_an_instant_and_an_id() {
        let (at, id) = parse_cursor("1700000000000000.0b7c-11").unwrap();
        assert_eq!(to_micros(at), 1_700_000_000_000_000);
        assert_eq!(id, "0b7c-11");
        for bad in ["", "12", "x.abc", "12.", "12.a'b", &"1".repeat(200)] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
