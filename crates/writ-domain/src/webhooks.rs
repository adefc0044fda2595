//! Webhooks (DESIGN section 8): which outbox events go to which configured endpoint, the body
//! and Standard Webhooks signature of each POST, the retry schedule, and one pass of the
//! dispatcher ([`run_webhook_pass`]).
//!
//! Delivery is at least once and durable. Every outbox event is *routed* once: a delivery row
//! is written for each endpoint whose event filter accepts it (in one transaction that also
//! marks the event routed, so a crash repeats the whole step and the unique (event, endpoint)
//! pair keeps it from doubling). Workers then claim due deliveries with a lease, as the job
//! queue does (section 7), send them, and record the outcome under that lease: delivered after a
//! 2xx, retried later with backoff and jitter (or at the receiver's `Retry-After`), or
//! dead-lettered after [`DispatchConfig::max_attempts`] or when the outbound policy refuses the
//! endpoint's address. The `webhook-id` header is the event id, so a resend after a crash is
//! recognisable by the receiver.
//!
//! The HTTP client and the address policy are the runtime's ([`WebhookSender`]); the rows are the
//! store's ([`WebhookStore`], a queue of the storage port) and their data the model's
//! (`model::webhook`: endpoints, secrets, deliveries), both re-exported here at their old paths.
//! Time and randomness are parameters.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use time::OffsetDateTime;

use crate::authz::Caller;
use crate::clock::Clock;
pub use crate::dispatch::{
    AttemptRecord, DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY, DeadLetter,
    DispatchConfig, NextStep, SendOutcome, backoff, next_step, parse_retry_after,
};
use crate::dispatch::{Claimed, DeliveryQueue, Pacing, run_pass};
use crate::error::DomainResult;
use crate::model::OutboxEvent;
pub use crate::model::delivery::DeliveryState;
pub use crate::model::{
    ClaimedDelivery, DeliveryProgress, NewDelivery, WebhookDelivery, WebhookEndpoint, WebhookSecret,
};
use crate::query::{ListQuery, Page};
use crate::store::StoreResult;
pub use crate::store::WebhookStore;

/// The prefix of a Standard Webhooks secret; the rest is the base64 of the key.
pub const SECRET_PREFIX: &str = WebhookSecret::PREFIX;

/// One POST, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    pub url: String,
    /// `webhook-id`: the event id, the same on every attempt.
    pub webhook_id: String,
    /// `webhook-timestamp`: unix seconds of this attempt.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    pub body: String,
}

/// Sends one webhook POST. Implemented by the runtime with an HTTP client that enforces the
/// outbound policy and follows no redirects.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: &WebhookRequest) -> SendOutcome;
}

/// The POST body: `{"id","type","time","data","recipients":[{"id","type","mail"}]}`.
pub fn payload(event: &OutboxEvent) -> String {
    let time = event
        .occurred_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let recipients: Vec<serde_json::Value> = event
        .recipients
        .iter()
        .map(|r| json!({ "id": r.id, "type": r.kind, "mail": r.mail }))
        .collect();
    json!({
        "id": event.id,
        "type": event.event_type,
        "time": time,
        "data": event.data,
        "recipients": recipients,
    })
    .to_string()
}

/// The Standard Webhooks signature: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub fn sign(secret: &WebhookSecret, webhook_id: &str, timestamp: i64, body: &str) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.key());
    let mut context = hmac::Context::with_key(&key);
    context.update(webhook_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// What one webhook pass did.
pub type WebhookPassReport = crate::dispatch::PassReport;

impl Claimed for ClaimedDelivery {
    fn delivery_id(&self) -> &str {
        &self.id
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
    fn event_id(&self) -> &str {
        &self.event.id
    }
    fn destination(&self) -> &str {
        &self.endpoint_url
    }
}

/// The webhook channel as a [`DeliveryQueue`]: its store, its sender, the endpoints that sign.
struct WebhookQueue<'a> {
    store: &'a dyn WebhookStore,
    sender: &'a dyn WebhookSender,
    endpoints: &'a [WebhookEndpoint],
    clock: &'a dyn Clock,
}

#[async_trait]
impl DeliveryQueue for WebhookQueue<'_> {
    type Item = ClaimedDelivery;

    async fn route(&self, now: OffsetDateTime, limit: u32) -> StoreResult<u32> {
        self.store
            .route_webhook_events(self.endpoints, now, limit)
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.store
            .claim_webhook_deliveries(worker, now, lease_until, limit)
            .await
    }

    async fn send(&self, delivery: &ClaimedDelivery) -> SendOutcome {
        let Some(endpoint) = self
            .endpoints
            .iter()
            .find(|e| e.url == delivery.endpoint_url)
        else {
            // Configuration changed since the event was routed: nothing can sign it any more.
            return SendOutcome::Refused {
                reason: "the endpoint is no longer configured".into(),
            };
        };
        let timestamp = self.clock.now().unix_timestamp();
        let body = payload(&delivery.event);
        let signature = sign(&endpoint.secret, &delivery.event.id, timestamp, &body);
        self.sender
            .send(&WebhookRequest {
                url: endpoint.url.clone(),
                webhook_id: delivery.event.id.clone(),
                timestamp,
                signature,
                body,
            })
            .await
    }

    async fn record(&self, id: &str, worker: &str, record: &AttemptRecord) -> StoreResult<bool> {
        self.store.record_webhook_attempt(id, worker, record).await
    }

    async fn release(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        self.store.release_webhook_deliveries(ids, worker).await
    }
}

/// One pass of the webhook dispatcher ([`crate::dispatch::run_pass`] over the webhook queue).
pub async fn run_webhook_pass(
    store: &dyn WebhookStore,
    sender: &dyn WebhookSender,
    endpoints: &[WebhookEndpoint],
    pacing: &Pacing<'_>,
) -> DomainResult<WebhookPassReport> {
    let queue = WebhookQueue {
        store,
        sender,
        endpoints,
        clock: pacing.clock,
    };
    run_pass(&queue, pacing).await
}

/// `GET /writ/v1/webhookDeliveries`: administrators of entitlement management only.
pub async fn list_deliveries(
    store: &dyn WebhookStore,
    caller: &Caller,
    query: &ListQuery,
) -> DomainResult<Page<WebhookDelivery>> {
    crate::dispatch::require_delivery_reader(caller, "webhook deliveries")?;
    Ok(store.list_webhook_deliveries(query).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Recipient;
    use time::Duration;

    use crate::clock::ManualClock;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds)
    }

    #[test]
    fn secrets_are_whsec_base64_and_never_print() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "***");
        assert!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap_err()
                .contains("whsec_")
        );
        assert!(
            WebhookSecret::parse("whsec_not base64!")
                .unwrap_err()
                .contains("base64")
        );
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
    }

    /// The example of the Standard Webhooks specification, computed independently there.
    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_the_upper_half() {
        let base = Duration::seconds(2);
        let max = Duration::hours(1);
        assert_eq!(backoff(1, base, max, 0.0), Duration::seconds(1));
        assert_eq!(
            backoff(1, base, max, 0.999_999),
            Duration::seconds(2) - Duration::microseconds(1)
        );
        assert_eq!(backoff(3, base, max, 0.0), Duration::seconds(4));
        assert_eq!(backoff(3, base, max, 0.5), Duration::seconds(6));
        assert_eq!(backoff(20, base, max, 0.0), Duration::minutes(30));
        assert_eq!(backoff(u32::MAX, base, max, 1.0), Duration::hours(1));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = at(1_000_000);
        assert_eq!(parse_retry_after("1", now), Some(Duration::seconds(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::seconds(120))
        );
        // 1970-01-12T13:46:40Z is `now`; ten seconds later:
        assert_eq!(
            parse_retry_after("Mon, 12 Jan 1970 13:46:50 GMT", now),
            Some(Duration::seconds(10))
        );
        assert_eq!(
            parse_retry_after("Mon, 12 Jan 1970 13:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn the_schedule_follows_the_clock_and_honours_retry_after() {
        let clock = ManualClock::new(at(1_000));
        let config = DispatchConfig {
            max_attempts: 4,
            ..DispatchConfig::default()
        };
        let failed = SendOutcome::Answered {
            status: 500,
            retry_after: None,
        };
        let record = next_step(&failed, 1, &config, clock.now(), 0.0);
        assert_eq!(record.next, NextStep::RetryAt(at(1_001)));
        assert_eq!(record.status, Some(500));
        clock.advance(Duration::seconds(1));
        let record = next_step(&failed, 2, &config, clock.now(), 0.0);
        assert_eq!(record.next, NextStep::RetryAt(at(1_003)));

        // 429 with Retry-After: the receiver's wait, not ours; capped at max_delay.
        let limited = |value: &str| SendOutcome::Answered {
            status: 429,
            retry_after: Some(value.into()),
        };
        let record = next_step(&limited("30"), 3, &config, clock.now(), 0.0);
        assert_eq!(record.next, NextStep::RetryAt(at(1_031)));
        let record = next_step(&limited("999999"), 3, &config, clock.now(), 0.0);
        assert_eq!(
            record.next,
            NextStep::RetryAt(at(1_001) + Duration::hours(1))
        );
        // Retry-After on a 500 is not a schedule the receiver may set.
        let odd = SendOutcome::Answered {
            status: 500,
            retry_after: Some("30".into()),
        };
        assert_eq!(
            next_step(&odd, 1, &config, clock.now(), 0.0).next,
            NextStep::RetryAt(at(1_002))
        );

        // The last attempt fails: dead letter, with the reason.
        let record = next_step(&failed, 4, &config, clock.now(), 0.0);
        assert_eq!(record.next, NextStep::DeadLetter);
        assert!(record.error.unwrap().contains("gave up after 4 attempts"));

        let redirect = SendOutcome::Answered {
            status: 302,
            retry_after: None,
        };
        let record = next_step(&redirect, 1, &config, clock.now(), 0.0);
        assert!(matches!(record.next, NextStep::RetryAt(_)));
        assert!(record.error.unwrap().contains("redirects are not followed"));

        let refused = SendOutcome::Refused {
            reason: "loopback".into(),
        };
        assert_eq!(
            next_step(&refused, 1, &config, clock.now(), 0.0).next,
            NextStep::DeadLetter
        );
        let ok = SendOutcome::Answered {
            status: 204,
            retry_after: None,
        };
        assert_eq!(
            next_step(&ok, 4, &config, clock.now(), 0.0).next,
            NextStep::Delivered
        );
    }

    #[test]
    fn payload_has_the_documented_shape_and_filters_match_types() {
        let event = OutboxEvent {
            id: "e1".into(),
            event_type: "assignment.expired".into(),
            occurred_at: at(0),
            data: json!({"assignmentId": "a1"}),
            recipients: vec![Recipient {
                id: "u1".into(),
                kind: "user".into(),
                mail: Some("u1@example.org".into()),
            }],
        };
        let body: serde_json::Value = serde_json::from_str(&payload(&event)).unwrap();
        assert_eq!(
            body,
            json!({
                "id": "e1",
                "type": "assignment.expired",
                "time": "1970-01-01T00:00:00Z",
                "data": {"assignmentId": "a1"},
                "recipients": [{"id": "u1", "type": "user", "mail": "u1@example.org"}],
            })
        );
        let endpoint = WebhookEndpoint {
            url: "https://example.org/hook".into(),
            secret: WebhookSecret::from_bytes(vec![0; 32]),
            events: vec!["assignment.expired".into()],
        };
        assert!(endpoint.wants("assignment.expired"));
        assert!(!endpoint.wants("request.created"));
        let all = WebhookEndpoint {
            events: Vec::new(),
            ..endpoint
        };
        assert!(all.wants("request.created"));
    }
}
