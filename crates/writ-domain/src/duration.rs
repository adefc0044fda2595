//! ISO 8601 durations as Graph and the configuration write them (`PT1H`, `P14D`, `PT8S`,
//! `P1DT12H`). Years and months are refused: their length depends on the calendar, and every
//! duration here is a fixed span.
//!
//! Parsing never panics and never overflows, whatever the text (checked arithmetic throughout;
//! `Duration::days(n)` and `Duration::seconds_f64` would panic on huge values): a duration too
//! large to represent is refused like any other malformed one. How long a duration may be is the
//! caller's rule, checked where it is written ([`at_most`]).

use time::Duration;

use crate::error::{DomainError, DomainResult};

/// The longest text read as a duration; anything longer is refused without being echoed back.
pub const MAX_TEXT_LEN: usize = 64;

/// Parses `P[nW][nD][T[nH][nM][n[.f]S]]`.
pub fn parse(text: &str) -> DomainResult<Duration> {
    if text.len() > MAX_TEXT_LEN {
        return Err(DomainError::invalid(format!(
            "a duration is at most {MAX_TEXT_LEN} characters (e.g. PT1H, P14D)"
        )));
    }
    let bad = || {
        DomainError::invalid(format!(
            "'{text}' is not an ISO 8601 duration of days, hours, minutes and seconds (e.g. PT1H, P14D)"
        ))
    };
    let too_long = || DomainError::invalid(format!("the duration '{text}' is too long"));
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let add = |total: &mut Duration, amount: Duration| -> DomainResult<()> {
        *total = total.checked_add(amount).ok_or_else(too_long)?;
        Ok(())
    };
    for c in date_part.chars() {
        match c {
            '0'..='9' => number.push(c),
            'W' | 'D' => {
                let unit = if c == 'W' { 7 * 86_400 } else { 86_400 };
                add(&mut total, whole_units(&number, unit).ok_or_else(bad)??)?;
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    if let Some(time_part) = time_part {
        for c in time_part.chars() {
            match c {
                '0'..='9' | '.' => number.push(c),
                'H' | 'M' => {
                    let unit = if c == 'H' { 3_600 } else { 60 };
                    add(&mut total, whole_units(&number, unit).ok_or_else(bad)??)?;
                    number.clear();
                }
                'S' => {
                    add(&mut total, seconds(&number).ok_or_else(bad)??)?;
                    number.clear();
                }
                _ => return Err(bad()),
            }
        }
        if !number.is_empty() {
            return Err(bad());
        }
    }
    Ok(total)
}

/// `digits` × `unit` seconds: `None` when `digits` is not a whole number, `Some(Err)` when the
/// product does not fit.
fn whole_units(digits: &str, unit: i64) -> Option<DomainResult<Duration>> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let too_long = || DomainError::invalid("the duration is too long");
    Some(
        digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .map(Duration::seconds)
            .ok_or_else(too_long),
    )
}

/// `s[.f]` seconds, exactly (no floating point: `PT0.1S` is 100 ms, and every formatted
/// duration reads back as itself), to the nanosecond.
fn seconds(text: &str) -> Option<DomainResult<Duration>> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
        return None;
    }
    if whole.is_empty() && fraction.is_none_or(str::is_empty) {
        return None;
    }
    let nanos = match fraction {
        Some(f) if !f.is_empty() => {
            let padded = format!("{f:0<9}");
            padded.parse::<i64>().ok()?
        }
        _ => 0,
    };
    let whole = if whole.is_empty() {
        Some(0)
    } else {
        whole.parse::<i64>().ok()
    };
    let too_long = || DomainError::invalid("the duration is too long");
    Some(
        whole
            .map(Duration::seconds)
            .and_then(|w| w.checked_add(Duration::nanoseconds(nanos)))
            .ok_or_else(too_long),
    )
}

/// The canonical text of a non-negative duration: days, then `T` with hours, minutes and
/// seconds (a fraction of a second to the nanosecond, trailing zeros dropped); `PT0S` for zero.
/// [`parse`] reads it back as the same duration.
pub fn format(d: Duration) -> String {
    if d <= Duration::ZERO {
        return "PT0S".into();
    }
    let total = d.whole_seconds();
    let nanos = i64::from(d.subsec_nanoseconds());
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, secs) = (rest / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || secs > 0 || nanos > 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if secs > 0 || nanos > 0 {
            out.push_str(&secs.to_string());
            if nanos > 0 {
                let fraction = format!("{nanos:09}");
                out.push('.');
                out.push_str(fraction.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}

/// Checks that `d` is at most `limit`: `400` naming `field` and the limit otherwise.
pub fn at_most(d: Duration, limit: Duration, field: &str) -> DomainResult<Duration> {
    if d > limit {
        return Err(DomainError::invalid(format!(
            "{field} must be at most {} ({} days)",
            format(limit),
            limit.whole_days()
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_in_use() {
        assert_eq!(parse("PT1H").unwrap(), Duration::hours(1));
        assert_eq!(parse("PT10M").unwrap(), Duration::minutes(10));
        assert_eq!(parse("P14D").unwrap(), Duration::days(14));
        assert_eq!(parse("PT8S").unwrap(), Duration::seconds(8));
        assert_eq!(parse("P1DT12H").unwrap(), Duration::hours(36));
        assert_eq!(parse("PT0.5S").unwrap(), Duration::milliseconds(500));
        assert_eq!(parse("PT0.1S").unwrap(), Duration::milliseconds(100));
        assert_eq!(parse("PT.5S").unwrap(), Duration::milliseconds(500));
        assert_eq!(parse("PT5.S").unwrap(), Duration::seconds(5));
        assert_eq!(parse("P2W").unwrap(), Duration::days(14));
        for bad in [
            "",
            "P",
            "PT",
            "1H",
            "P1Y",
            "P1M",
            "PT1X",
            "PT-1S",
            "P1DT",
            "PT.S",
            "PT1.2.3S",
            "PT1.0000000001S",
            "P-1D",
            "P+1D",
            "PT1e3S",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn huge_durations_are_refused_not_a_panic() {
        // `Duration::days(n)` panics past about 1.07e14 days; these are errors instead.
        for huge in [
            "P9999999999999999D",
            "P99999999999999999999D",
            "P9223372036854775807W",
            "PT9223372036854775807H",
            "PT9223372036854775807M",
            "PT99999999999999999999S",
            "PT9223372036854775808S",
            "P106751991167300DT24H",
            "P1DT9223372036854775807S",
        ] {
            assert!(parse(huge).is_err(), "{huge} should be refused");
        }
        // Large but representable: parsed, and bounded by whoever stores it.
        assert_eq!(
            parse("PT9223372036854775807.999999999S").unwrap(),
            Duration::MAX
        );
        assert_eq!(
            parse("P9999999999D").unwrap(),
            Duration::days(9_999_999_999)
        );
        assert!(parse(&format!("P{}D", "9".repeat(MAX_TEXT_LEN))).is_err());
    }

    #[test]
    fn formats_canonically_and_reads_back() {
        for (d, text) in [
            (Duration::ZERO, "PT0S"),
            (Duration::days(14), "P14D"),
            (Duration::hours(36), "P1DT12H"),
            (Duration::seconds(8), "PT8S"),
            (Duration::milliseconds(1500), "PT1.5S"),
            (Duration::nanoseconds(1), "PT0.000000001S"),
            (Duration::minutes(61), "PT1H1M"),
        ] {
            assert_eq!(format(d), text);
            assert_eq!(parse(text).unwrap(), d);
        }
    }

    #[test]
    fn at_most_names_the_field_and_the_limit() {
        let err = at_most(Duration::days(15), Duration::days(14), "x.y").unwrap_err();
        assert_eq!(err.to_string(), "x.y must be at most P14D (14 days)");
        assert!(at_most(Duration::days(14), Duration::days(14), "x.y").is_ok());
    }
}
