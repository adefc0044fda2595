//! Expiry notices (DESIGN sections 5 and 8, the seed's sponsor loop): one
//! `assignment.expiringSoon` per configured lead time per assignment end, to the target's
//! sponsors (and a human target itself), reflected in the assignment's `status`.
//!
//! Each notice is an `expiryNotice` job due at `end − lead time`, written with the delivery or
//! the extension that set the end; lead times already past then are skipped. A job is matched
//! back to its lead time by the instant it was scheduled for (`ClaimedJob::scheduled_at`, not its
//! due time, which a failed attempt moves to the retry instant), so a retried notice is still
//! sent, and a job left over from an end that an extension moved finds no lead time and does
//! nothing — an extension re-arms the notices by writing new
//! jobs for the new end. The notice's event takes its job's id, so the same job run again (its
//! work committed, then the process died before the job was deleted) finds the event written
//! and records nothing twice.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::Entitlement;
use super::callouts::CalloutOn;
use super::records;
use super::records::assignment_event_data;

use crate::error::{DomainError, DomainResult};
use crate::model::{
    Actor, Assignment, AssignmentState, AssignmentStatus, AuditRecord, CalloutStage, JobKind,
    NewJob, OutboxEvent, PrincipalKind, Recipient,
};

use crate::store::StoreError;

/// Entra's schedule: fourteen days and one day before the end.
pub const DEFAULT_EXPIRY_NOTICE_LEAD_TIMES: [Duration; 2] = [Duration::days(14), Duration::days(1)];

/// The notice jobs of an assignment ending at `end`, for the lead times still ahead at `now`.
pub(super) fn notice_jobs(
    assignment_id: &str,
    end: Option<OffsetDateTime>,
    now: OffsetDateTime,
    lead_times: &[Duration],
) -> Vec<NewJob> {
    let Some(end) = end else {
        return Vec::new();
    };
    lead_times
        .iter()
        // A due instant before the first representable one is long past: no notice.
        .filter_map(|lead| end.checked_sub(*lead))
        .filter(|due| *due > now)
        .map(|due| NewJob::new(JobKind::ExpiryNotice, assignment_id, due))
        .collect()
}

/// The assignment `status` after a notice: Graph names the two lead times of Entra's own
/// schedule, and has one name for any other.
pub fn notice_status(lead: Duration) -> &'static str {
    if lead == Duration::days(14) {
        AssignmentStatus::NearExpiry14DaysNotificationTriggered
    } else if lead == Duration::days(1) {
        AssignmentStatus::NearExpiry1DayNotificationTriggered
    } else {
        AssignmentStatus::NearExpiryNotificationTriggered
    }
    .as_str()
}

/// ISO 8601 text of a lead time, as the event carries it (`P14D`, `PT30S`).
fn iso_duration(lead: Duration) -> String {
    let seconds = lead.whole_seconds();
    if seconds % 86_400 == 0 {
        format!("P{}D", seconds / 86_400)
    } else {
        format!("PT{seconds}S")
    }
}

impl Entitlement {
    /// Runs the `expiryNotice` job `job_id` scheduled for `scheduled`: records the notice on a
    /// live assignment whose end is still `scheduled` + one of the lead times, unless its policy
    /// disables assignment notifications.
    pub(super) async fn send_expiry_notice(
        &self,
        job_id: &str,
        assignment_id: &str,
        scheduled: OffsetDateTime,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(assignment) = self.store.assignment(assignment_id).await? else {
            return Ok(());
        };
        if !matches!(
            assignment.state,
            AssignmentState::Delivered | AssignmentState::PartiallyDelivered
        ) {
            return Ok(());
        }
        let Some(end) = assignment.end_date_time.filter(|end| *end > now) else {
            return Ok(());
        };
        let Some(lead) = self
            .expiry_notice_lead_times
            .iter()
            .copied()
            .find(|lead| end.checked_sub(*lead) == Some(scheduled))
        else {
            // The end moved (an extension wrote this end's own jobs) or the lead times changed.
            return Ok(());
        };
        let policy = self.store.assignment_policy(&assignment.policy_id).await?;
        // The custom extension of this lead time's stage, notices or not: the first of two or
        // more lead times is Graph's "fourteen days before", the last its "one day before".
        let leads = &self.expiry_notice_lead_times;
        let stage = match leads.iter().position(|l| *l == lead) {
            Some(0) if leads.len() >= 2 => Some(CalloutStage::FourteenDaysBeforeExpiration),
            Some(i) if i + 1 == leads.len() => Some(CalloutStage::OneDayBeforeExpiration),
            _ => None,
        };
        let callout = match (&policy, stage) {
            (Some(policy), Some(stage)) => {
                self.plan_callout(
                    policy,
                    stage,
                    CalloutOn::Assignment {
                        assignment: &assignment,
                        request: None,
                    },
                    now,
                )
                .await?
            }
            _ => None,
        };
        let disabled = policy.as_ref().is_some_and(|p| {
            p.settings
                .notification_settings
                .is_assignment_notification_disabled
        });
        if disabled {
            let mut tx = self.store.begin().await?;
            records::write_callout(tx.as_mut(), callout.as_ref()).await?;
            return Ok(tx.commit().await?);
        }
        let target = self.subject(&assignment.target_id).await?;
        let mut recipients = self.sponsor_recipients(&assignment.target_id).await?;
        if let Some(target) = &target
            && target.kind == PrincipalKind::User
            && !target.is_agent
            && !recipients.iter().any(|r| r.id == target.id)
        {
            recipients.push(Recipient {
                id: target.id.clone(),
                kind: "user".into(),
                mail: target.mail.clone(),
            });
        }
        let target_name = target.map(|t| t.display_name).unwrap_or_default();

        let noticed = Assignment {
            status: notice_status(lead).into(),
            ..assignment.clone()
        };
        let lead_text = iso_duration(lead);
        let mut data = assignment_event_data(&noticed, None);
        data["leadTime"] = json!(lead_text);
        let event = OutboxEvent {
            id: job_id.to_owned(),
            ..OutboxEvent::new("assignment.expiringSoon", now, data, recipients.clone())
        };
        let mut tx = self.store.begin().await?;
        match tx.enqueue_event(&event).await {
            // This job ran before and its notice committed; the process died before the job
            // was deleted. Nothing is recorded again (the transaction is dropped).
            Err(StoreError::Unique(_)) => return Ok(()),
            other => other?,
        }
        if !tx.update_assignment(&noticed, &assignment).await? {
            // It ended or was extended since it was read: the job runs again and reads anew.
            return Err(DomainError::Conflict(format!(
                "assignment {assignment_id} changed while its expiry notice was recorded"
            )));
        }
        tx.append_audit(
            &AuditRecord::success(
                Actor::system(),
                now,
                "EntitlementManagement",
                "Notify of access package assignment expiry",
                "Update",
                None,
            )
            .target(
                &assignment.id,
                "AccessPackageAssignment",
                None,
                vec!["status".into()],
            )
            .on_behalf_of(
                &assignment.target_id,
                assignment.target_kind.type_name(),
                (!target_name.is_empty()).then_some(target_name.as_str()),
            )
            .detail("accessPackageId", assignment.access_package_id.clone())
            .detail("leadTime", lead_text.clone())
            .detail(
                "recipients",
                recipients
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .in_catalog(&assignment.catalog_id),
        )
        .await?;
        records::write_callout(tx.as_mut(), callout.as_ref()).await?;
        Ok(tx.commit().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lead_times_already_past_are_skipped() {
        let end = datetime!(2031-03-20 09:00 UTC);
        let lead_times = DEFAULT_EXPIRY_NOTICE_LEAD_TIMES;
        let dues = |now| {
            notice_jobs("a", Some(end), now, &lead_times)
                .into_iter()
                .map(|j| j.due_at)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            dues(end - Duration::days(30)),
            [end - Duration::days(14), end - Duration::days(1)]
        );
        assert_eq!(dues(end - Duration::days(14)), [end - Duration::days(1)]);
        assert!(dues(end - Duration::hours(2)).is_empty());
        assert!(notice_jobs("a", None, end, &lead_times).is_empty());
    }

    #[test]
    fn status_names_follow_graph() {
        assert_eq!(
            notice_status(Duration::days(14)),
            "NearExpiry14DaysNotificationTriggered"
        );
        assert_eq!(
            notice_status(Duration::days(1)),
            "NearExpiry1DayNotificationTriggered"
        );
        assert_eq!(
            notice_status(Duration::seconds(8)),
            "NearExpiryNotificationTriggered"
        );
        assert_eq!(iso_duration(Duration::days(14)), "P14D");
        assert_eq!(iso_duration(Duration::seconds(8)), "PT8S");
    }
}
