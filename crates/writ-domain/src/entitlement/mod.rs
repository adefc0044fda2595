//! Entitlement management, the administrator's side: catalogs, the resources onboarded into them
//! (with roles and scopes discovered from the directory), access packages and the resource roles
//! they grant, and the catalog-scoped administrative roles that delegate all of it.

mod agent_access;
mod answers;
mod approvals;
pub mod bounds;
mod break_glass;
mod callouts;
mod catalogs;
mod current_user;
mod delivery;
mod expiry;
mod extensions;
pub mod lifecycle;
mod notices;
mod organizations;
mod packages;
mod policies;
pub mod policy_model;
mod records;
mod reprocess;
mod requests;
mod resources;
mod roles;
mod schedule;
mod subjects;
mod timeouts;

pub use crate::model::AssignmentRequestInput;
pub use crate::model::HeldGrant;
pub use crate::model::answer::{Answer, CHOICE_QUESTION_TYPE, TEXT_QUESTION_TYPE};
pub use crate::model::callout::{
    CallbackState, Callout, CalloutInstance, CalloutStage, ClaimedCallout,
};
pub use crate::model::catalog::*;
pub use crate::model::organization::*;
pub use crate::model::policy::AssignmentPolicy;
pub use crate::model::{
    ApprovalStageRecord, Assignment, AssignmentRequest, AssignmentState, RequestParameters,
    RequestSchedule, RequestState, RequestType, Subject,
};
pub use agent_access::{
    ACCESS_LIST_LIMIT, AccessHeld, PolicyRequirements, QuestionRequirement, RequestablePackage,
};
pub use approvals::StageDecision;
pub use callouts::{CalloutSender, CalloutTokenIssuer, ResumeInput};
// The callouts' queue is the storage port's; re-exported at its old path.
pub use crate::store::CalloutQueueStore;
pub use catalogs::{CatalogInput, ensure_general_catalog};
pub use current_user::{CurrentUserFunction, CurrentUserOption};
pub use organizations::*;
pub use packages::{PackageInput, RoleScopeInput};
pub(crate) use policies::remove_from_policies;
pub use policies::{PolicyInput, TARGET_SCOPES};
pub use records::Submitted;
pub use requests::{MAX_WAIT_SECONDS, RequestWait, retry_after_seconds};
pub(crate) use requests::{end_assignments_by_system, end_assignments_for, end_assignments_of};
pub use resources::ResourceRequestInput;
pub(crate) use resources::release_catalog_resources;
pub use roles::EmRoleAssignmentInput;

use std::sync::Arc;

use crate::authz::{Caller, CatalogRights};
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::store::Store;

/// The entitlement-management operations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Entitlement {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How long before an assignment's end each expiry notice goes out.
    expiry_notice_lead_times: Arc<[time::Duration]>,
    /// `WRIT_MAX_AGENT_ACCESS`: the longest assignment that reaches an agent.
    max_agent_access: time::Duration,
    /// How long a lifecycle policy's day is, for the `lifecycleSweep` jobs this service runs.
    lifecycle_day: time::Duration,
}

impl Entitlement {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            expiry_notice_lead_times: Arc::new(notices::DEFAULT_EXPIRY_NOTICE_LEAD_TIMES),
            max_agent_access: bounds::DEFAULT_MAX_AGENT_ACCESS,
            lifecycle_day: time::Duration::DAY,
        }
    }

    /// Sets the length of a lifecycle policy's day for the sweeps (`lifecycle.day_length`).
    pub fn with_lifecycle_day_length(mut self, day: time::Duration) -> Self {
        self.lifecycle_day = day.max(time::Duration::SECOND);
        self
    }

    /// The length of a lifecycle policy's day.
    pub(crate) fn lifecycle_day(&self) -> time::Duration {
        self.lifecycle_day
    }

    /// Sets the longest assignment that reaches an agent (`WRIT_MAX_AGENT_ACCESS`), itself at
    /// most [`bounds::MAX_ASSIGNMENT_DURATION`].
    pub fn with_max_agent_access(mut self, max: time::Duration) -> Self {
        self.max_agent_access = max.clamp(time::Duration::SECOND, bounds::MAX_ASSIGNMENT_DURATION);
        self
    }

    /// The store, for the portal's views (`crate::portal`), which combine reads the services
    /// make and check rights through the services' own rules.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current instant, from the injected clock.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The bound on the assignments of `target`: `WRIT_MAX_AGENT_ACCESS` for an agent.
    pub(crate) fn agent_limit(&self, target: &Subject) -> Option<time::Duration> {
        target.is_agent.then_some(self.max_agent_access)
    }

    /// Sets the expiry notices' lead times (`notifications.expiry_lead_times`).
    pub fn with_expiry_notice_lead_times(mut self, lead_times: Vec<time::Duration>) -> Self {
        self.expiry_notice_lead_times = lead_times.into();
        self
    }

    /// The catalog and the caller's rights in it; `404` when the caller may not even read it,
    /// so that catalogs of others do not reveal themselves.
    async fn catalog_with_rights(
        &self,
        caller: &Caller,
        catalog_id: &str,
    ) -> DomainResult<(Catalog, CatalogRights)> {
        let rights = caller.catalog_rights(catalog_id);
        if !rights.read {
            return Err(DomainError::not_found("accessPackageCatalog", catalog_id));
        }
        let catalog = self
            .store
            .catalog(catalog_id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackageCatalog", catalog_id))?;
        Ok((catalog, rights))
    }

    /// `None` when the caller reads every catalog; otherwise the principal whose catalog roles
    /// restrict a list (inside the query). Principals that can hold no catalog role are `403`.
    fn list_restriction(&self, caller: &Caller, what: &str) -> DomainResult<Option<String>> {
        if caller.reads_all_catalogs() {
            Ok(None)
        } else if caller.may_list_catalogs() {
            Ok(Some(caller.id.clone()))
        } else {
            Err(DomainError::forbidden(format!(
                "the caller may not list {what}"
            )))
        }
    }
}

fn require(allowed: bool, what: &str) -> DomainResult<()> {
    if allowed {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "the caller's role in this catalog does not allow {what}"
        )))
    }
}
