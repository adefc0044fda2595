//! Assignment requests and assignments (DESIGN sections 5 and 6): the administrator's pathways
//! (`adminAdd`, `adminRemove`), the agent's own and its sponsor's (`userAdd`, `userRemove`, under
//! policies without approval until approvals land), delivery of a package's resource roles as grants held by the
//! assignment, and expiry at the assignment's end. Grants are rows with the assignment as their
//! holder and its end as their end, so access ends at that instant for every read that decides
//! it (invariant 2), and a grant another holder also holds survives this one's end (invariant 3).
//!
//! A create records the request (`submitted`) with a `processRequest` job in one transaction;
//! the job worker delivers it. A removal takes effect in the transaction that records it.
//!
//! The files: `create.rs` (the add pathways), `rights.rs` (who may request for whom),
//! `remove.rs` (removals and the end of assignments), `read.rs` (reads and lists) and
//! `process.rs` (the `processRequest` job: read, decide with [`super::lifecycle`], write) and
//! `wait.rs` (waiting for a request's next state, and `Retry-After`).

use super::Entitlement;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{AssignmentPolicy, PrincipalKind, Recipient, RiskState, Subject};

mod create;
mod process;
mod read;
mod remove;
mod rights;
mod wait;

pub(in crate::entitlement) use super::records::Submitted;
pub(crate) use remove::{end_assignments_by_system, end_assignments_for, end_assignments_of};
pub use wait::{MAX_WAIT_SECONDS, RequestWait, retry_after_seconds};

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

fn required(value: Option<String>, name: &str) -> DomainResult<String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| rule(format!("property 'assignment.{name}' is required")))
}

impl Entitlement {
    /// The user or service principal with this id, as a subject (one read).
    pub(crate) async fn subject(&self, id: &str) -> DomainResult<Option<Subject>> {
        Ok(self.store.principal_subject(id).await?.map(|(s, _)| s))
    }

    /// The package a request names; `400` when it does not exist.
    async fn requested_package(&self, package_id: &str) -> DomainResult<super::AccessPackage> {
        self.store
            .access_package(package_id)
            .await?
            .ok_or_else(|| rule(format!("access package '{package_id}' does not exist")))
    }

    /// The policy a request names, which must be one of the package's. Graph's documents also
    /// show requests naming only the package: that works when the package has one policy. A
    /// policy of a catalog the caller may not read is one that does not exist.
    async fn policy_of(
        &self,
        caller: &Caller,
        package: &super::AccessPackage,
        policy_id: Option<String>,
    ) -> DomainResult<AssignmentPolicy> {
        let policy = match policy_id {
            Some(policy_id) => self
                .store
                .assignment_policy(&policy_id)
                .await?
                .filter(|p| caller.catalog_rights(&p.catalog_id).read)
                .ok_or_else(|| rule(format!("assignment policy '{policy_id}' does not exist")))?,
            None => {
                let mut policies = self.store.policies_of_package(&package.id).await?;
                if policies.len() != 1 {
                    return Err(rule("property 'assignment.assignmentPolicyId' is required"));
                }
                policies.remove(0)
            }
        };
        if policy.access_package_id != package.id {
            return Err(rule(format!(
                "assignment policy '{}' belongs to another access package",
                policy.id
            )));
        }
        Ok(policy)
    }

    /// The user or service principal a request targets; `400` when there is none, or when the
    /// caller may not see it (an agent sees only itself), alike.
    async fn target(
        &self,
        caller: &Caller,
        target_id: &str,
    ) -> DomainResult<(Subject, Option<RiskState>)> {
        let missing = || {
            rule(format!(
                "target '{target_id}' is not a user or service principal of the directory"
            ))
        };
        if !caller.can_see_object(target_id) {
            return Err(missing());
        }
        // The subject and its risk state in one read (issue 20).
        self.store
            .principal_subject(target_id)
            .await?
            .ok_or_else(missing)
    }

    /// Human users to notify about a target: its sponsors as DESIGN section 5 resolves them
    /// (`Store::human_sponsors_of`), with a mailbox or not (the notifier decides the channel).
    pub(super) async fn sponsor_recipients(&self, target_id: &str) -> DomainResult<Vec<Recipient>> {
        let now = self.clock.now();
        Ok(self
            .store
            .human_sponsors_of(&[target_id.to_owned()], now)
            .await?
            .into_iter()
            .map(|(_, recipient)| recipient)
            .collect())
    }

    /// The recipients of a request's events (decisions, delivery, extension, removal): its
    /// requestor — a user with its mailbox, or the agent or application itself — and the
    /// target's sponsors.
    pub(super) async fn request_recipients(
        &self,
        target_id: &str,
        requestor_id: &str,
        requestor_kind: PrincipalKind,
    ) -> DomainResult<Vec<Recipient>> {
        let sponsors = self.sponsor_recipients(target_id).await?;
        self.with_requestor(sponsors, requestor_id, requestor_kind)
            .await
    }

    /// A request's recipients from its target's sponsors (read already, for a batch of
    /// requests at once): the requestor joins them unless it is one.
    pub(super) async fn with_requestor(
        &self,
        mut recipients: Vec<Recipient>,
        requestor_id: &str,
        requestor_kind: PrincipalKind,
    ) -> DomainResult<Vec<Recipient>> {
        if recipients.iter().any(|r| r.id == requestor_id) {
            return Ok(recipients);
        }
        let requestor = match requestor_kind {
            PrincipalKind::User => self.store.user(requestor_id).await?.map(|user| Recipient {
                id: user.id,
                kind: "user".into(),
                mail: user.mail,
            }),
            PrincipalKind::ServicePrincipal => Some(Recipient {
                id: requestor_id.to_owned(),
                kind: "servicePrincipal".into(),
                mail: None,
            }),
        };
        recipients.extend(requestor);
        Ok(recipients)
    }
}
