//! Issue 14's authorization holes, tried as an attacker would, by each kind of caller: a
//! role-assignable group that carries a directory role reaches nobody through a catalog unless a
//! Global Administrator put it there (and never reaches an agent); catalog-scoped administrators
//! do not assign or extend access for themselves or for agents they sponsor; an extension needs
//! the target in the policy's scope and the policy's leave; and `userAdd`, `userUpdate` and
//! `userRemove` answer an object the caller may not see exactly as one that does not exist.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::assignments::{login, member_ids as members, post_request as request, run_jobs};
use crate::harness::{
    PASSWORD, PUBLIC_URL, Reply, TestApp, app, claims_of, group_resource as onboard, nickname,
};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement/roleAssignments";
const DIRECTORY_ROLES: &str = "/v1.0/roleManagement/directory/roleAssignments";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const GOVERNANCE_ADMIN: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const CATALOG_READER: &str = "44272f93-9762-48e8-af59-1b5351b1d6b3";
const PACKAGE_MANAGER: &str = "7f480852-ebdc-47d4-87de-0d8498384a83";
const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";

/// The kinds of caller the acceptance of issue 14 names, in the order of the tables' columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GlobalAdmin,
    GovernanceAdmin,
    CatalogOwner,
    PackageManager,
    AssignmentManager,
    CatalogReader,
    Sponsor,
    Agent,
    Unrelated,
}

const KINDS: [Kind; 9] = [
    Kind::GlobalAdmin,
    Kind::GovernanceAdmin,
    Kind::CatalogOwner,
    Kind::PackageManager,
    Kind::AssignmentManager,
    Kind::CatalogReader,
    Kind::Sponsor,
    Kind::Agent,
    Kind::Unrelated,
];

/// One caller: its object id, its sign-in name (humans) and a token for Writ's API.
struct Party {
    kind: Kind,
    id: String,
    nickname: Option<String>,
    token: String,
}

/// A catalog, an agent sponsored by a user without any catalog role, and one caller of each kind
/// (catalog roles in this catalog).
struct World {
    fleet: crate::agents::Fleet,
    catalog: String,
    agent: String,
    parties: Vec<Party>,
}

impl World {
    fn party(&self, kind: Kind) -> &Party {
        self.parties.iter().find(|p| p.kind == kind).unwrap()
    }
}

async fn human(app: &TestApp, kind: Kind, name: &str) -> Party {
    let (id, token) = app.user_token(name).await;
    Party {
        kind,
        id,
        nickname: Some(nickname(name)),
        token,
    }
}

async fn directory_role(app: &TestApp, principal: &str, role: &str) {
    app.created(
        &app.admin,
        DIRECTORY_ROLES,
        json!({"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"}),
    )
    .await;
}

async fn catalog_role(app: &TestApp, principal: &str, role: &str, catalog: &str) {
    app.created(
        &app.admin,
        EM_ROLES,
        json!({"principalId": principal, "roleDefinitionId": role, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
    )
    .await;
}

async fn new_catalog(app: &TestApp, name: &str) -> String {
    app.created(
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": name}),
    )
    .await
}

async fn world(app: &TestApp) -> World {
    let fleet = fleet(app).await;
    let agent = create_agent(app, &fleet, "escalation-agent", &[&fleet.sponsor])
        .await
        .id();
    let catalog = new_catalog(app, "Escalation").await;
    let mut parties = Vec::new();
    let global = human(app, Kind::GlobalAdmin, "Gina Global").await;
    directory_role(app, &global.id, GLOBAL_ADMIN).await;
    parties.push(global);
    let governance = human(app, Kind::GovernanceAdmin, "Ivan Governance").await;
    directory_role(app, &governance.id, GOVERNANCE_ADMIN).await;
    parties.push(governance);
    for (kind, name, role) in [
        (Kind::CatalogOwner, "Olga Owner", CATALOG_OWNER),
        (Kind::PackageManager, "Paul Packages", PACKAGE_MANAGER),
        (Kind::AssignmentManager, "Anna Assigner", ASSIGNMENT_MANAGER),
        (Kind::CatalogReader, "Rita Reader", CATALOG_READER),
    ] {
        let party = human(app, kind, name).await;
        catalog_role(app, &party.id, role, &catalog).await;
        parties.push(party);
    }
    parties.push(Party {
        kind: Kind::Sponsor,
        id: fleet.sponsor.clone(),
        nickname: Some("samsponsor".into()),
        token: login(app, "samsponsor").await,
    });
    let (token, _) = agent_token(app, &agent, "https://graph.microsoft.com/.default").await;
    parties.push(Party {
        kind: Kind::Agent,
        id: agent.clone(),
        nickname: None,
        token,
    });
    parties.push(human(app, Kind::Unrelated, "Uma Unrelated").await);
    assert_eq!(parties.iter().map(|p| p.kind).collect::<Vec<_>>(), KINDS);
    World {
        fleet,
        catalog,
        agent,
        parties,
    }
}

/// The directory roles a fresh token of this party claims (`wids`).
async fn wids(app: &TestApp, party: &Party) -> Vec<String> {
    let claims = match &party.nickname {
        Some(nickname) => {
            let reply = app
                .password_token(&format!("{nickname}@example.org"), PASSWORD)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            claims_of(reply.body["access_token"].as_str().unwrap())
        }
        None => {
            agent_token(app, &party.id, "https://graph.microsoft.com/.default")
                .await
                .1
        }
    };
    claims["wids"]
        .as_array()
        .map(|ids| ids.iter().map(|r| r.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

async fn resource_request(app: &TestApp, token: &str, body: Value) -> Reply {
    app.send(Method::POST, &format!("{EM}/resourceRequests"), token, body)
        .await
}

/// Posts an assignment request as `token`, which must be accepted; its id.
async fn requested(app: &TestApp, token: &str, body: Value) -> String {
    app.created(token, &format!("{EM}/assignmentRequests"), body)
        .await
}

async fn request_of(app: &TestApp, request: &str) -> Value {
    app.get(
        &format!("{EM}/assignmentRequests/{request}?$expand=assignment"),
        &app.admin,
    )
    .await
    .body
}

/// The assignment a delivered request made.
async fn assignment_made_by(app: &TestApp, request: &str) -> String {
    request_of(app, request).await["assignment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no assignment made by {request}"))
        .to_owned()
}

fn admin_add(target: &str, package: &str, policy: &str) -> Value {
    json!({"requestType": "adminAdd", "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package}})
}

fn update(request_type: &str, assignment: &str) -> Value {
    json!({"requestType": request_type, "assignment": {"id": assignment}})
}

/// A new group named `name`, onboarded into `catalog` by `token`, and a package of `catalog`
/// granting its membership: (group, package).
async fn group_package(app: &TestApp, token: &str, catalog: &str, name: &str) -> (String, String) {
    let group = app.create_group(name).await;
    app.onboard_group(token, catalog, &group).await;
    let package = app.member_package(token, catalog, &group, name).await;
    (group, package)
}

/// The administrator adds `object` to the `members` or `owners` of `group`.
async fn add_to(app: &TestApp, group: &str, relation: &str, object: &str) {
    let added = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/{relation}/$ref"),
            &app.admin,
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{object}")}),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
}

/// The administrator removes `member` from `group`.
async fn leave(app: &TestApp, group: &str, member: &str) {
    let left = app
        .delete(
            &format!("/v1.0/groups/{group}/members/{member}/$ref"),
            &app.admin,
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
}

/// Records, behind the API's back, what an Identity Governance Administrator or a catalog owner
/// could do before issue 14: the group as a resource of `catalog` (with its roles and root
/// scope), onboarded by someone who is not a Global Administrator. The columns are those of
/// every Writ version, so the row is what an existing database holds.
async fn onboarded_before_the_fix(app: &TestApp, catalog: &str, group: &str) {
    let pool = app.store.pool();
    let resource = uuid::Uuid::new_v4().to_string();
    let now = app.clock.now().unix_timestamp() * 1_000_000;
    sqlx::query(
        "INSERT INTO catalog_resources (id, catalog_id, origin_system, origin_id, display_name, \
         description, created_at, modified_at) VALUES ($1, $2, 'AadGroup', $3, 'Break glass', NULL, $4, $4)",
    )
    .bind(resource.clone())
    .bind(catalog.to_owned())
    .bind(group.to_owned())
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO resource_scopes (id, resource_id, catalog_id, origin_system, origin_id, \
         display_name, description, is_root_scope) VALUES ($1, $2, $3, 'AadGroup', $4, 'Root', NULL, $5)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(resource.clone())
    .bind(catalog.to_owned())
    .bind(group.to_owned())
    .bind(true)
    .execute(pool)
    .await
    .unwrap();
    for role in ["Member", "Owner"] {
        sqlx::query(
            "INSERT INTO resource_roles (id, resource_id, catalog_id, origin_system, origin_id, \
             display_name, description, role_type, allowed_member_types) \
             VALUES ($1, $2, $3, 'AadGroup', $4, $5, NULL, NULL, '[\"User\",\"Application\"]')",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(resource.clone())
        .bind(catalog.to_owned())
        .bind(format!("{role}_{group}"))
        .bind(role.to_owned())
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Item 1: onboarding a role-assignable group is for Global Administrators only, and delivery
/// re-checks it: a package holding such a group's roles from before delivers nothing, and a
/// privileged directory role never reaches an agent through a group.
async fn a_role_assignable_group_is_for_global_administrators_only(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let owner = w.party(Kind::CatalogOwner);
    let governance = w.party(Kind::GovernanceAdmin);
    let global = w.party(Kind::GlobalAdmin);
    // The group of the attack: role-assignable, holding Global Administrator and Global Reader,
    // owned by the catalog owner.
    let group = app
        .created(
            &app.admin,
            "/v1.0/groups",
            json!({
                "displayName": "Break glass", "mailNickname": "break-glass", "mailEnabled": false,
                "securityEnabled": true, "isAssignableToRole": true,
            }),
        )
        .await;
    directory_role(&app, &group, GLOBAL_ADMIN).await;
    directory_role(&app, &group, GLOBAL_READER).await;
    add_to(&app, &group, "owners", &owner.id).await;

    // Onboarding, by each kind of caller; the Global Administrator last (its success would make
    // the others' attempts conflicts).
    let expected = |kind: Kind| match kind {
        Kind::GlobalAdmin => 201,
        Kind::GovernanceAdmin
        | Kind::CatalogOwner
        | Kind::PackageManager
        | Kind::AssignmentManager
        | Kind::CatalogReader => 403,
        Kind::Sponsor | Kind::Agent | Kind::Unrelated => 404,
    };
    let mut failures = Vec::new();
    let mut order: Vec<&Party> = w.parties.iter().collect();
    order.sort_by_key(|p| p.kind == Kind::GlobalAdmin);
    for party in order {
        let body = onboard("adminAdd", &w.catalog, &group);
        let reply = resource_request(&app, &party.token, body).await;
        if reply.status.as_u16() != expected(party.kind) {
            failures.push(format!(
                "onboarding as {:?}: expected {}, got {} {}",
                party.kind,
                expected(party.kind),
                reply.status,
                reply.body
            ));
        }
    }
    // Refreshing it (which rediscovers its roles) is the same right.
    for party in [governance, owner] {
        let body = onboard("adminUpdate", &w.catalog, &group);
        let reply = resource_request(&app, &party.token, body).await;
        if reply.status != StatusCode::FORBIDDEN {
            failures.push(format!(
                "refreshing as {:?}: expected 403, got {} {}",
                party.kind, reply.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Where DESIGN allows it: the Global Administrator packages the group it onboarded and
    // assigns itself; its next token carries the group's roles. An agent never gets them.
    let package = app
        .member_package(&global.token, &w.catalog, &group, "Break glass")
        .await;
    let policy = app.admin_policy(&global.token, &package).await;
    let own = requested(
        &app,
        &global.token,
        admin_add(&global.id, &package, &policy),
    )
    .await;
    let to_agent = requested(&app, &global.token, admin_add(&w.agent, &package, &policy)).await;
    run_jobs(&app).await;
    assert_eq!(request_of(&app, &own).await["state"], "delivered");
    assert!(wids(&app, global).await.contains(&GLOBAL_READER.to_owned()));
    let refused = request_of(&app, &to_agent).await;
    assert_eq!(refused["state"], "deliveryFailed", "{refused}");
    assert!(!members(&app, &group).await.contains(&w.agent));
    assert!(wids(&app, w.party(Kind::Agent)).await.is_empty());

    // A database from before the fix: the group was onboarded into another catalog by someone
    // who could do it then. The Identity Governance Administrator packages it and assigns
    // itself; the catalog's owner (who owns the group) assigns an accomplice. Delivery refuses
    // both: no Global Administrator put the group there.
    let old = new_catalog(&app, "Onboarded before the fix").await;
    catalog_role(&app, &owner.id, CATALOG_OWNER, &old).await;
    onboarded_before_the_fix(&app, &old, &group).await;
    let old_package = app
        .member_package(&governance.token, &old, &group, "Old")
        .await;
    let old_policy = app.admin_policy(&governance.token, &old_package).await;
    let by_governance = requested(
        &app,
        &governance.token,
        admin_add(&governance.id, &old_package, &old_policy),
    )
    .await;
    let accomplice = w.party(Kind::Unrelated);
    let by_owner = requested(
        &app,
        &owner.token,
        admin_add(&accomplice.id, &old_package, &old_policy),
    )
    .await;
    run_jobs(&app).await;
    for (who, request) in [("governance admin", &by_governance), ("owner", &by_owner)] {
        let read = request_of(&app, request).await;
        assert_eq!(read["state"], "deliveryFailed", "{who}: {read}");
    }
    let now_members = members(&app, &group).await;
    assert!(!now_members.contains(&governance.id));
    assert!(!now_members.contains(&accomplice.id));
    // Neither claims nor exercises Global Administrator (directory writes are its alone).
    // (Password sign-ins are rate-limited, so one fresh token is enough.)
    let held = wids(&app, governance).await;
    assert!(!held.contains(&GLOBAL_ADMIN.to_owned()), "{held:?}");
    for party in [governance, accomplice] {
        assert_eq!(
            app.create_group_as(&party.token, &format!("made by {:?}", party.kind))
                .await,
            StatusCode::FORBIDDEN
        );
    }
    // A Global Administrator's refresh vouches for the old resource; reprocessing delivers.
    let refresh = resource_request(&app, &global.token, onboard("adminUpdate", &old, &group)).await;
    assert_eq!(refresh.status, StatusCode::CREATED, "{}", refresh.body);
    let reprocess = app
        .request(
            Method::POST,
            &format!("{EM}/assignmentRequests/{by_owner}/reprocess"),
            Some(&global.token),
            None,
            &[],
        )
        .await;
    assert_eq!(reprocess.status, StatusCode::ACCEPTED, "{}", reprocess.body);
    run_jobs(&app).await;
    assert_eq!(request_of(&app, &by_owner).await["state"], "delivered");
    assert!(members(&app, &group).await.contains(&accomplice.id));
    assert_eq!(
        app.create_group_as(&accomplice.token, "made through the vouched-for group")
            .await,
        StatusCode::CREATED
    );

    // A grant delivered before the fix is not prolonged: back to a resource nobody vouched for
    // (as an existing database holds it), the owner's extension of the accomplice's assignment
    // plans the roles again and takes the membership away.
    sqlx::query(
        "UPDATE catalog_resources SET onboarded_by_global_admin = $1 WHERE catalog_id = $2",
    )
    .bind(false)
    .bind(old.clone())
    .execute(app.store.pool())
    .await
    .unwrap();
    let assignment = assignment_made_by(&app, &by_owner).await;
    let extension = requested(&app, &owner.token, update("adminUpdate", &assignment)).await;
    run_jobs(&app).await;
    assert_eq!(request_of(&app, &extension).await["state"], "delivered");
    let read = app
        .get(&format!("{EM}/assignments/{assignment}"), &app.admin)
        .await;
    assert_eq!(read.body["state"], "deliveryFailed", "{}", read.body);
    assert!(!members(&app, &group).await.contains(&accomplice.id));
    assert_eq!(
        app.create_group_as(&accomplice.token, "made after the extension")
            .await,
        StatusCode::FORBIDDEN
    );
}

/// Item 4: `adminAdd` and `adminUpdate` for oneself, or for an agent one sponsors, are refused
/// to catalog-scoped roles; tenant-wide administrators may, and the audit record says so.
async fn catalog_roles_never_assign_or_extend_themselves(backend: Backend) {
    let mut app = app(backend).await;
    let w = world(&app).await;
    let global = w.party(Kind::GlobalAdmin);
    let (_, package) = group_package(&app, &global.token, &w.catalog, "Rota").await;
    let policy = app.admin_policy(&global.token, &package).await;
    // Each human caller sponsors an agent of its own; the agent's own is itself.
    let mut own_agent = Vec::new();
    for party in &w.parties {
        let agent = match party.kind {
            Kind::Agent => party.id.clone(),
            Kind::Sponsor => w.agent.clone(),
            _ => create_agent(
                &app,
                &w.fleet,
                &format!("agent of {:?}", party.kind),
                &[&party.id],
            )
            .await
            .id(),
        };
        own_agent.push(agent);
    }
    let expected = |kind: Kind| match kind {
        Kind::GlobalAdmin | Kind::GovernanceAdmin => 201,
        _ => 403,
    };
    let audit_before = app.audit_count().await;
    let mut failures = Vec::new();
    let mut check = |what: &str, kind: Kind, reply: &Reply| {
        if reply.status.as_u16() != expected(kind) {
            failures.push(format!(
                "{what} as {kind:?}: expected {}, got {} {}",
                expected(kind),
                reply.status,
                reply.body
            ));
        }
    };
    for (party, agent) in w.parties.iter().zip(&own_agent) {
        let reply = request(&app, &party.token, admin_add(&party.id, &package, &policy)).await;
        check("adminAdd for itself", party.kind, &reply);
        if party.kind != Kind::Agent {
            let reply = request(&app, &party.token, admin_add(agent, &package, &policy)).await;
            check("adminAdd for an agent it sponsors", party.kind, &reply);
        }
    }
    run_jobs(&app).await;
    // Assignments the callers did not make themselves, to extend: the bootstrap administrator
    // assigns every caller and every agent that does not hold the package yet.
    for principal in w.parties.iter().map(|p| &p.id).chain(&own_agent) {
        let reply = request(&app, &app.admin, admin_add(principal, &package, &policy)).await;
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::BAD_REQUEST,
            "{}",
            reply.body
        );
    }
    run_jobs(&app).await;
    let assignment_of = async |app: &TestApp, target: &str| -> String {
        let listed = app
            .get(
                &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{target}'%20and%20state%20eq%20'delivered'"),
                &app.admin,
            )
            .await;
        listed.body["value"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no assignment of {target}: {}", listed.body))
            .to_owned()
    };
    app.clock.advance(Duration::hours(1));
    app.refresh_admin().await;
    for (party, agent) in w.parties.iter().zip(&own_agent) {
        let own = assignment_of(&app, &party.id).await;
        let reply = request(&app, &party.token, update("adminUpdate", &own)).await;
        check("adminUpdate of its own assignment", party.kind, &reply);
        if party.kind != Kind::Agent {
            let agents = assignment_of(&app, agent).await;
            let reply = request(&app, &party.token, update("adminUpdate", &agents)).await;
            check("adminUpdate for an agent it sponsors", party.kind, &reply);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the tenant-wide administrators did for themselves is on the record as such.
    let records = app.store.audit_records(100_000).await.unwrap();
    for party in [global, w.party(Kind::GovernanceAdmin)] {
        let own: Vec<_> = records[audit_before..]
            .iter()
            .filter(|r| {
                r.activity_display_name == "Create access package assignment request"
                    && r.initiated_by.id.as_deref() == Some(party.id.as_str())
            })
            .collect();
        assert_eq!(own.len(), 4, "{:?}: {own:?}", party.kind);
        for record in own {
            let detail = record
                .additional_details
                .iter()
                .find(|(k, _)| k == "selfAssignment")
                .map(|(_, v)| v.as_str());
            let expected = if record.on_behalf_of.as_deref() == Some(party.id.as_str()) {
                Some("self")
            } else {
                Some("sponsoredAgent")
            };
            assert_eq!(detail, expected, "{record:?}");
        }
    }
}

/// Item 5: an extension needs the target in the policy's scope now and the policy's leave for
/// the pathway; an extension granted after the target left the scope is not applied.
async fn extensions_need_the_scope_and_the_policy(backend: Backend) {
    let mut app = app(backend).await;
    let w = world(&app).await;
    let global = w.party(Kind::GlobalAdmin);
    let (_, package) = group_package(&app, &global.token, &w.catalog, "Tools").await;
    // The policy's scope: the members of the rota group, the agent among them.
    let rota = app.create_group("Agent rota").await;
    add_to(&app, &rota, "members", &w.agent).await;
    let settings = |self_update: bool, on_behalf_update: bool, approval: bool| {
        json!({
            "allowedTargetScope": "specificDirectoryUsers",
            "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.groupMembers", "groupId": rota}],
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {
                "enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": self_update,
                "enableOnBehalfRequestorsToUpdateAccess": on_behalf_update,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
            },
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": approval,
                "stages": [{"durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": false,
                    "isEscalationEnabled": false,
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": global.id}]}],
            },
        })
    };
    let mut body = settings(true, true, false);
    body["displayName"] = json!("The rota extends");
    body["accessPackage"] = json!({"id": package});
    let policy = app
        .created(&global.token, &format!("{EM}/assignmentPolicies"), body)
        .await;
    let set_policy = async |app: &TestApp, body: Value| {
        let path = format!("{EM}/assignmentPolicies/{policy}");
        let patched = app.send(Method::PATCH, &path, &global.token, body).await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    };
    let assigned = requested(&app, &global.token, admin_add(&w.agent, &package, &policy)).await;
    run_jobs(&app).await;
    let assignment = assignment_made_by(&app, &assigned).await;
    let end = async |app: &TestApp| {
        app.get(&format!("{EM}/assignments/{assignment}"), &app.admin)
            .await
            .body["schedule"]["expiration"]["endDateTime"]
            .clone()
    };
    // The pathway each caller extends by.
    let pathway = |kind: Kind| match kind {
        Kind::Agent | Kind::Sponsor | Kind::Unrelated => "userUpdate",
        _ => "adminUpdate",
    };

    // In scope: the agent, its sponsor and an administrator extend.
    for kind in [Kind::Agent, Kind::Sponsor, Kind::GlobalAdmin] {
        app.clock.advance(Duration::minutes(10));
        let reply = request(
            &app,
            &w.party(kind).token,
            update(pathway(kind), &assignment),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{kind:?}: {}",
            reply.body
        );
        run_jobs(&app).await;
        assert_eq!(request_of(&app, &reply.id()).await["state"], "delivered");
    }

    // Out of the group, out of the scope: nobody extends any more.
    leave(&app, &rota, &w.agent).await;
    app.clock.advance(Duration::minutes(10));
    app.refresh_admin().await;
    let before = end(&app).await;
    let mut failures = Vec::new();
    for party in &w.parties {
        let reply = request(&app, &party.token, update(pathway(party.kind), &assignment)).await;
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        let (status, says) = match party.kind {
            // It may see the assignment but not change it.
            Kind::CatalogReader => (403, ""),
            // It may not see the assignment at all (item 8).
            Kind::Unrelated => (400, "does not exist"),
            _ => (400, "scope"),
        };
        if reply.status.as_u16() != status || !message.contains(says) {
            failures.push(format!(
                "{:?} extending out of scope: expected {status} '{says}', got {} {}",
                party.kind, reply.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    run_jobs(&app).await;
    assert_eq!(end(&app).await, before, "the end did not move");

    // Back in scope, under a policy that no longer lets the agent or its sponsor extend.
    add_to(&app, &rota, "members", &w.agent).await;
    set_policy(&app, settings(false, false, false)).await;
    for kind in [Kind::Agent, Kind::Sponsor] {
        let reply = request(
            &app,
            &w.party(kind).token,
            update("userUpdate", &assignment),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{kind:?}: {}",
            reply.body
        );
    }

    // An extension approved after its target left the scope is not applied.
    set_policy(&app, settings(true, true, true)).await;
    let pending = request(
        &app,
        &w.party(Kind::Agent).token,
        update("userUpdate", &assignment),
    )
    .await;
    assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.body);
    let pending = pending.id();
    run_jobs(&app).await;
    assert_eq!(request_of(&app, &pending).await["state"], "pendingApproval");
    leave(&app, &rota, &w.agent).await;
    let before = end(&app).await;
    let stages = app
        .get(&format!("{APPROVALS}/{pending}/stages"), &global.token)
        .await;
    let stage = stages.body["value"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", stages.body))
        .to_owned();
    let decided = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{pending}/stages/{stage}"),
            &global.token,
            json!({"reviewResult": "Approve", "justification": "fine"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::NO_CONTENT, "{}", decided.body);
    app.clock.advance(Duration::minutes(1));
    run_jobs(&app).await;
    let read = request_of(&app, &pending).await;
    assert_ne!(read["state"], "delivered", "{read}");
    assert_eq!(end(&app).await, before, "the end did not move");
}

/// The answer with the named id replaced, so that two answers about different ids compare.
fn shape(reply: &Reply, named: &str) -> (u16, String, String) {
    let code = reply.error_code().to_owned();
    let message = reply.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .replace(named, "{id}");
    (reply.status.as_u16(), code, message)
}

/// Item 8: `userAdd`, `userUpdate` and `userRemove` naming an object the caller may not see
/// answer exactly as for one that does not exist.
async fn user_requests_tell_nothing_of_what_the_caller_may_not_see(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let global = w.party(Kind::GlobalAdmin);
    // Package H: administrators only. Package R: agents request it for themselves, and has an
    // administrators-only policy besides.
    let (group, hidden) = group_package(&app, &global.token, &w.catalog, "Hidden").await;
    let hidden_policy = app.admin_policy(&global.token, &hidden).await;
    let requestable = app
        .member_package(&global.token, &w.catalog, &group, "Open")
        .await;
    let open_policy = app
        .created(
            &global.token,
            &format!("{EM}/assignmentPolicies"),
            json!({
                "displayName": "Agents ask", "allowedTargetScope": "allDirectoryAgentIdentities",
                "expiration": {"type": "afterDuration", "duration": "PT2H"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": true},
                "accessPackage": {"id": requestable},
            }),
        )
        .await;
    let closed_policy = app.admin_policy(&global.token, &requestable).await;
    // Somebody else's assignment.
    let someone = app.create_user("Sid Someone").await;
    let assigned = requested(
        &app,
        &global.token,
        admin_add(&someone, &hidden, &hidden_policy),
    )
    .await;
    run_jobs(&app).await;
    let assignment = assignment_made_by(&app, &assigned).await;
    // A catalog the prober has a role in, to show that a role elsewhere changes nothing.
    let other = new_catalog(&app, "Elsewhere").await;
    let elsewhere = human(&app, Kind::CatalogOwner, "Otto Elsewhere").await;
    catalog_role(&app, &elsewhere.id, CATALOG_OWNER, &other).await;
    let missing = uuid::Uuid::new_v4().to_string();

    let agent = w.party(Kind::Agent);
    let probers = [agent, w.party(Kind::Unrelated), &elsewhere];
    let mut failures = Vec::new();
    for prober in probers {
        // (what, body naming the real object, body naming nothing, the real id)
        let mut cases = vec![
            (
                "userRemove of another's assignment",
                json!({"requestType": "userRemove", "assignment": {"id": assignment}}),
                json!({"requestType": "userRemove", "assignment": {"id": missing}}),
                assignment.clone(),
            ),
            (
                "userUpdate of another's assignment",
                update("userUpdate", &assignment),
                update("userUpdate", &missing),
                assignment.clone(),
            ),
            (
                "userAdd of a package it may not request",
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": hidden, "assignmentPolicyId": hidden_policy, "targetId": prober.id}}),
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": missing, "assignmentPolicyId": hidden_policy, "targetId": prober.id}}),
                hidden.clone(),
            ),
            (
                "userAdd under a policy of another package",
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": hidden_policy, "targetId": prober.id}}),
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": missing, "targetId": prober.id}}),
                hidden_policy.clone(),
            ),
        ];
        if prober.kind == Kind::Agent {
            cases.push((
                "userAdd under a policy it may not use",
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": closed_policy}}),
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": missing}}),
                closed_policy.clone(),
            ));
            // An agent reads no directory object but itself.
            cases.push((
                "userAdd for a principal it may not see",
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": open_policy, "targetId": someone}}),
                json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": open_policy, "targetId": missing}}),
                someone.clone(),
            ));
        }
        for (what, real, nothing, real_id) in cases {
            let seen = request(&app, &prober.token, real).await;
            let absent = request(&app, &prober.token, nothing).await;
            let (seen, absent) = (shape(&seen, &real_id), shape(&absent, &missing));
            if seen != absent {
                failures.push(format!(
                    "{what}, as {:?} ({}): {seen:?} for the real one, {absent:?} for none",
                    prober.kind,
                    if prober.id == elsewhere.id {
                        "owner elsewhere"
                    } else {
                        "no role"
                    }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // What the caller may see keeps its precise answer: the agent's own package under the
    // administrators' policy is 403, and the sponsor may not remove an assignment it sees.
    let own = request(
        &app,
        &agent.token,
        json!({"requestType": "userAdd", "assignment": {"accessPackageId": requestable, "assignmentPolicyId": open_policy}}),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    run_jobs(&app).await;
    let own_assignment = assignment_made_by(&app, &own.id()).await;
    let sponsor = w.party(Kind::Sponsor);
    let refused = request(
        &app,
        &sponsor.token,
        json!({"requestType": "userRemove", "assignment": {"id": own_assignment}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // An on-behalf requestor a policy names (neither sponsor nor reader) sees the package and
    // the assignment through that policy, and acts.
    let helper = human(&app, Kind::Unrelated, "Hal Helper").await;
    let helped = app.created(
        &global.token,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Hal asks for agents", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {
                "enableOnBehalfRequestorsToAddAccess": true, "enableOnBehalfRequestorsToRemoveAccess": true,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.singleUser", "userId": helper.id}],
            },
            "accessPackage": {"id": hidden},
        }),
    )
    .await;
    let asked = requested(&app, &helper.token, json!({"requestType": "userAdd", "assignment": {"accessPackageId": hidden, "assignmentPolicyId": helped, "targetId": agent.id}})).await;
    run_jobs(&app).await;
    let helped_assignment = assignment_made_by(&app, &asked).await;
    requested(
        &app,
        &helper.token,
        json!({"requestType": "userRemove", "assignment": {"id": helped_assignment}}),
    )
    .await;
}

crate::on_both_backends!(
    a_role_assignable_group_is_for_global_administrators_only,
    catalog_roles_never_assign_or_extend_themselves,
    extensions_need_the_scope_and_the_policy,
    user_requests_tell_nothing_of_what_the_caller_may_not_see,
);
