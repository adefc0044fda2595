"""Waiting for a request across replicas (issue 18 part G, DESIGN section 16): two real
`writ serve` processes on one PostgreSQL database. An agent asks for a package that needs its
sponsor's approval, then reads its request on replica B with `Prefer: wait=10`; the sponsor
approves on replica A. B's waiter is woken by A's commit (PostgreSQL `NOTIFY`, B's listener) and
answers within a second of the approval, saying `Preference-Applied: wait=10`, rather than at
the end of its wait. Without the preference the pending request carries `Retry-After`, and a
delivered one does not. Stopping replica B (SIGTERM) answers a request it holds in a wait at
once, and B exits cleanly. On SQLite one process owns the database and wakes its waiters itself
(the API tests cover that), so this runs on PostgreSQL only.
"""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from test_replicas import EM, Fleet, created, poll, two_processes
from writ_harness import WritServer, http

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
APPROVALS = f"{EM}/accessPackageAssignmentApprovals"


@pytest.fixture
def replicas(tmp_path):
    yield from two_processes(tmp_path, {})


def token(server: WritServer, form: dict[str, str]) -> str:
    resp = http("POST", server.url + "/oauth2/v2.0/token", form={**form, "scope": GRAPH_SCOPE})
    assert resp.status == 200, f"token: {resp!r}"
    return resp.json()["access_token"]


def agent_tokens(servers: list[WritServer], agent_id: str) -> list[str]:
    """The agent's token from each server (each process is its own issuer: its own URL)."""
    secret = servers[0].api("POST", f"servicePrincipals/{agent_id}/addPassword",
                            {"passwordCredential": {"displayName": "e2e"}})
    assert secret.status == 200, repr(secret)
    app_id = servers[0].get_json(f"servicePrincipals/{agent_id}")["appId"]
    return [token(server, {"grant_type": "client_credentials", "client_id": app_id,
                           "client_secret": secret.json()["secretText"]}) for server in servers]


def test_a_waiter_on_one_replica_is_woken_by_an_approval_on_the_other(replicas):
    a, b = replicas
    prefix = "wait" + secrets.token_hex(3)
    fleet = Fleet(a, prefix)
    policy = created(a, f"{EM}/assignmentPolicies", {
        "displayName": f"{prefix} agents, sponsor approval",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT1H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": True},
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": True, "isApprovalRequiredForUpdate": False,
            "stages": [{"durationBeforeAutomaticDenial": "P1D", "primaryApprovers": [
                {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]}]},
        "accessPackage": {"id": fleet.package}})["id"]
    agent = fleet.agents([a], 1)[0]
    agent_on_a, agent_on_b = agent_tokens([a, b], agent)
    request = http("POST", f"{a.graph}/{EM}/assignmentRequests", token=agent_on_a, json_body={
        "requestType": "userAdd",
        "assignment": {"accessPackageId": fleet.package, "assignmentPolicyId": policy}})
    assert request.status == 201, repr(request)
    request_url = f"{b.graph}/{EM}/assignmentRequests/{request.json()['id']}"

    def read(server_url: str, **headers: str):  # on replica B
        return http("GET", server_url, token=agent_on_b, headers=headers)

    pending = poll("the request waits for its approval",
                   lambda: (r := read(request_url)).json()["state"] == "pendingApproval" and r,
                   deadline_s=15)
    assert pending.headers.get("retry-after") == "60", pending.headers
    assert "preference-applied" not in pending.headers

    # The agent waits on replica B; the sponsor approves on replica A half a second later.
    answer: dict = {}

    def wait() -> None:
        started = time.monotonic()
        answer["response"] = read(request_url, Prefer="wait=10")
        answer["answered"] = time.monotonic()
        answer["took"] = answer["answered"] - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    sponsor = token(a, {"grant_type": "password", "username": f"{prefix}-sponsor@example.org",
                        "password": f"a long passphrase {prefix}"})
    stage = a.get_json(f"{APPROVALS}/{request.json()['id']}")["stages"][0]["id"]
    approved_at = time.monotonic()
    decided = http("PATCH", f"{a.graph}/{APPROVALS}/{request.json()['id']}/stages/{stage}",
                   token=sponsor, json_body={"reviewResult": "Approve", "justification": "e2e"})
    assert decided.status == 204, repr(decided)
    waiter.join(timeout=15)
    assert not waiter.is_alive(), "the waiter never answered"

    response = answer["response"]
    assert response.status == 200, repr(response)
    assert response.json()["state"] in ("delivering", "delivered"), response.json()
    assert response.headers.get("preference-applied") == "wait=10", response.headers
    woken_after = answer["answered"] - approved_at
    print(f"\nwaiter on replica B answered {woken_after * 1000:.0f} ms after the approval on A "
          f"(waited {answer['took']:.2f} s of 10)")
    assert woken_after < 1.0, f"woken {woken_after:.2f} s after the approval, not within 1 s"

    delivered = poll("delivery", lambda: (r := read(request_url)).json()["state"] == "delivered" and r,
                     deadline_s=15)
    assert "retry-after" not in delivered.headers, delivered.headers

    # SIGTERM answers the requests held by a wait at once instead of holding the shutdown.
    held: dict = {}

    def hold() -> None:
        held["response"] = read(request_url, Prefer="wait=30")
        held["answered"] = time.monotonic()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)
    stopping = time.monotonic()
    assert b.stop() == 0, b.stderr_tail()
    holder.join(timeout=5)
    assert not holder.is_alive(), "the held request was not answered at shutdown"
    assert held["response"].status == 200, repr(held["response"])
    assert held["response"].json()["state"] == "delivered"
    assert held["answered"] - stopping < 3.0, "answered at the shutdown, not at the end of the wait"
