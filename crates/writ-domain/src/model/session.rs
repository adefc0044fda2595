//! Browser sessions and device authorizations (DESIGN section 14), as stored. The rules that
//! make, check and end them are `identity::sessions` and `identity::device_codes`.

use time::OffsetDateTime;

/// A signed-in browser. Known by the SHA-256 hash of its random id; the id itself lives only in
/// the browser's cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct BrowserSession {
    pub id_hash: String,
    pub user_id: String,
    /// When the user last proved who they are (the password was checked).
    pub auth_time: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// Wrong user codes entered at `/devicelogin` in this session.
    pub code_failures: i64,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCodeState {
    /// Waiting for a person to enter the user code and decide.
    Pending,
    /// Approved; the next poll receives the tokens.
    Approved,
    /// Denied by the person.
    Denied,
    /// The tokens were issued: any later poll is refused.
    Spent,
}

impl DeviceCodeState {
    pub const ALL: [DeviceCodeState; 4] = [
        DeviceCodeState::Pending,
        DeviceCodeState::Approved,
        DeviceCodeState::Denied,
        DeviceCodeState::Spent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceCodeState::Pending => "pending",
            DeviceCodeState::Approved => "approved",
            DeviceCodeState::Denied => "denied",
            DeviceCodeState::Spent => "spent",
        }
    }

    /// The stored text; `None` for text no build writes.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A device authorization (RFC 8628 section 3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCode {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    /// The `scope` the device asked for, as sent (checked when it was asked).
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The least number of seconds between polls; grows by 5 at each `slow_down`.
    pub interval_secs: i64,
    pub last_polled_at: Option<OffsetDateTime>,
    pub state: DeviceCodeState,
    /// The person who approved or denied.
    pub user_id: Option<String>,
    pub auth_time: Option<OffsetDateTime>,
    pub decided_at: Option<OffsetDateTime>,
}

/// An authorization code of the `authorize` endpoint (RFC 6749 section 4.1), as stored; the
/// rules are `identity::authorization_codes`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    /// The redirect URI the code was sent to, as requested (the grant must name the same).
    pub redirect_uri: String,
    pub user_id: String,
    /// The `scope` asked for, as sent (checked when it was asked).
    pub scope: String,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge: base64url of the SHA-256 of the verifier.
    pub code_challenge: Option<String>,
    pub auth_time: OffsetDateTime,
    /// The hash of the browser session that asked.
    pub session_hash: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Set when a grant spent the code.
    pub redeemed_at: Option<OffsetDateTime>,
    /// The refresh token family issued from it, once refresh tokens exist.
    pub token_family: Option<String>,
}

/// A sign-in through the upstream OpenID provider between the redirect and the callback
/// (`identity::sso_requests`). Known by the SHA-256 hash of the random id in the browser's
/// cookie; `sealed` holds the `state`, `nonce` and PKCE verifier encrypted under a key derived
/// from that id, so the row alone reveals none of them.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoRequest {
    pub id_hash: String,
    pub sealed: String,
    /// A local path to go to once signed in.
    pub return_to: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}
