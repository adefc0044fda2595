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

/// Graph's free-form `status` of an assignment (DESIGN section 5's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStatus {
    Delivering,
    Delivered,
    PartiallyDelivered,
    DeliveryFailed,
    /// An expiry notice went out for a lead time of exactly P14D.
    NearExpiry14DaysNotificationTriggered,
    /// An expiry notice went out for a lead time of exactly P1D.
    NearExpiry1DayNotificationTriggered,
    /// An expiry notice went out for any other lead time.
    NearExpiryNotificationTriggered,
    Expired,
    Removed,
}

impl AssignmentStatus {
    const ALL: [AssignmentStatus; 9] = [
        AssignmentStatus::Delivering,
        AssignmentStatus::Delivered,
        AssignmentStatus::PartiallyDelivered,
        AssignmentStatus::DeliveryFailed,
        AssignmentStatus::NearExpiry14DaysNotificationTriggered,
        AssignmentStatus::NearExpiry1DayNotificationTriggered,
        AssignmentStatus::NearExpiryNotificationTriggered,
        AssignmentStatus::Expired,
        AssignmentStatus::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Delivering => "Delivering",
            AssignmentStatus::Delivered => "Delivered",
            AssignmentStatus::PartiallyDelivered => "PartiallyDelivered",
            AssignmentStatus::DeliveryFailed => "DeliveryFailed",
            AssignmentStatus::NearExpiry14DaysNotificationTriggered => {
                "NearExpiry14DaysNotificationTriggered"
            }
            AssignmentStatus::NearExpiry1DayNotificationTriggered => {
                "NearExpiry1DayNotificationTriggered"
            }
            AssignmentStatus::NearExpiryNotificationTriggered => "NearExpiryNotificationTriggered",
            AssignmentStatus::Expired => "Expired",
            AssignmentStatus::Removed => "Removed",
        }
    }

    /// The status as stored; `None` for a string this build does not know.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether an expiry notice set the status (the notices were about the current end).
    pub fn is_near_expiry(self) -> bool {
        matches!(
            self,
            AssignmentStatus::NearExpiry14DaysNotificationTriggered
                | AssignmentStatus::NearExpiry1DayNotificationTriggered
                | AssignmentStatus::NearExpiryNotificationTriggered
        )
    }
}

impl Assignment {
    /// The stored status as an enum; `None` for a string this build does not know.
    pub fn status_kind(&self) -> Option<AssignmentStatus> {
        AssignmentStatus::parse(&self.status)
    }
}
