//! How long what entitlement management writes may last: Graph's limits where Graph has them,
//! Writ's own otherwise, and the operator's `WRIT_MAX_AGENT_ACCESS` for access that reaches
//! agents. Every duration is bounded **when it is written** (a policy, a request's custom
//! schedule, an extension, a custom extension, the settings), so that the instants computed
//! from them later (an assignment's end, a stage's deadline, a callback's timeout) stay far
//! from the end of `time`'s range; see [`crate::instant`].

use time::{Duration, OffsetDateTime};

use crate::duration;
use crate::error::{DomainError, DomainResult};

/// Graph: an approval stage's `durationBeforeAutomaticDenial` is at most 14 days, and so is
/// its `durationBeforeEscalation` (which must also be shorter than the denial).
pub const MAX_APPROVAL_DECISION: Duration = Duration::days(14);

/// The longest assignment a policy's `expiration.duration` or a request's custom schedule may
/// give: Entra's "Number of days" field (0 to 3660).
pub const MAX_ASSIGNMENT_DURATION: Duration = Duration::days(3660);

/// `WRIT_MAX_AGENT_ACCESS` unless configured: the longest assignment that reaches an agent.
pub const DEFAULT_MAX_AGENT_ACCESS: Duration = Duration::days(365);

/// Graph: a custom extension's `callbackConfiguration.timeoutDuration` is 5 minutes to 14 days.
pub const MIN_CALLBACK_TIMEOUT: Duration = Duration::minutes(5);
pub const MAX_CALLBACK_TIMEOUT: Duration = Duration::days(14);

/// `durationUntilExternalUserDeletedAfterBlocked`: Graph documents no limit; Writ keeps it to
/// the longest assignment.
pub const MAX_EXTERNAL_USER_DELETION: Duration = MAX_ASSIGNMENT_DURATION;

/// Parses a duration written to `field`: `400` naming the field when it is not one, is
/// negative, or is zero where `positive`, or is longer than `limit`.
pub fn duration_within(
    text: &str,
    field: &str,
    positive: bool,
    limit: Duration,
) -> DomainResult<Duration> {
    let d = duration::parse(text).map_err(|_| {
        DomainError::invalid(format!(
            "{field} '{}' is not an ISO 8601 duration (e.g. P14D, PT1H)",
            text.chars()
                .take(duration::MAX_TEXT_LEN)
                .collect::<String>()
        ))
    })?;
    if d < Duration::ZERO || (positive && d == Duration::ZERO) {
        return Err(DomainError::invalid(format!(
            "{field} must be {}",
            if positive {
                "positive"
            } else {
                "zero or positive"
            }
        )));
    }
    duration::at_most(d, limit, field)
}

/// Checks an end given for access that reaches an agent: at most `limit` after `start`.
/// `field` names where the end comes from (the policy's expiration, the request's schedule).
pub fn agent_end_within(
    end: OffsetDateTime,
    start: OffsetDateTime,
    limit: Duration,
    field: &str,
) -> DomainResult<()> {
    let latest = crate::instant::add(start, limit)?;
    if end > latest {
        return Err(DomainError::invalid(format!(
            "{field} must end at most {} ({} days) after the assignment starts: access that reaches an agent is bounded by WRIT_MAX_AGENT_ACCESS",
            duration::format(limit),
            limit.whole_days()
        )));
    }
    Ok(())
}
