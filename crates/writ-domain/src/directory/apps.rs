//! Applications, service principals and the Agent ID types (blueprints, blueprint principals,
//! agent identities), with their credentials, owners and sponsors.

use std::collections::HashSet;

use time::{Duration, OffsetDateTime};

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_app_id, new_object_id, parse_guid};
use crate::model::{Actor, AuditRecord};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};
use crate::secrets;
use crate::store::StoreTx;

use super::{
    AppRole, Application, ApplicationKind, ClientSecret, Directory, DirectoryObject, ObjectKind,
    PermissionScope, RequestContext, ServicePrincipal, ServicePrincipalKind, UserKind,
};

const CATEGORY: &str = "ApplicationManagement";
/// Entra's limits on an agent's sponsors.
pub const MAX_SPONSORS: usize = 100;
pub const MAX_SPONSOR_GROUPS: usize = 5;
/// Lifetime of a secret when `addPassword` names no end (Entra's default).
const DEFAULT_SECRET_LIFETIME: Duration = Duration::days(730);
const ALLOWED_MEMBER_TYPES: &[&str] = &["User", "Application"];

/// The writable properties of an application or blueprint.
#[derive(Debug, Clone, Default)]
pub struct ApplicationInput {
    pub kind: Option<ApplicationKind>,
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub app_roles: Patch<Vec<AppRole>>,
    pub oauth2_permission_scopes: Patch<Vec<PermissionScope>>,
    pub identifier_uris: Patch<Vec<String>>,
    pub sign_in_audience: Patch<String>,
    pub tags: Patch<Vec<String>>,
    /// `publicClient`, `spa` and `web`.
    pub clients: ClientRegistrationInput,
    pub is_fallback_public_client: Patch<bool>,
    pub sponsor_ids: Vec<String>,
    pub owner_ids: Vec<String>,
}

/// The writable parts of an application's client registrations. Each is set, cleared (`null`)
/// or left as it is on its own: `{"web": {"logoutUrl": "…"}}` keeps `web.redirectUris`.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistrationInput {
    pub public_client_redirect_uris: Patch<Vec<String>>,
    pub spa_redirect_uris: Patch<Vec<String>>,
    pub web_redirect_uris: Patch<Vec<String>>,
    pub home_page_url: Patch<String>,
    pub logout_url: Patch<String>,
    pub enable_access_token_issuance: Patch<bool>,
    pub enable_id_token_issuance: Patch<bool>,
}

/// The writable properties of a service principal or agent identity.
#[derive(Debug, Clone, Default)]
pub struct ServicePrincipalInput {
    pub kind: Option<ServicePrincipalKind>,
    pub app_id: Patch<String>,
    pub display_name: Patch<String>,
    pub account_enabled: Patch<bool>,
    pub description: Patch<String>,
    pub agent_identity_blueprint_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
    pub sponsor_ids: Vec<String>,
    pub owner_ids: Vec<String>,
}

/// What `addPassword` asks for.
#[derive(Debug, Clone, Default)]
pub struct PasswordCredentialInput {
    pub display_name: Option<String>,
    pub start_date_time: Option<OffsetDateTime>,
    pub end_date_time: Option<OffsetDateTime>,
}

/// A new secret: shown once in the response, stored only as a hash.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub credential: ClientSecret,
    pub secret_text: String,
}

/// An audit record of this module: `what` is (activity, operation type), `target` is
/// (Graph type, object id, display name).
fn audit(
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    what: (&str, &str),
    target: (&str, &str, &str),
    changed: Vec<String>,
) -> AuditRecord {
    let (activity, operation) = what;
    let (kind, id, name) = target;
    let record = AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(id, kind, Some(name), changed);
    // A principal (an agent identity among them) is the one acted for (invariant 4); an
    // application is not a principal, its service principal is.
    if matches!(kind, "ServicePrincipal" | "User") {
        record.on_behalf_of(id, kind, Some(name))
    } else {
        record
    }
}

fn check_display_name(name: &str) -> DomainResult<()> {
    crate::text::check_display_name(name, "displayName")
}

fn check_tags(tags: &[String]) -> DomainResult<()> {
    if tags.len() > 64 || tags.iter().any(|t| t.is_empty() || t.len() > 256) {
        return Err(DomainError::invalid(
            "property 'tags' holds at most 64 non-empty tags of up to 256 characters",
        ));
    }
    Ok(())
}

/// App roles: GUID ids, unique ids and values, member types from {User, Application}.
fn check_app_roles(roles: &mut [AppRole]) -> DomainResult<()> {
    let mut ids = HashSet::new();
    let mut values = HashSet::new();
    for role in roles.iter_mut() {
        role.id = parse_guid(&role.id).ok_or_else(|| {
            DomainError::invalid(format!("appRoles: id '{}' is not a GUID", role.id))
        })?;
        if !ids.insert(role.id.clone()) {
            return Err(DomainError::invalid(format!(
                "appRoles: id '{}' is used twice",
                role.id
            )));
        }
        if role.allowed_member_types.is_empty() {
            return Err(DomainError::invalid(
                "appRoles: allowedMemberTypes must name User and/or Application",
            ));
        }
        for member_type in role.allowed_member_types.iter_mut() {
            let canonical = ALLOWED_MEMBER_TYPES
                .iter()
                .find(|t| t.eq_ignore_ascii_case(member_type))
                .ok_or_else(|| {
                    DomainError::invalid(format!(
                        "appRoles: '{member_type}' is not a valid allowedMemberTypes value (User, Application)"
                    ))
                })?;
            *member_type = (*canonical).to_owned();
        }
        if let Some(value) = &role.value {
            if value.is_empty() || value.len() > 250 || value.chars().any(char::is_whitespace) {
                return Err(DomainError::invalid(format!(
                    "appRoles: value '{value}' must be 1 to 250 characters without spaces"
                )));
            }
            if !values.insert(value.to_lowercase()) {
                return Err(DomainError::invalid(format!(
                    "appRoles: value '{value}' is used twice"
                )));
            }
        }
    }
    Ok(())
}

fn check_scopes(scopes: &mut [PermissionScope]) -> DomainResult<()> {
    let mut ids = HashSet::new();
    let mut values = HashSet::new();
    for scope in scopes.iter_mut() {
        scope.id = parse_guid(&scope.id).ok_or_else(|| {
            DomainError::invalid(format!(
                "api.oauth2PermissionScopes: id '{}' is not a GUID",
                scope.id
            ))
        })?;
        if !ids.insert(scope.id.clone()) {
            return Err(DomainError::invalid(format!(
                "api.oauth2PermissionScopes: id '{}' is used twice",
                scope.id
            )));
        }
        let value = scope.value.clone().unwrap_or_default();
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(
                "api.oauth2PermissionScopes: each scope needs a value without spaces",
            ));
        }
        if !values.insert(value.to_lowercase()) {
            return Err(DomainError::invalid(format!(
                "api.oauth2PermissionScopes: value '{value}' is used twice"
            )));
        }
        if let Some(kind) = &scope.kind {
            scope.kind = Some(match kind.to_ascii_lowercase().as_str() {
                "user" => "User".to_owned(),
                "admin" => "Admin".to_owned(),
                _ => {
                    return Err(DomainError::invalid(format!(
                        "api.oauth2PermissionScopes: type '{kind}' must be User or Admin"
                    )));
                }
            });
        }
    }
    Ok(())
}

/// Sponsors are users (not agent users) or groups: at most 100, at most 5 groups.
pub(crate) async fn check_sponsors(
    tx: &mut dyn StoreTx,
    sponsor_ids: &[String],
) -> DomainResult<()> {
    if sponsor_ids.len() > MAX_SPONSORS {
        return Err(DomainError::invalid(format!(
            "an agent has at most {MAX_SPONSORS} sponsors"
        )));
    }
    let mut groups = 0;
    let mut seen = HashSet::new();
    for id in sponsor_ids {
        if !seen.insert(id) {
            return Err(DomainError::invalid(format!(
                "sponsor '{id}' is named twice"
            )));
        }
        match tx.object_kind(id).await? {
            Some(ObjectKind::User) => {
                let user = tx.user(id).await?.ok_or_else(|| {
                    DomainError::invalid(format!("sponsor '{id}' does not exist"))
                })?;
                if user.kind == UserKind::AgentUser {
                    return Err(DomainError::invalid(format!(
                        "sponsor '{id}' is an agent user: sponsors are users or groups"
                    )));
                }
            }
            Some(ObjectKind::Group) => groups += 1,
            Some(other) => {
                return Err(DomainError::invalid(format!(
                    "sponsor '{id}' is a {}: sponsors are users or groups",
                    other.as_str()
                )));
            }
            None => {
                return Err(DomainError::invalid(format!(
                    "the referenced object '{id}' does not exist"
                )));
            }
        }
    }
    if groups > MAX_SPONSOR_GROUPS {
        return Err(DomainError::invalid(format!(
            "at most {MAX_SPONSOR_GROUPS} of an agent's sponsors may be groups"
        )));
    }
    Ok(())
}

/// Owners of applications and service principals are users or service principals.
async fn check_owners(tx: &mut dyn StoreTx, owner_ids: &[String]) -> DomainResult<()> {
    for id in owner_ids {
        match tx.object_kind(id).await? {
            Some(ObjectKind::User) | Some(ObjectKind::ServicePrincipal) => {}
            Some(other) => {
                return Err(DomainError::invalid(format!(
                    "owner '{id}' is a {}: owners are users or service principals",
                    other.as_str()
                )));
            }
            None => {
                return Err(DomainError::invalid(format!(
                    "the referenced object '{id}' does not exist"
                )));
            }
        }
    }
    Ok(())
}

/// Which sponsor-holding object an id names, for the sponsor rules.
enum Sponsored {
    /// Sponsors required (agent identities, blueprints).
    Required,
    /// Sponsors optional (blueprint principals, users, agent users).
    Optional,
}

impl Directory {
    // ----- applications and blueprints -----

    pub async fn create_application(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: ApplicationInput,
    ) -> DomainResult<Application> {
        caller.require_directory_write()?;
        let kind = input.kind.unwrap_or(ApplicationKind::Application);
        let display_name = match std::mem::take(&mut input.display_name) {
            Patch::Value(name) => name,
            _ => return Err(DomainError::invalid("property 'displayName' is required")),
        };
        check_display_name(&display_name)?;
        let now = self.clock.now();
        let mut app = Application::new(new_object_id(), new_app_id(), display_name, now);
        app.kind = kind;
        apply_application(&mut app, &mut input, None)?;
        if kind == ApplicationKind::AgentIdentityBlueprint && input.sponsor_ids.is_empty() {
            return Err(DomainError::invalid(
                "an agent identity blueprint needs at least one sponsor (sponsors@odata.bind)",
            ));
        }
        if kind == ApplicationKind::Application && !input.sponsor_ids.is_empty() {
            return Err(DomainError::invalid(
                "sponsors are set on agent identity blueprints, not on plain applications",
            ));
        }
        let mut tx = self.store.begin().await?;
        check_sponsors(tx.as_mut(), &input.sponsor_ids).await?;
        check_owners(tx.as_mut(), &input.owner_ids).await?;
        tx.insert_application(&app).await?;
        for sponsor in &input.sponsor_ids {
            tx.add_sponsor(&app.id, sponsor).await?;
        }
        for owner in &input.owner_ids {
            tx.add_object_owner(&app.id, owner).await?;
        }
        let activity = match kind {
            ApplicationKind::Application => "Add application",
            ApplicationKind::AgentIdentityBlueprint => "Add agent identity blueprint",
        };
        let mut record = audit(
            caller,
            ctx,
            now,
            (activity, "Add"),
            ("Application", &app.id, &app.display_name),
            Vec::new(),
        );
        for sponsor in &input.sponsor_ids {
            record = record.detail("sponsorAdded", sponsor.clone());
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(app)
    }

    pub async fn get_application(&self, caller: &Caller, id: &str) -> DomainResult<Application> {
        caller.require_visible("application", id)?;
        self.store
            .application(id)
            .await?
            .ok_or_else(|| DomainError::not_found("application", id))
    }

    pub async fn list_applications(
        &self,
        caller: &Caller,
        query: &ListQuery,
        kind: Option<ApplicationKind>,
    ) -> DomainResult<Page<Application>> {
        caller.require_directory_list("applications")?;
        Ok(self.store.list_applications(query, kind).await?)
    }

    pub async fn update_application(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: ApplicationInput,
    ) -> DomainResult<()> {
        caller.require_visible("application", id)?;
        caller.require_directory_write()?;
        if !input.sponsor_ids.is_empty() || !input.owner_ids.is_empty() {
            return Err(DomainError::invalid(
                "sponsors and owners are changed with sponsors/$ref and owners/$ref",
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut app = tx
            .application(id)
            .await?
            .ok_or_else(|| DomainError::not_found("application", id))?;
        super::writ_clients::refuse_change(&app.app_id, "changed")?;
        if let Some(kind) = input.kind
            && kind != app.kind
        {
            return Err(DomainError::invalid(
                "@odata.type of an application cannot change",
            ));
        }
        let mut changed = Vec::new();
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'displayName' cannot be null",
                ));
            }
            Patch::Value(name) => {
                check_display_name(&name)?;
                app.display_name = name;
                changed.push("displayName".to_owned());
            }
        }
        let previous_roles = app.app_roles.clone();
        changed.extend(apply_application(
            &mut app,
            &mut input,
            Some(&previous_roles),
        )?);
        if changed.is_empty() {
            return Ok(());
        }
        tx.update_application(&app).await?;
        let now = self.clock.now();
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Update application", "Update"),
            ("Application", &app.id, &app.display_name),
            changed,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_application(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("application", id)?;
        caller.require_directory_write()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let app = tx
            .application(id)
            .await?
            .ok_or_else(|| DomainError::not_found("application", id))?;
        if caller.login_name == app.app_id {
            return Err(DomainError::invalid("an application cannot delete itself"));
        }
        super::writ_clients::refuse_change(&app.app_id, "deleted")?;
        if app.kind == ApplicationKind::AgentIdentityBlueprint {
            let agents = self
                .store
                .list_service_principals(
                    &ListQuery {
                        filter: Some(format!("agentIdentityBlueprintId eq '{}'", app.app_id)),
                        top: 1,
                        ..ListQuery::default()
                    },
                    Some(ServicePrincipalKind::AgentIdentity),
                )
                .await?;
            if !agents.items.is_empty() {
                return Err(DomainError::Conflict(
                    "agent identities of this blueprint exist; delete them first".into(),
                ));
            }
        }
        // The application's service principal (its presence in the tenant) goes with it.
        if let Some(sp) = tx.service_principal_by_app_id(&app.app_id).await? {
            super::deletion::guard_last_admin(tx.as_mut(), &sp.id, now).await?;
            crate::entitlement::remove_from_policies(tx.as_mut(), caller, ctx, now, &sp.id).await?;
            crate::entitlement::end_assignments_of(tx.as_mut(), caller, ctx, now, &sp.id).await?;
            crate::entitlement::release_catalog_resources(tx.as_mut(), caller, ctx, now, &sp.id)
                .await?;
            tx.delete_object(&sp.id).await?;
        }
        tx.delete_object(&app.id).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Delete application", "Delete"),
            ("Application", &app.id, &app.display_name),
            Vec::new(),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- service principals, blueprint principals, agent identities -----

    pub async fn create_service_principal(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: ServicePrincipalInput,
    ) -> DomainResult<ServicePrincipal> {
        caller.require_directory_write()?;
        let kind = input.kind.unwrap_or(ServicePrincipalKind::ServicePrincipal);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mut sp = match kind {
            ServicePrincipalKind::ServicePrincipal
            | ServicePrincipalKind::AgentIdentityBlueprintPrincipal => {
                let app_id = match std::mem::take(&mut input.app_id) {
                    Patch::Value(app_id) => parse_guid(&app_id).ok_or_else(|| {
                        DomainError::invalid(format!("appId '{app_id}' is not a GUID"))
                    })?,
                    _ => return Err(DomainError::invalid("property 'appId' is required")),
                };
                let app = tx.application_by_app_id(&app_id).await?.ok_or_else(|| {
                    DomainError::invalid(format!("no application has appId '{app_id}'"))
                })?;
                match (kind, app.kind) {
                    (
                        ServicePrincipalKind::ServicePrincipal,
                        ApplicationKind::AgentIdentityBlueprint,
                    ) => {
                        return Err(DomainError::invalid(
                            "the principal of a blueprint is created as microsoft.graph.agentIdentityBlueprintPrincipal",
                        ));
                    }
                    (
                        ServicePrincipalKind::AgentIdentityBlueprintPrincipal,
                        ApplicationKind::Application,
                    ) => {
                        return Err(DomainError::invalid(format!(
                            "application '{app_id}' is not an agent identity blueprint"
                        )));
                    }
                    _ => {}
                }
                if tx.service_principal_by_app_id(&app_id).await?.is_some() {
                    return Err(DomainError::Conflict(format!(
                        "a service principal for appId '{app_id}' already exists"
                    )));
                }
                if !input.agent_identity_blueprint_id.is_absent() {
                    return Err(DomainError::invalid(
                        "agentIdentityBlueprintId is a property of agent identities",
                    ));
                }
                let mut sp =
                    ServicePrincipal::new(new_object_id(), app_id, app.display_name.clone(), now);
                sp.kind = kind;
                sp.tags = app.tags.clone();
                sp
            }
            ServicePrincipalKind::AgentIdentity => {
                let blueprint_app_id = match std::mem::take(&mut input.agent_identity_blueprint_id) {
                    Patch::Value(id) => parse_guid(&id).ok_or_else(|| {
                        DomainError::invalid(format!(
                            "agentIdentityBlueprintId '{id}' is not a GUID (it is the blueprint's appId)"
                        ))
                    })?,
                    _ => {
                        return Err(DomainError::invalid(
                            "property 'agentIdentityBlueprintId' (the blueprint's appId) is required",
                        ));
                    }
                };
                let blueprint = tx
                    .application_by_app_id(&blueprint_app_id)
                    .await?
                    .filter(|a| a.kind == ApplicationKind::AgentIdentityBlueprint)
                    .ok_or_else(|| {
                        DomainError::invalid(format!(
                            "no agent identity blueprint has appId '{blueprint_app_id}'"
                        ))
                    })?;
                match tx.service_principal_by_app_id(&blueprint_app_id).await? {
                    Some(p) if p.kind == ServicePrincipalKind::AgentIdentityBlueprintPrincipal => {}
                    _ => {
                        return Err(DomainError::invalid(
                            "The Agent Blueprint Principal for the Agent Blueprint does not exist.",
                        ));
                    }
                }
                if input.sponsor_ids.is_empty() {
                    return Err(DomainError::invalid(
                        "an agent identity needs at least one sponsor (sponsors@odata.bind)",
                    ));
                }
                if !input.app_id.is_absent() {
                    return Err(DomainError::invalid(
                        "an agent identity's appId is assigned by the server",
                    ));
                }
                let display_name = match std::mem::take(&mut input.display_name) {
                    Patch::Value(name) => name,
                    _ => return Err(DomainError::invalid("property 'displayName' is required")),
                };
                check_display_name(&display_name)?;
                let mut sp =
                    ServicePrincipal::new(new_object_id(), new_app_id(), display_name, now);
                sp.kind = ServicePrincipalKind::AgentIdentity;
                sp.service_principal_type = "ServiceIdentity".into();
                sp.agent_identity_blueprint_id = Some(blueprint.app_id.clone());
                sp.tags = blueprint.tags.clone();
                sp
            }
        };
        apply_principal(&mut sp, &mut input)?;
        check_sponsors(tx.as_mut(), &input.sponsor_ids).await?;
        check_owners(tx.as_mut(), &input.owner_ids).await?;
        tx.insert_service_principal(&sp).await?;
        for sponsor in &input.sponsor_ids {
            tx.add_sponsor(&sp.id, sponsor).await?;
        }
        for owner in &input.owner_ids {
            tx.add_object_owner(&sp.id, owner).await?;
        }
        let activity = match kind {
            ServicePrincipalKind::ServicePrincipal => "Add service principal",
            ServicePrincipalKind::AgentIdentityBlueprintPrincipal => {
                "Add agent identity blueprint principal"
            }
            ServicePrincipalKind::AgentIdentity => "Add agent identity",
        };
        let mut record = audit(
            caller,
            ctx,
            now,
            (activity, "Add"),
            ("ServicePrincipal", &sp.id, &sp.display_name),
            Vec::new(),
        );
        for sponsor in &input.sponsor_ids {
            record = record.detail("sponsorAdded", sponsor.clone());
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(sp)
    }

    pub async fn get_service_principal(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<ServicePrincipal> {
        caller.require_visible("servicePrincipal", id)?;
        self.store
            .service_principal(id)
            .await?
            .ok_or_else(|| DomainError::not_found("servicePrincipal", id))
    }

    pub async fn get_service_principal_by_app_id(
        &self,
        caller: &Caller,
        app_id: &str,
    ) -> DomainResult<ServicePrincipal> {
        let sp = self
            .store
            .service_principal_by_app_id(app_id)
            .await?
            .ok_or_else(|| DomainError::not_found("servicePrincipal", app_id))?;
        caller.require_visible("servicePrincipal", &sp.id)?;
        Ok(sp)
    }

    pub async fn list_service_principals(
        &self,
        caller: &Caller,
        query: &ListQuery,
        kind: Option<ServicePrincipalKind>,
    ) -> DomainResult<Page<ServicePrincipal>> {
        caller.require_directory_list("servicePrincipals")?;
        Ok(self.store.list_service_principals(query, kind).await?)
    }

    pub async fn update_service_principal(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: ServicePrincipalInput,
    ) -> DomainResult<()> {
        caller.require_visible("servicePrincipal", id)?;
        caller.require_directory_write()?;
        if !input.sponsor_ids.is_empty() || !input.owner_ids.is_empty() {
            return Err(DomainError::invalid(
                "sponsors and owners are changed with sponsors/$ref and owners/$ref",
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut sp = tx
            .service_principal(id)
            .await?
            .ok_or_else(|| DomainError::not_found("servicePrincipal", id))?;
        if let Some(kind) = input.kind
            && kind != sp.kind
        {
            return Err(DomainError::invalid(
                "@odata.type of a service principal cannot change",
            ));
        }
        match std::mem::take(&mut input.agent_identity_blueprint_id) {
            Patch::Absent => {}
            Patch::Value(v) if Some(v.as_str()) == sp.agent_identity_blueprint_id.as_deref() => {}
            _ => {
                return Err(DomainError::invalid(
                    "agentIdentityBlueprintId is immutable",
                ));
            }
        }
        match std::mem::take(&mut input.app_id) {
            Patch::Absent => {}
            Patch::Value(v) if v.eq_ignore_ascii_case(&sp.app_id) => {}
            _ => return Err(DomainError::invalid("appId is immutable")),
        }
        let mut changed = Vec::new();
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'displayName' cannot be null",
                ));
            }
            Patch::Value(name) => {
                check_display_name(&name)?;
                sp.display_name = name;
                changed.push("displayName".to_owned());
            }
        }
        if matches!(input.account_enabled, Patch::Value(false)) && sp.account_enabled {
            super::deletion::guard_last_admin(tx.as_mut(), id, self.clock.now()).await?;
        }
        changed.extend(apply_principal(&mut sp, &mut input)?);
        if changed.is_empty() {
            return Ok(());
        }
        tx.update_service_principal(&sp).await?;
        let now = self.clock.now();
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Update service principal", "Update"),
            ("ServicePrincipal", &sp.id, &sp.display_name),
            changed,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_service_principal(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("servicePrincipal", id)?;
        caller.require_directory_write()?;
        if caller.id == id {
            return Err(DomainError::invalid(
                "a service principal cannot delete itself",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let sp = tx
            .service_principal(id)
            .await?
            .ok_or_else(|| DomainError::not_found("servicePrincipal", id))?;
        super::writ_clients::refuse_change(&sp.app_id, "deleted")?;
        if sp.kind == ServicePrincipalKind::AgentIdentity && tx.count_agent_users_of(id).await? > 0
        {
            return Err(DomainError::Conflict(
                "agent users of this agent identity exist; delete them first".into(),
            ));
        }
        if sp.kind == ServicePrincipalKind::AgentIdentityBlueprintPrincipal {
            let agents = self
                .store
                .list_service_principals(
                    &ListQuery {
                        filter: Some(format!("agentIdentityBlueprintId eq '{}'", sp.app_id)),
                        top: 1,
                        ..ListQuery::default()
                    },
                    Some(ServicePrincipalKind::AgentIdentity),
                )
                .await?;
            if !agents.items.is_empty() {
                return Err(DomainError::Conflict(
                    "agent identities of this blueprint exist; delete them first".into(),
                ));
            }
        }
        super::deletion::guard_last_admin(tx.as_mut(), id, now).await?;
        super::deletion::release_sponsorships(
            tx.as_mut(),
            caller,
            ctx,
            now,
            (id, "ServicePrincipal", &sp.display_name),
            None,
        )
        .await?;
        crate::entitlement::remove_from_policies(tx.as_mut(), caller, ctx, now, id).await?;
        crate::entitlement::end_assignments_of(tx.as_mut(), caller, ctx, now, id).await?;
        crate::entitlement::release_catalog_resources(tx.as_mut(), caller, ctx, now, id).await?;
        tx.delete_object(id).await?;
        let activity = if sp.is_agent() {
            "Delete agent identity"
        } else {
            "Delete service principal"
        };
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            (activity, "Delete"),
            ("ServicePrincipal", &sp.id, &sp.display_name),
            Vec::new(),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- credentials -----

    /// `addPassword` on an application, or on an agent identity (a departure from Entra, where
    /// agent identities authenticate through their blueprint).
    pub async fn add_password(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        owner_id: &str,
        input: PasswordCredentialInput,
    ) -> DomainResult<NewSecret> {
        caller.require_visible("object", owner_id)?;
        caller.require_directory_write()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (kind, name) = match tx.object_kind(owner_id).await? {
            Some(ObjectKind::Application) => {
                let app = tx
                    .application(owner_id)
                    .await?
                    .ok_or_else(|| DomainError::not_found("application", owner_id))?;
                super::writ_clients::refuse_change(&app.app_id, "given a secret")?;
                ("Application", app.display_name)
            }
            Some(ObjectKind::ServicePrincipal) => {
                let sp = tx
                    .service_principal(owner_id)
                    .await?
                    .ok_or_else(|| DomainError::not_found("servicePrincipal", owner_id))?;
                if !sp.is_agent() {
                    return Err(DomainError::invalid(
                        "a service principal authenticates with its application's credentials; add the password to the application (agent identities may hold their own)",
                    ));
                }
                ("ServicePrincipal", sp.display_name)
            }
            _ => return Err(DomainError::not_found("object", owner_id)),
        };
        // Instants from input stay in the window, so the default end below cannot overflow.
        if let Some(at) = input.start_date_time {
            crate::instant::check_input(at, "passwordCredential.startDateTime")?;
        }
        if let Some(at) = input.end_date_time {
            crate::instant::check_input(at, "passwordCredential.endDateTime")?;
        }
        let start = input.start_date_time.unwrap_or(now);
        let end = match input.end_date_time {
            Some(end) => end,
            None => crate::instant::add(start, DEFAULT_SECRET_LIFETIME)?,
        };
        if end <= start {
            return Err(DomainError::invalid(
                "passwordCredential.endDateTime must be after its startDateTime",
            ));
        }
        if let Some(display) = &input.display_name
            && display.chars().count() > 256
        {
            return Err(DomainError::invalid(
                "passwordCredential.displayName is longer than 256 characters",
            ));
        }
        let secret_text = secrets::generate_client_secret()?;
        let credential = ClientSecret {
            key_id: new_app_id(),
            owner_id: owner_id.to_owned(),
            secret_hash: secrets::hash_client_secret(&secret_text),
            hint: secrets::secret_hint(&secret_text),
            display_name: input.display_name,
            start_date_time: start,
            end_date_time: end,
        };
        tx.insert_client_secret(&credential).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Add password credential", "Update"),
                (kind, owner_id, &name),
                vec!["passwordCredentials".into()],
            )
            .detail("keyId", credential.key_id.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(NewSecret {
            credential,
            secret_text,
        })
    }

    pub async fn remove_password(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        owner_id: &str,
        key_id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("object", owner_id)?;
        caller.require_directory_write()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let kind = tx
            .object_kind(owner_id)
            .await?
            .ok_or_else(|| DomainError::not_found("object", owner_id))?;
        if !tx.delete_client_secret(owner_id, key_id).await? {
            return Err(DomainError::not_found("passwordCredential", key_id));
        }
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Remove password credential", "Update"),
                (kind.audit_type(), owner_id, ""),
                vec!["passwordCredentials".into()],
            )
            .detail("keyId", key_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn password_credentials(
        &self,
        caller: &Caller,
        owner_id: &str,
    ) -> DomainResult<Vec<ClientSecret>> {
        caller.require_visible("object", owner_id)?;
        Ok(self.store.password_credentials(owner_id).await?)
    }

    // ----- sponsors and owners -----

    async fn sponsor_rule(&self, object_id: &str) -> DomainResult<Sponsored> {
        match self.store.directory_object(object_id).await? {
            Some(DirectoryObject::ServicePrincipal(sp)) => Ok(match sp.kind {
                ServicePrincipalKind::AgentIdentity => Sponsored::Required,
                ServicePrincipalKind::AgentIdentityBlueprintPrincipal => Sponsored::Optional,
                ServicePrincipalKind::ServicePrincipal => {
                    return Err(DomainError::invalid(
                        "only agent identities and blueprint principals have sponsors",
                    ));
                }
            }),
            Some(DirectoryObject::Application(app)) => match app.kind {
                ApplicationKind::AgentIdentityBlueprint => Ok(Sponsored::Required),
                ApplicationKind::Application => Err(DomainError::invalid(
                    "only agent identity blueprints have sponsors among applications",
                )),
            },
            Some(DirectoryObject::User(_)) => Ok(Sponsored::Optional),
            Some(DirectoryObject::Group(_)) => Err(DomainError::invalid("groups have no sponsors")),
            None => Err(DomainError::not_found("directoryObject", object_id)),
        }
    }

    pub async fn list_sponsors(
        &self,
        caller: &Caller,
        object_id: &str,
    ) -> DomainResult<Vec<DirectoryObject>> {
        caller.require_visible("directoryObject", object_id)?;
        self.sponsor_rule(object_id).await?;
        Ok(self.store.sponsors(object_id).await?)
    }

    /// `POST …/sponsors/$ref` (`add`) and `DELETE …/sponsors/{id}/$ref`.
    pub async fn change_sponsor(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        object_id: &str,
        sponsor_id: &str,
        add: bool,
    ) -> DomainResult<()> {
        caller.require_visible("directoryObject", object_id)?;
        caller.require_directory_write()?;
        let rule = self.sponsor_rule(object_id).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let current = tx.sponsor_ids(object_id).await?;
        if add {
            if current.iter().any(|s| s == sponsor_id) {
                return Err(DomainError::invalid(
                    "One or more added object references already exist for the following modified properties: 'sponsors'.",
                ));
            }
            let mut next = current.clone();
            next.push(sponsor_id.to_owned());
            check_sponsors(tx.as_mut(), &next).await?;
            tx.add_sponsor(object_id, sponsor_id).await?;
        } else {
            if !current.iter().any(|s| s == sponsor_id) {
                return Err(DomainError::not_found("sponsor", sponsor_id));
            }
            if matches!(rule, Sponsored::Required) && current.len() == 1 {
                return Err(DomainError::invalid(
                    "the last sponsor cannot be removed: an agent always has at least one sponsor",
                ));
            }
            tx.remove_sponsor(object_id, sponsor_id).await?;
            // A lifecycle policy's minimum sponsor count is checked (and notified) at once.
            super::lifecycle_policies::recheck_agent(tx.as_mut(), object_id, now).await?;
        }
        let kind = tx
            .object_kind(object_id)
            .await?
            .map_or("DirectoryObject", ObjectKind::audit_type);
        let sponsor_kind = tx
            .object_kind(sponsor_id)
            .await?
            .map_or("DirectoryObject", ObjectKind::audit_type);
        let record = AuditRecord::success(
            Actor::from(caller),
            now,
            CATEGORY,
            if add { "Add sponsor" } else { "Remove sponsor" },
            if add { "Assign" } else { "Unassign" },
            ctx.request_id.as_deref(),
        )
        .target(object_id, kind, None, vec!["sponsors".into()])
        .target(sponsor_id, sponsor_kind, None, Vec::new())
        .detail("sponsorId", sponsor_id)
        .on_behalf_of(object_id, kind, None);
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_object_owners(
        &self,
        caller: &Caller,
        object_id: &str,
    ) -> DomainResult<Vec<DirectoryObject>> {
        caller.require_visible("directoryObject", object_id)?;
        match self.store.object_kind(object_id).await? {
            Some(ObjectKind::Application | ObjectKind::ServicePrincipal) => {}
            _ => return Err(DomainError::not_found("directoryObject", object_id)),
        }
        Ok(self.store.object_owners(object_id).await?)
    }

    pub async fn change_object_owner(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        object_id: &str,
        owner_id: &str,
        add: bool,
    ) -> DomainResult<()> {
        caller.require_visible("directoryObject", object_id)?;
        caller.require_directory_write()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let kind = match tx.object_kind(object_id).await? {
            Some(k @ (ObjectKind::Application | ObjectKind::ServicePrincipal)) => k,
            _ => return Err(DomainError::not_found("directoryObject", object_id)),
        };
        if add {
            check_owners(tx.as_mut(), &[owner_id.to_owned()]).await?;
            if !tx.add_object_owner(object_id, owner_id).await? {
                return Err(DomainError::invalid(
                    "One or more added object references already exist for the following modified properties: 'owners'.",
                ));
            }
        } else if !tx.remove_object_owner(object_id, owner_id).await? {
            return Err(DomainError::not_found("owner", owner_id));
        }
        let record = AuditRecord::success(
            Actor::from(caller),
            now,
            CATEGORY,
            if add { "Add owner" } else { "Remove owner" },
            if add { "Assign" } else { "Unassign" },
            ctx.request_id.as_deref(),
        )
        .target(object_id, kind.audit_type(), None, vec!["owners".into()])
        .detail("ownerId", owner_id);
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn apply_application(
    app: &mut Application,
    input: &mut ApplicationInput,
    previous_roles: Option<&[AppRole]>,
) -> DomainResult<Vec<String>> {
    let mut changed = Vec::new();
    let description = std::mem::take(&mut input.description);
    if !description.is_absent() {
        description.apply_to(&mut app.description);
        changed.push("description".to_owned());
    }
    match std::mem::take(&mut input.app_roles) {
        Patch::Absent => {}
        Patch::Null => return Err(DomainError::invalid("property 'appRoles' cannot be null")),
        Patch::Value(mut roles) => {
            check_app_roles(&mut roles)?;
            // Graph's rule: a role must be disabled before it can be removed.
            if let Some(previous) = previous_roles {
                for old in previous.iter().filter(|r| r.is_enabled) {
                    if !roles.iter().any(|r| r.id == old.id) {
                        return Err(DomainError::invalid(format!(
                            "app role '{}' must be disabled (isEnabled false) before it can be removed",
                            old.id
                        )));
                    }
                }
            }
            app.app_roles = roles;
            changed.push("appRoles".to_owned());
        }
    }
    match std::mem::take(&mut input.oauth2_permission_scopes) {
        Patch::Absent => {}
        Patch::Null => return Err(DomainError::invalid("property 'api' cannot be null")),
        Patch::Value(mut scopes) => {
            check_scopes(&mut scopes)?;
            app.oauth2_permission_scopes = scopes;
            changed.push("api".to_owned());
        }
    }
    match std::mem::take(&mut input.identifier_uris) {
        Patch::Absent => {}
        Patch::Null => {
            app.identifier_uris.clear();
            changed.push("identifierUris".to_owned());
        }
        Patch::Value(uris) => {
            for uri in &uris {
                if !uri.contains("://") || uri.chars().any(char::is_whitespace) {
                    return Err(DomainError::invalid(format!(
                        "identifierUris: '{uri}' is not a URI (e.g. api://<appId>)"
                    )));
                }
            }
            app.identifier_uris = uris;
            changed.push("identifierUris".to_owned());
        }
    }
    match std::mem::take(&mut input.sign_in_audience) {
        Patch::Absent => {}
        Patch::Null => {
            return Err(DomainError::invalid(
                "property 'signInAudience' cannot be null",
            ));
        }
        Patch::Value(audience) => {
            if !audience.eq_ignore_ascii_case("AzureADMyOrg") {
                return Err(DomainError::Invalid {
                    code: "notSupported",
                    message:
                        "signInAudience must be AzureADMyOrg: Writ is a single-tenant directory"
                            .into(),
                });
            }
            app.sign_in_audience = "AzureADMyOrg".into();
            changed.push("signInAudience".to_owned());
        }
    }
    match std::mem::take(&mut input.tags) {
        Patch::Absent => {}
        Patch::Null => {
            app.tags.clear();
            changed.push("tags".to_owned());
        }
        Patch::Value(tags) => {
            check_tags(&tags)?;
            app.tags = tags;
            changed.push("tags".to_owned());
        }
    }
    changed.extend(apply_clients(app, &mut input.clients)?);
    match std::mem::take(&mut input.is_fallback_public_client) {
        Patch::Absent => {}
        // Graph's `isFallbackPublicClient` is a nullable boolean whose null means false.
        Patch::Null => {
            app.is_fallback_public_client = false;
            changed.push("isFallbackPublicClient".to_owned());
        }
        Patch::Value(value) => {
            app.is_fallback_public_client = value;
            changed.push("isFallbackPublicClient".to_owned());
        }
    }
    Ok(changed)
}

/// Applies the client registration changes, then checks the registrations as a whole (the
/// uniqueness of a redirect URI spans the three kinds).
fn apply_clients(
    app: &mut Application,
    input: &mut ClientRegistrationInput,
) -> DomainResult<Vec<String>> {
    fn list(patch: Patch<Vec<String>>, field: &mut Vec<String>) -> bool {
        match patch {
            Patch::Absent => false,
            Patch::Null => {
                field.clear();
                true
            }
            Patch::Value(v) => {
                *field = v;
                true
            }
        }
    }
    fn flag(patch: Patch<bool>, field: &mut bool) -> bool {
        match patch {
            Patch::Absent => false,
            Patch::Null => {
                *field = false;
                true
            }
            Patch::Value(v) => {
                *field = v;
                true
            }
        }
    }
    let input = std::mem::take(input);
    let clients = &mut app.clients;
    let mut changed = Vec::new();
    if list(
        input.public_client_redirect_uris,
        &mut clients.public_client_redirect_uris,
    ) {
        changed.push("publicClient".to_owned());
    }
    if list(input.spa_redirect_uris, &mut clients.spa_redirect_uris) {
        changed.push("spa".to_owned());
    }
    let web = &mut clients.web;
    let mut web_changed = list(input.web_redirect_uris, &mut web.redirect_uris);
    for (patch, field) in [
        (input.home_page_url, &mut web.home_page_url),
        (input.logout_url, &mut web.logout_url),
    ] {
        web_changed |= !patch.is_absent();
        patch.apply_to(field);
    }
    web_changed |= flag(
        input.enable_access_token_issuance,
        &mut web.enable_access_token_issuance,
    );
    web_changed |= flag(
        input.enable_id_token_issuance,
        &mut web.enable_id_token_issuance,
    );
    if web_changed {
        changed.push("web".to_owned());
    }
    if !changed.is_empty() {
        super::client_uris::check_registration(&app.clients)?;
    }
    Ok(changed)
}

fn apply_principal(
    sp: &mut ServicePrincipal,
    input: &mut ServicePrincipalInput,
) -> DomainResult<Vec<String>> {
    let mut changed = Vec::new();
    match std::mem::take(&mut input.account_enabled) {
        Patch::Absent => {}
        Patch::Null => {
            return Err(DomainError::invalid(
                "property 'accountEnabled' cannot be null",
            ));
        }
        Patch::Value(v) => {
            sp.account_enabled = v;
            changed.push("accountEnabled".to_owned());
        }
    }
    let description = std::mem::take(&mut input.description);
    if !description.is_absent() {
        description.apply_to(&mut sp.description);
        changed.push("description".to_owned());
    }
    match std::mem::take(&mut input.tags) {
        Patch::Absent => {}
        Patch::Null => {
            sp.tags.clear();
            changed.push("tags".to_owned());
        }
        Patch::Value(tags) => {
            check_tags(&tags)?;
            sp.tags = tags;
            changed.push("tags".to_owned());
        }
    }
    if let Patch::Value(name) = std::mem::take(&mut input.display_name) {
        check_display_name(&name)?;
        sp.display_name = name;
        changed.push("displayName".to_owned());
    }
    Ok(changed)
}
