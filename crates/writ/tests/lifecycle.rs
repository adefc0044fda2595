//! Domain tests of the request and approval lifecycle (DESIGN section 5): every transition of an
//! assignment request, of its approval stage and of the assignment it creates, driven through the
//! domain services (`Directory`, `Entitlement`) with no HTTP in between. Time comes from an
//! injected `ManualClock`, and the job queue is run by hand (`run_due_jobs`) at the clock's
//! instant, so nothing sleeps. What a user would observe is read back through the same services
//! and the store's read API: request state and status, approval stages and who may decide them,
//! assignments, group membership and app roles at given instants, audit records and outbox events.
//!
//! Every test runs on SQLite and on PostgreSQL. PostgreSQL needs `WRIT_TEST_POSTGRES_URL`
//! (`scripts/test.sh` provides it); without it the PostgreSQL half fails rather than skips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use writ_domain::audit::AuditRecord;
use writ_domain::authz::{Caller, PrincipalKind, allowed_for_agent, em_roles, fold_role_paths};
use writ_domain::clock::{Clock, ManualClock};
use writ_domain::directory::{
    AppRole, ApplicationInput, ApplicationKind, BootstrapConfig, Directory, GroupInput,
    PasswordProfile, RequestContext, ServicePrincipalInput, ServicePrincipalKind, UserInput,
    UserKind, bootstrap,
};
use writ_domain::entitlement::policy_model::{
    ApprovalSettings, ApprovalStage, Expiration, RequestorSettings, SubjectSet,
};
use writ_domain::entitlement::{
    ApprovalStageRecord, Assignment, AssignmentRequest, AssignmentRequestInput, AssignmentState,
    CatalogInput, EmRoleAssignmentInput, Entitlement, PackageInput, PolicyInput, RequestSchedule,
    RequestState, RequestType, ResourceRequestInput, RoleScopeInput, StageDecision,
};
use writ_domain::jobs::{PassReport, WorkerConfig, run_due_jobs};
use writ_domain::patch::Patch;
use writ_domain::query::ListQuery;
use writ_domain::store::{AuditStore, DirectoryStore, EntitlementStore, JobStore, Store};
use writ_domain::{DomainError, DomainResult};
use writ_store::{Backend, SqlStore, testing};

const ADMIN_CLIENT_ID: &str = "0d1b7a3e-9a4e-4c1f-8a61-3f2b8c9d0e11";
const ADMIN_SECRET: &str = "admin-secret-for-tests-only";
const PASSWORD: &str = "a long passphrase 1";
/// The app role the "Tickets API" offers to applications (and so to agent identities).
const TICKETS_READ: &str = "6d3e9f4a-3b5c-4d7e-8f9a-0b1c2d3e4f5a";
/// Every test starts here; whole seconds, so storage keeps the instants exactly.
const T0: OffsetDateTime = datetime!(2031-03-04 09:00 UTC);
/// The "All agents" policies' `afterDuration`.
const LIFETIME: Duration = Duration::hours(2);

// ----- the world every scenario starts from -----

/// A tenant on a fresh database: the bootstrap administrator, two human sponsors (only the
/// first sponsors the agent), a fallback approver, a blueprint with its principal, one agent
/// identity, a group, an API with an app role, a catalog holding both, and an access package
/// granting the group's `Member_` role and the app role under the "All agents" policy.
struct World {
    store: SqlStore,
    clock: ManualClock,
    directory: Directory,
    entitlement: Entitlement,
    /// The bootstrap administrator's service principal (Global Administrator).
    admin: String,
    sponsor: String,
    /// A second human user, sponsoring nothing until a test says so.
    co_sponsor: String,
    fallback: String,
    blueprint_app_id: String,
    agent: String,
    group: String,
    /// The API's service principal: the resource the app role is granted on.
    api: String,
    catalog: String,
    /// The catalog's resource role for membership of `group`.
    member_role: String,
    package: String,
    policy: String,
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn text(value: &str) -> Patch<String> {
    Patch::Value(value.to_owned())
}

/// The "All agents" policy of `package`: agent identities, `LIFETIME` long, one approval stage
/// for `userAdd` (the agent's sponsors, else `fallback`), self-service add and remove, and
/// on-behalf add by the agent's sponsors.
fn all_agents_policy(package: &str, fallback: Option<&str>) -> PolicyInput {
    PolicyInput {
        display_name: text("All agents"),
        allowed_target_scope: text("allDirectoryAgentIdentities"),
        expiration: Some(Expiration {
            kind: "afterDuration".into(),
            duration: Some("PT2H".into()),
            end_date_time: None,
        }),
        requestor_settings: Some(RequestorSettings {
            enable_targets_to_self_add_access: true,
            enable_targets_to_self_remove_access: true,
            enable_on_behalf_requestors_to_add_access: true,
            on_behalf_requestors: vec![SubjectSet::TargetAgentIdentitySponsorsOrOwners {}],
            ..RequestorSettings::default()
        }),
        request_approval_settings: Some(ApprovalSettings {
            is_approval_required_for_add: true,
            stages: vec![ApprovalStage {
                primary_approvers: vec![SubjectSet::TargetAgentIdentitySponsorsOrOwners {}],
                fallback_primary_approvers: fallback
                    .map(|user_id| SubjectSet::SingleUser {
                        user_id: user_id.to_owned(),
                        description: None,
                    })
                    .into_iter()
                    .collect(),
                ..ApprovalStage::default()
            }],
            ..ApprovalSettings::default()
        }),
        access_package_id: Some(package.to_owned()),
        ..PolicyInput::default()
    }
}

impl World {
    async fn new(backend: Backend) -> Self {
        let store = testing::fresh_store(backend)
            .await
            .expect("fresh test database");
        let clock = ManualClock::new(T0);
        bootstrap(
            &store,
            &clock,
            &BootstrapConfig {
                client_id: Some(ADMIN_CLIENT_ID.into()),
                client_secret: Some(ADMIN_SECRET.into()),
                ..BootstrapConfig::default()
            },
        )
        .await
        .unwrap();
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let directory = Directory::new(shared.clone(), Arc::new(clock.clone()));
        let entitlement = Entitlement::new(shared, Arc::new(clock.clone()));
        let admin = store
            .service_principal_by_app_id(ADMIN_CLIENT_ID)
            .await
            .unwrap()
            .expect("the bootstrap administrator")
            .id;
        let mut w = World {
            store,
            clock,
            directory,
            entitlement,
            admin,
            sponsor: String::new(),
            co_sponsor: String::new(),
            fallback: String::new(),
            blueprint_app_id: String::new(),
            agent: String::new(),
            group: String::new(),
            api: String::new(),
            catalog: String::new(),
            member_role: String::new(),
            package: String::new(),
            policy: String::new(),
        };
        let admin = w.admin().await;

        // Directory: people, the agent, the resources.
        w.sponsor = w.create_user("Sam Sponsor").await;
        w.co_sponsor = w.create_user("Cody Cosponsor").await;
        w.fallback = w.create_user("Fiona Fallback").await;
        let blueprint = w
            .directory
            .create_application(
                &admin,
                &ctx(),
                ApplicationInput {
                    kind: Some(ApplicationKind::AgentIdentityBlueprint),
                    display_name: text("Support agent blueprint"),
                    sponsor_ids: vec![w.sponsor.clone()],
                    ..ApplicationInput::default()
                },
            )
            .await
            .unwrap();
        w.blueprint_app_id = blueprint.app_id;
        w.directory
            .create_service_principal(
                &admin,
                &ctx(),
                ServicePrincipalInput {
                    kind: Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal),
                    app_id: text(&w.blueprint_app_id),
                    ..ServicePrincipalInput::default()
                },
            )
            .await
            .unwrap();
        w.agent = w.create_agent("support-agent-7", &[&w.sponsor]).await;
        w.group = w
            .directory
            .create_group(
                &admin,
                &ctx(),
                GroupInput {
                    display_name: text("Ticket Tools"),
                    mail_nickname: text("ticket-tools"),
                    mail_enabled: Patch::Value(false),
                    security_enabled: Patch::Value(true),
                    ..GroupInput::default()
                },
            )
            .await
            .unwrap()
            .id;
        let api = w
            .directory
            .create_application(
                &admin,
                &ctx(),
                ApplicationInput {
                    display_name: text("Tickets API"),
                    app_roles: Patch::Value(vec![AppRole {
                        id: TICKETS_READ.into(),
                        allowed_member_types: vec!["Application".into()],
                        description: Some("Read tickets".into()),
                        display_name: Some("Read tickets".into()),
                        is_enabled: true,
                        value: Some("Tickets.Read".into()),
                    }]),
                    ..ApplicationInput::default()
                },
            )
            .await
            .unwrap();
        w.api = w
            .directory
            .create_service_principal(
                &admin,
                &ctx(),
                ServicePrincipalInput {
                    app_id: text(&api.app_id),
                    ..ServicePrincipalInput::default()
                },
            )
            .await
            .unwrap()
            .id;

        // Entitlement management: the catalog, its resources, the package and its policy.
        w.catalog = w
            .entitlement
            .create_catalog(
                &admin,
                &ctx(),
                CatalogInput {
                    display_name: text("Support"),
                    ..CatalogInput::default()
                },
            )
            .await
            .unwrap()
            .id;
        let group_roles = w.onboard("AadGroup", &w.group).await;
        let app_roles = w.onboard("AadApplication", &w.api).await;
        w.member_role = group_roles
            .iter()
            .find(|(_, origin)| *origin == format!("Member_{}", w.group))
            .expect("the group's Member_ role")
            .0
            .clone();
        let tickets_read = app_roles
            .iter()
            .find(|(_, origin)| origin == TICKETS_READ)
            .expect("the API's app role")
            .0
            .clone();
        w.package = w
            .create_package("Ticket triage", &[&w.member_role, &tickets_read])
            .await;
        w.policy = w.create_policy(&w.package, true).await;
        w
    }

    /// The caller `id` stands for, resolved from the database now, as the HTTP layer resolves
    /// the subject of a verified token (`writ_server::auth`): roles held at this instant, catalog
    /// roles for enabled human users only, no privileged role for an agent.
    async fn caller(&self, id: &str) -> Caller {
        let now = self.clock.now();
        let base = if let Some(user) = self.store.user(id).await.unwrap() {
            Caller {
                is_agent: user.kind == UserKind::AgentUser,
                id: user.id,
                kind: PrincipalKind::User,
                display_name: user.display_name,
                login_name: user.user_principal_name,
                enabled: user.account_enabled,
                directory_roles: Vec::new(),
                catalog_roles: Vec::new(),
            }
        } else {
            let sp = self
                .store
                .service_principal(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("principal {id} exists"));
            Caller {
                is_agent: sp.is_agent(),
                id: sp.id,
                kind: PrincipalKind::ServicePrincipal,
                display_name: sp.display_name,
                login_name: sp.app_id,
                enabled: sp.account_enabled,
                directory_roles: Vec::new(),
                catalog_roles: Vec::new(),
            }
        };
        let paths = self
            .store
            .effective_directory_roles(&base.id, now)
            .await
            .unwrap();
        let directory_roles = fold_role_paths(paths)
            .into_iter()
            .map(|(role, _)| role)
            .filter(|role| !base.is_agent || allowed_for_agent(role))
            .collect();
        let catalog_roles = if base.is_human_user() {
            self.store.em_roles_of(&base.id).await.unwrap()
        } else {
            Vec::new()
        };
        Caller {
            directory_roles,
            catalog_roles,
            ..base
        }
    }

    async fn admin(&self) -> Caller {
        self.caller(&self.admin).await
    }

    async fn create_user(&self, name: &str) -> String {
        let nickname: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        self.directory
            .create_user(
                &self.admin().await,
                &ctx(),
                UserInput {
                    display_name: text(name),
                    user_principal_name: text(&format!("{nickname}@example.org")),
                    mail_nickname: text(&nickname),
                    mail: text(&format!("{nickname}@example.org")),
                    account_enabled: Patch::Value(true),
                    password_profile: Patch::Value(PasswordProfile {
                        password: Some(PASSWORD.into()),
                        force_change_password_next_sign_in: None,
                    }),
                    ..UserInput::default()
                },
            )
            .await
            .unwrap()
            .id
    }

    /// An agent identity of the blueprint with these sponsors.
    async fn create_agent(&self, name: &str, sponsors: &[&str]) -> String {
        self.directory
            .create_service_principal(
                &self.admin().await,
                &ctx(),
                ServicePrincipalInput {
                    kind: Some(ServicePrincipalKind::AgentIdentity),
                    display_name: text(name),
                    agent_identity_blueprint_id: text(&self.blueprint_app_id),
                    sponsor_ids: sponsors.iter().map(|s| (*s).to_owned()).collect(),
                    ..ServicePrincipalInput::default()
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn change_sponsor(&self, agent: &str, sponsor: &str, add: bool) {
        self.directory
            .change_sponsor(&self.admin().await, &ctx(), agent, sponsor, add)
            .await
            .unwrap();
    }

    /// Onboards a resource into the catalog; returns its roles as (role id, origin id).
    async fn onboard(&self, origin_system: &str, origin_id: &str) -> Vec<(String, String)> {
        let request = self
            .entitlement
            .request_resource(
                &self.admin().await,
                &ctx(),
                ResourceRequestInput {
                    request_type: "adminAdd".into(),
                    catalog_id: self.catalog.clone(),
                    origin_system: origin_system.into(),
                    origin_id: origin_id.into(),
                    display_name: None,
                    description: None,
                },
            )
            .await
            .unwrap();
        let resource = request.resource_id.expect("the onboarded resource");
        let (roles, _) = self
            .entitlement
            .resource_roles_and_scopes(&resource)
            .await
            .unwrap();
        roles.into_iter().map(|r| (r.id, r.origin_id)).collect()
    }

    /// A package of the catalog granting these resource roles.
    async fn create_package(&self, name: &str, roles: &[&str]) -> String {
        let admin = self.admin().await;
        let package = self
            .entitlement
            .create_package(
                &admin,
                &ctx(),
                PackageInput {
                    display_name: text(name),
                    catalog_id: Some(self.catalog.clone()),
                    ..PackageInput::default()
                },
            )
            .await
            .unwrap()
            .id;
        for role in roles {
            self.entitlement
                .add_role_scope(
                    &admin,
                    &ctx(),
                    &package,
                    RoleScopeInput {
                        role_id: Some((*role).to_owned()),
                        ..RoleScopeInput::default()
                    },
                )
                .await
                .unwrap();
        }
        package
    }

    /// An "All agents" policy of `package`, with the fallback approver or without one.
    async fn create_policy(&self, package: &str, with_fallback: bool) -> String {
        let fallback = with_fallback.then_some(self.fallback.as_str());
        self.entitlement
            .create_policy(
                &self.admin().await,
                &ctx(),
                all_agents_policy(package, fallback),
            )
            .await
            .unwrap()
            .id
    }

    // ----- acting -----

    /// Runs the job queue at the clock's instant until no job is due; every job must succeed.
    async fn run_jobs(&self) -> PassReport {
        let mut total = PassReport::default();
        loop {
            let pass = run_due_jobs(
                &self.store,
                &self.entitlement,
                &WorkerConfig::default(),
                self.clock.now(),
            )
            .await
            .unwrap();
            assert_eq!(
                (pass.retried, pass.parked),
                (0, 0),
                "a job failed at {}",
                self.clock.now()
            );
            if pass.completed == 0 {
                return total;
            }
            total.completed += pass.completed;
        }
    }

    async fn create_request(
        &self,
        caller: &str,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        self.entitlement
            .create_assignment_request(&self.caller(caller).await, &ctx(), input)
            .await
            .map(|submitted| submitted.request)
    }

    async fn admin_add(
        &self,
        caller: &str,
        package: &str,
        policy: &str,
        target: &str,
        start: Option<OffsetDateTime>,
    ) -> DomainResult<AssignmentRequest> {
        self.create_request(
            caller,
            AssignmentRequestInput {
                request_type: "adminAdd".into(),
                access_package_id: Some(package.into()),
                policy_id: Some(policy.into()),
                target_id: Some(target.into()),
                justification: Some("triage rota".into()),
                schedule: start.map(|start| RequestSchedule {
                    start_date_time: Some(start),
                    ..RequestSchedule::default()
                }),
                ..AssignmentRequestInput::default()
            },
        )
        .await
    }

    /// `userAdd` by `caller`, for itself (`target: None`) or on behalf of `target`.
    async fn user_add(
        &self,
        caller: &str,
        package: &str,
        policy: &str,
        target: Option<&str>,
    ) -> DomainResult<AssignmentRequest> {
        self.create_request(
            caller,
            AssignmentRequestInput {
                request_type: "userAdd".into(),
                access_package_id: Some(package.into()),
                policy_id: Some(policy.into()),
                target_id: target.map(str::to_owned),
                justification: Some("ticket queue 7".into()),
                ..AssignmentRequestInput::default()
            },
        )
        .await
    }

    /// `adminRemove` or `userRemove` of an assignment by `caller`.
    async fn remove(
        &self,
        caller: &str,
        request_type: &str,
        assignment: &str,
    ) -> DomainResult<AssignmentRequest> {
        self.create_request(
            caller,
            AssignmentRequestInput {
                request_type: request_type.into(),
                assignment_id: Some(assignment.into()),
                justification: Some("no longer needed".into()),
                ..AssignmentRequestInput::default()
            },
        )
        .await
    }

    /// `caller` decides the first stage of `request`: `Approve` or `Deny`.
    async fn decide(&self, caller: &str, request: &str, result: &str) -> DomainResult<()> {
        let stage = self.stage(request).await;
        self.entitlement
            .decide_stage(
                &self.caller(caller).await,
                &ctx(),
                request,
                &stage.id,
                StageDecision {
                    review_result: result.into(),
                    justification: Some("checked the ticket queue".into()),
                },
            )
            .await
    }

    async fn cancel(&self, caller: &str, request: &str) -> DomainResult<()> {
        self.entitlement
            .cancel_request(&self.caller(caller).await, &ctx(), request)
            .await
    }

    /// A pending self-request of `agent` (its sponsors decide).
    async fn pending_self_request(&self, agent: &str) -> String {
        let created = self
            .user_add(agent, &self.package, &self.policy, None)
            .await
            .unwrap();
        self.run_jobs().await;
        let request = self.request(&created.id).await;
        assert_eq!(request.state, RequestState::PendingApproval);
        created.id
    }

    /// An assignment of the package to `target` by the administrator, delivered.
    async fn delivered(&self, package: &str, policy: &str, target: &str) -> Assignment {
        let created = self
            .admin_add(&self.admin, package, policy, target, None)
            .await
            .unwrap();
        self.run_jobs().await;
        self.assignment_of(&created.id).await
    }

    // ----- observing -----

    async fn request(&self, id: &str) -> AssignmentRequest {
        self.entitlement
            .get_assignment_request(&self.admin().await, id)
            .await
            .unwrap()
    }

    async fn assignment(&self, id: &str) -> Assignment {
        self.entitlement
            .get_assignment(&self.admin().await, id)
            .await
            .unwrap()
    }

    /// The assignment a delivered request created.
    async fn assignment_of(&self, request: &str) -> Assignment {
        let request = self.request(request).await;
        assert_eq!(request.state, RequestState::Delivered, "{request:?}");
        self.assignment(request.assignment_id.as_deref().expect("an assignment"))
            .await
    }

    /// The first approval stage of a request, as an administrator reads it.
    async fn stage(&self, request: &str) -> ApprovalStageRecord {
        self.entitlement
            .approval(&self.admin().await, request)
            .await
            .unwrap()
            .remove(0)
    }

    /// The ids of the requests `approver` is asked to decide (`filterByCurrentUser(on='approver')`).
    async fn awaiting(&self, approver: &str) -> Vec<String> {
        self.entitlement
            .list_requests_for_current_user(
                &self.caller(approver).await,
                writ_domain::entitlement::CurrentUserOption::Approver,
                &ListQuery::first(100),
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    /// The assignments of a target, ended ones included.
    async fn assignments_of(&self, target: &str) -> Vec<Assignment> {
        self.entitlement
            .list_assignments(
                &self.admin().await,
                &ListQuery {
                    filter: Some(format!("target/objectId eq '{target}'")),
                    top: 999,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap()
            .items
    }

    /// The requests of one type about a target.
    async fn requests_of(&self, target: &str, request_type: &str) -> Vec<AssignmentRequest> {
        self.entitlement
            .list_assignment_requests(
                &self.admin().await,
                &ListQuery {
                    filter: Some(format!(
                        "target/objectId eq '{target}' and requestType eq '{request_type}'"
                    )),
                    top: 999,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap()
            .items
    }

    /// Whether `principal` is a member of the group now, as `GET /groups/{id}/members` says.
    async fn is_member(&self, principal: &str) -> bool {
        self.directory
            .list_group_members(&self.admin().await, &self.group, &ListQuery::first(999))
            .await
            .unwrap()
            .items
            .iter()
            .any(|m| m.id() == principal)
    }

    /// Whether `principal` is a member of the group at `at`, as every access decision reads it.
    async fn member_at(&self, principal: &str, at: OffsetDateTime) -> bool {
        self.store
            .is_group_member(&self.group, principal, at)
            .await
            .unwrap()
    }

    /// The app roles `principal` holds on the API now (`GET …/appRoleAssignments`).
    async fn app_roles(&self, principal: &str) -> Vec<String> {
        self.directory
            .app_role_assignments_of(&self.admin().await, principal)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.resource_id == self.api)
            .map(|a| a.app_role_id)
            .collect()
    }

    /// The app roles a token for the API would carry at `at`.
    async fn token_roles_at(&self, principal: &str, at: OffsetDateTime) -> Vec<String> {
        self.store
            .effective_app_roles(principal, &self.api, at, true)
            .await
            .unwrap()
            .into_iter()
            .map(|(role, _)| role)
            .collect()
    }

    async fn audit_count(&self) -> usize {
        self.store.audit_records(100_000).await.unwrap().len()
    }

    /// The audit records naming `object` among their targets, oldest first.
    async fn audits_of(&self, object: &str) -> Vec<AuditRecord> {
        self.store
            .audit_records(100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.target_resources.iter().any(|t| t.id == object))
            .collect()
    }

    /// The activities of the audit records of a request, each checked to name the request's
    /// target as the principal acted for (invariant 4).
    async fn request_activities(&self, request: &AssignmentRequest) -> Vec<String> {
        self.audits_of(&request.id)
            .await
            .into_iter()
            .map(|r| {
                assert_eq!(
                    r.on_behalf_of.as_deref(),
                    Some(request.target_id.as_str()),
                    "{r:?}"
                );
                assert!(
                    r.target_resources.iter().any(|t| t.id == request.target_id),
                    "{r:?}"
                );
                r.activity_display_name
            })
            .collect()
    }

    /// The types of the outbox events about a request or an assignment, oldest first.
    async fn events_of(&self, id: &str) -> Vec<String> {
        self.store
            .outbox_events(100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.data["requestId"] == id || e.data["assignmentId"] == id)
            .map(|e| e.event_type)
            .collect()
    }
}

/// The audit record of a request with this activity; exactly one must exist.
fn only_record<'a>(records: &'a [AuditRecord], activity: &str) -> &'a AuditRecord {
    let found: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| r.activity_display_name == activity)
        .collect();
    assert_eq!(found.len(), 1, "one '{activity}' record: {records:?}");
    found[0]
}

fn detail<'a>(record: &'a AuditRecord, key: &str) -> Option<&'a str> {
    record
        .additional_details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

// ----- the domain's refusals, by the status they map to -----

/// `400`: the message names the rule.
fn invalid<T: std::fmt::Debug>(result: DomainResult<T>) -> String {
    match result {
        Err(DomainError::Invalid { message, .. }) => message,
        other => panic!("expected an invalid request (400), got {other:?}"),
    }
}

/// `403`.
fn forbidden<T: std::fmt::Debug>(result: DomainResult<T>) -> String {
    match result {
        Err(DomainError::Forbidden(message)) => message,
        other => panic!("expected forbidden (403), got {other:?}"),
    }
}

/// `409`.
fn conflict<T: std::fmt::Debug>(result: DomainResult<T>) -> String {
    match result {
        Err(DomainError::Conflict(message)) => message,
        other => panic!("expected a conflict (409), got {other:?}"),
    }
}

// ----- the scenarios -----

/// `adminAdd` needs no approval: submitted, then delivered by the job with a concrete schedule;
/// at the end instant every read says the access is gone before any job runs; the expiry job
/// then records `expired` / `Expired` with a `systemRemove` request.
async fn admin_add_is_delivered_and_access_ends_at_the_end_instant(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .admin_add(&w.admin, &w.package, &w.policy, &w.agent, None)
        .await
        .unwrap();
    assert_eq!(created.request_type, RequestType::AdminAdd);
    assert_eq!(created.state, RequestState::Submitted);
    assert_eq!(created.status, "Accepted");
    assert_eq!(created.requestor_id, w.admin);
    assert_eq!(created.target_id, w.agent);
    assert_eq!(created.completed_date_time, None);
    assert!(!w.is_member(&w.agent).await, "nothing before delivery");
    assert!(w.app_roles(&w.agent).await.is_empty());

    assert_eq!(w.run_jobs().await.completed, 1);
    let request = w.request(&created.id).await;
    assert_eq!(request.state, RequestState::Delivered);
    assert_eq!(request.status, "Delivered");
    assert_eq!(request.completed_date_time, Some(T0));
    let assignment = w.assignment_of(&created.id).await;
    assert_eq!(assignment.state, AssignmentState::Delivered);
    assert_eq!(assignment.status, "Delivered");
    assert_eq!(assignment.target_id, w.agent);
    assert_eq!(assignment.policy_id, w.policy);
    assert_eq!(assignment.start_date_time, T0);
    let end = T0 + LIFETIME;
    assert_eq!(assignment.end_date_time, Some(end));
    assert_eq!(assignment.expired_date_time, None);
    assert!(w.is_member(&w.agent).await);
    assert_eq!(w.app_roles(&w.agent).await, [TICKETS_READ]);
    assert_eq!(w.token_roles_at(&w.agent, T0).await, [TICKETS_READ]);
    assert_eq!(
        w.request_activities(&request).await,
        [
            "Create access package assignment request",
            "Fulfill access package assignment request"
        ]
    );
    let records = w.audits_of(&request.id).await;
    assert_eq!(
        records[0].initiated_by.id.as_deref(),
        Some(w.admin.as_str())
    );
    assert_eq!(records[1].initiated_by.kind, "system");
    assert_eq!(
        w.events_of(&request.id).await,
        ["request.created", "assignment.delivered"]
    );

    // The grants carry the end: held the instant before it, gone at it.
    let before = end - Duration::microseconds(1);
    assert!(w.member_at(&w.agent, before).await);
    assert_eq!(w.token_roles_at(&w.agent, before).await, [TICKETS_READ]);
    assert!(!w.member_at(&w.agent, end).await);
    assert!(w.token_roles_at(&w.agent, end).await.is_empty());

    // At the end instant, before any job runs, the reads say gone; the record follows the job.
    w.clock.set(end);
    assert!(!w.is_member(&w.agent).await);
    assert!(w.app_roles(&w.agent).await.is_empty());
    assert_eq!(
        w.assignment(&assignment.id).await.state,
        AssignmentState::Delivered,
        "the recorded state follows the expiry job"
    );
    assert_eq!(w.run_jobs().await.completed, 1);
    let expired = w.assignment(&assignment.id).await;
    assert_eq!(expired.state, AssignmentState::Expired);
    assert_eq!(expired.status, "Expired");
    assert_eq!(expired.expired_date_time, Some(end));
    let system = w.requests_of(&w.agent, "systemRemove").await;
    assert_eq!(system.len(), 1, "{system:?}");
    assert_eq!(
        system[0].assignment_id.as_deref(),
        Some(assignment.id.as_str())
    );
    assert_eq!(system[0].state, RequestState::Delivered);
    assert_eq!(
        w.request_activities(&system[0]).await,
        ["Access package assignment expired"]
    );
    assert_eq!(
        w.events_of(&assignment.id).await,
        ["assignment.delivered", "assignment.expired"]
    );
    // Running the queue again changes nothing.
    assert_eq!(w.run_jobs().await.completed, 0);
    assert_eq!(w.assignment(&assignment.id).await, expired);

    // Ended: the package may be assigned again.
    w.admin_add(&w.admin, &w.package, &w.policy, &w.agent, None)
        .await
        .unwrap();
}

/// A future start keeps the request `scheduled` until the clock passes it; a scheduled request
/// may be canceled, and its job then does nothing.
async fn a_future_start_is_scheduled_until_it_passes(backend: Backend) {
    let w = World::new(backend).await;
    let start = T0 + Duration::hours(1);
    let created = w
        .admin_add(&w.admin, &w.package, &w.policy, &w.agent, Some(start))
        .await
        .unwrap();
    assert_eq!(created.schedule.start_date_time, Some(start));
    let other = w.create_agent("support-agent-8", &[&w.sponsor]).await;
    let canceled = w
        .admin_add(&w.admin, &w.package, &w.policy, &other, Some(start))
        .await
        .unwrap();

    assert_eq!(w.run_jobs().await.completed, 2);
    for id in [&created.id, &canceled.id] {
        let request = w.request(id).await;
        assert_eq!(request.state, RequestState::Scheduled);
        assert_eq!(request.status, "Scheduled");
        assert_eq!(request.assignment_id, None);
        assert_eq!(request.completed_date_time, None);
    }
    assert!(!w.is_member(&w.agent).await);
    w.cancel(&w.admin, &canceled.id).await.unwrap();
    let request = w.request(&canceled.id).await;
    assert_eq!(request.state, RequestState::Canceled);
    assert_eq!(request.status, "Canceled");

    // Not yet.
    w.clock.set(start - Duration::seconds(1));
    assert_eq!(w.run_jobs().await.completed, 0);
    assert_eq!(w.request(&created.id).await.state, RequestState::Scheduled);
    assert!(!w.is_member(&w.agent).await);

    // At the start: delivered, the schedule counted from it.
    w.clock.set(start);
    assert_eq!(w.run_jobs().await.completed, 2);
    let assignment = w.assignment_of(&created.id).await;
    assert_eq!(assignment.start_date_time, start);
    assert_eq!(assignment.end_date_time, Some(start + LIFETIME));
    assert!(w.is_member(&w.agent).await);
    assert_eq!(
        w.request_activities(&w.request(&created.id).await).await,
        [
            "Create access package assignment request",
            "Schedule access package assignment request",
            "Fulfill access package assignment request"
        ]
    );
    // The canceled one stayed canceled, with nothing delivered.
    assert_eq!(w.request(&canceled.id).await.state, RequestState::Canceled);
    assert!(!w.is_member(&other).await);
    assert!(w.assignments_of(&other).await.is_empty());
}

/// A request canceled while still `submitted` is never processed.
async fn a_request_canceled_before_processing_is_never_delivered(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .user_add(&w.agent, &w.package, &w.policy, None)
        .await
        .unwrap();
    w.cancel(&w.agent, &created.id).await.unwrap();
    let request = w.request(&created.id).await;
    assert_eq!(request.state, RequestState::Canceled);
    assert_eq!(request.status, "Canceled");
    assert_eq!(request.completed_date_time, Some(T0));
    assert_eq!(
        w.run_jobs().await.completed,
        1,
        "the job finds nothing to do"
    );
    assert_eq!(w.request(&created.id).await, request);
    assert!(
        w.entitlement
            .approval(&w.admin().await, &created.id)
            .await
            .is_err(),
        "no approval was started"
    );
    assert!(w.assignments_of(&w.agent).await.is_empty());
    assert_eq!(
        w.request_activities(&request).await,
        [
            "Create access package assignment request",
            "Cancel access package assignment request"
        ]
    );
    assert_eq!(
        w.events_of(&request.id).await,
        ["request.created", "request.canceled"]
    );
}

/// The agent asks for itself: the request waits for its sponsor, who alone is asked; the
/// sponsor's approval sends it to delivery.
async fn an_agent_self_request_is_approved_by_its_sponsor(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .user_add(&w.agent, &w.package, &w.policy, None)
        .await
        .unwrap();
    assert_eq!(created.request_type, RequestType::UserAdd);
    assert_eq!(created.state, RequestState::Submitted);
    assert_eq!(created.status, "Accepted");
    assert_eq!(created.requestor_id, w.agent);
    assert_eq!(created.target_id, w.agent);

    assert_eq!(w.run_jobs().await.completed, 1);
    let request = w.request(&created.id).await;
    assert_eq!(request.state, RequestState::PendingApproval);
    assert_eq!(request.status, "PendingApproval");
    let stage = w.stage(&created.id).await;
    assert_eq!(stage.status, "InProgress");
    assert_eq!(stage.review_result, "NotReviewed");
    assert_eq!(stage.approver_ids, [w.sponsor.as_str()]);
    assert!(!stage.used_fallback);
    assert_eq!(stage.started_date_time, Some(T0));
    assert_eq!(w.awaiting(&w.sponsor).await, [created.id.as_str()]);
    assert!(
        w.awaiting(&w.fallback).await.is_empty(),
        "the fallback approver is not asked while a sponsor is"
    );
    let assigned = w
        .store
        .outbox_events(100_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == "approval.stageAssigned" && e.data["requestId"] == created.id)
        .expect("the stage's approvers are notified");
    assert_eq!(
        assigned
            .recipients
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [w.sponsor.as_str()]
    );
    // Nothing is granted while it waits, and the agent cannot decide its own request.
    assert!(!w.is_member(&w.agent).await);
    forbidden(w.decide(&w.agent, &created.id, "Approve").await);

    w.clock.advance(Duration::minutes(10));
    let decided_at = w.clock.now();
    w.decide(&w.sponsor, &created.id, "Approve").await.unwrap();
    let request = w.request(&created.id).await;
    assert_eq!(request.state, RequestState::Delivering);
    assert_eq!(request.status, "Delivering");
    let stage = w.stage(&created.id).await;
    assert_eq!(stage.status, "Completed");
    assert_eq!(stage.review_result, "Approved");
    assert_eq!(
        stage.reviewed_by.as_ref().map(|(id, _)| id.as_str()),
        Some(w.sponsor.as_str())
    );
    assert_eq!(stage.reviewed_date_time, Some(decided_at));
    assert!(w.awaiting(&w.sponsor).await.is_empty());

    assert_eq!(w.run_jobs().await.completed, 1);
    let assignment = w.assignment_of(&created.id).await;
    assert_eq!(assignment.state, AssignmentState::Delivered);
    assert_eq!(assignment.start_date_time, decided_at);
    assert_eq!(assignment.end_date_time, Some(decided_at + LIFETIME));
    assert!(w.is_member(&w.agent).await);
    assert_eq!(w.app_roles(&w.agent).await, [TICKETS_READ]);
    assert_eq!(
        w.request_activities(&request).await,
        [
            "Create access package assignment request",
            "Start approval of access package assignment request",
            "Approve access package assignment request",
            "Fulfill access package assignment request"
        ]
    );
    let records = w.audits_of(&request.id).await;
    assert_eq!(
        records[0].initiated_by.id.as_deref(),
        Some(w.agent.as_str())
    );
    assert_eq!(
        records[2].initiated_by.id.as_deref(),
        Some(w.sponsor.as_str())
    );
    assert_eq!(
        w.events_of(&request.id).await,
        [
            "request.created",
            "request.pendingApproval",
            "approval.stageAssigned",
            "request.approved",
            "assignment.delivered"
        ]
    );
}

/// One denial ends the request: `denied`, no assignment, nothing granted.
async fn a_sponsor_denial_ends_the_request_without_an_assignment(backend: Backend) {
    let w = World::new(backend).await;
    let request = w.pending_self_request(&w.agent).await;
    w.clock.advance(Duration::minutes(5));
    w.decide(&w.sponsor, &request, "Deny").await.unwrap();
    let denied = w.request(&request).await;
    assert_eq!(denied.state, RequestState::Denied);
    assert_eq!(denied.status, "Denied");
    assert_eq!(denied.completed_date_time, Some(w.clock.now()));
    assert_eq!(denied.assignment_id, None);
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "Completed");
    assert_eq!(stage.review_result, "Denied");
    assert_eq!(w.run_jobs().await.completed, 0, "nothing to deliver");
    assert!(w.assignments_of(&w.agent).await.is_empty());
    assert!(!w.is_member(&w.agent).await);
    assert!(w.app_roles(&w.agent).await.is_empty());
    conflict(w.decide(&w.sponsor, &request, "Approve").await);
    assert_eq!(w.request(&request).await.state, RequestState::Denied);
    let records = w.audits_of(&request).await;
    let denial = only_record(&records, "Deny access package assignment request");
    assert_eq!(denial.initiated_by.id.as_deref(), Some(w.sponsor.as_str()));
    assert_eq!(
        w.events_of(&request).await.last().map(String::as_str),
        Some("request.denied")
    );
}

/// A sponsor asking on the agent's behalf is removed from the approvers; the fallback approver
/// decides, and the sponsor's own attempt is refused.
async fn an_on_behalf_request_goes_to_the_fallback_approver(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .user_add(&w.sponsor, &w.package, &w.policy, Some(&w.agent))
        .await
        .unwrap();
    assert_eq!(created.requestor_id, w.sponsor);
    assert_eq!(created.requestor_kind, PrincipalKind::User);
    assert_eq!(created.target_id, w.agent);
    let records = w.audits_of(&created.id).await;
    let recorded = only_record(&records, "Create access package assignment request");
    assert_eq!(
        recorded.initiated_by.id.as_deref(),
        Some(w.sponsor.as_str())
    );
    assert_eq!(recorded.on_behalf_of.as_deref(), Some(w.agent.as_str()));
    assert_eq!(detail(recorded, "onBehalfOf"), Some(w.agent.as_str()));

    w.run_jobs().await;
    assert_eq!(
        w.request(&created.id).await.state,
        RequestState::PendingApproval
    );
    let stage = w.stage(&created.id).await;
    assert_eq!(stage.approver_ids, [w.fallback.as_str()]);
    assert!(stage.used_fallback);
    assert_eq!(w.awaiting(&w.fallback).await, [created.id.as_str()]);
    assert!(w.awaiting(&w.sponsor).await.is_empty());

    forbidden(w.decide(&w.sponsor, &created.id, "Approve").await);
    assert_eq!(
        w.request(&created.id).await.state,
        RequestState::PendingApproval,
        "a refused decision changes nothing"
    );
    w.decide(&w.fallback, &created.id, "Approve").await.unwrap();
    assert_eq!(w.request(&created.id).await.state, RequestState::Delivering);
    w.run_jobs().await;
    assert_eq!(
        w.assignment_of(&created.id).await.state,
        AssignmentState::Delivered
    );
    assert!(w.is_member(&w.agent).await);
}

/// Cancel and approve exclude each other, in either order and when they race.
async fn approve_and_cancel_exclude_each_other(backend: Backend) {
    let w = World::new(backend).await;

    // Canceled first: approving is a conflict, and so is canceling again.
    let request = w.pending_self_request(&w.agent).await;
    w.cancel(&w.agent, &request).await.unwrap();
    let canceled = w.request(&request).await;
    assert_eq!(canceled.state, RequestState::Canceled);
    assert_eq!(canceled.status, "Canceled");
    conflict(w.decide(&w.sponsor, &request, "Approve").await);
    conflict(w.cancel(&w.agent, &request).await);
    assert_eq!(w.request(&request).await, canceled);
    assert_eq!(w.stage(&request).await.review_result, "NotReviewed");
    assert!(w.awaiting(&w.sponsor).await.is_empty());
    assert_eq!(w.run_jobs().await.completed, 0);
    assert!(w.assignments_of(&w.agent).await.is_empty());

    // Approved first: canceling is a conflict, before and after delivery.
    let second = w.create_agent("support-agent-8", &[&w.sponsor]).await;
    let request = w.pending_self_request(&second).await;
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    conflict(w.cancel(&second, &request).await);
    assert_eq!(w.request(&request).await.state, RequestState::Delivering);
    w.run_jobs().await;
    conflict(w.cancel(&second, &request).await);
    assert_eq!(
        w.assignment_of(&request).await.state,
        AssignmentState::Delivered
    );
    assert!(w.is_member(&second).await);

    // Racing: exactly one of them happens, and the request shows which.
    let third = w.create_agent("support-agent-9", &[&w.sponsor]).await;
    let request = w.pending_self_request(&third).await;
    let (approved, canceled) = tokio::join!(
        w.decide(&w.sponsor, &request, "Approve"),
        w.cancel(&third, &request)
    );
    assert!(
        approved.is_ok() != canceled.is_ok(),
        "exactly one wins: {approved:?} / {canceled:?}"
    );
    let state = w.request(&request).await.state;
    if approved.is_ok() {
        conflict(canceled);
        assert_eq!(state, RequestState::Delivering);
        w.run_jobs().await;
        assert!(w.is_member(&third).await);
    } else {
        conflict(approved);
        assert_eq!(state, RequestState::Canceled);
        assert_eq!(w.stage(&request).await.review_result, "NotReviewed");
        w.run_jobs().await;
        assert!(!w.is_member(&third).await);
        assert!(w.assignments_of(&third).await.is_empty());
    }
}

/// Two sponsors decide one stage at once: one decision is recorded, the other is a conflict,
/// and the request ends in the state the recorded decision says.
async fn two_approvers_deciding_one_stage_make_one_decision(backend: Backend) {
    let w = World::new(backend).await;
    w.change_sponsor(&w.agent, &w.co_sponsor, true).await;
    let request = w.pending_self_request(&w.agent).await;
    let mut approvers = w.stage(&request).await.approver_ids;
    approvers.sort();
    let mut sponsors = vec![w.sponsor.clone(), w.co_sponsor.clone()];
    sponsors.sort();
    assert_eq!(approvers, sponsors, "both sponsors may decide");
    assert_eq!(w.awaiting(&w.co_sponsor).await, [request.as_str()]);

    let (approve, deny) = tokio::join!(
        w.decide(&w.sponsor, &request, "Approve"),
        w.decide(&w.co_sponsor, &request, "Deny")
    );
    assert!(
        approve.is_ok() != deny.is_ok(),
        "exactly one decision: {approve:?} / {deny:?}"
    );
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "Completed");
    let state = w.request(&request).await.state;
    let (winner, expected_state, review) = if approve.is_ok() {
        conflict(deny);
        (&w.sponsor, RequestState::Delivering, "Approved")
    } else {
        conflict(approve);
        (&w.co_sponsor, RequestState::Denied, "Denied")
    };
    assert_eq!(state, expected_state);
    assert_eq!(stage.review_result, review);
    assert_eq!(
        stage.reviewed_by.as_ref().map(|(id, _)| id),
        Some(winner),
        "the recorded decision is the winner's"
    );
    let records = w.audits_of(&request).await;
    let decisions = records
        .iter()
        .filter(|r| {
            r.activity_display_name == "Approve access package assignment request"
                || r.activity_display_name == "Deny access package assignment request"
        })
        .count();
    assert_eq!(decisions, 1, "one decision is audited: {records:?}");

    // A late decision is a conflict too.
    conflict(w.decide(&w.co_sponsor, &request, "Approve").await);
    w.run_jobs().await;
    let state = w.request(&request).await.state;
    if review == "Approved" {
        assert_eq!(state, RequestState::Delivered);
        assert!(w.is_member(&w.agent).await);
    } else {
        assert_eq!(state, RequestState::Denied);
        assert!(!w.is_member(&w.agent).await);
    }
}

/// The approver's right is checked again at decision time: a sponsor removed after the stage
/// started cannot decide it, and the request keeps waiting for those who still may.
async fn a_sponsor_removed_after_the_stage_started_cannot_decide(backend: Backend) {
    let w = World::new(backend).await;
    w.change_sponsor(&w.agent, &w.co_sponsor, true).await;
    let request = w.pending_self_request(&w.agent).await;
    assert!(w.stage(&request).await.approver_ids.contains(&w.co_sponsor));

    w.clock.advance(Duration::minutes(1));
    w.change_sponsor(&w.agent, &w.co_sponsor, false).await;
    forbidden(w.decide(&w.co_sponsor, &request, "Approve").await);
    forbidden(w.decide(&w.co_sponsor, &request, "Deny").await);
    let waiting = w.request(&request).await;
    assert_eq!(waiting.state, RequestState::PendingApproval);
    assert_eq!(waiting.status, "PendingApproval");
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "InProgress");
    assert_eq!(stage.review_result, "NotReviewed");

    // The remaining sponsor still decides.
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    w.run_jobs().await;
    assert_eq!(
        w.assignment_of(&request).await.state,
        AssignmentState::Delivered
    );
}

/// A removed sponsor is not offered the stage it can no longer decide.
async fn a_removed_sponsor_is_no_longer_asked_to_decide(backend: Backend) {
    let w = World::new(backend).await;
    w.change_sponsor(&w.agent, &w.co_sponsor, true).await;
    let request = w.pending_self_request(&w.agent).await;
    assert_eq!(w.awaiting(&w.co_sponsor).await, [request.as_str()]);
    let assigned = |approver: String| {
        let w = &w;
        let request = request.clone();
        async move {
            w.entitlement
                .stage_assigned_to(&w.caller(&approver).await, &request)
                .await
                .unwrap()
        }
    };
    let stage = w.stage(&request).await.id;
    assert_eq!(assigned(w.co_sponsor.clone()).await, Some(stage.clone()));
    w.change_sponsor(&w.agent, &w.co_sponsor, false).await;
    forbidden(w.decide(&w.co_sponsor, &request, "Approve").await);
    assert!(
        w.awaiting(&w.co_sponsor).await.is_empty(),
        "filterByCurrentUser(on='approver') lists the stages the caller may decide now"
    );
    assert_eq!(
        assigned(w.co_sponsor.clone()).await,
        None,
        "assignedToMe is false for the removed sponsor"
    );
    assert_eq!(assigned(w.sponsor.clone()).await, Some(stage));
}

/// When neither the primary nor the fallback approvers resolve to anyone but the requestor,
/// the request is denied with a reason.
async fn no_resolvable_approver_denies_with_a_reason(backend: Backend) {
    let w = World::new(backend).await;
    let no_fallback = w.create_policy(&w.package, false).await;
    let created = w
        .user_add(&w.sponsor, &w.package, &no_fallback, Some(&w.agent))
        .await
        .unwrap();
    assert_eq!(w.run_jobs().await.completed, 1);
    let request = w.request(&created.id).await;
    assert_eq!(request.state, RequestState::Denied);
    assert_eq!(request.status, "Denied");
    assert_eq!(request.completed_date_time, Some(T0));
    assert!(
        w.entitlement
            .approval(&w.admin().await, &created.id)
            .await
            .is_err(),
        "no stage was started"
    );
    assert!(w.awaiting(&w.sponsor).await.is_empty());
    let records = w.audits_of(&created.id).await;
    let denial = only_record(&records, "Deny access package assignment request");
    assert_eq!(denial.initiated_by.kind, "system");
    assert_eq!(
        detail(denial, "reason"),
        Some("no approver could be resolved for stage 1")
    );
    assert_eq!(
        w.events_of(&created.id).await,
        ["request.created", "request.denied"]
    );
    assert!(w.assignments_of(&w.agent).await.is_empty());
    assert!(!w.is_member(&w.agent).await);
}

/// A membership granted by two assignments stays until the last one ends, and one added
/// directly (`members/$ref`) is a holder of its own.
async fn a_group_granted_twice_stays_until_the_last_holder_ends(backend: Backend) {
    let w = World::new(backend).await;
    let second = w
        .create_package("Ticket triage too", &[&w.member_role])
        .await;
    let second_policy = w.create_policy(&second, true).await;
    let first = w.delivered(&w.package, &w.policy, &w.agent).await;
    let other = w.delivered(&second, &second_policy, &w.agent).await;
    assert!(w.is_member(&w.agent).await);

    w.remove(&w.admin, "adminRemove", &first.id).await.unwrap();
    assert!(
        w.is_member(&w.agent).await,
        "the other assignment still grants the membership"
    );
    assert!(
        w.app_roles(&w.agent).await.is_empty(),
        "the app role only the first granted is gone"
    );
    w.remove(&w.admin, "adminRemove", &other.id).await.unwrap();
    assert!(!w.is_member(&w.agent).await, "the last holder is gone");

    // A direct membership and a package's are held separately.
    let admin = w.admin().await;
    let again = w.delivered(&w.package, &w.policy, &w.agent).await;
    w.directory
        .change_group_member(&admin, &ctx(), &w.group, &w.agent, true)
        .await
        .unwrap();
    w.directory
        .change_group_member(&admin, &ctx(), &w.group, &w.agent, false)
        .await
        .unwrap();
    assert!(
        w.is_member(&w.agent).await,
        "removing the direct membership leaves the package's"
    );
    w.directory
        .change_group_member(&admin, &ctx(), &w.group, &w.agent, true)
        .await
        .unwrap();
    w.remove(&w.admin, "adminRemove", &again.id).await.unwrap();
    assert!(
        w.is_member(&w.agent).await,
        "the direct membership survives the assignment's removal"
    );
    assert!(
        w.member_at(&w.agent, T0 + Duration::days(365)).await,
        "and has no end"
    );
    w.directory
        .change_group_member(&admin, &ctx(), &w.group, &w.agent, false)
        .await
        .unwrap();
    assert!(!w.is_member(&w.agent).await);
}

/// `userRemove` by the agent and `adminRemove` end the grants in the transaction that records
/// the removal: no job runs before the access is gone.
async fn removals_end_the_grant_in_their_own_transaction(backend: Backend) {
    let w = World::new(backend).await;
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    w.clock.advance(Duration::minutes(30));
    let removed_at = w.clock.now();
    let removal = w
        .remove(&w.agent, "userRemove", &assignment.id)
        .await
        .unwrap();
    assert_eq!(removal.request_type, RequestType::UserRemove);
    assert_eq!(removal.state, RequestState::Delivered);
    assert_eq!(removal.requestor_id, w.agent);
    assert_eq!(
        removal.assignment_id.as_deref(),
        Some(assignment.id.as_str())
    );
    assert!(!w.is_member(&w.agent).await);
    assert!(w.app_roles(&w.agent).await.is_empty());
    assert!(w.token_roles_at(&w.agent, removed_at).await.is_empty());
    let ended = w.assignment(&assignment.id).await;
    assert_eq!(ended.state, AssignmentState::Expired);
    assert_eq!(ended.status, "Removed");
    assert_eq!(ended.expired_date_time, Some(removed_at));
    let records = w.audits_of(&removal.id).await;
    let record = only_record(&records, "Remove access package assignment");
    assert_eq!(record.initiated_by.id.as_deref(), Some(w.agent.as_str()));
    assert_eq!(record.on_behalf_of.as_deref(), Some(w.agent.as_str()));
    assert_eq!(
        w.events_of(&assignment.id).await,
        ["assignment.delivered", "assignment.removed"]
    );
    conflict(w.remove(&w.agent, "userRemove", &assignment.id).await);
    conflict(w.remove(&w.admin, "adminRemove", &assignment.id).await);

    // The expiry job at the original end finds the assignment already ended.
    w.clock.set(T0 + LIFETIME);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.assignment(&assignment.id).await, ended);
    assert!(w.requests_of(&w.agent, "systemRemove").await.is_empty());

    // The administrator's removal, likewise at once.
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    assert!(w.is_member(&w.agent).await);
    let removal = w
        .remove(&w.admin, "adminRemove", &assignment.id)
        .await
        .unwrap();
    assert_eq!(removal.request_type, RequestType::AdminRemove);
    assert_eq!(removal.requestor_id, w.admin);
    assert!(!w.is_member(&w.agent).await);
    assert!(w.app_roles(&w.agent).await.is_empty());
    let ended = w.assignment(&assignment.id).await;
    assert_eq!(ended.state, AssignmentState::Expired);
    assert_eq!(ended.status, "Removed");
    assert_eq!(ended.expired_date_time, Some(w.clock.now()));
    let records = w.audits_of(&removal.id).await;
    let record = only_record(&records, "Remove access package assignment");
    assert_eq!(record.initiated_by.id.as_deref(), Some(w.admin.as_str()));
    assert_eq!(record.on_behalf_of.as_deref(), Some(w.agent.as_str()));
}

/// Deleting the agent ends its assignments (`systemRemove`, status `Removed`) and cancels its
/// open requests, in the deleting transaction.
async fn deleting_the_agent_ends_its_assignments_and_cancels_its_requests(backend: Backend) {
    let w = World::new(backend).await;
    let second = w
        .create_package("Ticket triage too", &[&w.member_role])
        .await;
    let second_policy = w.create_policy(&second, true).await;
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    let pending = w
        .user_add(&w.agent, &second, &second_policy, None)
        .await
        .unwrap();
    w.run_jobs().await;
    assert_eq!(
        w.request(&pending.id).await.state,
        RequestState::PendingApproval
    );
    assert!(w.is_member(&w.agent).await);

    w.clock.advance(Duration::minutes(3));
    let deleted_at = w.clock.now();
    w.directory
        .delete_service_principal(&w.admin().await, &ctx(), &w.agent)
        .await
        .unwrap();
    let ended = w.assignment(&assignment.id).await;
    assert_eq!(ended.state, AssignmentState::Expired);
    assert_eq!(ended.status, "Removed");
    assert_eq!(ended.expired_date_time, Some(deleted_at));
    let system = w.requests_of(&w.agent, "systemRemove").await;
    assert_eq!(system.len(), 1, "{system:?}");
    assert_eq!(
        system[0].assignment_id.as_deref(),
        Some(assignment.id.as_str())
    );
    assert_eq!(
        system[0].justification.as_deref(),
        Some("the target was deleted")
    );
    let canceled = w.request(&pending.id).await;
    assert_eq!(canceled.state, RequestState::Canceled);
    assert_eq!(canceled.status, "Canceled");
    assert_eq!(canceled.completed_date_time, Some(deleted_at));
    let records = w.audits_of(&pending.id).await;
    let record = only_record(&records, "Cancel access package assignment request");
    assert_eq!(record.initiated_by.id.as_deref(), Some(w.admin.as_str()));
    assert_eq!(detail(record, "reason"), Some("the target was deleted"));
    assert!(!w.is_member(&w.agent).await);
    assert!(w.token_roles_at(&w.agent, deleted_at).await.is_empty());

    // The canceled request's stage can no longer be decided, nor is anyone asked to.
    assert!(w.awaiting(&w.sponsor).await.is_empty());
    conflict(w.decide(&w.sponsor, &pending.id, "Approve").await);
    // Later jobs change nothing.
    w.clock.set(T0 + LIFETIME);
    w.run_jobs().await;
    assert_eq!(w.assignment(&assignment.id).await, ended);
    assert_eq!(w.request(&pending.id).await, canceled);
}

/// Requests the rules refuse are `400` naming the rule, and leave no trace.
async fn requests_against_the_rules_are_invalid_and_name_the_rule(backend: Backend) {
    let w = World::new(backend).await;
    let human = w.create_user("Harriet Human").await;
    let audits = w.audit_count().await;

    // A human is outside "All agents", whoever asks. Asking for itself, it may not see the
    // package at all (no policy lets it request it), which is what it is told.
    let message = invalid(w.user_add(&human, &w.package, &w.policy, None).await);
    assert!(message.contains("does not exist"), "{message}");
    let message = invalid(
        w.admin_add(&w.admin, &w.package, &w.policy, &human, None)
            .await,
    );
    assert!(
        message.contains("allowedTargetScope 'allDirectoryAgentIdentities'"),
        "{message}"
    );
    assert_eq!(w.audit_count().await, audits, "refusals leave no records");

    // One open request per target and package.
    let request = w.pending_self_request(&w.agent).await;
    let message = invalid(w.user_add(&w.agent, &w.package, &w.policy, None).await);
    assert!(message.contains("an open request"), "{message}");
    assert!(message.contains(&request), "{message}");

    // A userAdd while an assignment is delivered: extend it instead.
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    w.run_jobs().await;
    let assignment = w.assignment_of(&request).await;
    let audits = w.audit_count().await;
    let message = invalid(w.user_add(&w.agent, &w.package, &w.policy, None).await);
    assert!(message.contains("already has an assignment"), "{message}");
    assert!(message.contains(&assignment.id), "{message}");
    let message = invalid(
        w.user_add(&w.sponsor, &w.package, &w.policy, Some(&w.agent))
            .await,
    );
    assert!(message.contains("extend it instead"), "{message}");
    assert_eq!(w.audit_count().await, audits, "refusals leave no records");
}

/// Agents never act for another principal, and only allowed on-behalf requestors act for an
/// agent.
async fn only_the_target_and_its_sponsors_request_for_an_agent(backend: Backend) {
    let w = World::new(backend).await;
    // Another agent may not even see the agent (it reads no directory object but itself), so
    // it is told what naming nobody tells (issue 14, item 8: no existence oracle).
    let other = w.create_agent("support-agent-8", &[&w.sponsor]).await;
    let message = invalid(
        w.user_add(&other, &w.package, &w.policy, Some(&w.agent))
            .await,
    );
    assert!(
        message.contains("is not a user or service principal"),
        "{message}"
    );
    // A human who does not sponsor the agent is not an on-behalf requestor: the package is not
    // one it may see, so it does not exist for it.
    let message = invalid(
        w.user_add(&w.fallback, &w.package, &w.policy, Some(&w.agent))
            .await,
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(w.requests_of(&w.agent, "userAdd").await.is_empty());

    // Nor does an agent remove another's assignment (which it may not see either).
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    let message = invalid(w.remove(&other, "userRemove", &assignment.id).await);
    assert!(message.contains("does not exist"), "{message}");
    forbidden(w.remove(&other, "adminRemove", &assignment.id).await);
    assert!(w.is_member(&w.agent).await);
}

/// A catalog-scoped assignment manager cannot assign access to an agent it sponsors; it can
/// assign other agents.
async fn a_catalog_role_does_not_assign_an_agent_its_holder_sponsors(backend: Backend) {
    let w = World::new(backend).await;
    w.entitlement
        .create_em_role_assignment(
            &w.admin().await,
            &ctx(),
            EmRoleAssignmentInput {
                principal_id: w.sponsor.clone(),
                role_definition_id: em_roles::ASSIGNMENT_MANAGER.into(),
                app_scope_id: format!("/AccessPackageCatalog/{}", w.catalog),
            },
        )
        .await
        .unwrap();
    assert!(
        w.caller(&w.sponsor)
            .await
            .catalog_rights(&w.catalog)
            .manage_assignments
    );
    let message = forbidden(
        w.admin_add(&w.sponsor, &w.package, &w.policy, &w.agent, None)
            .await,
    );
    assert!(message.contains("sponsors or owns"), "{message}");
    assert!(w.requests_of(&w.agent, "adminAdd").await.is_empty());

    let unsponsored = w.create_agent("support-agent-8", &[&w.co_sponsor]).await;
    let created = w
        .admin_add(&w.sponsor, &w.package, &w.policy, &unsponsored, None)
        .await
        .unwrap();
    w.run_jobs().await;
    assert_eq!(
        w.assignment_of(&created.id).await.state,
        AssignmentState::Delivered
    );

    // Sponsoring through a group counts as well: the one sponsor resolver decides.
    let admin = w.admin().await;
    let circle = w
        .directory
        .create_group(
            &admin,
            &ctx(),
            GroupInput {
                display_name: text("Sponsor circle"),
                mail_nickname: text("sponsor-circle"),
                mail_enabled: Patch::Value(false),
                security_enabled: Patch::Value(true),
                ..GroupInput::default()
            },
        )
        .await
        .unwrap()
        .id;
    w.directory
        .change_group_member(&admin, &ctx(), &circle, &w.sponsor, true)
        .await
        .unwrap();
    let via_group = w.create_agent("support-agent-9", &[&circle]).await;
    let message = forbidden(
        w.admin_add(&w.sponsor, &w.package, &w.policy, &via_group, None)
            .await,
    );
    assert!(message.contains("sponsors or owns"), "{message}");
}

// ----- time: extension and the races at the end instant -----

impl World {
    /// A policy like "All agents" where the agent extends itself, with the sponsors' approval
    /// when `approval` is set.
    async fn extensible_policy(&self, approval: bool) -> String {
        let mut input = all_agents_policy(&self.package, Some(&self.fallback));
        if let Some(requestor) = input.requestor_settings.as_mut() {
            requestor.enable_targets_to_self_update_access = true;
        }
        if let Some(approvals) = input.request_approval_settings.as_mut() {
            approvals.is_approval_required_for_add = false;
            approvals.is_approval_required_for_update = approval;
        }
        input.display_name = text(&format!("Agents extend (approval: {approval})"));
        self.entitlement
            .create_policy(&self.admin().await, &ctx(), input)
            .await
            .unwrap()
            .id
    }

    async fn extend(
        &self,
        caller: &str,
        request_type: &str,
        assignment: &str,
    ) -> AssignmentRequest {
        self.create_request(
            caller,
            AssignmentRequestInput {
                request_type: request_type.into(),
                assignment_id: Some(assignment.into()),
                justification: Some("still on the rota".into()),
                ..AssignmentRequestInput::default()
            },
        )
        .await
        .unwrap()
    }

    /// Runs the due jobs once at the clock's instant, failures allowed (a lost race retries).
    async fn run_jobs_once(&self) -> PassReport {
        run_due_jobs(
            &self.store,
            &self.entitlement,
            &WorkerConfig::default(),
            self.clock.now(),
        )
        .await
        .unwrap()
    }

    /// Moves the clock on until no job is due or waiting for a retry.
    async fn settle(&self) {
        for _ in 0..20 {
            let pass = self.run_jobs_once().await;
            if pass.completed == 0 && pass.retried == 0 && pass.parked == 0 {
                match self.store.next_job_due().await.unwrap() {
                    Some(due) if due <= self.clock.now() + Duration::hours(1) => {
                        self.clock.set(due.max(self.clock.now()));
                    }
                    _ => return,
                }
            }
        }
    }
}

/// An extension moves the end of the same assignment and of its grants: access outlives the
/// old end, the expiry job of the old end does nothing, and access ends at the new end.
async fn an_extension_moves_the_end_of_the_assignment_and_its_grants(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.extensible_policy(false).await;
    let assignment = w.delivered(&w.package, &policy, &w.agent).await;
    assert_eq!(assignment.end_date_time, Some(T0 + LIFETIME));
    w.clock.set(T0 + Duration::hours(1));
    let extension = w.extend(&w.agent, "userUpdate", &assignment.id).await;
    assert_eq!(extension.state, RequestState::Submitted);
    w.run_jobs().await;
    assert_eq!(
        w.request(&extension.id).await.state,
        RequestState::Delivered
    );
    let new_end = T0 + Duration::hours(1) + LIFETIME;
    assert_eq!(
        w.assignment(&assignment.id).await.end_date_time,
        Some(new_end)
    );
    let past_old_end = T0 + LIFETIME + Duration::seconds(1);
    assert!(w.member_at(&w.agent, past_old_end).await);
    assert_eq!(
        w.token_roles_at(&w.agent, past_old_end).await,
        [TICKETS_READ]
    );
    w.clock.set(T0 + LIFETIME);
    w.run_jobs().await;
    assert_eq!(
        w.assignment(&assignment.id).await.state,
        AssignmentState::Delivered,
        "the old end's expiry finds the assignment extended"
    );
    assert!(!w.member_at(&w.agent, new_end).await);
    assert!(w.token_roles_at(&w.agent, new_end).await.is_empty());
    w.clock.set(new_end);
    w.run_jobs().await;
    let ended = w.assignment(&assignment.id).await;
    assert_eq!(ended.state, AssignmentState::Expired);
    assert_eq!(ended.expired_date_time, Some(new_end));
    assert_eq!(
        w.events_of(&assignment.id).await,
        [
            "assignment.delivered",
            "assignment.extended",
            "assignment.expired"
        ]
    );
    let records = w.audits_of(&extension.id).await;
    let record = only_record(&records, "Extend access package assignment");
    assert_eq!(record.on_behalf_of.as_deref(), Some(w.agent.as_str()));
    assert_eq!(
        detail(record, "previousEndDateTime"),
        Some("2031-03-04T11:00:00Z")
    );
}

/// An extension approved just before the end and the expiry at the end run in one pass: one
/// of them wins, and the records, the grants and the access agree with it.
async fn expiry_and_an_approved_extension_settle_on_one_outcome(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.extensible_policy(true).await;
    let assignment = w.delivered(&w.package, &policy, &w.agent).await;
    w.clock.set(T0 + Duration::hours(1));
    let extension = w.extend(&w.agent, "userUpdate", &assignment.id).await;
    w.run_jobs().await;
    assert_eq!(
        w.request(&extension.id).await.state,
        RequestState::PendingApproval
    );
    assert_eq!(
        w.assignment(&assignment.id).await.end_date_time,
        Some(T0 + LIFETIME),
        "the old end stands until the extension is approved"
    );
    w.clock.set(T0 + LIFETIME - Duration::seconds(1));
    w.decide(&w.sponsor, &extension.id, "Approve")
        .await
        .unwrap();
    // The extension's delivery and the expiry are both due now.
    w.clock.set(T0 + LIFETIME);
    w.run_jobs_once().await;
    w.settle().await;

    let now = w.clock.now();
    let request = w.request(&extension.id).await;
    let ended = w.assignment(&assignment.id).await;
    let events = w.events_of(&assignment.id).await;
    match ended.state {
        AssignmentState::Delivered => {
            assert_eq!(request.state, RequestState::Delivered, "{request:?}");
            assert!(ended.end_date_time.is_some_and(|end| end > now));
            assert!(w.member_at(&w.agent, now).await);
            assert!(w.requests_of(&w.agent, "systemRemove").await.is_empty());
            assert_eq!(events, ["assignment.delivered", "assignment.extended"]);
        }
        AssignmentState::Expired => {
            assert_eq!(request.state, RequestState::Denied, "{request:?}");
            assert_eq!(request.status, "AssignmentExpired");
            assert!(!w.member_at(&w.agent, now).await);
            assert_eq!(w.requests_of(&w.agent, "systemRemove").await.len(), 1);
            assert_eq!(events, ["assignment.delivered", "assignment.expired"]);
        }
        other => panic!("the assignment ended up {other:?}"),
    }
}

/// A removal at the end instant and the expiry job: exactly one of them ends the assignment.
async fn removal_and_expiry_end_an_assignment_once(backend: Backend) {
    let w = World::new(backend).await;
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    w.clock.set(T0 + LIFETIME);
    let (removal, _) = tokio::join!(
        w.remove(&w.admin, "adminRemove", &assignment.id),
        w.run_jobs_once()
    );
    w.settle().await;
    let removals = w.requests_of(&w.agent, "adminRemove").await.len();
    let expiries = w.requests_of(&w.agent, "systemRemove").await.len();
    assert_eq!(removals + expiries, 1, "{removal:?}");
    match removal {
        Ok(_) => assert_eq!(w.assignment(&assignment.id).await.status, "Removed"),
        Err(error) => {
            assert!(matches!(error, DomainError::Conflict(_)), "{error:?}");
            assert_eq!(w.assignment(&assignment.id).await.status, "Expired");
        }
    }
    let events = w.events_of(&assignment.id).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(!w.member_at(&w.agent, w.clock.now()).await);
    assert!(w.app_roles(&w.agent).await.is_empty());
}

/// A request whose job the queue gave up on (parked after its attempts) is retried by
/// `reprocess`; one still in the works with a live job is a conflict.
async fn reprocess_retries_a_request_the_queue_gave_up_on(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .admin_add(&w.admin, &w.package, &w.policy, &w.agent, None)
        .await
        .unwrap();
    let admin = w.admin().await;
    conflict(
        w.entitlement
            .reprocess_request(&admin, &ctx(), &created.id)
            .await,
    );
    // The worker claims the job and gives up on it, as after its last failed attempt.
    let mut tx = w.store.begin().await.unwrap();
    let claimed = tx
        .claim_jobs("worker-a", T0, T0 + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        tx.park_job(
            &claimed[0].id,
            "worker-a",
            T0,
            "the directory was unreachable"
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(w.run_jobs().await.completed, 0, "a parked job is not run");
    assert_eq!(w.request(&created.id).await.state, RequestState::Submitted);

    w.entitlement
        .reprocess_request(&admin, &ctx(), &created.id)
        .await
        .unwrap();
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.request(&created.id).await.state, RequestState::Delivered);
    assert!(w.member_at(&w.agent, T0).await);
    let records = w.audits_of(&created.id).await;
    only_record(&records, "Reprocess access package assignment request");
}

/// Many assignments ending at one instant are recorded in one pass of the worker (one batch,
/// one transaction): each expired once with its `systemRemove`, its record and its event; one
/// extended since and one removed since are left as they are.
async fn a_storm_of_expiries_is_recorded_in_one_pass(backend: Backend) {
    let w = World::new(backend).await;
    let mut agents = vec![w.agent.clone()];
    for i in 0..5 {
        agents.push(
            w.create_agent(&format!("storm-agent-{i}"), &[&w.sponsor])
                .await,
        );
    }
    let mut assignments = Vec::new();
    for agent in &agents {
        assignments.push(w.delivered(&w.package, &w.policy, agent).await);
    }
    // One more, whose extension will still be waiting for its approval at the end.
    let waiting_agent = w.create_agent("storm-agent-waiting", &[&w.sponsor]).await;
    let extensible = w.extensible_policy(true).await;
    let waiting = w.delivered(&w.package, &extensible, &waiting_agent).await;
    w.clock.set(T0 + Duration::hours(1));
    let extended = &assignments[0];
    w.extend(&w.admin, "adminUpdate", &extended.id).await;
    let pending = w.extend(&waiting_agent, "userUpdate", &waiting.id).await;
    w.run_jobs().await;
    assert_eq!(
        w.request(&pending.id).await.state,
        RequestState::PendingApproval
    );
    let removed = &assignments[1];
    w.remove(&w.admin, "adminRemove", &removed.id)
        .await
        .unwrap();

    w.clock.set(T0 + LIFETIME);
    let pass = w.run_jobs_once().await;
    assert_eq!(
        (pass.completed, pass.retried, pass.parked),
        (7, 0, 0),
        "every expiry job of the instant done in the pass"
    );
    let closed = w.request(&pending.id).await;
    assert_eq!(closed.state, RequestState::Denied);
    assert_eq!(closed.status, "AssignmentExpired");
    assert_eq!(closed.completed_date_time, Some(T0 + LIFETIME));
    assert_eq!(
        w.assignment(&waiting.id).await.state,
        AssignmentState::Expired
    );
    for assignment in &assignments[2..] {
        let ended = w.assignment(&assignment.id).await;
        assert_eq!(ended.state, AssignmentState::Expired);
        assert_eq!(ended.status, "Expired");
        assert_eq!(ended.expired_date_time, Some(T0 + LIFETIME));
        assert_eq!(
            w.events_of(&assignment.id).await,
            ["assignment.delivered", "assignment.expired"]
        );
        assert!(!w.member_at(&assignment.target_id, T0 + LIFETIME).await);
        assert_eq!(
            w.requests_of(&assignment.target_id, "systemRemove")
                .await
                .len(),
            1
        );
    }
    assert_eq!(
        w.assignment(&extended.id).await.state,
        AssignmentState::Delivered
    );
    assert!(w.member_at(&extended.target_id, T0 + LIFETIME).await);
    assert_eq!(w.assignment(&removed.id).await.status, "Removed");
    assert!(
        w.requests_of(&removed.target_id, "systemRemove")
            .await
            .is_empty()
    );
    assert_eq!(w.run_jobs_once().await.completed, 0, "nothing left to do");
}

/// Requests submitted together are taken in one pass of the worker: those due for delivery are
/// delivered in one transaction (one assignment, grants, record and event each), and each other
/// step runs as it would alone — a self-request goes to its approver, a scheduled one waits for
/// its start.
async fn a_pass_delivers_a_batch_of_requests_and_takes_each_other_step(backend: Backend) {
    let w = World::new(backend).await;
    let mut agents = vec![w.agent.clone()];
    for i in 0..4 {
        agents.push(
            w.create_agent(&format!("batch-agent-{i}"), &[&w.sponsor])
                .await,
        );
    }
    let mut delivered = Vec::new();
    for agent in &agents {
        delivered.push(
            w.admin_add(&w.admin, &w.package, &w.policy, agent, None)
                .await
                .unwrap(),
        );
    }
    let asking = w.create_agent("batch-agent-asking", &[&w.sponsor]).await;
    let pending = w
        .user_add(&asking, &w.package, &w.policy, None)
        .await
        .unwrap();
    let later = w.create_agent("batch-agent-later", &[&w.sponsor]).await;
    let start = T0 + Duration::hours(1);
    let scheduled = w
        .admin_add(&w.admin, &w.package, &w.policy, &later, Some(start))
        .await
        .unwrap();
    let audits = w.audit_count().await;

    let pass = w.run_jobs_once().await;
    assert_eq!(
        (pass.completed, pass.retried, pass.parked),
        (7, 0, 0),
        "every request's job done in the pass"
    );
    let mut assignment_ids = Vec::new();
    for (request, agent) in delivered.iter().zip(&agents) {
        let assignment = w.assignment_of(&request.id).await;
        assert_eq!(&assignment.target_id, agent);
        assert_eq!(assignment.state, AssignmentState::Delivered);
        assert_eq!(assignment.end_date_time, Some(T0 + LIFETIME));
        assert!(w.member_at(agent, T0).await);
        assert_eq!(w.events_of(&assignment.id).await, ["assignment.delivered"]);
        let records = w.audits_of(&request.id).await;
        only_record(&records, "Fulfill access package assignment request");
        assignment_ids.push(assignment.id);
    }
    assignment_ids.sort();
    assignment_ids.dedup();
    assert_eq!(assignment_ids.len(), agents.len(), "one assignment each");
    assert_eq!(
        w.request(&pending.id).await.state,
        RequestState::PendingApproval
    );
    assert_eq!(w.awaiting(&w.sponsor).await, vec![pending.id.clone()]);
    assert_eq!(
        w.request(&scheduled.id).await.state,
        RequestState::Scheduled
    );
    assert!(!w.member_at(&later, T0).await);
    assert_eq!(
        w.audit_count().await,
        audits + 7,
        "one record per request's step"
    );
    assert_eq!(
        w.run_jobs_once().await.completed,
        0,
        "nothing left to do now"
    );

    w.clock.set(start);
    w.run_jobs().await;
    assert_eq!(w.assignment_of(&scheduled.id).await.start_date_time, start);
    assert!(w.member_at(&later, start).await);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Postgres).await }
            )*
        }
    };
}

on_both_backends!(
    a_pass_delivers_a_batch_of_requests_and_takes_each_other_step,
    admin_add_is_delivered_and_access_ends_at_the_end_instant,
    a_future_start_is_scheduled_until_it_passes,
    a_request_canceled_before_processing_is_never_delivered,
    an_agent_self_request_is_approved_by_its_sponsor,
    a_sponsor_denial_ends_the_request_without_an_assignment,
    an_on_behalf_request_goes_to_the_fallback_approver,
    approve_and_cancel_exclude_each_other,
    two_approvers_deciding_one_stage_make_one_decision,
    a_sponsor_removed_after_the_stage_started_cannot_decide,
    a_removed_sponsor_is_no_longer_asked_to_decide,
    no_resolvable_approver_denies_with_a_reason,
    a_group_granted_twice_stays_until_the_last_holder_ends,
    removals_end_the_grant_in_their_own_transaction,
    deleting_the_agent_ends_its_assignments_and_cancels_its_requests,
    requests_against_the_rules_are_invalid_and_name_the_rule,
    only_the_target_and_its_sponsors_request_for_an_agent,
    a_catalog_role_does_not_assign_an_agent_its_holder_sponsors,
    an_extension_moves_the_end_of_the_assignment_and_its_grants,
    expiry_and_an_approved_extension_settle_on_one_outcome,
    removal_and_expiry_end_an_assignment_once,
    reprocess_retries_a_request_the_queue_gave_up_on,
    a_storm_of_expiries_is_recorded_in_one_pass,
);

#[path = "lifecycle/approval_timeouts.rs"]
mod approval_timeouts;

#[path = "lifecycle/expiry_notices.rs"]
mod expiry_notices;
