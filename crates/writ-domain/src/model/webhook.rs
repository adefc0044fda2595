//! The webhook channel's data (DESIGN section 8): a configured endpoint and its signing key, and
//! the delivery rows the queue stores, claims and lists. The signing itself and the dispatcher
//! are `webhooks`'s; the queue's storage is the port's (`store::WebhookStore`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use time::OffsetDateTime;

use crate::model::{DeliveryProgress, OutboxEvent};

/// An endpoint's signing key, decoded from its `whsec_…` form. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl WebhookSecret {
    /// The prefix of a Standard Webhooks secret; the rest is the base64 of the key.
    pub const PREFIX: &str = "whsec_";

    /// Reads `whsec_` + base64 (standard alphabet, padded or not). The message never contains
    /// the secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let prefix = Self::PREFIX;
        let encoded = text
            .strip_prefix(prefix)
            .ok_or_else(|| format!("must start with {prefix} (Standard Webhooks)"))?;
        let key = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| format!("the part after {prefix} must be base64"))?;
        // Standard Webhooks asks for 24 to 64 bytes; shorter keys are too easy to guess.
        if key.len() < 16 {
            return Err(format!(
                "the key after {prefix} must be at least 16 bytes (it is {})",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    pub fn from_bytes(key: Vec<u8>) -> Self {
        Self(key)
    }

    /// The key, for signing (`webhooks::sign`) only.
    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

/// A configured receiver of events.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// An `http` or `https` URL, checked at start-up.
    pub url: String,
    pub secret: WebhookSecret,
    /// Event types this endpoint receives; empty: all of them.
    pub events: Vec<String>,
}

impl WebhookEndpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

/// One (event, endpoint) delivery as stored, for `/writ/v1/webhookDeliveries`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_url: String,
    pub progress: DeliveryProgress,
}

/// A delivery a worker holds the lease of, with the event to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: String,
    pub endpoint_url: String,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub event: OutboxEvent,
}

/// A delivery row to write when an event is routed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_url: String,
    pub due_at: OffsetDateTime,
}
