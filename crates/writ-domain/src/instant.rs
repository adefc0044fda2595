//! Instants: the window of instants Writ accepts from input, and checked arithmetic on them.
//!
//! `time`'s `OffsetDateTime + Duration` panics when the result leaves its range (years −9999 to
//! 9999), and so does moving an instant near the edge to another offset. So every instant from
//! input is checked against [`EARLIEST`]..[`LATEST`] where it is written ([`check_input`]),
//! every duration written is bounded (about ten years at most; see `docs/admin-guide.md`), and
//! every instant Writ computes goes through [`add`] or [`sub`], which turn an overflow — only
//! possible for data written before these bounds existed — into
//! [`DomainError::OutOfRange`] instead of a panic.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::error::{DomainError, DomainResult};

/// The earliest instant accepted from input (the Unix epoch).
pub const EARLIEST: OffsetDateTime = datetime!(1970-01-01 0:00 UTC);

/// The first instant refused from input. Far enough from `time`'s last representable instant
/// (the end of 9999) that an instant of the window plus any duration Writ accepts (at most ten
/// years, several times over) is still representable.
pub const LATEST: OffsetDateTime = datetime!(9000-01-01 0:00 UTC);

fn text(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{at}"))
}

/// `at + d`, or [`DomainError::OutOfRange`] when the result is not representable.
pub fn add(at: OffsetDateTime, d: Duration) -> DomainResult<OffsetDateTime> {
    at.checked_add(d).ok_or_else(|| {
        DomainError::OutOfRange(format!(
            "{} after {} is not a representable instant; the duration is out of range",
            crate::duration::format(d.abs()),
            text(at)
        ))
    })
}

/// `at - d`, or [`DomainError::OutOfRange`] when the result is not representable.
pub fn sub(at: OffsetDateTime, d: Duration) -> DomainResult<OffsetDateTime> {
    at.checked_sub(d).ok_or_else(|| {
        DomainError::OutOfRange(format!(
            "{} before {} is not a representable instant; the duration is out of range",
            crate::duration::format(d.abs()),
            text(at)
        ))
    })
}

/// Checks an instant from input: `400` naming `field` and the window unless
/// `EARLIEST <= at < LATEST`.
pub fn check_input(at: OffsetDateTime, field: &str) -> DomainResult<OffsetDateTime> {
    if at < EARLIEST || at >= LATEST {
        return Err(DomainError::invalid(format!(
            "{field} must be at or after {} and before {}",
            text(EARLIEST),
            text(LATEST)
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let edge = datetime!(9999-12-31 23:59:59 UTC);
        assert!(matches!(
            add(edge, Duration::days(1)),
            Err(DomainError::OutOfRange(_))
        ));
        assert!(matches!(
            sub(datetime!(-9999-01-01 0:00 UTC), Duration::days(1)),
            Err(DomainError::OutOfRange(_))
        ));
        assert!(add(edge, Duration::MAX).is_err());
        assert!(sub(edge, Duration::MIN).is_err());
        assert_eq!(
            add(EARLIEST, Duration::days(1)).unwrap(),
            datetime!(1970-01-02 0:00 UTC)
        );
    }

    #[test]
    fn the_input_window_names_the_field_and_its_limits() {
        assert!(check_input(EARLIEST, "x").is_ok());
        assert!(check_input(datetime!(8999-12-31 23:59:59 UTC), "x").is_ok());
        let err = check_input(LATEST, "schedule.startDateTime").unwrap_err();
        assert_eq!(
            err.to_string(),
            "schedule.startDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z"
        );
        // An offset does not let an instant slip through: the comparison is of instants.
        assert!(check_input(datetime!(8999-12-31 23:00 -05:00), "x").is_err());
        assert!(check_input(datetime!(1969-12-31 23:00 UTC), "x").is_err());
    }
}
