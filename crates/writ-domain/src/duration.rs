//! ISO 8601 durations as Graph and the configuration write them (`PT1H`, `P14D`, `PT8S`,
//! `P1DT12H`). Years and months are refused: their length depends on the calendar, and every
//! duration here is a fixed span.

use time::Duration;

use crate::error::{DomainError, DomainResult};

/// Parses `P[nW][nD][T[nH][nM][n[.f]S]]`.
pub fn parse(text: &str) -> DomainResult<Duration> {
    let bad = || {
        DomainError::invalid(format!(
            "'{text}' is not an ISO 8601 duration of days, hours, minutes and seconds (e.g. PT1H, P14D)"
        ))
    };
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
    for c in date_part.chars() {
        match c {
            '0'..='9' => number.push(c),
            'W' | 'D' => {
                let n: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                total += if c == 'W' {
                    Duration::weeks(n)
                } else {
                    Duration::days(n)
                };
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
                    let n: i64 = number.parse().map_err(|_| bad())?;
                    number.clear();
                    total += if c == 'H' {
                        Duration::hours(n)
                    } else {
                        Duration::minutes(n)
                    };
                }
                'S' => {
                    let n: f64 = number.parse().map_err(|_| bad())?;
                    number.clear();
                    if !n.is_finite() || n < 0.0 {
                        return Err(bad());
                    }
                    total += Duration::seconds_f64(n);
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
        assert_eq!(parse("P2W").unwrap(), Duration::days(14));
        for bad in ["", "P", "PT", "1H", "P1Y", "P1M", "PT1X", "PT-1S", "P1DT"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
