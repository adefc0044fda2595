//! The model layer: the entities Writ holds and the enums they are made of, as plain data.
//! Nothing here reads a store, a clock or a caller: these modules depend on `time`, `serde`,
//! `uuid` (through [`crate::ids`]), [`crate::error`] (for parsing at the edge) and each other
//! only, so the storage port and every service can import them without importing each other.
//! The module-graph test (`module_graph.rs`) holds them to that.

pub mod answer;
pub mod approval;
pub mod assignment;
pub mod audit;
pub mod callout;
pub mod catalog;
pub mod delivery;
pub mod directory;
pub mod email;
pub mod job;
pub mod lifecycle;
pub mod organization;
pub mod policy;
pub mod principal;
pub mod refresh_token;
pub mod request;
pub mod risk;
pub mod session;
pub mod subject;
pub mod webhook;

pub use answer::*;
pub use approval::*;
pub use assignment::*;
pub use audit::*;
pub use callout::*;
pub use catalog::*;
pub use delivery::*;
pub use directory::*;
pub use email::*;
pub use job::*;
pub use lifecycle::*;
pub use organization::*;
pub use policy::*;
pub use principal::*;
pub use refresh_token::*;
pub use request::*;
pub use risk::*;
pub use session::*;
pub use subject::*;
pub use webhook::*;

use crate::error::{DomainError, DomainResult};

/// The value of `field` among `names`, in any case (as for every Graph enum), or a `400` naming
/// the field and the values it takes.
pub(crate) fn parse_enum_field<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    value: &str,
    field: &str,
) -> DomainResult<T> {
    all.iter()
        .copied()
        .find(|v| as_str(*v).eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
            DomainError::invalid(format!(
                "'{value}' is not a valid value for '{field}' ({})",
                names.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_kinds_parse_in_any_case_and_refuse_naming_the_field() {
        assert_eq!(
            ExpirationKind::parse_field("AFTERDURATION", "expiration.type").ok(),
            Some(ExpirationKind::AfterDuration)
        );
        let error = ExpirationKind::parse_field("never", "expiration.type")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains(
                "'never' is not a valid value for 'expiration.type' (notSpecified, noExpiration, afterDateTime, afterDuration)"
            ),
            "{error}"
        );
        // Stored kinds are exact: a request's schedule keeps what the client wrote.
        assert_eq!(ExpirationKind::parse("AfterDuration"), None);
        for kind in ExpirationKind::ALL {
            assert_eq!(ExpirationKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn target_scopes_round_trip_and_refuse_naming_the_field() {
        for (scope, name) in TargetScope::ALL.iter().zip(TargetScope::NAMES) {
            assert_eq!(scope.as_str(), *name);
            assert_eq!(TargetScope::parse(name), Some(*scope));
        }
        let error = TargetScope::parse_field("everyone", "allowedTargetScope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains(
                "'everyone' is not a valid value for 'allowedTargetScope' (notSpecified,"
            ),
            "{error}"
        );
        assert!(TargetScope::SpecificDirectoryUsers.is_specific());
        assert!(!TargetScope::AllDirectoryAgentIdentities.is_specific());
    }

    #[test]
    fn callout_stages_parse_strictly_as_a_field() {
        assert_eq!(
            CalloutStage::parse_field("assignmentrequestgranted", "stage").ok(),
            Some(CalloutStage::RequestGranted)
        );
        // The qualified form is `resume`'s, not a policy's.
        assert!(
            CalloutStage::parse_field(
                "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestGranted",
                "stage"
            )
            .is_err()
        );
    }

    #[test]
    fn statuses_follow_design_section_5() {
        assert_eq!(
            RequestStatus::of(RequestState::Submitted).as_str(),
            "Accepted"
        );
        assert_eq!(
            RequestStatus::for_reason(RequestState::Denied, Some(StatusReason::TimedOut)).as_str(),
            "TimedOut"
        );
        assert_eq!(
            RequestStatus::for_reason(RequestState::Delivered, Some(StatusReason::TimedOut)),
            RequestStatus::Delivered
        );
        for name in [
            "Delivering",
            "Delivered",
            "PartiallyDelivered",
            "DeliveryFailed",
            "NearExpiry14DaysNotificationTriggered",
            "NearExpiry1DayNotificationTriggered",
            "NearExpiryNotificationTriggered",
            "Expired",
            "Removed",
        ] {
            let status = AssignmentStatus::parse(name);
            assert_eq!(status.map(AssignmentStatus::as_str), Some(name));
        }
        assert!(AssignmentStatus::NearExpiry1DayNotificationTriggered.is_near_expiry());
        assert!(!AssignmentStatus::Delivered.is_near_expiry());
    }
}
