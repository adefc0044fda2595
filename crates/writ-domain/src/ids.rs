//! Identifiers. Object ids are UUIDv7 so that ordering by id follows creation, which keeps keyset
//! paging cheap; application (client) ids are random UUIDv4, as they are handed out as credentials'
//! public half and should reveal nothing.

use uuid::Uuid;

pub fn new_object_id() -> String {
    Uuid::now_v7().to_string()
}

pub fn new_app_id() -> String {
    Uuid::new_v4().to_string()
}

/// Canonical (lower-case, hyphenated) form of a GUID, or `None` if the text is not one.
pub fn parse_guid(text: &str) -> Option<String> {
    Uuid::parse_str(text).ok().map(|u| u.to_string())
}
