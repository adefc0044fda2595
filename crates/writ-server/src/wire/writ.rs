//! Writ's own entities under `/writ/v1` (no Graph shape exists for them): a job of the queue, a
//! webhook delivery and a notification email delivery, each with the progress both delivery
//! lists share, and an assignment policy's break-glass setting. Same conventions as the Graph wire types: camelCase names, instants in UTC with
//! whole seconds, absent values as `null`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::email::{EmailDelivery, message_id};
use writ_domain::jobs::QueuedJob;
use writ_domain::webhooks::{DeliveryProgress, WebhookDelivery};

use super::body::WireBody;
use super::{NamedSchema, collect, instant, optional_instant};

/// An assignment policy's break-glass setting (`/writ/v1/assignmentPolicies/{id}/breakGlass`),
/// read and written whole: whether a tenant-wide administrator's `parameters.bypassApproval`
/// is accepted under the policy (default `true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = assignmentPolicyBreakGlass)]
pub struct WireBreakGlass {
    pub is_approval_bypass_allowed: bool,
}

impl WireBody for WireBreakGlass {
    const GRAPH_TYPE: &'static str = "assignmentPolicyBreakGlass";
}

/// Every schema of Writ's own API.
pub fn schemas() -> Vec<NamedSchema> {
    let mut schemas = Vec::new();
    collect::<WireJob>(&mut schemas);
    collect::<WireWebhookDelivery>(&mut schemas);
    collect::<WireEmailDelivery>(&mut schemas);
    collect::<WireBreakGlass>(&mut schemas);
    schemas
}

/// A queued, leased or parked job (`GET /writ/v1/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = job)]
pub struct WireJob {
    pub id: String,
    /// `processRequest`, `deliverAssignment`, `expireAssignment`, … as stored.
    pub kind: String,
    /// The request, assignment or callout the job works on.
    pub subject_id: String,
    /// `queued`, `leased` or `parked`.
    pub state: String,
    pub due_date_time: String,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_expires_date_time: Option<String>,
    pub last_error: Option<String>,
    pub parked_date_time: Option<String>,
}

impl From<QueuedJob> for WireJob {
    fn from(job: QueuedJob) -> Self {
        let state = job.state().as_str().to_owned();
        Self {
            id: job.id,
            kind: job.kind_name,
            subject_id: job.subject_id,
            state,
            due_date_time: instant(job.due_at),
            attempts: job.attempts,
            lease_owner: job.lease_owner,
            lease_expires_date_time: optional_instant(job.lease_until),
            last_error: job.last_error,
            parked_date_time: optional_instant(job.parked_at),
        }
    }
}

/// Where one delivery stands, in either channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = deliveryProgress)]
pub struct WireDeliveryProgress {
    /// `pending`, `delivered` or `deadLettered` (a state this build does not know, as stored).
    pub state: String,
    pub attempts: u32,
    /// The receiver's last answer: an HTTP status, an SMTP reply code.
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_date_time: Option<String>,
    pub next_attempt_date_time: Option<String>,
    pub created_date_time: String,
    pub delivered_date_time: Option<String>,
    pub dead_lettered_date_time: Option<String>,
}

impl From<DeliveryProgress> for WireDeliveryProgress {
    fn from(p: DeliveryProgress) -> Self {
        Self {
            state: p.state.map_or(p.state_name, |s| s.as_str().to_owned()),
            attempts: p.attempts,
            last_status_code: p.last_status,
            last_error: p.last_error,
            last_attempt_date_time: optional_instant(p.last_attempt_at),
            next_attempt_date_time: optional_instant(p.next_attempt_at),
            created_date_time: instant(p.created_at),
            delivered_date_time: optional_instant(p.delivered_at),
            dead_lettered_date_time: optional_instant(p.dead_lettered_at),
        }
    }
}

/// One (event, endpoint) webhook delivery (`GET /writ/v1/webhookDeliveries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = webhookDelivery)]
pub struct WireWebhookDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_url: String,
    #[serde(flatten)]
    pub progress: WireDeliveryProgress,
}

impl From<WebhookDelivery> for WireWebhookDelivery {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            endpoint_url: d.endpoint_url,
            progress: d.progress.into(),
        }
    }
}

/// One (event, recipient) notification email (`GET /writ/v1/emailDeliveries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = emailDelivery)]
pub struct WireEmailDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub recipient_id: String,
    pub recipient_mail: Option<String>,
    /// The `Message-ID` the email carries (stable across retries).
    pub message_id: String,
    #[serde(flatten)]
    pub progress: WireDeliveryProgress,
}

impl WireEmailDelivery {
    /// `host`: the host of the public URL, as in the messages' `Message-ID`.
    pub fn new(d: EmailDelivery, host: &str) -> Self {
        Self {
            message_id: message_id(&d.event_id, &d.recipient_id, host),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            recipient_id: d.recipient_id,
            recipient_mail: d.recipient_mail,
            progress: d.progress.into(),
        }
    }
}
