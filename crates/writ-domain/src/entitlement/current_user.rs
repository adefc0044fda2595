//! The `filterByCurrentUser(on='…')` functions of entitlement management: the members of each
//! function's `on` enumeration (Graph's, evolvable: matched in any case, the members after
//! `unknownFutureValue` accepted like the others, `unknownFutureValue` itself refused), and the
//! caller-relative lists they answer, each a side of the request or assignment ([`Party`]) that
//! the store turns into a condition of the query, so `$filter`, paging and `$count` stay in SQL.

use std::collections::HashMap;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{ApprovalStageRecord, Assignment, AssignmentRequest};
use crate::query::{ListQuery, Page};
use crate::store::Party;

use super::Entitlement;

/// A `filterByCurrentUser` function, by the collection it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentUserFunction {
    /// `accessPackages/filterByCurrentUser`: `accessPackageFilterByCurrentUserOptions`.
    AccessPackages,
    /// `assignmentRequests/filterByCurrentUser`:
    /// `accessPackageAssignmentRequestFilterByCurrentUserOptions`.
    AssignmentRequests,
    /// `assignments/filterByCurrentUser`: `accessPackageAssignmentFilterByCurrentUserOptions`.
    Assignments,
    /// `accessPackageAssignmentApprovals/filterByCurrentUser`: `approvalFilterByCurrentUserOptions`.
    Approvals,
}

/// A member of one of the `on` enumerations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentUserOption {
    AllowedRequestor,
    Target,
    CreatedBy,
    Approver,
    TargetOrRequestor,
    TargetManager,
    RequestForOthers,
    TargetAgentIdentitySponsorOrOwner,
}

impl CurrentUserOption {
    /// Graph's spelling.
    pub fn name(self) -> &'static str {
        match self {
            CurrentUserOption::AllowedRequestor => "allowedRequestor",
            CurrentUserOption::Target => "target",
            CurrentUserOption::CreatedBy => "createdBy",
            CurrentUserOption::Approver => "approver",
            CurrentUserOption::TargetOrRequestor => "targetOrRequestor",
            CurrentUserOption::TargetManager => "targetManager",
            CurrentUserOption::RequestForOthers => "requestForOthers",
            CurrentUserOption::TargetAgentIdentitySponsorOrOwner => {
                "targetAgentIdentitySponsorOrOwner"
            }
        }
    }

    /// The side of a request or assignment the caller is on; `at` is the instant group
    /// memberships are read at.
    fn party(self, at: time::OffsetDateTime) -> Option<Party> {
        match self {
            CurrentUserOption::AllowedRequestor => None,
            CurrentUserOption::Target => Some(Party::Target),
            CurrentUserOption::CreatedBy => Some(Party::Requestor),
            CurrentUserOption::Approver => Some(Party::Approver),
            CurrentUserOption::TargetOrRequestor => Some(Party::TargetOrRequestor),
            CurrentUserOption::TargetManager => Some(Party::TargetManager),
            CurrentUserOption::RequestForOthers => Some(Party::RequestorForOther),
            CurrentUserOption::TargetAgentIdentitySponsorOrOwner => {
                Some(Party::TargetSponsorOrOwner { at })
            }
        }
    }
}

/// `unknownFutureValue`: a member of every evolvable enumeration that a client may not send.
const UNKNOWN_FUTURE_VALUE: &str = "unknownFutureValue";

impl CurrentUserFunction {
    /// The name of the function's `on` enumeration.
    pub fn enum_name(self) -> &'static str {
        match self {
            CurrentUserFunction::AccessPackages => "accessPackageFilterByCurrentUserOptions",
            CurrentUserFunction::AssignmentRequests => {
                "accessPackageAssignmentRequestFilterByCurrentUserOptions"
            }
            CurrentUserFunction::Assignments => "accessPackageAssignmentFilterByCurrentUserOptions",
            CurrentUserFunction::Approvals => "approvalFilterByCurrentUserOptions",
        }
    }

    /// The accepted members, in the enumeration's order (`unknownFutureValue` left out, the
    /// evolvable members after it included).
    pub fn options(self) -> &'static [CurrentUserOption] {
        use CurrentUserOption::*;
        match self {
            CurrentUserFunction::AccessPackages => &[AllowedRequestor],
            CurrentUserFunction::AssignmentRequests => &[
                Target,
                CreatedBy,
                Approver,
                TargetOrRequestor,
                TargetManager,
                RequestForOthers,
                TargetAgentIdentitySponsorOrOwner,
            ],
            CurrentUserFunction::Assignments => &[
                Target,
                CreatedBy,
                TargetManager,
                TargetAgentIdentitySponsorOrOwner,
            ],
            CurrentUserFunction::Approvals => &[Target, CreatedBy, Approver],
        }
    }

    /// The member named `text`, in any case; `400` for `unknownFutureValue` and for a name the
    /// enumeration does not have, listing the accepted ones.
    pub fn parse_option(self, text: &str) -> DomainResult<CurrentUserOption> {
        if text.eq_ignore_ascii_case(UNKNOWN_FUTURE_VALUE) {
            return Err(self.refused(UNKNOWN_FUTURE_VALUE));
        }
        self.options()
            .iter()
            .copied()
            .find(|o| o.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| self.refused(text))
    }

    fn refused(self, text: &str) -> DomainError {
        let accepted: Vec<String> = self
            .options()
            .iter()
            .map(|o| format!("'{}'", o.name()))
            .collect();
        DomainError::invalid(format!(
            "parameter 'on' of filterByCurrentUser does not accept '{text}' ({}); accepted \
             values: {}",
            self.enum_name(),
            accepted.join(", ")
        ))
    }

    /// The side for `option`, which must be one of this function's members.
    fn party(self, option: CurrentUserOption, at: time::OffsetDateTime) -> DomainResult<Party> {
        match option.party(at) {
            Some(party) if self.options().contains(&option) => Ok(party),
            _ => Err(self.refused(option.name())),
        }
    }
}

impl Entitlement {
    /// `assignmentRequests/filterByCurrentUser(on=…)`: the requests the caller is on the given
    /// side of, whatever its catalog rights (so no caller is refused: the list is its own).
    pub async fn list_requests_for_current_user(
        &self,
        caller: &Caller,
        option: CurrentUserOption,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentRequest>> {
        let now = self.clock.now();
        let party = CurrentUserFunction::AssignmentRequests.party(option, now)?;
        let mut page = self.list_own_requests(caller, party, query).await?;
        if option == CurrentUserOption::Approver {
            // The stored approvers are those resolved when the stage started; each is checked
            // again as a decision would be, so a page may hold fewer than `$top` items.
            let decidable = self.decidable_stages(&caller.id, &page.items, now).await?;
            page.items = page
                .items
                .into_iter()
                .zip(decidable)
                .filter_map(|(request, stage)| stage.map(|_| request))
                .collect();
        }
        Ok(page)
    }

    /// `assignments/filterByCurrentUser(on=…)`: the assignments the caller is on the given side
    /// of.
    pub async fn list_assignments_for_current_user(
        &self,
        caller: &Caller,
        option: CurrentUserOption,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        let party = CurrentUserFunction::Assignments.party(option, self.clock.now())?;
        self.list_own_assignments(caller, party, query).await
    }

    /// `accessPackageAssignmentApprovals/filterByCurrentUser(on=…)`: the approvals (request id
    /// and stages) of the requests with approval stages that the caller is the target of
    /// (`target`), the requestor of (`createdBy`), or may decide now (`approver`: a stage in
    /// progress names it among the approvers resolved when the stage started). Each is one the
    /// caller may read with `GET accessPackageAssignmentApprovals/{id}`.
    pub async fn list_approvals_for_current_user(
        &self,
        caller: &Caller,
        option: CurrentUserOption,
        query: &ListQuery,
    ) -> DomainResult<Page<(String, Vec<ApprovalStageRecord>, Option<String>)>> {
        let now = self.clock.now();
        let party = CurrentUserFunction::Approvals.party(option, now)?;
        let page = self
            .store
            .list_approvals(query, (party, &caller.id))
            .await?;
        let decidable = self.decidable_stages(&caller.id, &page.items, now).await?;
        let ids: Vec<String> = page.items.iter().map(|r| r.id.clone()).collect();
        let mut stages_of: HashMap<String, Vec<ApprovalStageRecord>> = HashMap::new();
        for stage in self.store.approval_stages_of_requests(&ids).await? {
            stages_of
                .entry(stage.request_id.clone())
                .or_default()
                .push(stage);
        }
        let mut items = Vec::with_capacity(page.items.len());
        for (request, assigned) in page.items.into_iter().zip(decidable) {
            // As for requests: checked again, so a page may hold fewer than `$top` items.
            if option == CurrentUserOption::Approver && assigned.is_none() {
                continue;
            }
            let stages = stages_of.remove(&request.id).unwrap_or_default();
            items.push((request.id, stages, assigned));
        }
        Ok(Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_match_in_any_case_and_unknown_future_value_is_refused() {
        let f = CurrentUserFunction::AssignmentRequests;
        assert_eq!(
            f.parse_option("TARGETAGENTIDENTITYSPONSOROROWNER").ok(),
            Some(CurrentUserOption::TargetAgentIdentitySponsorOrOwner)
        );
        assert_eq!(
            f.parse_option("requestforothers").ok(),
            Some(CurrentUserOption::RequestForOthers)
        );
        for bad in [
            "unknownFutureValue",
            "UnknownFutureValue",
            "allowedRequestor",
            "",
        ] {
            let err = f.parse_option(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|m| m.contains("'targetManager'")),
                "{bad}: {err:?}"
            );
        }
        assert!(
            CurrentUserFunction::Assignments
                .parse_option("approver")
                .is_err()
        );
        assert!(
            CurrentUserFunction::Approvals
                .party(
                    CurrentUserOption::TargetManager,
                    time::OffsetDateTime::UNIX_EPOCH
                )
                .is_err()
        );
    }
}
