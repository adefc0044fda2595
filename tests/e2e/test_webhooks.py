"""Webhooks end to end (DESIGN section 8), on SQLite and PostgreSQL: a real `writ serve` with
`WRIT_WEBHOOK_URL`/`WRIT_WEBHOOK_SECRET` posting to a receiver this test runs on loopback.

1. `test_a_flaky_receiver_gets_each_event_once`: the receiver answers 500 twice per event, then
   429 with `Retry-After: 1`, then 204. An agent is assigned a package; every lifecycle event
   the assignment produces arrives, every signature verifies (checked here with the standard
   library, from the Standard Webhooks specification), each event is accepted exactly once by
   `webhook-id`, and `/writ/v1/webhookDeliveries` lists them `delivered` after four attempts.
   After a SIGTERM restart nothing accepted is sent again.
2. `test_loopback_is_refused_without_allow_list`: the same endpoint, no `WRIT_OUTBOUND_ALLOW_HOSTS`:
   nothing reaches the receiver and the deliveries are dead-lettered with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from test_replicas import Fleet, poll
from writ_harness import HarnessError, WritServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def verify(headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """The Standard Webhooks check, as docs/webhooks.md gives it."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > tolerance:
        return False
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.removeprefix("v1,"))
        for sig in headers["webhook-signature"].split(" ")
        if sig.startswith("v1,")
    )


class Receiver:
    """Records every POST; answers 500, 500, 429 (Retry-After: 1), then 204 per event id — or,
    not `flaky`, 204 at once."""

    def __init__(self, flaky: bool = True) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[dict, bytes, int]] = []
        self.counts: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    n = receiver.counts.get(headers.get("webhook-id", ""), 0) + 1
                    receiver.counts[headers.get("webhook-id", "")] = n
                    status = 204 if not flaky else 500 if n <= 2 else 429 if n == 3 else 204
                    receiver.requests.append((headers, body, status, time.time()))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> dict[str, int]:
        with self.lock:
            out: dict[str, int] = {}
            for headers, _, status, _ in self.requests:
                if status == 204:
                    out[headers["webhook-id"]] = out.get(headers["webhook-id"], 0) + 1
            return out

    def all(self) -> list[tuple[dict, bytes, int]]:
        with self.lock:
            return [(headers, body, status) for headers, body, status, _ in self.requests]

    def events(self, event_type: str, subject_key: str, subject: str) -> list[tuple[dict, float]]:
        """The events of this type about this subject (`data[subject_key] == subject`), each with
        the time it arrived, every signature checked."""
        with self.lock:
            out = []
            for headers, body, _, at in self.requests:
                assert verify(headers, body), headers
                event = json.loads(body)
                if event["type"] == event_type and event["data"].get(subject_key) == subject:
                    out.append((event, at))
            return out

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request) -> str:
    return request.param


def start(backend: str, tmp_path, env: dict) -> WritServer:
    try:
        return WritServer.start(backend, tmp_path, env=env)
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve: {err}", pytrace=False)


def assign_one_agent(server: WritServer, prefix: str) -> None:
    fleet = Fleet(server, prefix)
    agent = fleet.agents([server], 1)
    policy = fleet.policy(server, {"type": "afterDuration", "duration": "P1D"})
    fleet.assign([server], policy, agent)


def deliveries(server: WritServer, query: str = "") -> list[dict]:
    response = server.api("GET", f"{server.url}/writ/v1/webhookDeliveries{query}")
    assert response.status == 200, repr(response)
    return response.json()["value"]


def test_a_flaky_receiver_gets_each_event_once(backend, tmp_path):
    receiver = Receiver()
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": receiver.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
    })
    try:
        assign_one_agent(server, "hooks")

        def all_delivered():
            rows = deliveries(server)
            return rows if rows and all(r["state"] == "delivered" for r in rows) and any(
                r["eventType"] == "assignment.delivered" for r in rows) else None

        rows = poll("every delivery delivered", all_delivered, 60)
        types = {r["eventType"] for r in rows}
        assert {"request.created", "assignment.delivered"} <= types, types
        assert all(r["attempts"] == 4 and r["lastStatusCode"] == 204 for r in rows), rows

        seen = receiver.all()
        for headers, body, _ in seen:
            assert verify(headers, body), headers
            assert json.loads(body)["id"] == headers["webhook-id"]
        assert receiver.accepted() == {r["eventId"]: 1 for r in rows}

        # A clean restart sends nothing again.
        before = len(receiver.all())
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0, server.stderr_tail()
        server.crash()  # closes the log; the process has already exited, the database stays
        server.restart()
        time.sleep(3)
        assert len(receiver.all()) == before
        assert receiver.accepted() == {r["eventId"]: 1 for r in rows}
    finally:
        server.stop()
        receiver.close()


def test_loopback_is_refused_without_allow_list(backend, tmp_path):
    receiver = Receiver()
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": receiver.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
    })
    try:
        assign_one_agent(server, "refused")
        rows = poll(
            "dead-lettered deliveries",
            lambda: deliveries(server, "?$filter=state%20eq%20'deadLettered'") or None,
            30,
        )
        assert all("loopback" in r["lastError"] and r["attempts"] == 1 for r in rows), rows
        assert receiver.all() == []
        assert "dead-lettered" in server.stderr_text()
    finally:
        server.stop()
        receiver.close()
