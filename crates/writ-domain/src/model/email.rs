//! The email channel's data (DESIGN section 8): the delivery rows the queue claims and lists,
//! one per (event, recipient with a mailbox). Composing and sending are `email`'s; the queue's
//! storage is the port's (`store::EmailStore`).

use crate::model::{DeliveryProgress, OutboxEvent, Recipient};

/// A delivery a worker holds the lease of, with the event to mail.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEmail {
    pub id: String,
    pub recipient_id: String,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub event: OutboxEvent,
}

impl ClaimedEmail {
    /// The recipient as the event lists it (its `mail` fixed when the event was written).
    pub fn recipient(&self) -> Option<&Recipient> {
        self.event
            .recipients
            .iter()
            .find(|r| r.id == self.recipient_id)
    }
}

/// One (event, recipient) email delivery as stored, for `/writ/v1/emailDeliveries`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub recipient_id: String,
    /// The address the event gave the recipient (what the message is sent to).
    pub recipient_mail: Option<String>,
    pub progress: DeliveryProgress,
}
