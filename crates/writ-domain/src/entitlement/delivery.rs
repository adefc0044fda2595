//! Delivery of a package's resource roles (DESIGN section 6) through a provider interface: plan,
//! apply, read back and revoke, each keyed by the holder (the assignment) and the grant, so that
//! a retry or a `reprocess` finds what an earlier attempt applied and applies only the rest.
//!
//! The built-in directory is the one provider today; external targets (LDAP, SCIM, webhooks) are
//! meant to implement the same trait. The built-in provider writes inside the caller's
//! transaction, so a grant exists exactly when the assignment that holds it is recorded
//! (invariant 1), carries the assignment's end (invariant 2) and is one row among its holders
//! (invariant 3).
//!
//! Planning re-checks what onboarding checked where a grant would carry privilege: a
//! role-assignable group's roles (see `role_assignable_refusal`), like a privileged directory
//! role for an agent, are refused with a reason rather than delivered. Every path that gives or
//! prolongs a grant plans it first (delivery, re-delivery, extension).

use time::OffsetDateTime;

use crate::authz::roles;
use crate::directory::{AppRoleAssignment, PermissionGrant, RoleAssignment};
use crate::error::DomainResult;
use crate::ids::new_object_id;
use crate::model::{
    AssignmentState, CatalogResource, HeldGrant, ORIGIN_APPLICATION, ORIGIN_DIRECTORY_ROLE,
    ORIGIN_GROUP, PrincipalKind, RequestState, ResourceRole, Subject,
};
use crate::store::StoreTx;

/// One resource role to deliver to one target for one holder.
pub(crate) struct Delivery<'a> {
    pub role: &'a ResourceRole,
    pub resource: &'a CatalogResource,
    pub target: &'a Subject,
    pub holder: &'a str,
    pub ends_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

/// A provider of grants for some origin systems.
#[async_trait::async_trait]
pub(crate) trait DeliveryProvider: Send + Sync {
    fn delivers(&self, origin_system: &str) -> bool;
    /// The grant that delivers this role to this target, or why it cannot be delivered (a
    /// permanent reason, recorded on the request; `Err` is a failure to retry).
    async fn plan(
        &self,
        tx: &mut dyn StoreTx,
        delivery: &Delivery<'_>,
    ) -> DomainResult<Result<HeldGrant, String>>;
    /// Applies a planned grant; applying one the holder already holds changes nothing.
    async fn apply(
        &self,
        tx: &mut dyn StoreTx,
        delivery: &Delivery<'_>,
        grant: &HeldGrant,
    ) -> DomainResult<()>;
    /// Every grant the holder holds in this provider.
    async fn read_back(&self, tx: &mut dyn StoreTx, holder: &str) -> DomainResult<Vec<HeldGrant>>;
    /// Takes away every grant the holder holds; grants of other holders stay.
    async fn revoke(&self, tx: &mut dyn StoreTx, holder: &str) -> DomainResult<u64>;
    /// `revoke` for many holders at once (an expiry batch).
    async fn revoke_holders(&self, tx: &mut dyn StoreTx, holders: &[String]) -> DomainResult<u64> {
        let mut released = 0;
        for holder in holders {
            released += self.revoke(tx, holder).await?;
        }
        Ok(released)
    }
    /// Takes away one grant the holder holds (its role left the package, or can no longer be
    /// delivered); false if it held none such.
    async fn revoke_grant(
        &self,
        tx: &mut dyn StoreTx,
        holder: &str,
        grant: &HeldGrant,
    ) -> DomainResult<bool>;
}

/// Writ's own directory: group membership and ownership, app role assignments, delegated
/// permission grants and directory role assignments.
pub(crate) struct BuiltInDirectory;

static BUILT_IN: BuiltInDirectory = BuiltInDirectory;

/// The providers, in the order revocation visits them.
pub(crate) fn providers() -> [&'static dyn DeliveryProvider; 1] {
    [&BUILT_IN]
}

pub(crate) fn provider_for(origin_system: &str) -> Option<&'static dyn DeliveryProvider> {
    providers().into_iter().find(|p| p.delivers(origin_system))
}

/// Revokes, in every provider, what a holder holds.
pub(crate) async fn revoke_all(tx: &mut dyn StoreTx, holder: &str) -> DomainResult<u64> {
    let mut released = 0;
    for provider in providers() {
        released += provider.revoke(tx, holder).await?;
    }
    Ok(released)
}

/// Revokes, in every provider, what these holders hold.
pub(crate) async fn revoke_all_of(tx: &mut dyn StoreTx, holders: &[String]) -> DomainResult<u64> {
    let mut released = 0;
    for provider in providers() {
        released += provider.revoke_holders(tx, holders).await?;
    }
    Ok(released)
}

/// The outcome of delivering a package's roles: the roles that could not be delivered, with why.
#[derive(Debug, Default)]
pub(crate) struct DeliveryReport {
    /// Roles the target holds through this holder now.
    pub delivered: usize,
    /// Of those, the grants this call wrote (the rest were held already).
    pub applied: usize,
    /// Every grant the package's roles mean for this target now.
    pub planned: Vec<HeldGrant>,
    pub failures: Vec<String>,
}

impl DeliveryReport {
    /// The states a delivery ends in: every role delivered, some (`partiallyDelivered`), or
    /// none (`deliveryFailed`), for the assignment and for the request that asked for it.
    pub(crate) fn outcome(&self) -> (AssignmentState, RequestState) {
        if self.failures.is_empty() {
            (AssignmentState::Delivered, RequestState::Delivered)
        } else if self.delivered == 0 {
            (
                AssignmentState::DeliveryFailed,
                RequestState::DeliveryFailed,
            )
        } else {
            (
                AssignmentState::PartiallyDelivered,
                RequestState::PartiallyDelivered,
            )
        }
    }
}

/// Revokes what the holder holds beyond `planned` (roles that left the package, or can no
/// longer be delivered); returns how many grants went.
async fn revoke_unplanned(
    tx: &mut dyn StoreTx,
    holder: &str,
    held: &[HeldGrant],
    planned: &[HeldGrant],
) -> DomainResult<usize> {
    let mut revoked = 0;
    for grant in held.iter().filter(|g| !planned.contains(g)) {
        for provider in providers() {
            if provider.revoke_grant(tx, holder, grant).await? {
                revoked += 1;
                break;
            }
        }
    }
    Ok(revoked)
}

/// Every grant the holder holds, across providers.
async fn read_back_all(tx: &mut dyn StoreTx, holder: &str) -> DomainResult<Vec<HeldGrant>> {
    let mut held = Vec::new();
    for provider in providers() {
        held.extend(provider.read_back(tx, holder).await?);
    }
    Ok(held)
}

/// A group membership the built-in directory grants, `(group, member, holder, ends_at)`, left
/// to be added with a batch's others (`StoreTx::add_group_members`).
pub(crate) type DeferredMembership = (String, String, String, Option<OffsetDateTime>);

/// Delivers every role to the target for the holder, skipping grants in `already_held` (empty
/// for a new assignment; what read-back found when an assignment is reprocessed). With
/// `memberships` (a new assignment of a batch of deliveries), the group memberships it grants
/// are pushed there for the caller to add set-wise before it records the assignments (the same
/// transaction); every other grant is applied here.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deliver_roles(
    tx: &mut dyn StoreTx,
    roles: &[(ResourceRole, Option<CatalogResource>)],
    target: &Subject,
    holder: &str,
    ends_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    already_held: &[HeldGrant],
    mut memberships: Option<&mut Vec<DeferredMembership>>,
) -> DomainResult<DeliveryReport> {
    let mut report = DeliveryReport::default();
    for (role, resource) in roles {
        let Some(resource) = resource else {
            report.failures.push(format!(
                "{}: the resource left the catalog",
                role.display_name
            ));
            continue;
        };
        let Some(provider) = provider_for(&role.origin_system) else {
            report.failures.push(format!(
                "{}: no provider delivers {} roles",
                role.display_name, role.origin_system
            ));
            continue;
        };
        let delivery = Delivery {
            role,
            resource,
            target,
            holder,
            ends_at,
            now,
        };
        match provider.plan(tx, &delivery).await? {
            Ok(grant) => {
                if !already_held.contains(&grant) {
                    match (&grant, memberships.as_deref_mut()) {
                        // What `BuiltInDirectory::apply` writes for it, left to the batch.
                        (
                            HeldGrant::GroupMember {
                                group_id,
                                principal_id,
                            },
                            Some(out),
                        ) => out.push((
                            group_id.clone(),
                            principal_id.clone(),
                            holder.to_owned(),
                            ends_at,
                        )),
                        _ => provider.apply(tx, &delivery, &grant).await?,
                    }
                    report.applied += 1;
                }
                report.delivered += 1;
                report.planned.push(grant);
            }
            Err(reason) => report
                .failures
                .push(format!("{}: {reason}", role.display_name)),
        }
    }
    Ok(report)
}

/// Plans the holder's roles again for the target and brings what it holds in line: grants it
/// lacks are applied, grants no longer planned (roles that left the package, or may no longer
/// be delivered) are revoked, and what it holds already stays. Re-delivery, reprocessing and an
/// extension all go through here, so none of them prolongs a grant delivery would refuse now.
/// Returns the delivery's report and how many grants were revoked.
pub(crate) async fn replan(
    tx: &mut dyn StoreTx,
    roles: &[(ResourceRole, Option<CatalogResource>)],
    target: &Subject,
    holder: &str,
    ends_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> DomainResult<(DeliveryReport, usize)> {
    let held = read_back_all(tx, holder).await?;
    let report = deliver_roles(tx, roles, target, holder, ends_at, now, &held, None).await?;
    let revoked = revoke_unplanned(tx, holder, &held, &report.planned).await?;
    Ok((report, revoked))
}

/// Why a role (membership or ownership) of a role-assignable group may not be delivered to this
/// target now, if it may not. Such a group carries directory roles, so onboarding it is for
/// Global Administrators only (DESIGN section 3); delivery checks again, each time it plans the
/// role (a first delivery, a re-delivery or reprocess, an extension):
/// - the resource's last onboarding or refresh was made by a Global Administrator (a resource
///   onboarded before Writ required it delivers nothing until a Global Administrator refreshes
///   it);
/// - an agent never receives it while the group holds a privileged directory role (DESIGN
///   section 3; token issuance also leaves such roles out of an agent's `wids`).
async fn role_assignable_refusal(
    tx: &mut dyn StoreTx,
    resource: &CatalogResource,
    target: &Subject,
    now: OffsetDateTime,
) -> DomainResult<Option<String>> {
    if !resource.onboarded_by_global_admin {
        return Ok(Some(
            "the role-assignable group was not added to the catalog by a Global Administrator; \
             a Global Administrator must refresh the resource before its roles are delivered"
                .into(),
        ));
    }
    if target.is_agent {
        for (role_id, name, _, privileged) in roles::BUILT_IN {
            if *privileged && tx.holds_role(&resource.origin_id, role_id, now).await? {
                return Ok(Some(format!(
                    "an agent never receives a privileged directory role ('{name}'), also not \
                     through a role-assignable group"
                )));
            }
        }
    }
    Ok(None)
}

#[async_trait::async_trait]
impl DeliveryProvider for BuiltInDirectory {
    fn delivers(&self, origin_system: &str) -> bool {
        [ORIGIN_GROUP, ORIGIN_APPLICATION, ORIGIN_DIRECTORY_ROLE].contains(&origin_system)
    }

    async fn plan(
        &self,
        tx: &mut dyn StoreTx,
        delivery: &Delivery<'_>,
    ) -> DomainResult<Result<HeldGrant, String>> {
        let Delivery {
            role,
            resource,
            target,
            ..
        } = delivery;
        let principal_id = target.id.clone();
        match (role.origin_system.as_str(), role.role_type.as_deref()) {
            (ORIGIN_GROUP, _) => {
                let grant = if let Some(group_id) = role.origin_id.strip_prefix("Member_") {
                    HeldGrant::GroupMember {
                        group_id: group_id.to_owned(),
                        principal_id,
                    }
                } else if let Some(group_id) = role.origin_id.strip_prefix("Owner_") {
                    HeldGrant::GroupOwner {
                        group_id: group_id.to_owned(),
                        principal_id,
                    }
                } else {
                    return Ok(Err(format!("'{}' is not a group role", role.origin_id)));
                };
                if resource.role_assignable_group
                    && let Some(refusal) =
                        role_assignable_refusal(tx, resource, target, delivery.now).await?
                {
                    return Ok(Err(refusal));
                }
                Ok(Ok(grant))
            }
            (ORIGIN_APPLICATION, Some("application")) => {
                let wanted = match target.kind {
                    PrincipalKind::ServicePrincipal => "Application",
                    PrincipalKind::User => "User",
                };
                if !role.allowed_member_types.iter().any(|t| t == wanted) {
                    return Ok(Err(format!("the app role is not for {wanted} principals")));
                }
                Ok(Ok(HeldGrant::AppRole {
                    resource_id: resource.origin_id.clone(),
                    app_role_id: role.origin_id.clone(),
                    principal_id,
                }))
            }
            (ORIGIN_APPLICATION, Some("delegated")) => {
                if target.kind != PrincipalKind::User {
                    return Ok(Err(
                        "delegated permissions are granted to users and agent users only".into(),
                    ));
                }
                let Some(api) = tx.service_principal(&resource.origin_id).await? else {
                    return Ok(Err("the API's service principal no longer exists".into()));
                };
                let Some(app) = tx.application_by_app_id(&api.app_id).await? else {
                    return Ok(Err("the API's application no longer exists".into()));
                };
                let Some(scope) = app
                    .oauth2_permission_scopes
                    .iter()
                    .find(|s| s.id == role.origin_id && s.is_enabled)
                    .and_then(|s| s.value.clone())
                else {
                    return Ok(Err("the delegated permission is no longer offered".into()));
                };
                // An agent user acts through its parent agent identity, so that is the client the
                // grant is for; a human user's grant is for the API's own client.
                let client_id = target
                    .identity_parent_id
                    .clone()
                    .unwrap_or_else(|| api.id.clone());
                Ok(Ok(HeldGrant::Delegated {
                    client_id,
                    resource_id: api.id,
                    scope,
                    principal_id,
                }))
            }
            (ORIGIN_DIRECTORY_ROLE, _) => {
                let Some((role_id, name, _, privileged)) = roles::definition(&resource.origin_id)
                else {
                    return Ok(Err("the directory role no longer exists".into()));
                };
                if privileged && target.is_agent {
                    return Ok(Err(format!(
                        "an agent never receives a privileged directory role ('{name}')"
                    )));
                }
                Ok(Ok(HeldGrant::DirectoryRole {
                    role_definition_id: role_id.to_owned(),
                    principal_id,
                }))
            }
            (system, kind) => Ok(Err(format!(
                "{system} roles of type {} are not delivered",
                kind.unwrap_or("none")
            ))),
        }
    }

    async fn apply(
        &self,
        tx: &mut dyn StoreTx,
        delivery: &Delivery<'_>,
        grant: &HeldGrant,
    ) -> DomainResult<()> {
        let (holder, ends_at, now) = (delivery.holder, delivery.ends_at, delivery.now);
        match grant {
            HeldGrant::GroupMember {
                group_id,
                principal_id,
            } => {
                tx.add_group_member(group_id, principal_id, holder, ends_at)
                    .await?;
            }
            HeldGrant::GroupOwner {
                group_id,
                principal_id,
            } => {
                tx.add_group_owner(group_id, principal_id, holder, ends_at)
                    .await?;
            }
            HeldGrant::AppRole {
                resource_id,
                app_role_id,
                principal_id,
            } => {
                let target = delivery.target;
                tx.insert_app_role_assignment(&AppRoleAssignment {
                    id: new_object_id(),
                    app_role_id: app_role_id.clone(),
                    principal_id: principal_id.clone(),
                    principal_type: target.kind.type_name().into(),
                    principal_display_name: target.display_name.clone(),
                    resource_id: resource_id.clone(),
                    resource_display_name: delivery.resource.display_name.clone(),
                    holder: holder.to_owned(),
                    ends_at,
                    created_date_time: now,
                })
                .await?;
            }
            HeldGrant::Delegated {
                client_id,
                resource_id,
                scope,
                principal_id,
            } => {
                tx.insert_permission_grant(&PermissionGrant {
                    id: new_object_id(),
                    client_id: client_id.clone(),
                    consent_type: "Principal".into(),
                    principal_id: Some(principal_id.clone()),
                    resource_id: resource_id.clone(),
                    scope: scope.clone(),
                    holder: holder.to_owned(),
                    ends_at,
                    created_date_time: now,
                })
                .await?;
            }
            HeldGrant::DirectoryRole {
                role_definition_id,
                principal_id,
            } => {
                tx.assign_directory_role(&RoleAssignment {
                    id: new_object_id(),
                    role_definition_id: role_definition_id.clone(),
                    principal_id: principal_id.clone(),
                    directory_scope_id: "/".into(),
                    holder: holder.to_owned(),
                    created_date_time: now,
                    ends_at,
                })
                .await?;
            }
        }
        Ok(())
    }

    async fn read_back(&self, tx: &mut dyn StoreTx, holder: &str) -> DomainResult<Vec<HeldGrant>> {
        Ok(tx.grants_held(holder).await?)
    }

    async fn revoke(&self, tx: &mut dyn StoreTx, holder: &str) -> DomainResult<u64> {
        Ok(tx.release_grants(holder).await?)
    }

    async fn revoke_holders(&self, tx: &mut dyn StoreTx, holders: &[String]) -> DomainResult<u64> {
        Ok(tx.release_grants_of(holders).await?)
    }

    async fn revoke_grant(
        &self,
        tx: &mut dyn StoreTx,
        holder: &str,
        grant: &HeldGrant,
    ) -> DomainResult<bool> {
        Ok(tx.release_grant(holder, grant).await?)
    }
}
