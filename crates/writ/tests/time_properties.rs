//! Property tests of durations and instants (issue 14): the ISO 8601 duration parser never
//! panics on any text and reads back what it formats; instants from text never panic on their
//! way through the input window; and the checked arithmetic on instants never panics for any
//! instant and duration, agreeing with `time`'s own checked arithmetic.
//!
//! The test suite runs proptest's default number of cases (256 per property, a fraction of a
//! second); a longer run sets `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=100000 cargo test -p writ --test suite time_properties::`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use proptest::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};
use writ_domain::entitlement::RequestSchedule;
use writ_domain::entitlement::bounds;
use writ_domain::{DomainError, duration, instant};

/// Any instant `time` represents, at any offset it allows.
fn any_instant() -> impl Strategy<Value = OffsetDateTime> {
    let min = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp();
    let max = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT).unix_timestamp();
    (min..=max, 0u32..1_000_000_000, -86_399i32..=86_399).prop_map(|(secs, nanos, offset)| {
        let utc = OffsetDateTime::from_unix_timestamp(secs).unwrap()
            + Duration::nanoseconds(i64::from(nanos));
        let offset = UtcOffset::from_whole_seconds(offset).unwrap();
        // Near the ends of the range an offset can push the local date out of it: keep UTC.
        utc.checked_to_offset(offset).unwrap_or(utc)
    })
}

/// Any duration `time` represents.
fn any_duration() -> impl Strategy<Value = Duration> {
    (any::<i64>(), -999_999_999i32..=999_999_999).prop_map(|(secs, nanos)| {
        let nanos = if secs > 0 { nanos.abs() } else { -nanos.abs() };
        Duration::new(secs, nanos)
    })
}

/// A non-negative duration.
fn non_negative_duration() -> impl Strategy<Value = Duration> {
    (0..=i64::MAX, 0i32..=999_999_999).prop_map(|(secs, nanos)| Duration::new(secs, nanos))
}

/// Text shaped like a duration (the parser's alphabet), more likely to reach its deep paths
/// than arbitrary text.
fn duration_like() -> impl Strategy<Value = String> {
    "P?[0-9PTWDHMS.+-]{0,40}"
}

proptest! {
    #[test]
    fn parsing_any_text_never_panics(text in any::<String>()) {
        let _ = duration::parse(&text);
    }

    #[test]
    fn parsing_duration_like_text_never_panics(text in duration_like()) {
        if let Ok(d) = duration::parse(&text) {
            // Whatever parses is non-negative and formats back to itself.
            prop_assert!(d >= Duration::ZERO);
            prop_assert_eq!(duration::parse(&duration::format(d)).unwrap(), d);
        }
    }

    #[test]
    fn every_duration_round_trips_through_its_text(d in non_negative_duration()) {
        let text = duration::format(d);
        prop_assert_eq!(duration::parse(&text).unwrap(), d, "{}", text);
    }

    #[test]
    fn valid_durations_parse_to_their_sum_or_are_refused_when_too_long(
        weeks in proptest::option::of(0u64..20_000_000_000_000),
        days in proptest::option::of(0u64..200_000_000_000_000),
        hours in proptest::option::of(0u64..3_000_000_000_000_000),
        minutes in proptest::option::of(0u64..200_000_000_000_000_000),
        seconds in proptest::option::of(0u64..10_000_000_000_000_000_000),
        fraction in proptest::option::of("[0-9]{1,9}"),
    ) {
        let mut text = String::from("P");
        let mut total: i128 = 0; // nanoseconds
        for (value, unit, seconds_per) in [(weeks, 'W', 604_800i128), (days, 'D', 86_400)] {
            if let Some(n) = value {
                text.push_str(&format!("{n}{unit}"));
                total += i128::from(n) * seconds_per * 1_000_000_000;
            }
        }
        let has_seconds = seconds.is_some() || fraction.is_some();
        if hours.is_some() || minutes.is_some() || has_seconds {
            text.push('T');
        }
        for (value, unit, seconds_per) in [(hours, 'H', 3_600i128), (minutes, 'M', 60)] {
            if let Some(n) = value {
                text.push_str(&format!("{n}{unit}"));
                total += i128::from(n) * seconds_per * 1_000_000_000;
            }
        }
        if has_seconds {
            let whole = seconds.unwrap_or(0);
            text.push_str(&whole.to_string());
            total += i128::from(whole) * 1_000_000_000;
            if let Some(f) = &fraction {
                text.push('.');
                text.push_str(f);
                total += format!("{f:0<9}").parse::<i128>().unwrap();
            }
            text.push('S');
        }
        let parsed = duration::parse(&text);
        if text == "P" {
            prop_assert!(parsed.is_err());
        } else if text.len() > duration::MAX_TEXT_LEN {
            prop_assert!(parsed.is_err(), "{}", text);
        } else {
            let max = i128::from(i64::MAX) * 1_000_000_000 + 999_999_999;
            let representable = total <= max
                // Each term must fit on its own too (the parser adds term by term).
                && [weeks.map(|n| i128::from(n) * 604_800), days.map(|n| i128::from(n) * 86_400),
                    hours.map(|n| i128::from(n) * 3_600), minutes.map(|n| i128::from(n) * 60),
                    seconds.map(i128::from)]
                    .into_iter().flatten().all(|s| s <= i128::from(i64::MAX));
            match parsed {
                Ok(d) => {
                    prop_assert!(representable, "{} parsed although too long", text);
                    prop_assert_eq!(d.whole_nanoseconds(), total, "{}", text);
                }
                Err(_) => prop_assert!(!representable, "{} refused although valid", text),
            }
        }
    }

    #[test]
    fn checked_instant_arithmetic_never_panics_and_agrees_with_time(
        at in any_instant(),
        d in any_duration(),
    ) {
        match instant::add(at, d) {
            Ok(sum) => prop_assert_eq!(Some(sum), at.checked_add(d)),
            Err(error) => {
                prop_assert!(matches!(error, DomainError::OutOfRange(_)));
                prop_assert!(at.checked_add(d).is_none());
            }
        }
        match instant::sub(at, d) {
            Ok(difference) => prop_assert_eq!(Some(difference), at.checked_sub(d)),
            Err(error) => {
                prop_assert!(matches!(error, DomainError::OutOfRange(_)));
                prop_assert!(at.checked_sub(d).is_none());
            }
        }
        let _ = instant::check_input(at, "x");
        let _ = bounds::agent_end_within(at, at, d, "x");
    }

    #[test]
    fn instants_in_the_window_plus_bounded_durations_never_overflow(
        offset_secs in 0i64..(instant::LATEST.unix_timestamp() - instant::EARLIEST.unix_timestamp()),
        d in (0..=bounds::MAX_ASSIGNMENT_DURATION.whole_seconds()).prop_map(Duration::seconds),
        times in 1i32..=8,
    ) {
        // Anything accepted from input, plus several of the longest durations Writ accepts,
        // is representable: the reason for the window.
        let at = instant::check_input(
            instant::EARLIEST + Duration::seconds(offset_secs),
            "x",
        ).unwrap();
        prop_assert!(instant::add(at, d * times).is_ok());
        prop_assert!(instant::sub(at, d * times).is_ok());
    }

    #[test]
    fn instants_from_any_text_never_panic(text in any::<String>()) {
        if let Ok(at) = OffsetDateTime::parse(&text, &Rfc3339) {
            let _ = instant::check_input(at, "x");
        }
        let body = serde_json::json!({"startDateTime": text,
            "expiration": {"type": "afterDateTime", "endDateTime": text}});
        if let Ok(schedule) = serde_json::from_value::<RequestSchedule>(body)
            && let Some(start) = schedule.start_date_time
        {
            let _ = instant::check_input(start, "schedule.startDateTime");
        }
    }

    #[test]
    fn rfc3339_shaped_text_near_the_edges_never_panics(
        year in 0u32..=9999, month in 1u32..=12, day in 1u32..=31,
        hour in 0u32..=23, offset_hours in 0u32..=23, sign in prop::bool::ANY,
    ) {
        let text = format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:59:59.999999999{}{offset_hours:02}:59",
            if sign { '+' } else { '-' }
        );
        if let Ok(at) = OffsetDateTime::parse(&text, &Rfc3339)
            && instant::check_input(at, "x").is_ok()
        {
            // In the window: converting to UTC (as rendering does) cannot overflow.
            let _ = at.to_offset(UtcOffset::UTC);
        }
    }

    #[test]
    fn bounded_durations_name_the_field_whatever_the_text(text in duration_like()) {
        match bounds::duration_within(&text, "stage 1 durationBeforeAutomaticDenial", true,
                                      bounds::MAX_APPROVAL_DECISION) {
            Ok(d) => prop_assert!(d > Duration::ZERO && d <= bounds::MAX_APPROVAL_DECISION),
            Err(error) => prop_assert!(
                error.to_string().starts_with("stage 1 durationBeforeAutomaticDenial"),
                "{}", error
            ),
        }
    }
}
