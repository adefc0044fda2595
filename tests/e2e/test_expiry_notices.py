"""Expiry notices end to end (DESIGN sections 5 and 8, issue 7), on SQLite and PostgreSQL: a
real `writ serve` with lead times of seconds (`WRIT_EXPIRY_NOTICE_LEAD_TIMES=PT8S,PT4S`) posting
its events to a webhook receiver and mailing them to an SMTP server (aiosmtpd), both run by this
test on loopback.

An agent with two sponsors, each with a mailbox, is assigned a package for 12 s. For each lead
time one `assignment.expiringSoon` arrives, at its instant, listing both sponsors, signed, and
each sponsor gets one email about it naming the agent, the package, the end and how to extend;
the process is restarted with SIGTERM between the two and sends nothing twice; an extension then
moves the end and the notices (webhook and email) come again for the new end; the process is
SIGKILLed after the new end's first notice and restarted; the assignment expires with one
`assignment.expired`. Before the SIGKILL every event and every message arrived exactly once;
after it a resend is allowed, but carries the same event id (webhooks) and `Message-ID` (email):
deduplicated by them, each event arrives once and each sponsor gets one message per event.
"""

from __future__ import annotations

import re
import signal
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from mail_sink import Mail, MailSink
from test_replicas import EM, Fleet, created, poll
from test_webhooks import SECRET, Receiver, backend, start  # noqa: F401 (backend is a fixture)

LEAD_TIMES = (8, 4)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def unique_events(found: list[tuple[dict, float]]) -> list[tuple[dict, float]]:
    """The first arrival of each event id (a resend after SIGKILL keeps the id)."""
    seen: dict[str, tuple[dict, float]] = {}
    for event, at in found:
        seen.setdefault(event["id"], (event, at))
    return sorted(seen.values(), key=lambda pair: pair[1])


def test_notices_reach_both_sponsors_at_each_lead_time_and_again_after_an_extension(
        backend, tmp_path):
    sink = Receiver(flaky=False)
    relay = MailSink()
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": sink.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_EXPIRY_NOTICE_LEAD_TIMES": ",".join(f"PT{s}S" for s in LEAD_TIMES),
        "WRIT_SMTP_URL": relay.url,
        "WRIT_SMTP_FROM": "Writ Notices <writ@example.org>",
    })
    try:
        fleet = Fleet(server, "notice")
        first_sponsor = fleet.sponsor_bind[0].rsplit("/", 1)[1]
        reply = server.api("PATCH", f"users/{first_sponsor}", {"mail": "notice-sponsor@example.org"})
        assert reply.status == 204, repr(reply)
        second = created(server, "users", {
            "displayName": "notice second sponsor", "userPrincipalName": "notice-second@example.org",
            "mailNickname": "notice-second", "mail": "notice-second@example.org",
            "accountEnabled": True, "passwordProfile": {"password": "a long passphrase second"}})
        mailboxes = {first_sponsor: "notice-sponsor@example.org",
                     second["id"]: "notice-second@example.org"}
        [agent] = fleet.agents([server], 1)
        agent_name = server.get_json(f"servicePrincipals/{agent}")["displayName"]
        package_name = server.get_json(f"{EM}/accessPackages/{fleet.package}")["displayName"]
        reply = server.api("POST", f"{server.graph}/servicePrincipals/{agent}/sponsors/$ref",
                           {"@odata.id": f"{server.graph}/users/{second['id']}"})
        assert reply.status == 204, repr(reply)
        sponsors = sorted([first_sponsor, second["id"]])
        policy = fleet.policy(server, {"type": "afterDuration", "duration": "PT12S"})
        [request] = fleet.assign([server], policy, [agent])

        def delivered():
            r = server.get_json(f"{EM}/assignmentRequests/{request}?$expand=assignment")
            return r if r["state"] == "delivered" else None

        assignment = poll("delivered", delivered, 10)["assignment"]
        assignment_id = assignment["id"]
        end = instant(assignment["schedule"]["expiration"]["endDateTime"])

        def notices(n: int):
            found = unique_events(sink.events("assignment.expiringSoon", "assignmentId", assignment_id))
            return found if len(found) >= n else None

        def mailed(event: dict, ends: datetime) -> list[Mail]:
            """Both sponsors' messages about `event`, checked: one each, to their mailbox, with
            the Message-ID of (event, sponsor), naming the agent, the package, the end and how
            to extend."""
            mails = poll(f"the emails of {event['type']} {event['id']}",
                         lambda: relay.about(event["id"]) if len(relay.about(event["id"])) >= 2 else None,
                         10)
            by_rcpt = {m.rcpt: m for m in mails}
            assert sorted(by_rcpt) == sorted(mailboxes.values()), [m.rcpt for m in mails]
            for sponsor, mailbox in mailboxes.items():
                m = by_rcpt[mailbox]
                assert m.message_id == f"<{event['id']}.{sponsor}@127.0.0.1>", m.message_id
                assert m.message["To"] == mailbox
                assert m.message.get_content_type() == "multipart/alternative"
                assert agent_name in m.message["Subject"] and package_name in m.message["Subject"]
                text = m.text
                assert f"Agent: {agent_name}\n" in text, text
                assert f"Access package: {package_name}\n" in text, text
                [stated_end] = re.findall(r"^Ends: (\S+) \(", text, re.MULTILINE)
                assert instant(stated_end) == ends, (stated_end, ends)
                page = f"{server.url}/portal/assignments/{assignment_id}"
                if event["type"] != "assignment.expired":
                    # The link to the assignment's extend form, in both parts; the API call
                    # stays as one line for scripts.
                    assert f"Extend the access: {page}#extend\n" in text, text
                    assert f'<a href="{page}#extend">Extend the access</a>' in m.html, m.html
                    assert "/v1.0/identityGovernance/entitlementManagement/assignmentRequests" in text
                    assert (f'{{"requestType": "userUpdate", "assignment": {{"id": "{assignment_id}"}}}}'
                            in text), text
                    assert "adminUpdate" in text and "assignmentRequests" in m.html
                else:
                    assert f"See the access that ended: {page}\n" in text, text
                    assert f'<a href="{page}">See the access that ended</a>' in m.html, m.html
                assert agent_name in m.html and package_name in m.html
            return mails

        # The first lead time: one notice to both sponsors, at its instant, and one email each.
        [(first, arrived)] = poll("the first notice", lambda: notices(1), 15)
        first_at = datetime.fromtimestamp(arrived, timezone.utc)
        assert sorted(r["id"] for r in first["recipients"]) == sponsors, first
        assert first["data"]["leadTime"] == "PT8S"
        assert first_at >= end - timedelta(seconds=8) - timedelta(milliseconds=50), (first_at, end)
        assert first_at <= end - timedelta(seconds=8) + timedelta(seconds=2), (first_at, end)
        status = server.get_json(f"{EM}/assignments/{assignment_id}")["status"]
        assert status == "NearExpiryNotificationTriggered", status
        mailed(first, end)

        # A clean restart between the two lead times sends nothing twice.
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0, server.stderr_tail()
        server.crash()
        server.restart()

        second_notice = poll("the second notice", lambda: notices(2), 15)[1][0]
        assert second_notice["data"]["leadTime"] == "PT4S"
        assert sorted(r["id"] for r in second_notice["recipients"]) == sponsors
        mailed(second_notice, end)

        # Extended before the end: the notices come again for the new end.
        created(server, f"{EM}/assignmentRequests", {
            "requestType": "adminUpdate", "assignment": {"id": assignment_id}})

        def extended():
            a = server.get_json(f"{EM}/assignments/{assignment_id}")
            new_end = instant(a["schedule"]["expiration"]["endDateTime"])
            return (a, new_end) if new_end > end else None

        moved, new_end = poll("the extension", extended, 5)
        assert moved["state"] == "delivered" and moved["status"] == "Delivered", moved
        [(extension, _)] = poll("the extension event", lambda: sink.events(
            "assignment.extended", "assignmentId", assignment_id) or None, 10)
        mailed(extension, new_end)

        # The new end's first notice, then a SIGKILL: whatever was in flight may be sent again.
        third = poll("the new end's first notice", lambda: notices(3), 15)[2][0]
        mailed(third, new_end)
        before_kill = relay.all()
        webhook_ids = [headers["webhook-id"] for headers, _, _ in sink.all()]
        assert len(webhook_ids) == len(set(webhook_ids)), "an event was sent twice before the SIGKILL"
        message_ids = [m.message_id for m in before_kill]
        assert len(message_ids) == len(set(message_ids)), "a message was sent twice before the SIGKILL"
        server.crash()
        server.restart()

        all_notices = poll("the new end's notices", lambda: notices(4), 20)
        assert [n["data"]["leadTime"] for n, _ in all_notices] == ["PT8S", "PT4S", "PT8S", "PT4S"]
        assert [instant(n["data"]["endDateTime"]) for n, _ in all_notices] == [end, end, new_end, new_end]
        mailed(all_notices[3][0], new_end)

        [(expired, _)] = poll("the expiry", lambda: unique_events(
            sink.events("assignment.expired", "assignmentId", assignment_id)) or None, 20)
        assert sorted(r["id"] for r in expired["recipients"]) == sponsors
        mailed(expired, new_end)

        # Deduplicated by Message-ID, each sponsor has one message per event: a resend after
        # the SIGKILL carried the same Message-ID as the first copy.
        ids_by_pair: dict[tuple[str, str], set[str]] = defaultdict(set)
        for m in relay.all():
            ids_by_pair[(m.event[1], m.rcpt)].add(m.message_id)
        assert all(len(ids) == 1 for ids in ids_by_pair.values()), ids_by_pair
        expiry_mails = {(m.event[1], m.rcpt) for m in relay.all()
                        if m.event[0] == "assignment.expiringSoon"}
        assert len(expiry_mails) == len(LEAD_TIMES) * 2 * len(mailboxes), expiry_mails
    finally:
        server.stop()
        sink.close()
        relay.close()
