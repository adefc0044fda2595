//! Waiting for a request to move on (DESIGN section 16, "Waiting"): reading a request again as
//! soon as its `state` or `status` differs from what the caller first read, woken by this
//! process's [`RequestChanges`] signal rather than by polling, and how long a client that does
//! not wait should leave before asking again ([`retry_after_seconds`]).
//!
//! The time limit is the caller's future (`give_up`), so the domain keeps no runtime: the HTTP
//! server passes a `tokio::time::sleep` of `Prefer: wait=N`, the MCP server one of
//! `wait_seconds`.
//!
//! [`RequestChanges`]: crate::request_waiter::RequestChanges

use std::future::Future;
use std::pin::pin;

use futures_util::future::{Either, select};
use time::OffsetDateTime;

use crate::authz::Caller;
use crate::entitlement::Entitlement;
use crate::error::DomainResult;
use crate::model::{AssignmentRequest, RequestState, RequestStatus};

/// The longest wait a caller may ask for, in seconds (`Prefer: wait=N` is clamped to it).
pub const MAX_WAIT_SECONDS: u64 = 60;

/// What a wait answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestWait {
    /// The request as read last: moved on, or as it is when the wait ends.
    pub request: AssignmentRequest,
    /// Whether the caller waited: `false` when the process's waiters were at their bound
    /// ([`crate::request_waiter::MAX_WAITERS`]) or shutting down, and the request was answered
    /// at once (`Preference-Applied` is then not sent).
    pub waited: bool,
    /// Whether the request's `state` or `status` changed during the wait.
    pub changed: bool,
}

impl Entitlement {
    /// Reads request `id` as [`Entitlement::get_assignment_request`] does (the same 404 for a
    /// caller who may not read it, at once), then waits until its `state` or `status` differs
    /// from that first read, or until `give_up` resolves, and answers the request as it is then.
    /// Every read after a wake checks the caller's right again. No database connection is held
    /// while waiting.
    pub async fn wait_for_request_change<F>(
        &self,
        caller: &Caller,
        id: &str,
        give_up: F,
    ) -> DomainResult<RequestWait>
    where
        F: Future<Output = ()>,
    {
        self.wait_for_request_change_since(caller, id, None, give_up)
            .await
    }

    /// [`Entitlement::wait_for_request_change`] from a state the caller has already read
    /// (`known`): a change committed after that read and before this wait subscribed answers at
    /// once instead of being taken as the starting point, so a caller that waits step by step
    /// (MCP's `get_request`) cannot miss the step that happens between two of its waits.
    pub async fn wait_for_request_change_since<F>(
        &self,
        caller: &Caller,
        id: &str,
        known: Option<&AssignmentRequest>,
        give_up: F,
    ) -> DomainResult<RequestWait>
    where
        F: Future<Output = ()>,
    {
        let changes = self.store.request_changes();
        // Subscribe before the first read, so a change committed between the two still wakes.
        let subscription = changes.subscribe(id);
        let read = self.get_assignment_request(caller, id).await?;
        if let Some(known) = known
            && moved_on(known, &read)
        {
            return Ok(RequestWait {
                request: read,
                waited: subscription.is_some(),
                changed: true,
            });
        }
        let first = read;
        let Some(mut subscription) = subscription else {
            return Ok(RequestWait {
                request: first,
                waited: false,
                changed: false,
            });
        };
        let mut give_up = pin!(give_up);
        let last = loop {
            let woken = pin!(subscription.changed());
            let expired = matches!(
                select(woken, give_up.as_mut()).await,
                Either::Right(((), _))
            );
            // At the end of the wait too: the answer is the request as it is now, whatever
            // signal might have gone astray.
            let now = self.get_assignment_request(caller, id).await?;
            if expired || moved_on(&first, &now) || changes.is_closed() {
                break now;
            }
        };
        Ok(RequestWait {
            changed: moved_on(&first, &last),
            request: last,
            waited: true,
        })
    }
}

impl Entitlement {
    /// [`retry_after_seconds`] of `request` now (the injected clock's instant).
    pub fn retry_after(&self, request: &AssignmentRequest) -> Option<u64> {
        retry_after_seconds(request, self.clock.now())
    }
}

fn moved_on(first: &AssignmentRequest, now: &AssignmentRequest) -> bool {
    first.state != now.state || first.status != now.status
}

/// How many seconds a client that does not wait should leave before reading `request` again
/// (`Retry-After`), or `None` once it is final. Chosen from what moves each state on:
///
/// - `submitted`: 1. Its `processRequest` job is due at once and the worker is woken by the
///   create, so the next state is normally recorded within a second.
/// - `delivering`: 5. A delivery that did not finish in its first pass is being retried with a
///   backoff starting at 1 s; reading faster would mostly find it unchanged.
/// - `scheduled`: until the schedule starts, at least 1 and at most 3,600 (a schedule months
///   ahead should still be read again now and then: it can be canceled).
/// - `pendingApproval`: 60, a person decides (minutes to days); `WaitingForCallback` (status): 30,
///   a custom extension calls back (seconds to minutes). Agents that want the answer at once
///   use `Prefer: wait=N` instead.
pub fn retry_after_seconds(request: &AssignmentRequest, now: OffsetDateTime) -> Option<u64> {
    match request.state {
        RequestState::Submitted if request.status == RequestStatus::WaitingForCallback.as_str() => {
            Some(30)
        }
        RequestState::Submitted => Some(1),
        RequestState::Delivering => Some(5),
        RequestState::PendingApproval
            if request.status == RequestStatus::WaitingForCallback.as_str() =>
        {
            Some(30)
        }
        RequestState::PendingApproval => Some(60),
        RequestState::Scheduled => {
            let seconds = request
                .schedule
                .start_date_time
                .map(|start| (start - now).whole_seconds())
                .unwrap_or(60);
            Some(u64::try_from(seconds.clamp(1, 3_600)).unwrap_or(60))
        }
        RequestState::Delivered
        | RequestState::PartiallyDelivered
        | RequestState::DeliveryFailed
        | RequestState::Denied
        | RequestState::Canceled => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PrincipalKind, RequestSchedule, RequestType};
    use time::Duration;
    use time::macros::datetime;

    fn request(state: RequestState, status: &str) -> AssignmentRequest {
        AssignmentRequest {
            id: "r".into(),
            request_type: RequestType::UserAdd,
            state,
            status: status.into(),
            catalog_id: "c".into(),
            access_package_id: "p".into(),
            policy_id: None,
            assignment_id: None,
            target_id: "t".into(),
            target_kind: PrincipalKind::ServicePrincipal,
            requestor_id: "t".into(),
            requestor_kind: PrincipalKind::ServicePrincipal,
            justification: None,
            schedule: RequestSchedule::default(),
            answers: Vec::new(),
            parameters: None,
            created_date_time: datetime!(2026-12-01 00:00 UTC),
            completed_date_time: None,
        }
    }

    #[test]
    fn retry_after_follows_the_state_and_is_absent_once_final() {
        let now = datetime!(2026-12-01 12:00 UTC);
        let cases = [
            (RequestState::Submitted, "Accepted", Some(1)),
            (RequestState::Submitted, "WaitingForCallback", Some(30)),
            (RequestState::PendingApproval, "PendingApproval", Some(60)),
            (
                RequestState::PendingApproval,
                "WaitingForCallback",
                Some(30),
            ),
            (RequestState::Delivering, "Delivering", Some(5)),
            (RequestState::Delivered, "Delivered", None),
            (RequestState::PartiallyDelivered, "PartiallyDelivered", None),
            (RequestState::DeliveryFailed, "DeliveryFailed", None),
            (RequestState::Denied, "Denied", None),
            (RequestState::Canceled, "Canceled", None),
        ];
        for (state, status, expected) in cases {
            assert_eq!(
                retry_after_seconds(&request(state, status), now),
                expected,
                "{state:?} {status}"
            );
        }
        let mut scheduled = request(RequestState::Scheduled, "Scheduled");
        assert_eq!(
            retry_after_seconds(&scheduled, now),
            Some(60),
            "no start known"
        );
        for (start, expected) in [
            (now + Duration::seconds(90), 90),
            (now + Duration::days(30), 3_600),
            (now - Duration::hours(1), 1),
        ] {
            scheduled.schedule.start_date_time = Some(start);
            assert_eq!(retry_after_seconds(&scheduled, now), Some(expected));
        }
    }
}
