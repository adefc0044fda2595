//! Writ's background runtime (DESIGN sections 7 to 9): the tasks `writ serve` runs beside the
//! HTTP server. The job worker ([`job_worker`]) runs the domain's jobs; the dispatch loop
//! ([`dispatch_loop`]) drives the outboxes: webhooks ([`webhooks`]) and custom extension
//! callouts ([`callouts`]) over the one outbound HTTP client ([`outbound`]), notification email
//! over SMTP ([`email`]); the audit chainer ([`audit_chainer`]) links committed audit records.
//! [`Runtime`] builds them all from a [`RuntimeConfig`] and starts them.
//!
//! The runtime depends on the domain only, never on the HTTP server: what the two share (the
//! job waker, URL redaction, the callout token port) is in `writ-domain`, and the `writ` binary
//! wires server and runtime together.

pub mod audit_chainer;
pub mod callouts;
pub mod dispatch_loop;
pub mod email;
pub mod job_worker;
pub mod outbound;
pub mod sso;
pub mod webhooks;

/// URL redaction for log lines (`crate::redact` in the senders and loops).
pub use writ_domain::redact;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use writ_domain::audit_chain::AuditKey;
use writ_domain::clock::Clock;
use writ_domain::email::EmailStore;
use writ_domain::entitlement::{CalloutTokenIssuer, Entitlement};
use writ_domain::job_waker::JobWaker;
use writ_domain::jobs::WorkerConfig;
use writ_domain::store::Store;
use writ_domain::webhooks::{DispatchConfig, WebhookEndpoint, WebhookStore};

use crate::audit_chainer::AuditChainer;
use crate::callouts::{CalloutDispatcher, HttpCalloutSender};
use crate::email::{EmailDispatcher, SMTP_TIMEOUT, SmtpConfig, SmtpEmailSender, host_of};
use crate::job_worker::{JobWorker, WorkerTiming};
use crate::outbound::{OutboundClient, OutboundPolicy, OutboundTimeouts};
use crate::webhooks::{HttpWebhookSender, WebhookDispatcher};

/// What the runtime runs with, resolved and checked from the configuration by the binary.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// `jobs.lease`: a job's lease, and the least lease of a delivery.
    pub job_lease: time::Duration,
    /// Passes of the job worker run at once (the backend's choice).
    pub job_passes: usize,
    /// `notifications.webhooks`, checked ([`webhooks::endpoint`]).
    pub webhook_endpoints: Vec<WebhookEndpoint>,
    /// `notifications.webhook_max_attempts`.
    pub webhook_max_attempts: u32,
    /// `outbound.allow_hosts`, for webhooks and callouts alike.
    pub outbound: OutboundPolicy,
    /// `notifications.smtp_*`; `None`: no email is sent.
    pub smtp: Option<SmtpConfig>,
    /// The server's public URL: named in email, and its host ends each `Message-ID`.
    pub public_url: String,
    /// The audit chain's signing key.
    pub audit_key: Arc<AuditKey>,
}

/// Every task of the runtime, built and not yet started.
pub struct Runtime {
    worker: JobWorker,
    webhooks: WebhookDispatcher,
    email: Option<EmailDispatcher>,
    callouts: CalloutDispatcher,
    chainer: AuditChainer,
}

/// The pauses of the dispatchers: a new delivery is noticed within a second.
const DISPATCH_TIMING: WorkerTiming = WorkerTiming {
    max_idle: StdDuration::from_secs(1),
    error_pause: StdDuration::from_secs(1),
};

impl Runtime {
    /// Builds every task: the outbound clients and the SMTP transport may fail (a bad CA file,
    /// no TLS provider), so this runs before anything is served. `entitlement` runs the jobs
    /// and callout passes, `tokens` signs the callouts' tokens, `waker` is the one the HTTP
    /// handlers wake.
    pub fn new<S>(
        store: S,
        clock: Arc<dyn Clock>,
        entitlement: Entitlement,
        tokens: Arc<dyn CalloutTokenIssuer>,
        waker: JobWaker,
        config: RuntimeConfig,
    ) -> Result<Self, String>
    where
        S: Store + WebhookStore + EmailStore + Clone + 'static,
    {
        let worker = JobWorker {
            store: Arc::new(store.clone()),
            clock: clock.clone(),
            handler: Arc::new(entitlement.clone()),
            config: WorkerConfig {
                lease: config.job_lease,
                parallel_passes: config.job_passes,
                ..WorkerConfig::default()
            },
            timing: WorkerTiming::default(),
            waker,
        };
        let webhooks = webhook_dispatcher(&config, store.clone(), clock.clone())?;
        let email = email_dispatcher(&config, store, clock.clone())?;
        let callouts = callout_dispatcher(&config, entitlement, tokens, clock)?;
        let chainer = AuditChainer {
            store: worker.store.clone(),
            key: config.audit_key,
            interval: StdDuration::from_secs(1),
        };
        Ok(Self {
            worker,
            webhooks,
            email,
            callouts,
            chainer,
        })
    }

    /// Starts every task on the current tokio runtime; each stops when `stop` turns true,
    /// finishing (or releasing) what it holds first.
    pub fn spawn(self, stop: watch::Receiver<bool>) -> Running {
        let stopped = |mut stop: watch::Receiver<bool>| async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        Running {
            worker: tokio::spawn(self.worker.run(stopped(stop.clone()))),
            webhooks: tokio::spawn(dispatch_loop::run(self.webhooks, stopped(stop.clone()))),
            email: self
                .email
                .map(|email| tokio::spawn(dispatch_loop::run(email, stopped(stop.clone())))),
            callouts: tokio::spawn(dispatch_loop::run(self.callouts, stopped(stop.clone()))),
            chainer: tokio::spawn(self.chainer.run(stopped(stop))),
        }
    }
}

/// The started tasks.
pub struct Running {
    worker: JoinHandle<()>,
    webhooks: JoinHandle<()>,
    email: Option<JoinHandle<()>>,
    callouts: JoinHandle<()>,
    chainer: JoinHandle<()>,
}

impl Running {
    /// Waits for every task to stop, logging any that ended abnormally (a panic).
    pub async fn join(self) {
        if let Err(error) = self.worker.await {
            tracing::error!(%error, "the job worker ended abnormally");
        }
        if let Err(error) = self.webhooks.await {
            tracing::error!(%error, "the webhook dispatcher ended abnormally");
        }
        if let Some(email) = self.email
            && let Err(error) = email.await
        {
            tracing::error!(%error, "the email dispatcher ended abnormally");
        }
        if let Err(error) = self.callouts.await {
            tracing::error!(%error, "the custom extension callout dispatcher ended abnormally");
        }
        if let Err(error) = self.chainer.await {
            tracing::error!(%error, "the audit chainer ended abnormally");
        }
    }
}

/// The webhook dispatcher for the configured endpoints (it runs with none, routing events to
/// nothing, so that an endpoint configured later is not sent the events of before).
fn webhook_dispatcher<S>(
    config: &RuntimeConfig,
    store: S,
    clock: Arc<dyn Clock>,
) -> Result<WebhookDispatcher, String>
where
    S: WebhookStore + 'static,
{
    let endpoints = config.webhook_endpoints.clone();
    let timeouts = OutboundTimeouts::default();
    let client = OutboundClient::new(config.outbound.clone(), timeouts)?;
    if !endpoints.is_empty() {
        tracing::info!(
            endpoints = endpoints.len(),
            "sending webhooks to {} endpoint(s)",
            endpoints.len()
        );
    }
    // A lease must outlast a send, or a slow receiver would get the event twice.
    let send_time = time::Duration::try_from(timeouts.request + timeouts.connect)
        .unwrap_or(time::Duration::seconds(30));
    Ok(WebhookDispatcher {
        store: Arc::new(store),
        sender: Arc::new(HttpWebhookSender::new(client)),
        endpoints: Arc::new(endpoints),
        clock,
        config: DispatchConfig {
            lease: config.job_lease.max(send_time + time::Duration::seconds(5)),
            max_attempts: config.webhook_max_attempts,
            ..DispatchConfig::default()
        },
        timing: DISPATCH_TIMING,
    })
}

/// The dispatcher of custom extension callouts, under the same outbound rules as webhooks.
fn callout_dispatcher(
    config: &RuntimeConfig,
    entitlement: Entitlement,
    tokens: Arc<dyn CalloutTokenIssuer>,
    clock: Arc<dyn Clock>,
) -> Result<CalloutDispatcher, String> {
    // An extension's own `timeoutInMilliseconds` (at most 60 s) bounds each request.
    let timeouts = OutboundTimeouts {
        request: StdDuration::from_secs(60),
        ..OutboundTimeouts::default()
    };
    let client = OutboundClient::new(config.outbound.clone(), timeouts)?;
    let send_time = time::Duration::try_from(timeouts.request + timeouts.connect)
        .unwrap_or(time::Duration::seconds(70));
    Ok(CalloutDispatcher {
        entitlement,
        sender: Arc::new(HttpCalloutSender::new(client, tokens, clock.clone())),
        clock,
        config: DispatchConfig {
            lease: config.job_lease.max(send_time + time::Duration::seconds(5)),
            ..DispatchConfig::default()
        },
        timing: DISPATCH_TIMING,
    })
}

/// The email dispatcher, when an SMTP relay is configured. Without one no event is routed to
/// email, so configuring a relay later mails the events from then on (migration 19 marked the
/// older ones routed; those written while no relay was configured are mailed once one is).
fn email_dispatcher<S>(
    config: &RuntimeConfig,
    store: S,
    clock: Arc<dyn Clock>,
) -> Result<Option<EmailDispatcher>, String>
where
    S: EmailStore + 'static,
{
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let host = host_of(&config.public_url);
    let sender = SmtpEmailSender::new(smtp, &host)?;
    tracing::info!(
        relay = %smtp.settings.host,
        port = smtp.settings.port,
        security = ?smtp.settings.security,
        ca_file = ?smtp.extra_roots.as_ref().map(|r| &r.path),
        "sending notification email"
    );
    let send_time = time::Duration::try_from(SMTP_TIMEOUT).unwrap_or(time::Duration::seconds(30));
    Ok(Some(EmailDispatcher {
        store: Arc::new(store),
        sender: Arc::new(sender),
        clock,
        public_url: config.public_url.clone(),
        host,
        config: DispatchConfig {
            // A lease outlasts a whole SMTP exchange, or a slow relay would get a message twice.
            lease: config
                .job_lease
                .max(send_time * 2 + time::Duration::seconds(5)),
            ..DispatchConfig::default()
        },
        timing: DISPATCH_TIMING,
    }))
}
