//! Sponsor succession (DESIGN section 17, issue 19 item 2): when a sponsor is disabled or
//! deleted, every object it sponsors (agent identities, blueprints, agent users) passes to its
//! manager — if it has one that is an enabled human user and not a sponsor already — and the
//! departing sponsor is removed from all of them. An object left with no sponsor stays without
//! one and is reported (`agent.sponsorless`); [`Directory::agents_without_sponsors`] lists them.
//!
//! Runs inside the transaction of the disable or delete, set-wise: one read, one insert and one
//! delete of sponsor links, one read of the recipients, then the audit records and events in
//! batches, whatever the number of objects. One audit record per object whose sponsors changed
//! (actor: whoever disabled or deleted the sponsor), an `agent.sponsorChanged` event per object
//! to its sponsors after the change (the heir among them), and `agent.sponsorless` for an object
//! left with none. Re-enabling a user restores nothing: succession is a change of sponsors like
//! any other, undone only by adding the sponsor back.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{
    Actor, AuditRecord, ObjectKind, OutboxEvent, Recipient, SponsorHandover, UserKind,
};
use crate::query::{ListQuery, Page};
use crate::store::StoreTx;

use super::{Directory, DirectoryObject, RequestContext};

/// The event every sponsor change by succession emits (webhooks; email to the sponsors).
pub const SPONSOR_CHANGED_EVENT: &str = "agent.sponsorChanged";
/// The event for an object succession left without any sponsor.
pub const SPONSORLESS_EVENT: &str = "agent.sponsorless";

/// Why a sponsor departs: the `succession` detail of the records and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// `accountEnabled` set to `false`.
    Disabled,
    /// The sponsor (a user, or a group) was deleted.
    Deleted,
}

impl Departure {
    pub fn as_str(self) -> &'static str {
        match self {
            Departure::Disabled => "sponsorDisabled",
            Departure::Deleted => "sponsorDeleted",
        }
    }
}

/// One object whose sponsors succession changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SponsorSuccession {
    pub object_id: String,
    /// The heir, when it became a sponsor of this object.
    pub new_sponsor_id: Option<String>,
    /// Left with no sponsor at all.
    pub sponsorless: bool,
}

/// The departing sponsor, as the records and notices name it.
pub(crate) struct Departing<'a> {
    pub id: &'a str,
    /// Its type as audit records name it (`User`, `Group`, `ServicePrincipal`).
    pub kind: &'static str,
    pub display_name: &'a str,
    pub manager_id: Option<&'a str>,
    pub why: Departure,
}

/// Hands over everything `departing` sponsors (see the module doc), in `tx`. Returns one entry
/// per object whose sponsors changed.
pub(crate) async fn hand_over(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    departing: &Departing<'_>,
) -> DomainResult<Vec<SponsorSuccession>> {
    // Only an enabled human manager can take a sponsorship over; no walk further up the chain.
    let heir = match departing.manager_id {
        Some(id) => tx
            .user(id)
            .await?
            .filter(|m| m.account_enabled && m.kind == UserKind::User && m.id != departing.id),
        None => None,
    };
    let handed = tx
        .hand_over_sponsorships(departing.id, heir.as_ref().map(|h| h.id.as_str()))
        .await?;
    if handed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = handed.iter().map(|h| h.object_id.clone()).collect();
    let mut sponsors: HashMap<String, Vec<Recipient>> = HashMap::new();
    for (object_id, recipient) in tx.human_sponsors_in_tx(&ids, now).await? {
        // The departing sponsor may still be reached as an owner: it is told by no one.
        if recipient.id != departing.id {
            sponsors.entry(object_id).or_default().push(recipient);
        }
    }
    let mut records = Vec::with_capacity(handed.len());
    let mut events = Vec::with_capacity(handed.len());
    let mut out = Vec::with_capacity(handed.len());
    for object in &handed {
        let recipients = sponsors.remove(&object.object_id).unwrap_or_default();
        let new_sponsor = heir.as_ref().filter(|_| object.heir_added);
        let sponsorless = object.remaining == 0;
        records.push(ctx.mark(record(
            caller,
            ctx,
            now,
            departing,
            object,
            heir.as_ref().map(|h| h.id.as_str()),
        )));
        let data = serde_json::json!({
            "targetId": object.object_id,
            "targetType": object.object_kind.audit_type(),
            "targetDisplayName": object.display_name,
            "succession": departing.why.as_str(),
            "previousSponsorId": departing.id,
            "previousSponsorDisplayName": departing.display_name,
            "newSponsorId": new_sponsor.map(|h| h.id.as_str()),
            "newSponsorDisplayName": new_sponsor.map(|h| h.display_name.as_str()),
            "remainingSponsors": object.remaining,
            "initiatedBy": caller.id,
        });
        if sponsorless {
            events.push(OutboxEvent::new(
                SPONSORLESS_EVENT,
                now,
                data.clone(),
                // Webhooks only: Writ has no governance mailbox. People hear of it through
                // the lifecycle policy, whose "too few sponsors" notice goes to its fallback
                // recipients when no sponsor is left (the recheck below).
                Vec::new(),
            ));
        }
        events.push(OutboxEvent::new(
            SPONSOR_CHANGED_EVENT,
            now,
            data,
            recipients,
        ));
        out.push(SponsorSuccession {
            object_id: object.object_id.clone(),
            new_sponsor_id: new_sponsor.map(|h| h.id.clone()),
            sponsorless,
        });
    }
    tx.append_audits(&records).await?;
    tx.enqueue_events(&events).await?;
    // An agent that lost a sponsor without gaining one may now break its policy's minimum.
    let fewer: Vec<&str> = handed
        .iter()
        .filter(|object| !object.heir_added && object.object_kind == ObjectKind::ServicePrincipal)
        .map(|object| object.object_id.as_str())
        .collect();
    super::lifecycle_policies::recheck_agents(tx, &fewer, now).await?;
    Ok(out)
}

/// The audit record of one object's change: the transfer to the manager, the departing
/// sponsor's removal (the manager was a sponsor already, or there is no heir but other
/// sponsors remain), or the object left without sponsor.
fn record(
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    departing: &Departing<'_>,
    object: &SponsorHandover,
    heir: Option<&str>,
) -> AuditRecord {
    let kind = object.object_kind.audit_type();
    let (activity, operation) = if object.heir_added {
        ("Transfer sponsorship to manager", "Assign")
    } else if object.remaining == 0 {
        ("Agent left without sponsor", "Unassign")
    } else {
        ("Remove departing sponsor", "Unassign")
    };
    let mut record = AuditRecord::success(
        Actor::from(caller),
        now,
        "ApplicationManagement",
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(
        &object.object_id,
        kind,
        object.display_name.as_deref(),
        vec!["sponsors".into()],
    )
    .target(
        departing.id,
        departing.kind,
        Some(departing.display_name),
        Vec::new(),
    )
    .detail("succession", departing.why.as_str())
    .detail("previousSponsorId", departing.id);
    if object.heir_added
        && let Some(heir) = heir
    {
        record = record
            .target(heir, "User", None, Vec::new())
            .detail("newSponsorId", heir);
    } else if object.heir_was_sponsor
        && let Some(heir) = heir
    {
        record = record.detail("managerAlreadySponsor", heir);
    }
    if object.remaining == 0 {
        record.result_reason = Some(
            "its last sponsor departed and had no enabled manager to take the sponsorship over"
                .into(),
        );
    }
    record.on_behalf_of(&object.object_id, kind, object.display_name.as_deref())
}

impl Directory {
    /// Agent identities, agent identity blueprints and agent users with no sponsor at all: what
    /// succession left without one (or what was created so). Readers of the whole directory
    /// only (Global Administrator, Global Reader); others get `403`.
    pub async fn agents_without_sponsors(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<DirectoryObject>> {
        if !(caller.is_global_admin() || caller.is_global_reader()) {
            return Err(DomainError::forbidden(
                "listing agents without sponsors requires the Global Administrator or Global Reader role",
            ));
        }
        if query.filter.is_some() || query.orderby.is_some() {
            return Err(DomainError::invalid(
                "agentsWithoutSponsors supports $top, $skiptoken, $count and $select only",
            ));
        }
        if let Some(token) = &query.skiptoken
            && crate::ids::parse_guid(token).as_deref() != Some(token.as_str())
        {
            return Err(DomainError::invalid("the $skiptoken is not valid"));
        }
        Ok(self.store.agents_without_sponsors(query).await?)
    }
}
