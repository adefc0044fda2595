//! The views of the portal's agents pages (issue 17, part A): My agents, an agent, what may be
//! requested for an agent, and an assignment with the actions its policy allows the person.
//!
//! Who counts as an agent's sponsor is DESIGN section 5's one resolver: the list reads it from
//! the sponsor's side in one query (`EntitlementStore::sponsored_agents`), and a single agent is
//! checked with `Entitlement::sponsors_or_owns`, the rule behind
//! `filterByCurrentUser(on='targetAgentIdentitySponsorOrOwner')`, so the portal shows exactly the
//! agents whose requests and assignments the API would show this person. Each list reads its
//! assignments and requests for a whole page of agents at once.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::directory::UserKind;
use crate::entitlement::{AccessPackage, Entitlement};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    Assignment, AssignmentPolicy, AssignmentRequest, AssignmentState, RequestType, Subject,
};
use crate::store::SponsoredAgent;

/// Agents on one page of My agents.
pub const PAGE_SIZE: u32 = 100;
/// The last page number accepted (so the offset stays far within range).
pub const MAX_PAGE: u32 = 100_000;
/// How many ended assignments and completed requests an agent's page shows.
pub const HISTORY_LIMIT: u32 = 50;
/// The most live assignments or open requests read for a page of agents.
const ROWS_LIMIT: u32 = 20_000;

/// One row of My agents.
#[derive(Debug, Clone)]
pub struct AgentRow {
    pub agent: SponsoredAgent,
    /// The names of its human sponsors and owners (sponsor groups through their members).
    pub sponsors: Vec<String>,
    /// Live assignments.
    pub live: usize,
    /// The soonest end among them.
    pub soonest_end: Option<OffsetDateTime>,
    /// Open requests.
    pub pending: usize,
}

/// A page of My agents.
#[derive(Debug, Clone)]
pub struct MyAgents {
    pub rows: Vec<AgentRow>,
    /// The number of the next page, when there is one.
    pub next_page: Option<u32>,
    pub page: u32,
}

/// An assignment or request with the name of its package.
#[derive(Debug, Clone)]
pub struct Named<T> {
    pub item: T,
    pub package: String,
}

/// An agent's page.
#[derive(Debug, Clone)]
pub struct AgentView {
    pub agent: Subject,
    pub blueprint: Option<String>,
    pub created: Option<OffsetDateTime>,
    pub sponsors: Vec<String>,
    pub live: Vec<Named<Assignment>>,
    pub pending: Vec<Named<AssignmentRequest>>,
    pub ended: Vec<Named<Assignment>>,
    pub completed: Vec<Named<AssignmentRequest>>,
}

/// A package offered on the request page, under one policy.
#[derive(Debug, Clone)]
pub struct Offer {
    pub package: AccessPackage,
    pub policy: AssignmentPolicy,
    /// Why it cannot be requested now (held, or an open request), if so.
    pub blocked: Option<String>,
}

/// An assignment's page.
#[derive(Debug, Clone)]
pub struct AssignmentView {
    pub assignment: Assignment,
    pub target: Subject,
    pub package: String,
    pub policy: Option<AssignmentPolicy>,
    /// The open extension request of this assignment, if any.
    pub open_extension: Option<AssignmentRequest>,
    /// `Ok(())` where the person may extend it now, else why not.
    pub extend: Result<(), String>,
    /// `Ok(())` where the person may remove it now, else why not.
    pub remove: Result<(), String>,
}

fn agent_not_found(id: &str) -> DomainError {
    DomainError::not_found("agent", id)
}

impl Entitlement {
    /// My agents, page `page` (from 0): the agents `caller` sponsors or owns, by name.
    pub async fn portal_my_agents(&self, caller: &Caller, page: u32) -> DomainResult<MyAgents> {
        let now = self.now();
        if !caller.is_human_user() || !caller.enabled {
            return Ok(MyAgents {
                rows: Vec::new(),
                next_page: None,
                page: 0,
            });
        }
        let page = page.min(MAX_PAGE);
        let offset = page
            .checked_mul(PAGE_SIZE)
            .ok_or_else(|| DomainError::invalid("page is out of range"))?;
        let mut agents = self
            .store()
            .sponsored_agents(&caller.id, now, offset, PAGE_SIZE + 1)
            .await?;
        let more = agents.len() > PAGE_SIZE as usize;
        agents.truncate(PAGE_SIZE as usize);
        let ids: Vec<String> = agents.iter().map(|a| a.id.clone()).collect();
        let sponsors = self.sponsor_names(&ids, now).await?;
        let mut live: BTreeMap<&str, (usize, Option<OffsetDateTime>)> = BTreeMap::new();
        let assignments = self
            .store()
            .assignments_of_targets(&ids, true, ROWS_LIMIT)
            .await?;
        for a in &assignments {
            let entry = live.entry(a.target_id.as_str()).or_default();
            entry.0 += 1;
            if let Some(end) = a.end_date_time {
                entry.1 = Some(entry.1.map_or(end, |e: OffsetDateTime| e.min(end)));
            }
        }
        let requests = self
            .store()
            .requests_of_targets(&ids, true, ROWS_LIMIT)
            .await?;
        let mut pending: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &requests {
            *pending.entry(r.target_id.as_str()).or_default() += 1;
        }
        let rows = agents
            .into_iter()
            .map(|agent| {
                let (count, soonest_end) = live.get(agent.id.as_str()).copied().unwrap_or_default();
                AgentRow {
                    sponsors: sponsors.get(&agent.id).cloned().unwrap_or_default(),
                    live: count,
                    soonest_end,
                    pending: pending.get(agent.id.as_str()).copied().unwrap_or_default(),
                    agent,
                }
            })
            .collect();
        Ok(MyAgents {
            rows,
            next_page: if more { page.checked_add(1) } else { None },
            page,
        })
    }

    /// The names of the human sponsors of each of `ids` (section 5's resolver), by name.
    async fn sponsor_names(
        &self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> DomainResult<BTreeMap<String, Vec<String>>> {
        let pairs = self.store().human_sponsors_of(ids, now).await?;
        let people: Vec<String> = pairs
            .iter()
            .map(|(_, r)| r.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let names: BTreeMap<String, String> = self
            .store()
            .principal_names(&people)
            .await?
            .into_iter()
            .collect();
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (object, person) in pairs {
            let name = names.get(&person.id).cloned().unwrap_or(person.id);
            out.entry(object).or_default().push(name);
        }
        for list in out.values_mut() {
            list.sort();
            list.dedup();
        }
        Ok(out)
    }

    /// The agent `agent_id` if `caller` sponsors or owns it (section 5's resolver), else `404`.
    pub async fn portal_sponsored_agent(
        &self,
        caller: &Caller,
        agent_id: &str,
    ) -> DomainResult<Subject> {
        let now = self.now();
        let agent = self
            .subject(agent_id)
            .await?
            .filter(|s| s.is_agent)
            .ok_or_else(|| agent_not_found(agent_id))?;
        if self.sponsors_or_owns(caller, &agent.id, now).await? {
            Ok(agent)
        } else {
            Err(agent_not_found(agent_id))
        }
    }

    /// An agent's page: `404` unless `caller` sponsors or owns it.
    pub async fn portal_agent(&self, caller: &Caller, agent_id: &str) -> DomainResult<AgentView> {
        let agent = self.portal_sponsored_agent(caller, agent_id).await?;
        let now = self.now();
        let store = self.store();
        let (blueprint_app, created) = match store.service_principal(&agent.id).await? {
            Some(sp) => (sp.agent_identity_blueprint_id, Some(sp.created_date_time)),
            None => match store.user(&agent.id).await? {
                Some(user) if user.kind == UserKind::AgentUser => {
                    let parent = match user.identity_parent_id.as_deref() {
                        Some(parent) => store.service_principal(parent).await?,
                        None => None,
                    };
                    (
                        parent.and_then(|p| p.agent_identity_blueprint_id),
                        Some(user.created_date_time),
                    )
                }
                _ => (None, None),
            },
        };
        let blueprint = match blueprint_app {
            Some(app_id) => store
                .application_by_app_id(&app_id)
                .await?
                .map(|a| a.display_name),
            None => None,
        };
        let ids = [agent.id.clone()];
        let sponsors = self
            .sponsor_names(&ids, now)
            .await?
            .remove(&agent.id)
            .unwrap_or_default();
        let live = store.assignments_of_targets(&ids, true, ROWS_LIMIT).await?;
        let pending = store.requests_of_targets(&ids, true, ROWS_LIMIT).await?;
        let ended = store
            .assignments_of_targets(&ids, false, HISTORY_LIMIT)
            .await?;
        let completed = store
            .requests_of_targets(&ids, false, HISTORY_LIMIT)
            .await?;
        let names = self
            .package_names(
                live.iter()
                    .map(|a| &a.access_package_id)
                    .chain(ended.iter().map(|a| &a.access_package_id))
                    .chain(pending.iter().map(|r| &r.access_package_id))
                    .chain(completed.iter().map(|r| &r.access_package_id)),
            )
            .await?;
        let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        Ok(AgentView {
            agent,
            blueprint,
            created,
            sponsors,
            live: live
                .into_iter()
                .map(|a| Named {
                    package: name(&a.access_package_id),
                    item: a,
                })
                .collect(),
            pending: pending
                .into_iter()
                .map(|r| Named {
                    package: name(&r.access_package_id),
                    item: r,
                })
                .collect(),
            ended: ended
                .into_iter()
                .map(|a| Named {
                    package: name(&a.access_package_id),
                    item: a,
                })
                .collect(),
            completed: completed
                .into_iter()
                .map(|r| Named {
                    package: name(&r.access_package_id),
                    item: r,
                })
                .collect(),
        })
    }

    /// The display names of packages, one read per distinct package.
    async fn package_names<'a>(
        &self,
        ids: impl Iterator<Item = &'a String>,
    ) -> DomainResult<BTreeMap<String, String>> {
        let distinct: BTreeSet<&String> = ids.collect();
        let mut out = BTreeMap::new();
        for id in distinct {
            if let Some(package) = self.store().access_package(id).await? {
                out.insert(id.clone(), package.display_name);
            }
        }
        Ok(out)
    }

    /// The packages `caller` may request for `agent_id`, one offer per policy: those whose
    /// policy lets on-behalf requestors add access, names the caller among them for this agent
    /// and has the agent within its `allowedTargetScope` (the checks of a `userAdd` on behalf,
    /// `Entitlement::may_request_under` and `principal_in_scope`). Hidden packages are left
    /// out, as `filterByCurrentUser(on='allowedRequestor')` leaves them out. A package the agent
    /// holds or has an open request for is offered as blocked. `404` unless the caller sponsors
    /// or owns the agent.
    pub async fn portal_offers(
        &self,
        caller: &Caller,
        agent_id: &str,
    ) -> DomainResult<(Subject, Vec<Offer>)> {
        let agent = self.portal_sponsored_agent(caller, agent_id).await?;
        let store = self.store();
        let mut offers = Vec::new();
        let ids = [agent.id.clone()];
        let held = store.assignments_of_targets(&ids, true, ROWS_LIMIT).await?;
        let open = store.requests_of_targets(&ids, true, ROWS_LIMIT).await?;
        let mut packages: BTreeMap<String, Option<AccessPackage>> = BTreeMap::new();
        for policy in store.on_behalf_requestable_policies().await? {
            if !self.may_request_under(caller, &agent, &policy).await?
                || !self.principal_in_scope(&agent, &policy).await?
            {
                continue;
            }
            if !packages.contains_key(&policy.access_package_id) {
                let package = store.access_package(&policy.access_package_id).await?;
                packages.insert(policy.access_package_id.clone(), package);
            }
            let Some(Some(package)) = packages.get(&policy.access_package_id) else {
                continue;
            };
            if package.is_hidden {
                continue;
            }
            let blocked = if held
                .iter()
                .any(|a| a.access_package_id == package.id && a.state != AssignmentState::Expired)
            {
                Some(format!(
                    "{} already has this access package; extend it from its assignment instead",
                    agent.display_name
                ))
            } else if open.iter().any(|r| {
                r.access_package_id == package.id
                    && matches!(r.request_type, RequestType::UserAdd | RequestType::AdminAdd)
            }) {
                Some("a request for this access package is already open".to_owned())
            } else {
                None
            };
            offers.push(Offer {
                package: package.clone(),
                policy,
                blocked,
            });
        }
        offers.sort_by(|a, b| {
            a.package
                .display_name
                .cmp(&b.package.display_name)
                .then(a.policy.display_name.cmp(&b.policy.display_name))
                .then(a.policy.id.cmp(&b.policy.id))
        });
        Ok((agent, offers))
    }

    /// The names of the resource roles a package grants, for the request form.
    pub async fn portal_package_roles(&self, package_id: &str) -> DomainResult<Vec<String>> {
        let mut out = Vec::new();
        for rs in self.store().package_role_scopes(package_id).await? {
            if let Some(role) = self.store().resource_role(&rs.role_id).await? {
                out.push(role.display_name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// An assignment's page: visible exactly when `GET assignments/{id}` is
    /// (`Entitlement::get_assignment`), with what the caller may do on its target's behalf.
    pub async fn portal_assignment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<AssignmentView> {
        let assignment = self.get_assignment(caller, id).await?;
        let store = self.store();
        let target = self
            .subject(&assignment.target_id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackageAssignment", id))?;
        let package = store
            .access_package(&assignment.access_package_id)
            .await?
            .map_or_else(|| assignment.access_package_id.clone(), |p| p.display_name);
        let policy = store.assignment_policy(&assignment.policy_id).await?;
        let open_extension = store
            .requests_of_targets(std::slice::from_ref(&target.id), true, ROWS_LIMIT)
            .await?
            .into_iter()
            .find(|r| {
                r.assignment_id.as_deref() == Some(assignment.id.as_str())
                    && matches!(
                        r.request_type,
                        RequestType::UserUpdate | RequestType::AdminUpdate
                    )
            });
        let on_behalf = match &policy {
            Some(policy) if target.id != caller.id => {
                self.may_act_on_behalf(caller, &target, policy).await?
            }
            _ => false,
        };
        let ended = assignment.state == AssignmentState::Expired;
        let extend = match &policy {
            None => Err("Its policy was deleted, so it cannot be extended; request the access package again instead.".to_owned()),
            Some(_) if ended => Err("This assignment has ended; request the access package again instead.".to_owned()),
            Some(p) if !p.settings.requestor_settings.enable_on_behalf_requestors_to_update_access => {
                Err("Its policy does not let sponsors extend access on an agent's behalf; ask an administrator of its catalog.".to_owned())
            }
            Some(_) if !on_behalf => Err("Its policy does not name you among those who may act on this agent's behalf.".to_owned()),
            Some(_) if assignment.state != AssignmentState::Delivered => {
                Err("It can be extended once it is delivered.".to_owned())
            }
            Some(_) if open_extension.is_some() => Err("An extension request is already open.".to_owned()),
            Some(_) => Ok(()),
        };
        let remove = match &policy {
            None => Err("Its policy was deleted; ask an administrator of its catalog to remove it.".to_owned()),
            Some(_) if ended => Err("This assignment has already ended.".to_owned()),
            Some(p) if !p.settings.requestor_settings.enable_on_behalf_requestors_to_remove_access => {
                Err("Its policy does not let sponsors remove access on an agent's behalf; ask an administrator of its catalog.".to_owned())
            }
            Some(_) if !on_behalf => Err("Its policy does not name you among those who may act on this agent's behalf.".to_owned()),
            Some(_) => Ok(()),
        };
        Ok(AssignmentView {
            assignment,
            target,
            package,
            policy,
            open_extension,
            extend,
            remove,
        })
    }
}
