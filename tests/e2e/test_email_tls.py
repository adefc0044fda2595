"""Notification email over STARTTLS to a relay with a private CA, end to end on SQLite and
PostgreSQL: `writ serve` with `WRIT_SMTP_URL=smtp://…?tls=required` and `WRIT_SMTP_CA_FILE` (the
test's CA, made with `cryptography` by the Rust email tests' smtp_relay.py) mails the sponsor of
an agent whose access was delivered, over TLS, and `/writ/v1/emailDeliveries` lists the message
delivered with its Message-ID. A CA file that holds no certificate stops start-up, naming the
setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mail_sink import MailSink
from test_replicas import Fleet, poll
from test_webhooks import backend, start  # noqa: F401 (backend is a fixture)
from writ_harness import REPO_ROOT, HarnessError, WritServer

sys.path.insert(0, str(REPO_ROOT / "crates/writ/tests/api"))
from smtp_relay import certs  # noqa: E402


def test_starttls_to_a_relay_with_a_private_ca(backend, tmp_path):
    certs(str(tmp_path / "certs"))
    relay = MailSink(starttls=(str(tmp_path / "certs/server.pem"), str(tmp_path / "certs/server.key")))
    server = start(backend, tmp_path, {
        "WRIT_SMTP_URL": relay.url + "?tls=required",
        "WRIT_SMTP_FROM": "Writ <writ@example.org>",
        "WRIT_SMTP_CA_FILE": str(tmp_path / "certs/ca.pem"),
    })
    try:
        fleet = Fleet(server, "tls")
        sponsor = fleet.sponsor_bind[0].rsplit("/", 1)[1]
        reply = server.api("PATCH", f"users/{sponsor}", {"mail": "tls-sponsor@example.org"})
        assert reply.status == 204, repr(reply)
        agents = fleet.agents([server], 1)
        policy = fleet.policy(server, {"type": "afterDuration", "duration": "P1D"})
        fleet.assign([server], policy, agents)

        [mail] = poll("the delivery email", lambda: [
            m for m in relay.all() if m.event[0] == "assignment.delivered"] or None, 20)
        assert mail.tls, "the message was not sent over TLS"
        assert mail.rcpt == "tls-sponsor@example.org"
        event_id = mail.event[1]
        assert mail.message_id == f"<{event_id}.{sponsor}@127.0.0.1>"

        # The relay holds the message as soon as the DATA is accepted; Writ records the delivery
        # right after its reply, so the row may still read `pending` for a moment.
        def delivered_row():
            rows = server.api(
                "GET", f"{server.url}/writ/v1/emailDeliveries?$filter=eventId%20eq%20'{event_id}'")
            assert rows.status == 200, repr(rows)
            [row] = rows.json()["value"]
            return row if row["state"] == "delivered" else None

        row = poll("the delivery's record", delivered_row, 10)
        assert row["lastStatusCode"] == 250, row
        assert (row["recipientId"], row["recipientMail"], row["messageId"]) == (
            sponsor, "tls-sponsor@example.org", mail.message_id), row
    finally:
        server.stop()
        relay.close()


def test_a_ca_file_without_a_certificate_stops_start_up(tmp_path):
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(HarnessError) as failed:
        WritServer.start("sqlite", tmp_path, env={
            "WRIT_SMTP_URL": "smtp://127.0.0.1:1?tls=required",
            "WRIT_SMTP_FROM": "Writ <writ@example.org>",
            "WRIT_SMTP_CA_FILE": str(bad),
        })
    assert f"notifications.smtp_ca_file {bad} holds no PEM certificate" in str(failed.value)
