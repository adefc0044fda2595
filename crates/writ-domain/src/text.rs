//! Checks of the single-line text callers write into names (display names, `mailNickname`,
//! `userPrincipalName`, catalog, package, policy, organization and extension names, and the
//! other short properties of a user).
//!
//! Names end up in log lines, audit exports, CSV files, email subjects and headers, and on
//! screens next to other names. So a name may not hold:
//! - control characters (Unicode category Cc: C0 `U+0000`–`U+001F`, DEL `U+007F`, C1
//!   `U+0080`–`U+009F`), which include CR, LF, TAB and NUL: they split or end a line or a header;
//! - the line and paragraph separators `U+2028` and `U+2029`, which are line breaks to many
//!   renderers;
//! - the bidirectional embeddings, overrides and isolates (`U+202A`–`U+202E`,
//!   `U+2066`–`U+2069`): they make a name read differently from what it is ("Trojan Source").
//!
//! The bidirectional *marks* (`U+200E`, `U+200F`, `U+061C`) stay allowed: right-to-left names
//! need them, and they reorder nothing beyond a neutral character next to them.

use crate::error::{DomainError, DomainResult};

/// Longest display name, in characters (Graph's limit for most objects).
pub const MAX_DISPLAY_NAME: usize = 256;

/// Whether `c` may not appear in a single-line name.
pub fn is_refused_in_names(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Refuses `value` when it holds a character [`is_refused_in_names`], naming `property` and the
/// first such character.
pub fn check_single_line(value: &str, property: &str) -> DomainResult<()> {
    match value.chars().find(|c| is_refused_in_names(*c)) {
        None => Ok(()),
        Some(c) => Err(DomainError::invalid(format!(
            "property '{property}' may not contain U+{:04X}: control characters, line \
             separators and bidirectional embedding, override and isolate characters are refused",
            u32::from(c)
        ))),
    }
}

/// A display name: 1 to [`MAX_DISPLAY_NAME`] characters, not all spaces, on one line.
pub fn check_display_name(value: &str, property: &str) -> DomainResult<()> {
    if value.trim().is_empty() || value.chars().count() > MAX_DISPLAY_NAME {
        return Err(DomainError::invalid(format!(
            "property '{property}' must be 1 to {MAX_DISPLAY_NAME} characters"
        )));
    }
    check_single_line(value, property)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_separators_and_overrides_are_refused() {
        for bad in [
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{0}",
            "\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}",
            "a\u{9f}",
            "a\u{2028}",
            "a\u{2029}",
            "\u{202a}a",
            "\u{202e}a",
            "\u{2066}a",
            "\u{2069}",
        ] {
            let error = check_single_line(bad, "displayName").unwrap_err();
            assert!(
                error.to_string().contains("'displayName'"),
                "{bad:?}: {error}"
            );
        }
        let error = check_single_line("Ada\u{202e}", "surname").unwrap_err();
        assert!(error.to_string().contains("U+202E"), "{error}");
        for good in [
            "Ada Lovelace",
            "Zoë",
            "李小龙",
            "مرحبا\u{200f}",
            "a\u{200e}b",
            "x — y",
        ] {
            assert!(check_single_line(good, "displayName").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn display_names_are_bounded() {
        assert!(check_display_name("Ops", "displayName").is_ok());
        assert!(check_display_name("  ", "displayName").is_err());
        assert!(check_display_name(&"x".repeat(256), "displayName").is_ok());
        let error = check_display_name(&"x".repeat(257), "displayName").unwrap_err();
        assert!(error.to_string().contains("1 to 256"), "{error}");
        assert!(check_display_name("a\nb", "displayName").is_err());
    }
}
