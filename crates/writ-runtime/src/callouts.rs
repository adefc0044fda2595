//! The custom extension callout dispatcher's runtime (DESIGN section 8): the HTTP
//! [`CalloutSender`] over the [`OutboundClient`] (allow-list, no redirects), which POSTs the
//! stored body with a bearer token for the extension's audience that carries no roles, and the
//! task that runs passes of [`Entitlement::run_callout_pass`]. The loop and its shutdown are
//! [`crate::dispatch_loop`]'s.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use time::OffsetDateTime;
use writ_domain::clock::Clock;
use writ_domain::dispatch::{Pacing, PassReport};
use writ_domain::entitlement::{CalloutSender, CalloutTokenIssuer, ClaimedCallout, Entitlement};
use writ_domain::error::DomainResult;
use writ_domain::store::StoreResult;
use writ_domain::webhooks::{DispatchConfig, SendOutcome};

use crate::dispatch_loop::Passes;
use crate::job_worker::WorkerTiming;
use crate::outbound::OutboundClient;
use crate::webhooks::{not_sent, outcome_of};

/// Sends callouts with the outbound client.
pub struct HttpCalloutSender {
    client: OutboundClient,
    tokens: Arc<dyn CalloutTokenIssuer>,
    clock: Arc<dyn Clock>,
}

impl HttpCalloutSender {
    /// `tokens` signs each callout's bearer token (the server's token service).
    pub fn new(
        client: OutboundClient,
        tokens: Arc<dyn CalloutTokenIssuer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            tokens,
            clock,
        }
    }

    /// A token for the extension's audience, about the callout, granting nothing
    /// ([`CalloutTokenIssuer`]).
    fn token(&self, callout: &ClaimedCallout, audience: &str) -> Result<String, String> {
        self.tokens
            .callout_token(&callout.id, audience, self.clock.now())
    }
}

#[async_trait]
impl CalloutSender for HttpCalloutSender {
    async fn send(&self, callout: &ClaimedCallout) -> SendOutcome {
        let mut builder = match self.client.post(&callout.endpoint_url) {
            Ok(builder) => builder,
            Err(error) => return not_sent(error),
        };
        if let Some(audience) = &callout.token_audience {
            match self.token(callout, audience) {
                Ok(token) => builder = builder.bearer_auth(token),
                Err(error) => {
                    return SendOutcome::Failed {
                        error: format!("could not sign the callout's token: {error}"),
                    };
                }
            }
        }
        let sent = builder
            .timeout(StdDuration::from_millis(u64::from(callout.timeout_ms)))
            .header("content-type", "application/json")
            .body(callout.body.clone())
            .send()
            .await;
        outcome_of(sent)
    }
}

/// Everything the callout dispatcher runs with.
pub struct CalloutDispatcher {
    pub entitlement: Entitlement,
    pub sender: Arc<dyn CalloutSender>,
    pub clock: Arc<dyn Clock>,
    pub config: DispatchConfig,
    /// `max_idle` bounds how late a new callout is noticed: callouts are written on any replica
    /// without a signal to this task.
    pub timing: WorkerTiming,
}

#[async_trait]
impl Passes for CalloutDispatcher {
    const CHANNEL: &'static str = "callout";

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
        self.entitlement
            .run_callout_pass(self.sender.as_ref(), pacing)
            .await
    }

    async fn next_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        self.entitlement.next_callout_due().await
    }
}
