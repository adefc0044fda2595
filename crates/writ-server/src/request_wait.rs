//! Waiting for an assignment request over HTTP (DESIGN section 16): the `wait` preference of
//! RFC 7240's `Prefer` header, the `Preference-Applied` and `Retry-After` it answers with, and
//! [`wait_for_request`], the bounded wait every HTTP surface shares (`GET
//! …/assignmentRequests/{id}` here, the MCP server's `get_request` with `wait_seconds`). The
//! waiting itself (authorization first, woken by the request's change) is the domain's
//! `Entitlement::wait_for_request_change`; this adds wall time, which the domain does not keep.

use std::time::Duration;

use axum::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use writ_domain::DomainResult;
use writ_domain::authz::Caller;
use writ_domain::entitlement::{Entitlement, MAX_WAIT_SECONDS, RequestWait};

pub const PREFER: HeaderName = HeaderName::from_static("prefer");
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// The `wait` preference of the request's `Prefer` headers, in seconds, clamped to
/// [`MAX_WAIT_SECONDS`]. `None` without one, for `wait=0`, and for a malformed value (not
/// decimal digits), which RFC 7240 says to ignore like any preference not understood. Of
/// several `wait` preferences the first counts (RFC 7240 section 2).
pub fn wait_preference(headers: &HeaderMap) -> Option<u64> {
    let value = headers
        .get_all(PREFER)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(','))
        .find_map(|preference| {
            // `token [= word] *(; parameter)`: the parameters of `wait` mean nothing.
            let head = preference.split(';').next().unwrap_or_default();
            let (name, value) = head.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("wait")
                .then(|| value.trim().trim_matches('"').to_owned())
        })?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only its size can fail to parse, and a huge wait is the longest one.
    let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
    (seconds > 0).then_some(seconds.min(MAX_WAIT_SECONDS))
}

/// Waits up to `seconds` (at most [`MAX_WAIT_SECONDS`]) for request `id` to change as the domain
/// decides; the caller's right is checked first, so a request it may not read is the 404 at
/// once. See `Entitlement::wait_for_request_change` for what answers.
pub async fn wait_for_request(
    entitlement: &Entitlement,
    caller: &Caller,
    id: &str,
    seconds: u64,
) -> DomainResult<RequestWait> {
    let limit = Duration::from_secs(seconds.min(MAX_WAIT_SECONDS));
    entitlement
        .wait_for_request_change(caller, id, tokio::time::sleep(limit))
        .await
}

/// Adds `Preference-Applied: wait=N` when the wait was applied, and otherwise `Retry-After` when
/// the request is still open (`retry_after`, from the domain).
pub fn wait_headers(headers: &mut HeaderMap, applied: Option<u64>, retry_after: Option<u64>) {
    match applied {
        Some(seconds) => {
            if let Ok(value) = HeaderValue::from_str(&format!("wait={seconds}")) {
                headers.insert(PREFERENCE_APPLIED, value);
            }
        }
        None => {
            if let Some(seconds) = retry_after {
                headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(PREFER, HeaderValue::from_str(value).unwrap());
        }
        wait_preference(&headers)
    }

    #[test]
    fn the_wait_preference_is_read_as_rfc_7240_says() {
        assert_eq!(prefer(&[]), None);
        assert_eq!(prefer(&["wait=5"]), Some(5));
        assert_eq!(prefer(&["WAIT = 7"]), Some(7), "names are case-insensitive");
        assert_eq!(prefer(&["wait=\"9\""]), Some(9), "a quoted word");
        assert_eq!(prefer(&["respond-async, wait=3"]), Some(3));
        assert_eq!(prefer(&["return=minimal", "wait=4;foo=bar"]), Some(4));
        assert_eq!(
            prefer(&["wait=2, wait=50"]),
            Some(2),
            "the first one counts"
        );
        assert_eq!(prefer(&["wait=61"]), Some(60), "clamped");
        assert_eq!(
            prefer(&["wait=99999999999999999999999999"]),
            Some(60),
            "beyond u64, still the longest wait"
        );
        for ignored in [
            "wait=0",
            "wait=-1",
            "wait=1.5",
            "wait=",
            "wait",
            "wait=abc",
            "waiting=5",
        ] {
            assert_eq!(prefer(&[ignored]), None, "{ignored}");
        }
    }

    #[test]
    fn the_answer_says_the_wait_applied_or_when_to_ask_again() {
        let mut headers = HeaderMap::new();
        wait_headers(&mut headers, Some(10), Some(60));
        assert_eq!(headers[&PREFERENCE_APPLIED], "wait=10");
        assert!(headers.get(RETRY_AFTER).is_none());
        let mut headers = HeaderMap::new();
        wait_headers(&mut headers, None, Some(60));
        assert_eq!(headers[RETRY_AFTER], "60");
        let mut headers = HeaderMap::new();
        wait_headers(&mut headers, None, None);
        assert!(headers.is_empty());
    }
}
