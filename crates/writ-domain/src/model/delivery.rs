//! Delivery vocabulary shared by the queues and the providers: where an outbound delivery
//! stands and what administrators list of it ([`DeliveryState`], [`DeliveryProgress`]), what
//! became of one attempt ([`AttemptRecord`], [`NextStep`]) in any channel (webhooks, email,
//! callouts), and one grant as a provider holds it ([`HeldGrant`]).

use time::OffsetDateTime;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet accepted by the receiver; due again at its next attempt time.
    Pending,
    /// A 2xx answered one attempt.
    Delivered,
    /// Given up: too many failed attempts, or the endpoint's address was refused.
    DeadLettered,
}

impl DeliveryState {
    pub const NAMES: &'static [&'static str] = &["pending", "delivered", "deadLettered"];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::DeadLettered => "deadLettered",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::DeadLettered,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// Where one delivery stands, in any channel (webhooks, email): what administrators list.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryProgress {
    /// `None` when the stored state is unknown to this build.
    pub state: Option<DeliveryState>,
    pub state_name: String,
    pub attempts: u32,
    /// The receiver's last answer: an HTTP status, an SMTP reply code.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub dead_lettered_at: Option<OffsetDateTime>,
}

/// What became of one attempt, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub at: OffsetDateTime,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next: NextStep,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextStep {
    Delivered,
    RetryAt(OffsetDateTime),
    DeadLetter,
}

/// One grant as a provider holds it for one holder: what `plan` means to apply and what
/// `read_back` reports, compared as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldGrant {
    GroupMember {
        group_id: String,
        principal_id: String,
    },
    GroupOwner {
        group_id: String,
        principal_id: String,
    },
    /// An app role of the API whose service principal is `resource_id`.
    AppRole {
        resource_id: String,
        app_role_id: String,
        principal_id: String,
    },
    /// A delegated permission (`consentType: Principal`) for one scope value.
    Delegated {
        client_id: String,
        resource_id: String,
        scope: String,
        principal_id: String,
    },
    /// A tenant-wide directory role.
    DirectoryRole {
        role_definition_id: String,
        principal_id: String,
    },
}
