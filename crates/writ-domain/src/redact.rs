//! Redaction of URLs before they reach a log line or an operator message: the one place that
//! decides what of a URL may be shown.
//!
//! A URL keeps its scheme, host, port and path; it loses its user name and password, its query
//! string and its fragment. Endpoint URLs routinely carry secrets there: a custom extension's
//! Logic Apps URL carries a shared-access signature (`sig=`), SMTP and database URLs carry
//! `user:password@`. The path stays so an operator can tell endpoints apart; a service that puts
//! its secret in the path (e.g. `/services/T0/B0/XXXX`) should be given a URL whose secret is in
//! the query instead, or the webhook's own signing secret used.
//!
//! [`url_for_log`] redacts one URL; [`urls_in_text`] redacts every URL inside free text (an
//! error message), for text Writ did not write itself. Errors of `reqwest` embed the request
//! URL in their `Display`: they are stripped of it with `reqwest::Error::without_url` where they
//! are caught (`writ_runtime::webhooks`). Request logs (`writ_server::request_context`) carry
//! only the matched route template, never the request's URI. It lives in the domain because
//! both the HTTP server (error logs) and the background runtime (delivery logs) redact.

/// What replaces a query string, so a reader knows there was one.
const QUERY_REDACTED: &str = "?REDACTED";

/// `url` without credentials, query string and fragment. Text that is not a URL is returned
/// cut at its first `?` or `#`, with anything between `://` and an `@` removed.
pub fn url_for_log(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.cannot_be_a_base() => {
            let had_query = parsed.query().is_some();
            // These fail only for URLs that cannot hold credentials: nothing to remove then.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            let mut shown = parsed.to_string();
            if had_query {
                shown.push_str(QUERY_REDACTED);
            }
            shown
        }
        _ => fallback(url),
    }
}

/// Redacts what looks like a URL without parsing it as one.
fn fallback(text: &str) -> String {
    let (head, cut) = match text.find(['?', '#']) {
        Some(at) => (text.get(..at).unwrap_or_default(), true),
        None => (text, false),
    };
    let mut shown = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = rest.get(..authority_end).unwrap_or_default();
            let path = rest.get(authority_end..).unwrap_or_default();
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => head.to_owned(),
    };
    if cut {
        shown.push_str(QUERY_REDACTED);
    }
    shown
}

/// Whether `c` may be part of a URL's scheme.
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Whether `c` ends a URL written inside free text.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ',')
}

/// `text` with every URL in it (`scheme://…` up to a space, quote, bracket or comma) passed
/// through [`url_for_log`].
pub fn urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let before = rest.get(..at).unwrap_or_default();
        let scheme_len: usize = before
            .chars()
            .rev()
            .take_while(|c| is_scheme_char(*c))
            .map(char::len_utf8)
            .sum();
        let start = at - scheme_len;
        let after = rest.get(at..).unwrap_or_default();
        let end = at + after.find(ends_url).unwrap_or(after.len());
        out.push_str(rest.get(..start).unwrap_or_default());
        if scheme_len == 0 {
            // "://" with no scheme: not a URL, but what follows may still be credentials.
            out.push_str(&fallback(rest.get(start..end).unwrap_or_default()));
        } else {
            out.push_str(&url_for_log(rest.get(start..end).unwrap_or_default()));
        }
        rest = rest.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        assert_eq!(
            url_for_log(
                "https://prod-07.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2Ftriggers&sv=1.0&sig=s3cr3t"
            ),
            "https://prod-07.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?REDACTED"
        );
        assert_eq!(
            url_for_log("smtps://notices:hunter2@relay.example.org:465"),
            "smtps://relay.example.org:465"
        );
        assert_eq!(
            url_for_log("postgres://writ:pw@db.internal:5432/writ?sslmode=require"),
            "postgres://db.internal:5432/writ?REDACTED"
        );
        assert_eq!(
            url_for_log("http://u:p@[::1]:8080/hook#token"),
            "http://[::1]:8080/hook"
        );
        assert_eq!(
            url_for_log("https://hooks.example.org/writ"),
            "https://hooks.example.org/writ"
        );
        // An email address (the email channel's destination) is not a URL and stays.
        assert_eq!(url_for_log("ada@example.org"), "ada@example.org");
    }

    #[test]
    fn text_that_does_not_parse_is_still_cut() {
        assert_eq!(
            url_for_log("http://user:pw@exa mple.org/p?sig=x"),
            "http://exa mple.org/p?REDACTED"
        );
        assert_eq!(url_for_log("not a url?sig=x"), "not a url?REDACTED");
        assert_eq!(url_for_log("/relative#x"), "/relative?REDACTED");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        let text = "error sending request for url (https://h.example/p?sig=s3cr3t): \
                    connection refused; retried smtp://u:hunter2@relay, gave up";
        let shown = urls_in_text(text);
        assert_eq!(
            shown,
            "error sending request for url (https://h.example/p?REDACTED): connection refused; \
             retried smtp://relay, gave up"
        );
        assert_eq!(urls_in_text("no url here"), "no url here");
        assert_eq!(urls_in_text("odd ://u:p@h/x?y z"), "odd ://h/x?REDACTED z");
        assert_eq!(
            urls_in_text("é https://ü.example/?a=1"),
            "é https://xn--tda.example/?REDACTED"
        );
    }
}
