//! A refresh token for a person, as stored: its SHA-256 hash (never the value), the client and
//! user it is bound to, its family (one sign-in and its rotations), what it grants and its
//! instants.

use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: String,
    /// base64url SHA-256 of the opaque value handed out.
    pub token_hash: String,
    /// Every token rotated from one sign-in shares the family id of the first.
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The scope string granted at sign-in (resource and OpenID scopes, space-separated).
    pub scope: String,
    /// When the person last proved who they are (the sign-in that started the family).
    pub auth_time: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    /// The sliding end: the lifetime from its issue, never beyond `family_expires_at`.
    pub expires_at: OffsetDateTime,
    /// The absolute end of the family, whatever the rotations.
    pub family_expires_at: OffsetDateTime,
    /// Set when it was rotated: presenting it again is reuse.
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}
