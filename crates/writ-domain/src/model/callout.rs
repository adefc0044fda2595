//! Custom extension callouts as recorded: the stage that reached them, where their callback
//! stands, and the row the dispatcher claims.

use serde_json::Value;
use time::OffsetDateTime;

use super::delivery::DeliveryState;
use crate::error::DomainResult;

/// Graph's `accessPackageCustomExtensionStage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalloutStage {
    RequestCreated,
    RequestApproved,
    RequestGranted,
    RequestRemoved,
    FourteenDaysBeforeExpiration,
    OneDayBeforeExpiration,
}

impl CalloutStage {
    const ALL: [CalloutStage; 6] = [
        CalloutStage::RequestCreated,
        CalloutStage::RequestApproved,
        CalloutStage::RequestGranted,
        CalloutStage::RequestRemoved,
        CalloutStage::FourteenDaysBeforeExpiration,
        CalloutStage::OneDayBeforeExpiration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CalloutStage::RequestCreated => "assignmentRequestCreated",
            CalloutStage::RequestApproved => "assignmentRequestApproved",
            CalloutStage::RequestGranted => "assignmentRequestGranted",
            CalloutStage::RequestRemoved => "assignmentRequestRemoved",
            CalloutStage::FourteenDaysBeforeExpiration => "assignmentFourteenDaysBeforeExpiration",
            CalloutStage::OneDayBeforeExpiration => "assignmentOneDayBeforeExpiration",
        }
    }

    /// Enum input in any case; also the qualified `microsoft.graph.accessPackageCustomExtensionStage.X`
    /// that `resume`'s `type` carries.
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.rsplit('.').next().unwrap_or(text);
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// The stage a client wrote in `field`, in any case; a `400` naming the field and the stages
    /// otherwise.
    pub fn parse_field(text: &str, field: &str) -> DomainResult<Self> {
        super::parse_enum_field(&Self::ALL, Self::as_str, text, field)
    }

    /// The stages a request can wait at (Entra's "launch and wait"); elsewhere an extension's
    /// `callbackConfiguration` is ignored and the callout is fire-and-forget.
    pub(crate) fn may_wait(self) -> bool {
        matches!(
            self,
            CalloutStage::RequestCreated | CalloutStage::RequestApproved
        )
    }

    /// The stages of an assignment rather than a request.
    pub(crate) fn of_assignment(self) -> bool {
        matches!(
            self,
            CalloutStage::FourteenDaysBeforeExpiration | CalloutStage::OneDayBeforeExpiration
        )
    }
}

/// Where a callout stands with its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Fire and forget.
    None,
    /// Launch and wait: the request holds until `resume` or the timeout.
    Waiting,
    Received,
    TimedOut,
    /// The callout could not be delivered; the request it held was denied.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::None => "none",
            CallbackState::Waiting => "waiting",
            CallbackState::Received => "received",
            CallbackState::TimedOut => "timedOut",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            CallbackState::None,
            CallbackState::Waiting,
            CallbackState::Received,
            CallbackState::TimedOut,
            CallbackState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One call of a custom extension at a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Callout {
    /// Graph's `customExtensionStageInstanceId`.
    pub id: String,
    pub request_id: Option<String>,
    pub assignment_id: Option<String>,
    pub custom_extension_id: String,
    pub catalog_id: String,
    pub stage: CalloutStage,
    pub callback_state: CallbackState,
    /// What `resume` said (`customExtensionStageInstanceDetail`), or why the callout failed.
    pub callback_detail: Option<String>,
    pub endpoint_url: String,
    /// The audience of the callout's bearer token, when the extension names one.
    pub token_audience: Option<String>,
    pub timeout_ms: u32,
    pub max_attempts: u32,
    /// The body as it is POSTed.
    pub payload: Value,
    pub delivery_state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub callback_at: Option<OffsetDateTime>,
}

/// Graph's `customExtensionCalloutInstance`, as requests and assignments list them.
#[derive(Debug, Clone, PartialEq)]
pub struct CalloutInstance {
    pub id: String,
    pub custom_extension_id: String,
    pub detail: Option<String>,
    /// `calloutSent`, `callbackReceived`, `calloutFailed`, `callbackTimedOut`,
    /// `waitingForCallback`.
    pub status: &'static str,
    /// The request or assignment it belongs to.
    pub holder_id: String,
}

impl Callout {
    /// The instance as Graph shows it; `None` for a fire-and-forget callout not sent yet.
    pub fn instance(&self) -> Option<CalloutInstance> {
        let status = match (self.callback_state, self.delivery_state) {
            (CallbackState::Waiting, _) => "waitingForCallback",
            (CallbackState::Received, _) => "callbackReceived",
            (CallbackState::TimedOut, _) => "callbackTimedOut",
            (CallbackState::Failed, _) | (CallbackState::None, DeliveryState::DeadLettered) => {
                "calloutFailed"
            }
            (CallbackState::None, DeliveryState::Delivered) => "calloutSent",
            (CallbackState::None, DeliveryState::Pending) => return None,
        };
        let holder_id = if self.stage.of_assignment() {
            self.assignment_id.clone()
        } else {
            self.request_id.clone()
        }
        .unwrap_or_default();
        Some(CalloutInstance {
            id: self.id.clone(),
            custom_extension_id: self.custom_extension_id.clone(),
            detail: self.callback_detail.clone().or(self.last_error.clone()),
            status,
            holder_id,
        })
    }
}

/// A claimed callout, as the dispatcher sends it.
#[derive(Debug, Clone)]
pub struct ClaimedCallout {
    pub id: String,
    pub endpoint_url: String,
    pub token_audience: Option<String>,
    pub timeout_ms: u32,
    pub max_attempts: u32,
    pub attempts: u32,
    pub body: String,
}
