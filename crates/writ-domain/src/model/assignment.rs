//! Assignments: what a delivered request grants, with its schedule and state.

use time::OffsetDateTime;

use super::principal::PrincipalKind;

/// Graph's `accessPackageAssignmentState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentState {
    Delivering,
    Delivered,
    PartiallyDelivered,
    DeliveryFailed,
    Expired,
}

impl AssignmentState {
    const ALL: [AssignmentState; 5] = [
        AssignmentState::Delivering,
        AssignmentState::Delivered,
        AssignmentState::PartiallyDelivered,
        AssignmentState::DeliveryFailed,
        AssignmentState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentState::Delivering => "delivering",
            AssignmentState::Delivered => "delivered",
            AssignmentState::PartiallyDelivered => "partiallyDelivered",
            AssignmentState::DeliveryFailed => "deliveryFailed",
            AssignmentState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub const NAMES: &'static [&'static str] = &[
        "delivering",
        "partiallyDelivered",
        "delivered",
        "expired",
        "deliveryFailed",
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: String,
    pub state: AssignmentState,
    pub status: String,
    pub catalog_id: String,
    pub access_package_id: String,
    pub policy_id: String,
    pub target_id: String,
    pub target_kind: PrincipalKind,
    pub start_date_time: OffsetDateTime,
    /// `None`: no end (a `noExpiration` policy; never an agent's).
    pub end_date_time: Option<OffsetDateTime>,
    pub expired_date_time: Option<OffsetDateTime>,
    pub created_date_time: OffsetDateTime,
}
