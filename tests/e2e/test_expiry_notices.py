"""Expiry notices end to end (DESIGN sections 5 and 8, issue 7), on SQLite and PostgreSQL: a
real `writ serve` with lead times of seconds (`WRIT_EXPIRY_NOTICE_LEAD_TIMES=PT8S,PT4S`) posting
its events to a webhook receiver this test runs on loopback.

An agent with two sponsors is assigned a package for 12 s. For each lead time one
`assignment.expiringSoon` arrives, at its instant, listing both sponsors, signed; the process is
restarted with SIGTERM between the two and sends nothing twice; an extension then moves the end,
the notices come again for the new end, and the assignment expires with one
`assignment.expired`. Every event is received exactly once (the receiver always accepts).
"""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

from test_replicas import EM, Fleet, created, poll
from test_webhooks import SECRET, Receiver, backend, start  # noqa: F401 (backend is a fixture)

LEAD_TIMES = (8, 4)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_notices_reach_both_sponsors_at_each_lead_time_and_again_after_an_extension(
        backend, tmp_path):
    sink = Receiver(flaky=False)
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": sink.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_EXPIRY_NOTICE_LEAD_TIMES": ",".join(f"PT{s}S" for s in LEAD_TIMES),
    })
    try:
        fleet = Fleet(server, "notice")
        second = created(server, "users", {
            "displayName": "notice second sponsor", "userPrincipalName": "notice-second@example.org",
            "mailNickname": "notice-second", "mail": "notice-second@example.org",
            "accountEnabled": True, "passwordProfile": {"password": "a long passphrase second"}})
        [agent] = fleet.agents([server], 1)
        reply = server.api("POST", f"{server.graph}/servicePrincipals/{agent}/sponsors/$ref",
                           {"@odata.id": f"{server.graph}/users/{second['id']}"})
        assert reply.status == 204, repr(reply)
        sponsors = sorted([fleet.sponsor_bind[0].rsplit("/", 1)[1], second["id"]])
        policy = fleet.policy(server, {"type": "afterDuration", "duration": "PT12S"})
        [request] = fleet.assign([server], policy, [agent])

        def delivered():
            r = server.get_json(f"{EM}/assignmentRequests/{request}?$expand=assignment")
            return r if r["state"] == "delivered" else None

        assignment = poll("delivered", delivered, 10)["assignment"]
        assignment_id = assignment["id"]
        end = instant(assignment["schedule"]["expiration"]["endDateTime"])

        def notices(n: int):
            found = sink.events("assignment.expiringSoon", "assignmentId", assignment_id)
            return found if len(found) >= n else None

        # The first lead time: one notice to both sponsors, at its instant.
        [(first, arrived)] = poll("the first notice", lambda: notices(1), 15)
        first_at = datetime.fromtimestamp(arrived, timezone.utc)
        assert sorted(r["id"] for r in first["recipients"]) == sponsors, first
        assert first["data"]["leadTime"] == "PT8S"
        assert first_at >= end - timedelta(seconds=8) - timedelta(milliseconds=50), (first_at, end)
        assert first_at <= end - timedelta(seconds=8) + timedelta(seconds=2), (first_at, end)
        status = server.get_json(f"{EM}/assignments/{assignment_id}")["status"]
        assert status == "NearExpiryNotificationTriggered", status

        # A clean restart between the two lead times sends nothing twice.
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0, server.stderr_tail()
        server.crash()
        server.restart()

        second_notice = poll("the second notice", lambda: notices(2), 15)[1][0]
        assert second_notice["data"]["leadTime"] == "PT4S"
        assert sorted(r["id"] for r in second_notice["recipients"]) == sponsors

        # Extended before the end: the notices come again for the new end.
        created(server, f"{EM}/assignmentRequests", {
            "requestType": "adminUpdate", "assignment": {"id": assignment_id}})

        def extended():
            a = server.get_json(f"{EM}/assignments/{assignment_id}")
            new_end = instant(a["schedule"]["expiration"]["endDateTime"])
            return (a, new_end) if new_end > end else None

        moved, new_end = poll("the extension", extended, 5)
        assert moved["state"] == "delivered" and moved["status"] == "Delivered", moved
        all_notices = poll("the new end's notices", lambda: notices(4), 20)
        assert [n["data"]["leadTime"] for n, _ in all_notices] == ["PT8S", "PT4S", "PT8S", "PT4S"]
        assert [instant(n["data"]["endDateTime"]) for n, _ in all_notices] == [end, end, new_end, new_end]

        [(expired, _)] = poll(
            "the expiry", lambda: sink.events("assignment.expired", "assignmentId", assignment_id) or None, 20)
        assert sorted(r["id"] for r in expired["recipients"]) == sponsors
        ids = [headers["webhook-id"] for headers, _, _ in sink.all()]
        assert len(ids) == len(set(ids)), "an event was sent twice"
    finally:
        server.stop()
        sink.close()
