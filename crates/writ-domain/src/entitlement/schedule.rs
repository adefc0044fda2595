//! The schedule rules of a request: a custom schedule's bounds ([`check_schedule`]) and the end
//! of the assignment a request delivers ([`assignment_end`]). Pure: no store, no clock.

use time::OffsetDateTime;

use super::bounds;

use crate::error::{DomainError, DomainResult};
use crate::model::{AssignmentPolicy, Expiration, ExpirationKind, RequestSchedule};

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

/// Checks a custom schedule as a request writes it: its instants in the input window and its
/// duration at most [`bounds::MAX_ASSIGNMENT_DURATION`], each a `400` naming the field.
pub(super) fn check_schedule(schedule: &RequestSchedule) -> DomainResult<()> {
    if let Some(start) = schedule.start_date_time {
        crate::instant::check_input(start, "schedule.startDateTime")?;
    }
    let expiration = &schedule.expiration;
    if let Some(end) = expiration.end_date_time {
        crate::instant::check_input(end, "schedule.expiration.endDateTime")?;
    }
    if let Some(duration) = &expiration.duration {
        bounds::duration_within(
            duration,
            "schedule.expiration.duration",
            true,
            bounds::MAX_ASSIGNMENT_DURATION,
        )?;
    }
    Ok(())
}

/// When an assignment delivered at `start` under `policy` ends, with the requested schedule.
/// `agent_limit` (`WRIT_MAX_AGENT_ACCESS`, for an agent target) bounds the end from `start`.
///
/// The end is a whole second, rounded down: the API shows instants in whole seconds, and the end
/// it shows must be the instant access ends (invariant 2), never a fraction of a second before it.
pub(super) fn assignment_end(
    policy: &AssignmentPolicy,
    requested: &RequestSchedule,
    start: OffsetDateTime,
    agent_limit: Option<time::Duration>,
) -> DomainResult<Option<OffsetDateTime>> {
    let whole_second = |t: OffsetDateTime| t.replace_nanosecond(0).unwrap_or(t);
    let end_of = |pattern: &Expiration| -> DomainResult<Option<OffsetDateTime>> {
        match pattern.expiration_kind() {
            Some(ExpirationKind::AfterDuration) => {
                let text = pattern.duration.as_deref().unwrap_or_default();
                let duration = crate::duration::parse(text)?;
                Ok(Some(whole_second(crate::instant::add(start, duration)?)))
            }
            Some(ExpirationKind::AfterDateTime) => Ok(pattern.end_date_time.map(whole_second)),
            _ => Ok(None),
        }
    };
    let by_policy = end_of(&policy.settings.expiration)?;
    let custom = end_of(&requested.expiration)?;
    let end = match (custom, by_policy) {
        (Some(custom), Some(max)) if custom > max => Err(rule(format!(
            "the requested schedule ends after the policy's maximum ({max})"
        ))),
        (Some(custom), _) if custom <= start => {
            Err(rule("the requested schedule ends before it starts"))
        }
        (Some(custom), _) => Ok(Some(custom)),
        (None, by_policy) => Ok(by_policy),
    }?;
    if let (Some(limit), Some(at)) = (agent_limit, end) {
        let pattern = if custom.is_some() {
            ("schedule.expiration", &requested.expiration)
        } else {
            ("the policy's expiration", &policy.settings.expiration)
        };
        let field = match pattern.1.expiration_kind() {
            Some(ExpirationKind::AfterDuration) => format!("{}.duration", pattern.0),
            _ => format!("{}.endDateTime", pattern.0),
        };
        bounds::agent_end_within(at, start, limit, &field)?;
    }
    Ok(end)
}
