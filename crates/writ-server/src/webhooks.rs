//! The webhook dispatcher's runtime (DESIGN section 8): the HTTP [`WebhookSender`] over the
//! [`OutboundClient`], the endpoints read from the configuration, and the task that runs passes
//! of [`writ_domain::webhooks::run_webhook_pass`], sleeping until the next delivery is due.
//!
//! Shutdown: the sends in flight when it is asked finish and are recorded; deliveries claimed
//! and not yet sent are released, so a clean restart sends nothing twice. After a SIGKILL the
//! leases run out and another (or the restarted) process resends with the same `webhook-id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use writ_domain::clock::Clock;
use writ_domain::webhooks::{
    DispatchConfig, PassContext, SendOutcome, WebhookEndpoint, WebhookRequest, WebhookSecret,
    WebhookSender, WebhookStore, run_webhook_pass,
};

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
    "assignment.delivered",
    "assignment.expiringSoon",
    "assignment.expired",
    "assignment.extended",
    "assignment.removed",
    "delivery.failed",
];

/// One configured endpoint, checked: an http(s) URL, a `whsec_` secret, known event types.
/// Messages name the endpoint by URL and never contain the secret.
pub fn endpoint(url: &str, secret: &str, events: &[String]) -> Result<WebhookEndpoint, String> {
    check_url(url).map_err(|e| format!("notifications.webhooks: {e}"))?;
    let secret = WebhookSecret::parse(secret)
        .map_err(|e| format!("notifications.webhooks: the secret of {url} {e}"))?;
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(format!(
                "notifications.webhooks: {url} names the unknown event type '{event}'; known: {}",
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
            Err(OutboundError::Refused(reason)) => return SendOutcome::Refused { reason },
            Err(OutboundError::Failed(error)) => return SendOutcome::Failed { error },
        };
        let sent = builder
            .header("content-type", "application/json")
            .header("webhook-id", &request.webhook_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        match sent {
            // The body is not read: only the status matters, and a receiver cannot make us
            // download anything.
            Ok(response) => SendOutcome::Answered {
                status: response.status().as_u16(),
                retry_after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            },
            Err(error) => match OutboundError::from_reqwest(&error) {
                OutboundError::Refused(reason) => SendOutcome::Refused { reason },
                OutboundError::Failed(error) => SendOutcome::Failed { error },
            },
        }
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

/// A uniform draw from [0, 1) for jitter, from the operating system's generator (through
/// UUIDv4, which the workspace already uses) rather than a new dependency.
fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    // Exact: 53 bits fit an f64's mantissa.
    #[expect(clippy::cast_precision_loss, reason = "53 bits convert exactly")]
    let value = bits as f64;
    value / (1u64 << 53) as f64
}

impl WebhookDispatcher {
    /// Runs until `shutdown` resolves; see the module documentation for what shutdown does.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop_flag = stopping.clone();
        let is_stopping = move || stop_flag.load(Ordering::SeqCst);
        loop {
            let cx = PassContext {
                endpoints: &self.endpoints,
                config: &self.config,
                clock: self.clock.as_ref(),
                jitter: &jitter,
                stopping: &is_stopping,
            };
            let pass = run_webhook_pass(self.store.as_ref(), self.sender.as_ref(), &cx);
            tokio::pin!(pass);
            let mut stop_now = false;
            let result = tokio::select! {
                result = &mut pass => result,
                () = &mut shutdown => {
                    // Finish what is in flight; the pass releases what it has not sent.
                    stopping.store(true, Ordering::SeqCst);
                    stop_now = true;
                    pass.await
                }
            };
            let pause = match result {
                Ok(report) => {
                    for dead in &report.dead_lettered {
                        tracing::warn!(
                            delivery.id = %dead.delivery_id,
                            event.id = %dead.event_id,
                            endpoint.url = %dead.endpoint_url,
                            reason = %dead.reason,
                            "webhook delivery {} dead-lettered", dead.delivery_id
                        );
                    }
                    if report.claimed > 0 || report.routed > 0 {
                        tracing::debug!(?report, "webhook pass");
                    }
                    if stop_now {
                        return;
                    }
                    if report.claimed >= self.config.batch_size
                        || report.routed >= self.config.batch_size
                    {
                        continue;
                    }
                    self.idle_wait().await
                }
                Err(error) => {
                    tracing::warn!(error = %error.operator_detail(), "webhook pass failed");
                    if stop_now {
                        return;
                    }
                    self.timing.error_pause
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn idle_wait(&self) -> StdDuration {
        match self.store.next_webhook_due().await {
            // At least a moment: work that is due but held by another replica's open
            // transaction must not make this loop spin.
            Ok(Some(due)) => StdDuration::try_from(due - self.clock.now())
                .unwrap_or(StdDuration::ZERO)
                .clamp(StdDuration::from_millis(20), self.timing.max_idle),
            Ok(None) => self.timing.max_idle,
            Err(error) => {
                tracing::warn!(%error, "could not read the next webhook delivery's due time");
                self.timing.error_pause
            }
        }
    }
}
