//! The webhook dispatcher's runtime (DESIGN section 8): the HTTP [`WebhookSender`] over the
//! [`OutboundClient`], the endpoints read from the configuration, and the task that runs passes
//! of [`writ_domain::webhooks::run_webhook_pass`], sleeping until the next delivery is due.
//! The loop and its shutdown are [`crate::dispatch_loop`]'s; a resend after a SIGKILL carries
//! the same `webhook-id`.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use writ_domain::clock::Clock;
use writ_domain::dispatch::{Pacing, PassReport};
use writ_domain::error::DomainResult;
use writ_domain::store::StoreResult;
use writ_domain::webhooks::{
    DispatchConfig, SendOutcome, WebhookEndpoint, WebhookRequest, WebhookSecret, WebhookSender,
    WebhookStore, run_webhook_pass,
};

use crate::dispatch_loop::Passes;
use crate::job_worker::WorkerTiming;
use crate::outbound::{OutboundClient, OutboundError, check_url};

/// The lifecycle event types of DESIGN section 8: what an endpoint's `events` filter may name.
pub const EVENT_TYPES: &[&str] = &[
    "request.created",
    "request.pendingApproval",
    "approval.stageAssigned",
    "approval.escalated",
    "request.approved",
    "request.denied",
    "request.canceled",
    "request.approvalBypassed",
    "assignment.delivered",
    "assignment.expiringSoon",
    "assignment.expired",
    "assignment.extended",
    "assignment.removed",
    "delivery.failed",
    "agent.compromised",
    "agent.sponsorChanged",
    "agent.sponsorless",
];

/// One configured endpoint, checked: an http(s) URL, a `whsec_` secret, known event types.
/// Messages name the endpoint by its URL without query string or credentials, and never contain
/// the secret.
pub fn endpoint(url: &str, secret: &str, events: &[String]) -> Result<WebhookEndpoint, String> {
    check_url(url).map_err(|e| format!("notifications.webhooks: {e}"))?;
    let shown = crate::redact::url_for_log(url);
    let secret = WebhookSecret::parse(secret)
        .map_err(|e| format!("notifications.webhooks: the secret of {shown} {e}"))?;
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(format!(
                "notifications.webhooks: {shown} names the unknown event type '{event}'; known: {}",
                EVENT_TYPES.join(", ")
            ));
        }
    }
    Ok(WebhookEndpoint {
        url: url.to_owned(),
        secret,
        events: events.to_vec(),
    })
}

/// Sends webhooks with the outbound client: JSON body, Standard Webhooks headers.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: OutboundClient,
}

impl HttpWebhookSender {
    pub fn new(client: OutboundClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: &WebhookRequest) -> SendOutcome {
        let builder = match self.client.post(&request.url) {
            Ok(builder) => builder,
            Err(error) => return not_sent(error),
        };
        let sent = builder
            .header("content-type", "application/json")
            .header("webhook-id", &request.webhook_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        outcome_of(sent)
    }
}

/// An outbound POST that could not be made.
pub(crate) fn not_sent(error: OutboundError) -> SendOutcome {
    match error {
        OutboundError::Refused(reason) => SendOutcome::Refused { reason },
        OutboundError::Failed(error) => SendOutcome::Failed { error },
    }
}

/// What an outbound POST came to. The body is not read: only the status matters, and a
/// receiver cannot make us download anything.
pub(crate) fn outcome_of(sent: Result<reqwest::Response, reqwest::Error>) -> SendOutcome {
    match sent {
        Ok(response) => SendOutcome::Answered {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
        // `without_url`: the error's text would otherwise carry the URL, query string included,
        // into the delivery's last error and the log.
        Err(error) => not_sent(OutboundError::from_reqwest(&error.without_url())),
    }
}

/// Everything the dispatcher runs with.
pub struct WebhookDispatcher {
    pub store: Arc<dyn WebhookStore>,
    pub sender: Arc<dyn WebhookSender>,
    pub endpoints: Arc<Vec<WebhookEndpoint>>,
    pub clock: Arc<dyn Clock>,
    pub config: DispatchConfig,
    /// `max_idle` bounds how late a new event is noticed: events are written by every part of
    /// the domain, on any replica, without a signal to this task.
    pub timing: WorkerTiming,
}

#[async_trait]
impl Passes for WebhookDispatcher {
    const CHANNEL: &'static str = "webhook";

    fn config(&self) -> &DispatchConfig {
        &self.config
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn timing(&self) -> &WorkerTiming {
        &self.timing
    }

    async fn pass(&self, pacing: &Pacing<'_>) -> DomainResult<PassReport> {
        run_webhook_pass(
            self.store.as_ref(),
            self.sender.as_ref(),
            &self.endpoints,
            pacing,
        )
        .await
    }

    async fn next_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        self.store.next_webhook_due().await
    }
}
