//! Notification email (DESIGN section 8): which outbox events become email, the message each
//! recipient with a mailbox gets (subject, text and HTML bodies, a `Message-ID` stable per event
//! and recipient), and one pass of the email dispatcher ([`run_email_pass`]).
//!
//! Delivery is the webhooks' (see [`crate::dispatch`]): every outbox event is routed once into
//! one delivery row per recipient that has a `mail`, claimed under a lease, marked sent once the
//! SMTP server accepted the message, retried with backoff and jitter, dead-lettered after
//! [`crate::dispatch::DispatchConfig::max_attempts`] or a permanent (5xx) refusal. Because the `Message-ID` is
//! derived from the event and the recipient, a resend after a crash carries the same one.
//!
//! The SMTP client is the runtime's ([`EmailSender`]); the rows are the store's ([`EmailStore`],
//! a queue of the storage port) and their data the model's (`model::email`), both re-exported
//! here at their old paths.
//! Administrators read the rows at `/writ/v1/emailDeliveries` ([`list_deliveries`],
//! [`get_delivery`]).

use std::collections::HashMap;

use async_trait::async_trait;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::authz::Caller;
use crate::clock::Clock;
use crate::dispatch::SendOutcome;
use crate::dispatch::{Claimed, DeliveryQueue, Pacing, PassReport, run_pass};
use crate::error::{DomainError, DomainResult};
use crate::model::{AttemptRecord, OutboxEvent, Recipient};
pub use crate::model::{ClaimedEmail, EmailDelivery};
use crate::query::{ListQuery, Page};
pub use crate::store::EmailStore;
use crate::store::StoreResult;

/// The events a person acts on or must know about, and so the ones mailed. The rest
/// (`request.created`, `request.pendingApproval`, `request.canceled`, `delivery.failed`) go to
/// webhooks only: the requestor caused them or an administrator reads them from the API.
pub const EMAIL_EVENT_TYPES: &[&str] = &[
    "approval.stageAssigned",
    "approval.escalated",
    "request.approved",
    "request.denied",
    "request.approvalBypassed",
    "assignment.delivered",
    "assignment.expiringSoon",
    "assignment.expired",
    "assignment.extended",
    "assignment.removed",
    "agent.compromised",
    "agent.sponsorChanged",
    "agent.sponsorless",
];

impl Claimed for ClaimedEmail {
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
        &self.recipient_id
    }
}

/// One message, ready for the SMTP client (which adds `From`).
#[derive(Debug, Clone, PartialEq)]
pub struct EmailMessage {
    /// The `Date` header: when this attempt composed it.
    pub date: OffsetDateTime,
    /// With the angle brackets: `<{event id}.{recipient id}@{host}>`.
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Sends one message. Implemented by the runtime over SMTP: [`SendOutcome::Answered`] with the
/// server's 2xx code once it accepted the message, [`SendOutcome::Failed`] for a transient
/// failure (no connection, 4xx), [`SendOutcome::Refused`] for a permanent one (5xx).
#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send(&self, message: &EmailMessage) -> SendOutcome;
}

/// `<{event id}.{recipient id}@{host}>`: the same for every attempt of one delivery.
pub fn message_id(event_id: &str, recipient_id: &str, host: &str) -> String {
    format!("<{event_id}.{recipient_id}@{host}>")
}

/// The host of the server's public URL: the `Message-ID` domain (and the SMTP `EHLO` name).
pub fn host_of(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// What the message is built from besides the event.
pub struct Compose<'a> {
    /// The server's public URL, for the links to the portal (and the extension call).
    pub public_url: &'a str,
    /// The host in the `Message-ID`.
    pub host: &'a str,
    pub names: &'a HashMap<String, String>,
    pub now: OffsetDateTime,
}

fn field<'e>(event: &'e OutboxEvent, name: &str) -> Option<&'e str> {
    event.data.get(name).and_then(serde_json::Value::as_str)
}

/// "2026-12-01T10:00:00Z (Tuesday 1 December 2026, 10:00 UTC)"; the text as stored if it is
/// not an RFC 3339 instant.
fn human_time(value: &str) -> String {
    let format = time::macros::format_description!(
        "[weekday] [day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    );
    // Checked: an instant at the end of year 9999 with a negative offset has no UTC form.
    match OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .and_then(|at| at.checked_to_offset(time::UtcOffset::UTC))
    {
        Some(utc) => match (utc.format(&Rfc3339), utc.format(&format)) {
            (Ok(exact), Ok(human)) => format!("{exact} ({human})"),
            _ => value.to_owned(),
        },
        None => value.to_owned(),
    }
}

/// Percent-encodes `text` as one path segment: every byte but RFC 3986's unreserved
/// characters, so an id can neither end the segment nor start a query or fragment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The portal page where the recipient of an event acts (DESIGN section 15), with the words of
/// its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLink {
    /// Absolute: `{public_url}/portal/…`.
    pub url: String,
    pub label: &'static str,
    /// A line said under the link, if any.
    pub note: Option<&'static str>,
}

/// The page an event's message links to: an approver's stage for approvals, the assignment's
/// extend form while it runs, the assignment once it ended, the request once it was decided.
/// `None` for an event without one (or without the id the link needs). Following the link
/// changes nothing: the page opens after sign-in and only reads.
pub fn action_link(event: &OutboxEvent, base: &str) -> Option<ActionLink> {
    let link = |path: String, label, note| {
        Some(ActionLink {
            url: format!("{base}{path}"),
            label,
            note,
        })
    };
    let id = |key: &str| field(event, key).map(path_segment);
    match event.event_type.as_str() {
        "approval.stageAssigned" | "approval.escalated" => link(
            format!("/portal/approvals/{}", id("requestId")?),
            "Review and decide",
            None,
        ),
        "assignment.expiringSoon" | "assignment.delivered" | "assignment.extended" => link(
            format!("/portal/assignments/{}#extend", id("assignmentId")?),
            "Extend the access",
            Some("Otherwise the access ends at the time above."),
        ),
        "assignment.expired" | "assignment.removed" => link(
            format!("/portal/assignments/{}", id("assignmentId")?),
            "See the access that ended",
            None,
        ),
        "request.approved" | "request.denied" | "request.approvalBypassed" => link(
            format!("/portal/requests/{}", id("requestId")?),
            "See the request",
            None,
        ),
        // A blueprint (an application) has no page of its own in the portal.
        "agent.sponsorChanged" | "agent.sponsorless"
            if field(event, "targetType") == Some("Application") =>
        {
            None
        }
        "agent.compromised" | "agent.sponsorChanged" | "agent.sponsorless" => link(
            format!("/portal/agents/{}", id("targetId")?),
            "See the agent",
            None,
        ),
        _ => None,
    }
}

/// The message for one recipient of one event.
pub fn compose(
    event: &OutboxEvent,
    recipient: &Recipient,
    to: &str,
    cx: &Compose<'_>,
) -> EmailMessage {
    let name = |key: &str| {
        field(event, key).map(|id| {
            cx.names
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("(deleted) {id}"))
        })
    };
    // A name the event carries serves when the dispatcher has none (a blueprint's).
    let agent = match (
        cx.names.get(field(event, "targetId").unwrap_or_default()),
        field(event, "targetDisplayName"),
    ) {
        (None, Some(carried)) => carried.to_owned(),
        _ => name("targetId").unwrap_or_else(|| "an agent".into()),
    };
    let package = name("accessPackageId").unwrap_or_else(|| "an access package".into());
    let end = field(event, "endDateTime").map(human_time);
    let assignment = field(event, "assignmentId");
    let headline = match event.event_type.as_str() {
        "assignment.expiringSoon" => format!("Access of {agent} to {package} expires soon"),
        "assignment.expired" => format!("Access of {agent} to {package} has expired"),
        "assignment.extended" => format!("Access of {agent} to {package} was extended"),
        "assignment.removed" => format!("Access of {agent} to {package} was removed"),
        "assignment.delivered" => format!("{agent} now has access to {package}"),
        "approval.stageAssigned" => format!("Approval needed: {agent} requests {package}"),
        "approval.escalated" => format!("Approval escalated to you: {agent} requests {package}"),
        "request.approved" => format!("Request of {agent} for {package} approved"),
        "request.denied" => format!("Request of {agent} for {package} denied"),
        "request.approvalBypassed" => {
            format!("Approval bypassed by an administrator: {agent} requests {package}")
        }
        "agent.compromised" => format!("{agent} was confirmed compromised"),
        "agent.sponsorChanged" if field(event, "newSponsorId") == Some(recipient.id.as_str()) => {
            format!("You now sponsor {agent}")
        }
        "agent.sponsorChanged" => format!("The sponsors of {agent} changed"),
        "agent.sponsorless" => format!("{agent} has no sponsor left"),
        other => format!("{other}: {agent}, {package}"),
    };
    // (label, value) lines shown in both parts.
    let mut facts: Vec<(&str, String)> = vec![("Agent", agent.clone())];
    // An agent's compromise or sponsors concern the agent, not one package.
    let about_agent = event.event_type.starts_with("agent.");
    if !about_agent {
        facts.push(("Access package", package));
    }
    if about_agent && event.event_type != "agent.compromised" {
        // Succession: the departing sponsor by the name it had (it may be deleted now).
        let person = |id: &str, name: &str| match field(event, name) {
            Some(name) => format!("{name} ({})", field(event, id).unwrap_or_default()),
            None => field(event, id).unwrap_or("none").to_owned(),
        };
        let why = match field(event, "succession") {
            Some("sponsorDisabled") => " (account disabled)",
            Some("sponsorDeleted") => " (deleted)",
            _ => "",
        };
        facts.push((
            "Previous sponsor",
            format!(
                "{}{why}",
                person("previousSponsorId", "previousSponsorDisplayName")
            ),
        ));
        facts.push((
            "New sponsor",
            match field(event, "newSponsorId") {
                Some(_) => person("newSponsorId", "newSponsorDisplayName"),
                None => "none: the previous sponsor had no enabled manager to take over".to_owned(),
            },
        ));
    }
    if event.event_type == "agent.compromised" {
        facts.push((
            "What Writ did",
            "ended all its access and refuses its tokens until an administrator confirms it safe"
                .to_owned(),
        ));
    }
    if let Some(end) = &end {
        facts.push(("Ends", end.clone()));
    }
    if let Some(lead) = field(event, "leadTime") {
        facts.push(("Notice", format!("{lead} before the end")));
    }
    if let Some(id) = assignment {
        facts.push(("Assignment id", id.to_owned()));
    }
    if let Some(id) = field(event, "requestId") {
        facts.push(("Request id", id.to_owned()));
    }
    facts.push(("Event", format!("{} ({})", event.event_type, event.id)));
    let base = cx.public_url.trim_end_matches('/');
    let action = action_link(event, base);
    // For scripts: the one API call that extends, where there is an assignment to extend.
    let script = match (event.event_type.as_str(), assignment) {
        ("assignment.expiringSoon" | "assignment.delivered" | "assignment.extended", Some(id)) => {
            Some(format!(
                "For scripts: POST {base}/v1.0/identityGovernance/entitlementManagement/assignmentRequests \
                 {{\"requestType\": \"userUpdate\", \"assignment\": {{\"id\": \"{id}\"}}}} \
                 (an administrator: \"adminUpdate\")."
            ))
        }
        _ => None,
    };
    let mut text = format!("{headline}.\n\n");
    for (label, value) in &facts {
        text.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(action) = &action {
        text.push_str(&format!("\n{}: {}\n", action.label, action.url));
        if let Some(note) = action.note.filter(|_| end.is_some()) {
            text.push_str(note);
            text.push('\n');
        }
    }
    if let Some(script) = &script {
        text.push('\n');
        text.push_str(script);
        text.push('\n');
    }
    text.push_str(&format!(
        "\nYou receive this as {} {} of this event in Writ.\n",
        recipient.kind, recipient.id
    ));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p><strong>{}.</strong></p>\n<table>\n",
        html_escape(&headline)
    );
    for (label, value) in &facts {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            html_escape(label),
            html_escape(value)
        ));
    }
    html.push_str("</table>\n");
    if let Some(action) = &action {
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            html_escape(&action.url),
            html_escape(action.label)
        ));
        if let Some(note) = action.note.filter(|_| end.is_some()) {
            html.push_str(&format!("<p>{}</p>\n", html_escape(note)));
        }
    }
    if let Some(script) = &script {
        html.push_str(&format!("<p><small>{}</small></p>\n", html_escape(script)));
    }
    html.push_str(&format!(
        "<p>You receive this as {} {} of this event in Writ.</p>\n</body></html>\n",
        html_escape(&recipient.kind),
        html_escape(&recipient.id)
    ));
    EmailMessage {
        date: cx.now,
        message_id: message_id(&event.id, &recipient.id, cx.host),
        to: to.to_owned(),
        subject: headline,
        text,
        html,
    }
}

struct EmailQueue<'a> {
    store: &'a dyn EmailStore,
    sender: &'a dyn EmailSender,
    public_url: &'a str,
    host: &'a str,
    clock: &'a dyn Clock,
}

#[async_trait]
impl DeliveryQueue for EmailQueue<'_> {
    type Item = ClaimedEmail;

    async fn route(&self, now: OffsetDateTime, limit: u32) -> StoreResult<u32> {
        self.store
            .route_email_events(EMAIL_EVENT_TYPES, now, limit)
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEmail>> {
        self.store
            .claim_email_deliveries(worker, now, lease_until, limit)
            .await
    }

    async fn send(&self, delivery: &ClaimedEmail) -> SendOutcome {
        let Some((recipient, to)) = delivery
            .recipient()
            .and_then(|r| r.mail.as_deref().map(|mail| (r, mail)))
        else {
            // Routing writes rows only for recipients with a mail; an event is never edited.
            return SendOutcome::Refused {
                reason: "the recipient has no mail address".into(),
            };
        };
        // Names as they are now: a renamed agent is mailed under its current name.
        let ids: Vec<String> = ["targetId", "accessPackageId"]
            .iter()
            .filter_map(|k| field(&delivery.event, k).map(str::to_owned))
            .collect();
        let names = match self.store.display_names(&ids).await {
            Ok(names) => names,
            Err(error) => {
                return SendOutcome::Failed {
                    error: format!("could not read display names: {error}"),
                };
            }
        };
        let message = compose(
            &delivery.event,
            recipient,
            to,
            &Compose {
                public_url: self.public_url,
                host: self.host,
                names: &names,
                now: self.clock.now(),
            },
        );
        self.sender.send(&message).await
    }

    async fn record(&self, id: &str, worker: &str, record: &AttemptRecord) -> StoreResult<bool> {
        self.store.record_email_attempt(id, worker, record).await
    }

    async fn release(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        self.store.release_email_deliveries(ids, worker).await
    }
}

/// One pass of the email dispatcher ([`crate::dispatch::run_pass`] over the email queue).
/// `public_url` starts the messages' links; `host` ends each `Message-ID`.
pub async fn run_email_pass(
    store: &dyn EmailStore,
    sender: &dyn EmailSender,
    (public_url, host): (&str, &str),
    pacing: &Pacing<'_>,
) -> DomainResult<PassReport> {
    let queue = EmailQueue {
        store,
        sender,
        public_url,
        host,
        clock: pacing.clock,
    };
    run_pass(&queue, pacing).await
}

/// `GET /writ/v1/emailDeliveries`: administrators of entitlement management only.
pub async fn list_deliveries(
    store: &dyn EmailStore,
    caller: &Caller,
    query: &ListQuery,
) -> DomainResult<Page<EmailDelivery>> {
    crate::dispatch::require_delivery_reader(caller, "email deliveries")?;
    Ok(store.list_email_deliveries(query).await?)
}

/// `GET /writ/v1/emailDeliveries/{id}`: administrators only (403 before 404 for anyone else).
pub async fn get_delivery(
    store: &dyn EmailStore,
    caller: &Caller,
    id: &str,
) -> DomainResult<EmailDelivery> {
    crate::dispatch::require_delivery_reader(caller, "email deliveries")?;
    store
        .email_delivery(id)
        .await?
        .ok_or_else(|| DomainError::not_found("emailDelivery", id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_end_without_a_utc_form_is_shown_as_stored_not_a_panic() {
        assert_eq!(
            human_time("9999-12-31T23:00:00-05:00"),
            "9999-12-31T23:00:00-05:00"
        );
        assert_eq!(
            human_time("2026-12-01T10:00:00Z"),
            "2026-12-01T10:00:00Z (Tuesday 1 December 2026, 10:00 UTC)"
        );
    }

    #[test]
    fn the_message_names_agent_package_end_and_extension_and_escapes_html() {
        let event = OutboxEvent {
            id: "e1".into(),
            event_type: "assignment.expiringSoon".into(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            data: json!({"assignmentId": "a1", "accessPackageId": "p1", "targetId": "t1",
                         "endDateTime": "2026-12-01T10:00:00Z", "leadTime": "P1D"}),
            recipients: vec![],
        };
        let recipient = Recipient {
            id: "u1".into(),
            kind: "user".into(),
            mail: Some("u1@example.org".into()),
        };
        let names = HashMap::from([
            ("t1".to_owned(), "Bot <script>".to_owned()),
            ("p1".to_owned(), "Sales & Co".to_owned()),
        ]);
        let m = compose(
            &event,
            &recipient,
            "u1@example.org",
            &Compose {
                public_url: "https://writ.example.org/",
                host: "writ.example.org",
                names: &names,
                now: OffsetDateTime::UNIX_EPOCH,
            },
        );
        assert_eq!(m.message_id, "<e1.u1@writ.example.org>");
        assert_eq!(
            m.subject,
            "Access of Bot <script> to Sales & Co expires soon"
        );
        assert!(
            m.text
                .contains("Ends: 2026-12-01T10:00:00Z (Tuesday 1 December 2026, 10:00 UTC)")
        );
        assert!(m.text.contains(
            "POST https://writ.example.org/v1.0/identityGovernance/entitlementManagement/assignmentRequests"
        ));
        assert!(
            m.text
                .contains("\"requestType\": \"userUpdate\", \"assignment\": {\"id\": \"a1\"}")
        );
        assert!(m.html.contains("Bot &lt;script&gt;"));
        assert!(m.html.contains("Sales &amp; Co"));
        assert!(!m.html.contains("<script>"));
        assert!(m.html.contains("&quot;adminUpdate&quot;"));
        assert!(m.text.contains(
            "Extend the access: https://writ.example.org/portal/assignments/a1#extend\n"
        ));
        assert!(m.html.contains(
            "<a href=\"https://writ.example.org/portal/assignments/a1#extend\">Extend the access</a>"
        ));
    }

    #[test]
    fn a_compromise_names_the_agent_and_what_was_done_without_a_package() {
        let m = message_of(
            "agent.compromised",
            serde_json::json!({"targetId": "agent-1", "riskState": "confirmedCompromised"}),
        );
        assert!(EMAIL_EVENT_TYPES.contains(&"agent.compromised"));
        assert_eq!(m.subject, "(deleted) agent-1 was confirmed compromised");
        assert!(m.text.contains("refuses its tokens"), "{}", m.text);
        assert!(!m.text.contains("Access package"), "{}", m.text);
    }

    #[test]
    fn a_succession_tells_the_heir_it_now_sponsors_and_the_others_what_changed() {
        let data = serde_json::json!({
            "targetId": "agent-1",
            "succession": "sponsorDisabled",
            "previousSponsorId": "u-old",
            "previousSponsorDisplayName": "Olga Old",
            "newSponsorId": "u1",
            "newSponsorDisplayName": "Mona Manager",
        });
        // `message_of` mails recipient u1: the heir.
        let m = message_of("agent.sponsorChanged", data.clone());
        assert_eq!(m.subject, "You now sponsor (deleted) agent-1");
        assert!(
            m.text
                .contains("Previous sponsor: Olga Old (u-old) (account disabled)\n"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("New sponsor: Mona Manager (u1)\n"),
            "{}",
            m.text
        );
        assert!(!m.text.contains("Access package"), "{}", m.text);
        let mut other = data;
        other["newSponsorId"] = serde_json::Value::Null;
        let m = message_of("agent.sponsorChanged", other.clone());
        assert_eq!(m.subject, "The sponsors of (deleted) agent-1 changed");
        assert!(m.text.contains("New sponsor: none"), "{}", m.text);
        // A blueprint: named by the event, and no portal page to link to.
        other["targetType"] = "Application".into();
        other["targetDisplayName"] = "Support blueprint".into();
        let m = message_of("agent.sponsorChanged", other);
        assert_eq!(m.subject, "The sponsors of Support blueprint changed");
        assert!(!m.text.contains("/portal/"), "{}", m.text);
    }

    fn message_of(event_type: &str, data: serde_json::Value) -> EmailMessage {
        let event = OutboxEvent {
            id: "e1".into(),
            event_type: event_type.into(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            data,
            recipients: vec![],
        };
        let recipient = Recipient {
            id: "u1".into(),
            kind: "user".into(),
            mail: Some("u1@example.org".into()),
        };
        compose(
            &event,
            &recipient,
            "u1@example.org",
            &Compose {
                public_url: "https://writ.example.org/base/",
                host: "writ.example.org",
                names: &HashMap::new(),
                now: OffsetDateTime::UNIX_EPOCH,
            },
        )
    }

    #[test]
    fn every_mailed_event_links_to_the_page_where_the_person_acts() {
        let base = "https://writ.example.org/base";
        let data = json!({"requestId": "r 1/?#&\"<x>", "assignmentId": "a1", "accessPackageId": "p1",
                          "targetId": "t1", "endDateTime": "2026-12-01T10:00:00Z"});
        let cases = [
            (
                "approval.stageAssigned",
                "/portal/approvals/r%201%2F%3F%23%26%22%3Cx%3E",
                "Review and decide",
            ),
            (
                "approval.escalated",
                "/portal/approvals/r%201%2F%3F%23%26%22%3Cx%3E",
                "Review and decide",
            ),
            (
                "assignment.expiringSoon",
                "/portal/assignments/a1#extend",
                "Extend the access",
            ),
            (
                "assignment.delivered",
                "/portal/assignments/a1#extend",
                "Extend the access",
            ),
            (
                "assignment.extended",
                "/portal/assignments/a1#extend",
                "Extend the access",
            ),
            (
                "assignment.expired",
                "/portal/assignments/a1",
                "See the access that ended",
            ),
            (
                "assignment.removed",
                "/portal/assignments/a1",
                "See the access that ended",
            ),
            (
                "request.approved",
                "/portal/requests/r%201%2F%3F%23%26%22%3Cx%3E",
                "See the request",
            ),
            (
                "request.denied",
                "/portal/requests/r%201%2F%3F%23%26%22%3Cx%3E",
                "See the request",
            ),
            (
                "request.approvalBypassed",
                "/portal/requests/r%201%2F%3F%23%26%22%3Cx%3E",
                "See the request",
            ),
            ("agent.compromised", "/portal/agents/t1", "See the agent"),
            ("agent.sponsorChanged", "/portal/agents/t1", "See the agent"),
            ("agent.sponsorless", "/portal/agents/t1", "See the agent"),
        ];
        assert_eq!(cases.len(), EMAIL_EVENT_TYPES.len());
        for (event_type, path, label) in cases {
            assert!(EMAIL_EVENT_TYPES.contains(&event_type), "{event_type}");
            let m = message_of(event_type, data.clone());
            let url = format!("{base}{path}");
            assert!(
                m.text.contains(&format!("\n{label}: {url}\n")),
                "{event_type}: {}",
                m.text
            );
            assert!(
                m.html
                    .contains(&format!("<p><a href=\"{url}\">{label}</a></p>")),
                "{event_type}: {}",
                m.html
            );
            // The link is the one in each part; the raw API call remains only for extensions.
            assert_eq!(m.text.matches("/portal/").count(), 1, "{event_type}");
            let extends = path.ends_with("#extend");
            assert_eq!(
                m.text.contains("For scripts: POST"),
                extends,
                "{event_type}"
            );
            assert_eq!(
                m.text.contains("Otherwise the access ends"),
                extends,
                "{event_type}"
            );
        }
        // Without the id the link needs there is no link, and nothing else breaks.
        let m = message_of("request.denied", json!({"targetId": "t1"}));
        assert!(
            !m.text.contains("/portal/") && !m.html.contains("<a "),
            "{}",
            m.text
        );
        // An id with HTML in it is escaped in the HTML part (it is percent-encoded already).
        let m = message_of("assignment.removed", json!({"assignmentId": "<b>&"}));
        assert!(
            m.html
                .contains("href=\"https://writ.example.org/base/portal/assignments/%3Cb%3E%26\"")
        );
        assert!(!m.html.contains("<b>&"));
    }

    #[test]
    fn a_path_segment_keeps_only_unreserved_characters() {
        assert_eq!(path_segment("0193-ab_C.~"), "0193-ab_C.~");
        assert_eq!(path_segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
        assert_eq!(path_segment("é"), "%C3%A9");
        assert_eq!(path_segment(""), "");
    }
}
