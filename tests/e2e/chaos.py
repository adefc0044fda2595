"""The crash loop of issue 14 (`scripts/chaos.sh N`, and a short run in `test_chaos.py`).

A real `writ serve` (the binary `cargo build -p writ` makes; see `writ_harness.writ_binary`) runs a
mixed workload while it is SIGKILLed at seeded random moments, N times, and restarted on the same
database and port. After every restart, and once more when the work has drained at the end, the
loop checks DESIGN section 5's invariants through the API and that nothing the client saw
acknowledged was lost or applied twice.

**The workload.** Ten agent identities with their own secrets, two human sponsors (five agents
each) and a fallback approver; one catalog holding two groups, an API's app role and the
Directory Readers role; three access packages:

| package | grants | policies |
|---|---|---|
| `tools` | group `shared` + app role `Tools.Use` (token `roles`) | `tools admin` (adminAdd, 5 s); `tools ask` (the agent for itself or its sponsor on its behalf, one stage decided by the agent's sponsors with a fallback approver, approval again for extensions, auto-denial after 15 s; 6 s) |
| `readers` | group `shared` + Directory Readers (token `wids`) | `readers admin` (adminAdd, 4 s); `readers self` (the agent for itself, no approval; 3 s) |
| `side` | group `side` | `side admin` (adminAdd, 8 s, half of them with a start 1-3 s ahead: `scheduled`) |

so an agent holding `tools` and `readers` holds `shared` through two assignments (invariant 3).
Three client threads pick operations at random (seeded): requests by agents for themselves and by
sponsors on their behalf, `adminAdd`, approvals and denials by the approvers the server routes to
(`filterByCurrentUser(on='approver')`), extensions (`userUpdate` by the agent or its sponsor,
`adminUpdate`), removals (`userRemove` by the agent or its sponsor, `adminRemove`) and
cancellations by the requestor; expiries come from the policies' durations of seconds, expiry
notices from `WRIT_EXPIRY_NOTICE_LEAD_TIMES=PT2S,PT1S` to a webhook receiver run here. Every
create carries an `Idempotency-Key`. The job lease is 2 s (`WRIT_JOB_LEASE`), so the jobs a killed
process held are taken again soon after the restart.

**An iteration.** The workload runs; after a seeded delay of 0.05-2 s the process is SIGKILLed
(requests in flight get no answer); one iteration in ten also kills the next process during its
start-up (0-250 ms after it was spawned); the process is started again (same port, so tokens stay
valid); the checks run; the next iteration starts. The seed fixes the kill delays, the start-up
kills and each thread's sequence of choices, not the interleaving with the server, so two runs
with one seed are alike but not identical.

**Lost** (0 expected): a change answered 2xx that is not there after the restart: a request
created (201) that cannot be read, or lacks its "Create …" audit record; a stage decision (204)
whose stage does not show it; a cancellation (204) whose request is not `canceled`; a removal
(201) whose assignment is not `expired`/`Removed`; after draining, a request with no final state,
an ended assignment not `expired`, an `assignment.expired`/`removed`/`delivered`/`extended` event
never received by the webhook receiver, a webhook delivery not `delivered`.

**Duplicated** (0 expected), per effect:
- a request: two requests from one client call (a call whose answer the kill swallowed, or its
  retry with the same `Idempotency-Key` after the restart, is matched to the requests of that
  type, target and package created since it was sent: at most one);
- an assignment: more than one per delivered add request, or two live assignments of one target
  and package;
- a state change: more than one audit record of one activity for one request (create, start of
  approval, stage approval, approval, denial, cancellation, fulfilment, extension, removal,
  expiry); more than one fulfilment or more than one ending ("expired" or "removed") per
  assignment; more than one expiry notice per assignment, lead time and end; more than one
  `systemRemove` request per assignment;
- an event: after de-duplication by the webhook id (a resend after a SIGKILL carries the same id;
  at-least-once delivery is the webhook contract, not a duplicate), two distinct events for one
  state change (one request's `request.*`, one assignment's `assignment.delivered`, `expired` or
  `removed`, one extension's `assignment.extended`, one notice per assignment, end and lead time);
- a grant: two grant rows of one holder for one group or role (read with SQL: the API lists a
  member once).

**Invariants** (DESIGN section 5), read through the API after every restart, before the worker has
caught up: every agent listed as a member of a group has an assignment granting it that is live
at the read (delivered, its end not passed) and whose request passed every approval stage
(invariant 1); no member, token `roles` or token `wids` outlives its end, and a token's `exp` is
not after the end of the assignments it names (invariant 2); an assignment delivered before the
read and not ended holds every grant of its package, so a group held through two assignments
stays while either is live (invariant 3). At the end: every request final, every ended assignment
`expired`, the queue empty with nothing parked, `writ audit verify` intact (also checked every
`--verify-every` iterations, and against a checkpoint exported half-way), and a SIGTERM exits 0.
No process log may contain a panic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.client import HTTPException
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from writ_harness import RawResponse, WritServer, http, writ_binary  # noqa: E402
from test_webhooks import SECRET, Receiver  # noqa: E402

EM = "identityGovernance/entitlementManagement"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
ROLE_ID = "5b7c2d1e-3f4a-4b5c-8d6e-7f8091a2b3c4"
ROLE_VALUE = "Tools.Use"
SPONSORS = {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}
LEAD_TIMES = ("PT2S", "PT1S")
AGENTS = 10
THREADS = 3
KILL_DELAY_S = (0.05, 2.0)
BOOT_KILL_SHARE = 0.1
BOOT_KILL_DELAY_S = (0.0, 0.25)
# The share of kills that wait (up to 0.5 s more) for a change to be in flight.
INFLIGHT_KILL_SHARE = 0.5
APPROVAL_TIMEOUT = "PT15S"
# How far back each refresh re-reads what changed (records are stamped when their transaction
# began, so one committed late is still found).
REFRESH_MARGIN_S = 10
DRAIN_TIMEOUT_S = 120
WEBHOOK_STALL_S = 90

OPEN_REQUEST_STATES = ("submitted", "pendingApproval", "delivering", "scheduled")
FINAL_REQUEST_STATES = ("delivered", "denied", "canceled", "deliveryFailed", "partiallyDelivered")
LIVE_ASSIGNMENT_STATES = ("delivered", "partiallyDelivered", "delivering")
ADD_TYPES = ("adminAdd", "userAdd")
UPDATE_TYPES = ("adminUpdate", "userUpdate")
REMOVE_TYPES = ("adminRemove", "userRemove", "systemRemove")
# The audit record that ends a request, by activity (exactly one per final request).
TERMINAL_ACTIVITIES = (
    "Fulfill access package assignment request",
    "Extend access package assignment",
    "Deny access package assignment request",
    "Cancel access package assignment request",
    "Remove access package assignment",
    "Access package assignment expired",
)
CREATE_ACTIVITIES = (
    "Create access package assignment request",
    "Remove access package assignment",
    "Access package assignment expired",
)
ENDING_ACTIVITIES = ("Remove access package assignment", "Access package assignment expired")
FULFIL = "Fulfill access package assignment request"
EXTEND = "Extend access package assignment"
NOTICE = "Notify of access package assignment expiry"

ENV = {
    "WRIT_JOB_LEASE": "PT2S",
    # Sponsors sign in once per run (a password grant costs an argon2 hash); agents' tokens are
    # fetched again when their `wids` make them short.
    "WRIT_TOKEN_LIFETIME": "PT12H",
    "WRIT_EXPIRY_NOTICE_LEAD_TIMES": ",".join(LEAD_TIMES),
    "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
    "WRIT_LOG": "info",
}


# --------------------------------------------------------------------------------------------
# Small helpers


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def with_query(path: str, **query: str) -> str:
    if not query:
        return path
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(
        query, quote_via=urllib.parse.quote)


def jwt_claims(token: str) -> dict:
    import base64
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Unanswered(Exception):
    """The connection failed or was cut: the server was killed (or not up)."""


def call(method: str, url: str, **kw: Any) -> RawResponse:
    """One HTTP call; a call the kill cut off raises `Unanswered`."""
    try:
        return http(method, url, **kw)
    except (urllib.error.URLError, HTTPException, ConnectionError, socket.timeout, OSError) as err:
        raise Unanswered(repr(err)) from err


# --------------------------------------------------------------------------------------------
# What the run sets up once


@dataclass
class Principal:
    id: str
    kind: str  # "admin", "agent", "user"
    name: str
    app_id: str = ""
    secret: str = ""
    upn: str = ""
    password: str = ""
    sponsor: str = ""  # agents: their sponsor's id


@dataclass
class Policy:
    id: str
    name: str
    package: str
    approval: bool = False
    self_add: bool = False
    self_update: bool = False
    self_remove: bool = False
    on_behalf: bool = False


@dataclass
class World:
    admin: Principal
    sponsors: list[Principal]
    fallback: Principal
    agents: list[Principal]
    groups: dict[str, str]  # name -> id
    api_app_id: str
    packages: dict[str, str]  # name -> id
    grants: dict[str, set[tuple[str, str]]]  # package id -> {("group", id), ("role", value), ("wid", id)}
    policies: dict[str, Policy]  # id -> policy
    package_policies: dict[str, list[Policy]]  # package id -> policies

    def principal(self, pid: str) -> Optional[Principal]:
        for p in [self.admin, self.fallback, *self.sponsors, *self.agents]:
            if p.id == pid:
                return p
        return None


def created(server: WritServer, path: str, body: dict) -> dict:
    resp = server.api("POST", path, body)
    if resp.status != 201:
        raise RuntimeError(f"setup: POST {path}: {resp!r}")
    return resp.json()


def set_up(server: WritServer, prefix: str) -> World:
    def user(name: str) -> Principal:
        password = f"a long passphrase for {name} {prefix}"
        upn = f"{prefix}-{name}@example.org"
        u = created(server, "users", {
            "displayName": f"{prefix} {name}", "userPrincipalName": upn, "mailNickname": f"{prefix}-{name}",
            "accountEnabled": True, "passwordProfile": {"password": password}})
        return Principal(u["id"], "user", name, upn=upn, password=password)

    sponsors = [user("sponsor-0"), user("sponsor-1")]
    fallback = user("fallback")
    bind = lambda p: [f"{server.graph}/users/{p.id}"]  # noqa: E731
    blueprint = created(server, "applications", {
        "@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": f"{prefix} blueprint",
        "sponsors@odata.bind": bind(sponsors[0])})
    created(server, "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
            {"appId": blueprint["appId"]})
    agents = []
    for i in range(AGENTS):
        sponsor = sponsors[i % 2]
        a = created(server, "servicePrincipals", {
            "@odata.type": "#microsoft.graph.agentIdentity", "displayName": f"{prefix}-agent-{i}",
            "agentIdentityBlueprintId": blueprint["appId"], "sponsors@odata.bind": bind(sponsor)})
        resp = server.api("POST", f"servicePrincipals/{a['id']}/addPassword",
                          {"passwordCredential": {"displayName": "chaos"}})
        if resp.status != 200:
            raise RuntimeError(f"setup: addPassword: {resp!r}")
        agents.append(Principal(a["id"], "agent", f"agent-{i}", app_id=a["appId"],
                                secret=resp.json()["secretText"], sponsor=sponsor.id))

    groups = {}
    for name in ("shared", "side"):
        groups[name] = created(server, "groups", {
            "displayName": f"{prefix} {name}", "mailEnabled": False, "mailNickname": f"{prefix}{name}",
            "securityEnabled": True})["id"]
    api = created(server, "applications", {
        "displayName": f"{prefix} Tools API",
        "appRoles": [{"id": ROLE_ID, "allowedMemberTypes": ["Application"], "value": ROLE_VALUE,
                      "displayName": "Use tools", "description": "Use the tools", "isEnabled": True}]})
    api_sp = created(server, "servicePrincipals", {"appId": api["appId"]})["id"]
    catalog = created(server, f"{EM}/catalogs", {"displayName": f"{prefix} catalog"})["id"]
    for system, origin in (("AadGroup", groups["shared"]), ("AadGroup", groups["side"]),
                           ("AadApplication", api_sp), ("DirectoryRole", DIRECTORY_READERS)):
        created(server, f"{EM}/resourceRequests", {
            "requestType": "adminAdd", "catalog": {"id": catalog},
            "resource": {"originId": origin, "originSystem": system}})
    roles = server.get_all(f"{EM}/catalogs/{catalog}/resourceRoles")

    def role(origin_id: str, system: str) -> str:
        [found] = [r["id"] for r in roles if r["originId"] == origin_id and r["originSystem"] == system]
        return found

    member = lambda g: role(f"Member_{groups[g]}", "AadGroup")  # noqa: E731
    package_roles = {
        "tools": ([member("shared"), role(ROLE_ID, "AadApplication")],
                  {("group", groups["shared"]), ("role", ROLE_VALUE)}),
        "readers": ([member("shared"), role("Active", "DirectoryRole")],
                    {("group", groups["shared"]), ("wid", DIRECTORY_READERS)}),
        "side": ([member("side")], {("group", groups["side"])}),
    }
    packages, grants = {}, {}
    for name, (role_ids, granted) in package_roles.items():
        pid = created(server, f"{EM}/accessPackages", {
            "displayName": f"{prefix} {name}", "catalog": {"id": catalog}})["id"]
        for rid in role_ids:
            created(server, f"{EM}/accessPackages/{pid}/resourceRoleScopes", {"role": {"id": rid}})
        packages[name], grants[pid] = pid, granted

    policies: dict[str, Policy] = {}

    def policy(name: str, package: str, seconds: int, *, requestors: Optional[dict] = None,
               stage: bool = False, **flags: bool) -> None:
        approval = {"isApprovalRequiredForAdd": stage, "isApprovalRequiredForUpdate": stage, "stages": []}
        if stage:
            approval["stages"] = [{
                "durationBeforeAutomaticDenial": APPROVAL_TIMEOUT,
                "primaryApprovers": [SPONSORS],
                "fallbackPrimaryApprovers": [
                    {"@odata.type": "#microsoft.graph.singleUser", "userId": fallback.id}]}]
        body = {
            "displayName": f"{prefix} {name}", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": f"PT{seconds}S"},
            "requestApprovalSettings": approval, "accessPackage": {"id": packages[package]}}
        if requestors:
            body["requestorSettings"] = requestors
        p = created(server, f"{EM}/assignmentPolicies", body)
        policies[p["id"]] = Policy(p["id"], name, packages[package], approval=stage, **flags)

    policy("tools admin", "tools", 5)
    policy("tools ask", "tools", 6, stage=True, requestors={
        "enableTargetsToSelfAddAccess": True, "enableTargetsToSelfUpdateAccess": True,
        "enableTargetsToSelfRemoveAccess": True, "enableOnBehalfRequestorsToAddAccess": True,
        "enableOnBehalfRequestorsToUpdateAccess": True, "enableOnBehalfRequestorsToRemoveAccess": True,
        "onBehalfRequestors": [SPONSORS]},
        self_add=True, self_update=True, self_remove=True, on_behalf=True)
    policy("readers admin", "readers", 4)
    policy("readers self", "readers", 3, requestors={
        "enableTargetsToSelfAddAccess": True, "enableTargetsToSelfUpdateAccess": True,
        "enableTargetsToSelfRemoveAccess": True},
        self_add=True, self_update=True, self_remove=True)
    policy("side admin", "side", 8)
    package_policies: dict[str, list[Policy]] = defaultdict(list)
    for p in policies.values():
        package_policies[p.package].append(p)
    [admin_sp] = server.get_json("servicePrincipals", **{"$filter": f"appId eq '{server.client_id}'"})["value"]
    admin = Principal(admin_sp["id"], "admin", "admin")
    return World(admin, sponsors, fallback, agents, groups, api["appId"], packages, grants,
                 policies, dict(package_policies))


# --------------------------------------------------------------------------------------------
# Tokens


class Tokens:
    """Bearer tokens per principal: the admin's from the harness, agents' by client credentials
    (fetched again when close to `exp`: a token carrying `wids` lasts no longer than the role),
    people's by the password grant, once per run."""

    def __init__(self, server: WritServer, world: World):
        self.server, self.world = server, world
        self.lock = threading.Lock()
        self.cache: dict[str, tuple[str, float]] = {}

    def get(self, who: Principal) -> str:
        if who.kind == "admin":
            return self.server.token
        with self.lock:
            cached = self.cache.get(who.id)
        if cached and cached[1] - time.time() > 3:
            return cached[0]
        if who.kind == "agent":
            form = {"grant_type": "client_credentials", "client_id": who.app_id,
                    "client_secret": who.secret, "scope": GRAPH_SCOPE}
        else:
            form = {"grant_type": "password", "username": who.upn, "password": who.password,
                    "scope": GRAPH_SCOPE}
        resp = call("POST", self.server.url + "/oauth2/v2.0/token", form=form)
        if resp.status != 200:
            raise RuntimeError(f"token for {who.name}: {resp!r}")
        token = resp.json()["access_token"]
        with self.lock:
            self.cache[who.id] = (token, float(jwt_claims(token)["exp"]))
        return token

    def forget(self, who: Principal) -> None:
        with self.lock:
            self.cache.pop(who.id, None)


# --------------------------------------------------------------------------------------------
# What the client saw


@dataclass
class Op:
    """One client call that changes something."""

    kind: str  # create, decide, cancel
    iteration: int
    sent_at: float
    by: str  # the principal id of the caller
    body: Any = None
    path: str = ""
    key: str = ""  # Idempotency-Key of a create
    request_type: str = ""
    target: str = ""
    package: str = ""
    assignment: str = ""
    request_id: str = ""  # the created or decided or canceled request
    decision: str = ""
    status: Optional[int] = None  # None: unanswered
    answered_at: float = 0.0


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: list[Op] = []
        self.unchecked: list[Op] = []  # added since the last check
        self.created: set[str] = set()  # the ids of the requests answered 201
        self.counts: Counter = Counter()

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)
            self.unchecked.append(op)
            if op.kind == "create" and op.status == 201:
                self.created.add(op.request_id)
            outcome = "unanswered" if op.status is None else (
                "acknowledged" if 200 <= op.status < 300 else f"refused {op.status}")
            self.counts[(op.kind, op.request_type or op.decision, outcome)] += 1

    def count_idle(self, what: str) -> None:
        with self.lock:
            self.counts[("idle", what, "no candidate")] += 1

    def take_unchecked(self) -> list[Op]:
        with self.lock:
            taken, self.unchecked = self.unchecked, []
            return taken

    @staticmethod
    def acked(ops: list[Op]) -> list[Op]:
        return [o for o in ops if o.status is not None and 200 <= o.status < 300]

    @staticmethod
    def unanswered(ops: list[Op]) -> list[Op]:
        return [o for o in ops if o.status is None]


# --------------------------------------------------------------------------------------------
# The server's state as read through the API, kept up to date incrementally


class Mirror:
    """Requests, assignments and entitlement-management audit records read through the API, and
    the webhook events received, with the counters the duplicate checks need."""

    def __init__(self, server: WritServer, receiver: Receiver):
        self.server, self.receiver = server, receiver
        self.requests: dict[str, dict] = {}
        self.assignments: dict[str, dict] = {}
        self.audit: dict[str, dict] = {}
        # request id -> its type, target, package, assignment (from its first audit record)
        self.request_meta: dict[str, dict] = {}
        self.by_request: dict[str, Counter] = defaultdict(Counter)  # request -> activity counts
        self.by_assignment: dict[str, Counter] = defaultdict(Counter)
        self.fulfilled_by: dict[str, list[str]] = defaultdict(list)  # assignment -> request
        self.notices: Counter = Counter()  # (assignment, leadTime) -> notices
        self.touched_requests: set[str] = set()
        self.touched_assignments: set[str] = set()
        self.events: dict[str, dict] = {}  # webhook id -> event
        self.event_keys: dict[tuple, set[str]] = defaultdict(set)
        self.events_read = 0  # how many of the receiver's requests have been read
        self.last_refresh = 0.0

    # ---- reading -------------------------------------------------------------------------

    def get_all(self, path: str, **query: str) -> list[dict]:
        url = with_query(f"{self.server.graph}/{path}", **query)
        items: list[dict] = []
        while url:
            resp = call("GET", url, token=self.server.token)
            if resp.status != 200:
                raise RuntimeError(f"GET {url}: {resp!r}")
            page = resp.json()
            items.extend(page["value"])
            url = page.get("@odata.nextLink")
        return items

    def get_one(self, path: str) -> Optional[dict]:
        resp = call("GET", f"{self.server.graph}/{path}", token=self.server.token)
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp!r}")
        return resp.json()

    def read_live_assignments(self) -> dict[str, dict]:
        found = self.get_all(f"{EM}/assignments", **{
            "$filter": "state ne 'expired'", "$expand": "target,accessPackage,assignmentPolicy",
            "$top": "999"})
        live = {a["id"]: a for a in found}
        for a in found:
            self._put_assignment(a)
        return live

    def refresh(self, full: bool = False) -> None:
        started = time.time()
        since = iso(0 if full else max(0.0, self.last_refresh - REFRESH_MARGIN_S))
        # Audit first: a request or assignment read afterwards has its records read too.
        for rec in self.get_all("auditLogs/directoryAudits", **{
                "$filter": f"activityDateTime ge {since} and category eq 'EntitlementManagement'",
                "$top": "999"}):
            if rec["id"] not in self.audit:
                self._index_audit(rec)
        open_before = {i for i, r in self.requests.items() if r["state"] in OPEN_REQUEST_STATES}
        seen = set()
        for query in (f"createdDateTime ge {since}",
                      "state in ('submitted','pendingApproval','delivering','scheduled')"):
            for r in self.get_all(f"{EM}/assignmentRequests",
                                  **{"$filter": query, "$expand": "assignment", "$top": "999"}):
                self._put_request(r)
                seen.add(r["id"])
        for rid in open_before - seen:
            r = self.get_one(f"{EM}/assignmentRequests/{rid}?$expand=assignment")
            if r is None:
                raise RuntimeError(f"request {rid} can no longer be read")
            self._put_request(r)
        live_before = {i for i, a in self.assignments.items() if a["state"] != "expired"}
        live = self.read_live_assignments()
        ended = self.get_all(f"{EM}/assignments", **{
            "$filter": f"expiredDateTime ge {since}", "$expand": "target,accessPackage,assignmentPolicy",
            "$top": "999"})
        for a in ended:
            self._put_assignment(a)
        for aid in live_before - set(live) - {a["id"] for a in ended}:
            a = self.get_one(f"{EM}/assignments/{aid}?$expand=target,accessPackage,assignmentPolicy")
            if a is None:
                raise RuntimeError(f"assignment {aid} can no longer be read")
            self._put_assignment(a)
        self.take_events()
        self.last_refresh = started

    def _put_request(self, r: dict) -> None:
        self.requests[r["id"]] = r
        self.touched_requests.add(r["id"])
        if r.get("assignment"):
            self.touched_assignments.add(r["assignment"]["id"])

    def _put_assignment(self, a: dict) -> None:
        previous = self.assignments.get(a["id"])
        if previous and "target" in previous and "target" not in a:
            a = {**previous, **a}
        self.assignments[a["id"]] = a
        self.touched_assignments.add(a["id"])

    def _index_audit(self, rec: dict) -> None:
        self.audit[rec["id"]] = rec
        details = {d["key"]: d["value"] for d in rec.get("additionalDetails") or []}
        activity = rec["activityDisplayName"]
        for t in rec.get("targetResources") or []:
            if t["type"] == "AccessPackageAssignmentRequest":
                self.by_request[t["id"]][activity] += 1
                self.touched_requests.add(t["id"])
                meta = self.request_meta.setdefault(t["id"], {})
                for key in ("requestType", "accessPackageId", "onBehalfOf", "assignmentId"):
                    if details.get(key) and key not in meta:
                        meta[key] = details[key]
                if activity in CREATE_ACTIVITIES and "createdBy" not in meta:
                    by = rec.get("initiatedBy") or {}
                    meta["createdBy"] = ((by.get("user") or {}).get("id")
                                         or (by.get("app") or {}).get("servicePrincipalId") or "")
                    meta["createdAt"] = epoch(rec["activityDateTime"])
            if t["type"] == "AccessPackageAssignment" and activity == NOTICE:
                self.notices[(t["id"], details.get("leadTime"))] += 1
                self.touched_assignments.add(t["id"])
        if details.get("assignmentId"):
            self.by_assignment[details["assignmentId"]][activity] += 1
            if activity == FULFIL:
                self.fulfilled_by[details["assignmentId"]].extend(
                    t["id"] for t in rec.get("targetResources") or []
                    if t["type"] == "AccessPackageAssignmentRequest")
            self.touched_assignments.add(details["assignmentId"])

    def take_events(self) -> None:
        with self.receiver.lock:
            new = self.receiver.requests[self.events_read:]
        self.events_read += len(new)
        for headers, body, status, _ in new:
            wid = headers.get("webhook-id", "")
            if status != 204 or wid in self.events:
                continue
            event = json.loads(body)
            self.events[wid] = event
            self.event_keys[event_key(event)].add(event["id"])

    def request_state(self, rid: str) -> str:
        return self.requests.get(rid, {}).get("state", "")


def event_key(event: dict) -> tuple:
    """What one event stands for: two distinct event ids with one key are one change twice."""
    kind, data = event["type"], event.get("data") or {}
    if kind in ("assignment.expired", "assignment.removed"):
        return ("assignment.ended", data.get("assignmentId"))
    if kind == "assignment.delivered":
        return (kind, data.get("assignmentId"))
    if kind == "assignment.expiringSoon":
        return (kind, data.get("assignmentId"), data.get("endDateTime"), data.get("leadTime"))
    if kind == "assignment.extended":
        return (kind, data.get("requestId"))
    if kind.startswith("approval."):
        return (kind, data.get("requestId"), data.get("stage"))
    if data.get("requestId"):
        return (kind, data.get("requestId"))
    return (kind, json.dumps(data, sort_keys=True))


# --------------------------------------------------------------------------------------------
# The workload


class View:
    """What the workload believes is live or open, refreshed from the mirror after each check and
    updated by the answers it gets (stale beliefs only cost a refused request)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[tuple[str, str], dict] = {}  # (agent, package) -> assignment
        self.open: dict[tuple[str, str], str] = {}  # (agent, package) -> add request id
        self.open_updates: dict[str, str] = {}  # assignment -> update request id
        self.requestor: dict[str, str] = {}  # request id -> requestor id ("" admin)

    def rebuild(self, mirror: Mirror, ledger: Ledger) -> None:
        now = time.time()
        with self.lock:
            self.live, self.open, self.open_updates = {}, {}, {}
            for a in mirror.assignments.values():
                end = epoch(a["schedule"]["expiration"].get("endDateTime"))
                if a["state"] in ("delivered", "partiallyDelivered") and end and end > now + 0.5:
                    self.live[(a["target"]["objectId"], a["accessPackage"]["id"])] = a
            for rid, r in mirror.requests.items():
                if r["state"] not in OPEN_REQUEST_STATES:
                    continue
                meta = mirror.request_meta.get(rid, {})
                if meta.get("requestType") in ADD_TYPES:
                    self.open[(meta.get("onBehalfOf", ""), meta.get("accessPackageId", ""))] = rid
                elif meta.get("requestType") in UPDATE_TYPES and r.get("assignment"):
                    self.open_updates[r["assignment"]["id"]] = rid


class Workload:
    def __init__(self, server: WritServer, world: World, tokens: Tokens, ledger: Ledger,
                 view: View, violations: "Violations"):
        self.server, self.world, self.tokens = server, world, tokens
        self.ledger, self.view, self.violations = ledger, view, violations
        self.stop = threading.Event()
        self.iteration = 0
        # Changes sent and not answered yet: some kills wait for one, so that the loop also
        # covers calls the kill cuts off.
        self.inflight = 0
        self.inflight_lock = threading.Lock()

    def run(self, rng: random.Random) -> None:
        ops: list[tuple[float, Callable[[random.Random], None]]] = [
            (4, self.add), (2, self.decide), (1.5, self.extend), (1, self.remove), (0.5, self.cancel)]
        weights = [w for w, _ in ops]
        while not self.stop.is_set():
            [(_, op)] = rng.choices(ops, weights=weights)
            try:
                if op(rng) is False:
                    self.ledger.count_idle(op.__name__)
            except Unanswered:
                pass
            except Exception:  # noqa: BLE001 - a client bug must not end the run silently
                self.violations.add(self.iteration, "client", "workload error:\n" + traceback.format_exc())
            self.stop.wait(rng.uniform(0.02, 0.12))

    # ---- sending ---------------------------------------------------------------------------

    def send(self, op: Op, who: Principal) -> Optional[RawResponse]:
        """Sends `op` as `who`; records it with its answer (or none) in the ledger."""
        if self.stop.is_set():
            return None
        headers = {"Idempotency-Key": op.key} if op.key else None
        token = self.tokens.get(who)
        with self.inflight_lock:
            self.inflight += 1
        try:
            resp = call("POST" if op.kind != "decide" else "PATCH", f"{self.server.graph}/{op.path}",
                        token=token, json_body=op.body, headers=headers)
        except Unanswered:
            self.ledger.add(op)
            raise
        finally:
            with self.inflight_lock:
                self.inflight -= 1
        op.status, op.answered_at = resp.status, time.time()
        if op.kind == "create" and resp.status == 201:
            op.request_id = resp.json()["id"]
        if resp.status >= 500:
            self.violations.add(self.iteration, "5xx", f"{op.kind} {op.path} {op.body}: {resp!r}")
        self.ledger.add(op)
        return resp

    def create(self, who: Principal, body: dict, **fields: str) -> Optional[dict]:
        op = Op("create", self.iteration, time.time(), who.id, body=body, path=f"{EM}/assignmentRequests",
                key=str(uuid.uuid4()), request_type=body["requestType"], **fields)
        resp = self.send(op, who)
        if resp is None or resp.status != 201:
            return None
        with self.view.lock:
            self.view.requestor[op.request_id] = who.id
        return resp.json()

    def agent_by_id(self, aid: str) -> Principal:
        return next(a for a in self.world.agents if a.id == aid)

    def sponsor_of(self, agent: Principal) -> Principal:
        return next(s for s in self.world.sponsors if s.id == agent.sponsor)

    # ---- operations ------------------------------------------------------------------------

    def add(self, rng: random.Random) -> None:
        with self.view.lock:
            free = [(a, p) for a in self.world.agents for p in self.world.packages.values()
                    if (a.id, p) not in self.view.live and (a.id, p) not in self.view.open]
        if not free:
            return False
        agent, package = rng.choice(free)
        policy = rng.choice(self.world.package_policies[package])
        assignment = {"accessPackageId": package, "assignmentPolicyId": policy.id}
        body: dict[str, Any] = {"assignment": assignment}
        if not policy.self_add:
            who = self.world.admin
            body["requestType"] = "adminAdd"
            assignment["targetId"] = agent.id
            if policy.name.startswith("side") and rng.random() < 0.5:
                start = time.time() + rng.uniform(1, 3)
                body["schedule"] = {"startDateTime": iso(start + 1)}
        elif policy.on_behalf and rng.random() < 0.5:
            who = self.sponsor_of(agent)
            body["requestType"] = "userAdd"
            assignment["targetId"] = agent.id
        else:
            who = agent
            body["requestType"] = "userAdd"
        made = self.create(who, body, target=agent.id, package=package)
        if made:
            with self.view.lock:
                self.view.open[(agent.id, package)] = made["id"]

    def decide(self, rng: random.Random) -> None:
        approver = rng.choice([*self.world.sponsors, self.world.fallback])
        token = self.tokens.get(approver)
        url = with_query(f"{self.server.graph}/{EM}/assignmentRequests/filterByCurrentUser(on='approver')",
                         **{"$filter": "state eq 'pendingApproval'"})
        resp = call("GET", url, token=token)
        if resp.status != 200 or not resp.json()["value"]:
            return False
        request = rng.choice(resp.json()["value"])
        resp = call("GET", f"{self.server.graph}/{EM}/accessPackageAssignmentApprovals/{request['id']}",
                    token=token)
        if resp.status != 200:
            return False
        stages = [s for s in resp.json()["stages"] if s.get("assignedToMe") and s["status"] == "InProgress"]
        if not stages:
            return False
        decision = "Approve" if rng.random() < 0.8 else "Deny"
        op = Op("decide", self.iteration, time.time(), approver.id,
                path=f"{EM}/accessPackageAssignmentApprovals/{request['id']}/stages/{stages[0]['id']}",
                body={"reviewResult": decision, "justification": "chaos"}, request_id=request["id"],
                decision=decision)
        self.send(op, approver)

    def pick_live(self, rng: random.Random) -> Optional[dict]:
        with self.view.lock:
            live = [a for a in self.view.live.values() if a["id"] not in self.view.open_updates]
        return rng.choice(live) if live else None

    def extend(self, rng: random.Random) -> None:
        a = self.pick_live(rng)
        if not a:
            return False
        agent = self.agent_by_id(a["target"]["objectId"])
        policy = self.world.policies[a["assignmentPolicy"]["id"]]
        body = {"assignment": {"id": a["id"]}}
        choice = rng.random()
        if policy.self_update and choice < 0.4:
            who, body["requestType"] = agent, "userUpdate"
        elif policy.on_behalf and choice < 0.7:
            who, body["requestType"] = self.sponsor_of(agent), "userUpdate"
        else:
            who, body["requestType"] = self.world.admin, "adminUpdate"
        made = self.create(who, body, target=agent.id, package=a["accessPackage"]["id"], assignment=a["id"])
        if made:
            with self.view.lock:
                self.view.open_updates[a["id"]] = made["id"]

    def remove(self, rng: random.Random) -> None:
        a = self.pick_live(rng)
        if not a:
            return False
        agent = self.agent_by_id(a["target"]["objectId"])
        policy = self.world.policies[a["assignmentPolicy"]["id"]]
        body = {"assignment": {"id": a["id"]}}
        choice = rng.random()
        if policy.self_remove and choice < 0.4:
            who, body["requestType"] = agent, "userRemove"
        elif policy.on_behalf and choice < 0.7:
            who, body["requestType"] = self.sponsor_of(agent), "userRemove"
        else:
            who, body["requestType"] = self.world.admin, "adminRemove"
        made = self.create(who, body, target=agent.id, package=a["accessPackage"]["id"], assignment=a["id"])
        if made:
            with self.view.lock:
                self.view.live.pop((agent.id, a["accessPackage"]["id"]), None)

    def cancel(self, rng: random.Random) -> None:
        with self.view.lock:
            candidates = [(rid, self.view.requestor[rid]) for rid in
                          [*self.view.open.values(), *self.view.open_updates.values()]
                          if rid in self.view.requestor]
        if not candidates:
            return False
        rid, by = rng.choice(candidates)
        who = self.world.principal(by) or self.world.admin
        op = Op("cancel", self.iteration, time.time(), who.id,
                path=f"{EM}/assignmentRequests/{rid}/cancel", request_id=rid)
        self.send(op, who)


# --------------------------------------------------------------------------------------------
# Violations and the summary


class Violations:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[int, str, str]] = []
        self.seen: set[str] = set()
        self.counts: Counter = Counter()

    def add(self, iteration: int, kind: str, message: str) -> None:
        with self.lock:
            # A check that runs again finds the same fault again: it counts once.
            if message in self.seen:
                return
            self.seen.add(message)
            self.counts[kind] += 1
            if self.counts[kind] <= 20:
                self.items.append((iteration, kind, message))
            print(f"VIOLATION [iteration {iteration}] {kind}: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The loop


@dataclass
class Summary:
    backend: str
    seed: int
    iterations: int = 0
    kills: int = 0
    boot_kills: int = 0
    requests: int = 0
    assignments: int = 0
    audit_records: int = 0
    webhook_events: int = 0
    lost: int = 0
    duplicated: int = 0
    invariant_violations: int = 0
    other_violations: int = 0
    audit: str = "not verified"
    wall_s: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicated == 0 and self.invariant_violations == 0
                and self.other_violations == 0 and self.audit.startswith("intact"))

    def text(self) -> str:
        lines = [
            f"crash loop ({self.backend}, seed {self.seed}): {self.iterations} iterations, "
            f"{self.kills} kills (+{self.boot_kills} during start-up), {self.requests} requests, "
            f"{self.assignments} assignments, {self.audit_records} audit records, "
            f"{self.webhook_events} webhook events, {self.wall_s:.0f} s",
            f"lost {self.lost}, duplicated {self.duplicated}, invariant violations "
            f"{self.invariant_violations}, other violations {self.other_violations}; audit chain {self.audit}",
        ]
        for key, value in self.details.items():
            lines.append(f"  {key}: {value}")
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


class Chaos:
    def __init__(self, backend: str, seed: int, workdir: Path, verify_every: int = 10,
                 log: Callable[[str], None] = print):
        self.backend, self.seed, self.workdir = backend, seed, workdir
        self.verify_every = verify_every
        self.log = log
        self.rng = random.Random(seed)
        self.violations = Violations()
        self.ledger = Ledger()
        self.view = View()
        self.iteration = 0
        self.stats: Counter = Counter()
        self.verified_assignments: set[str] = set()  # their requests passed every stage
        self.checkpoint: Optional[Path] = None
        self.unknown_outcomes: Counter = Counter()
        self.timings: Counter = Counter()  # seconds spent in each check

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.receiver = Receiver(flaky=False)
        env = {**ENV, "WRIT_WEBHOOK_URL": self.receiver.url, "WRIT_WEBHOOK_SECRET": SECRET}
        self.server = WritServer.start(self.backend, self.workdir, env=env)
        self.server.keep_port = True
        self.world = set_up(self.server, "chaos" + secrets.token_hex(3))
        self.tokens = Tokens(self.server, self.world)
        for person in [*self.world.sponsors, self.world.fallback]:
            self.tokens.get(person)
        self.mirror = Mirror(self.server, self.receiver)
        self.workload = Workload(self.server, self.world, self.tokens, self.ledger, self.view,
                                 self.violations)

    def close(self, keep: bool) -> Optional[int]:
        status = None
        with contextlib.suppress(Exception):
            if keep and self.server._pg_database:
                # Keep the PostgreSQL database for a post-mortem: forget that we own it.
                self.log(f"kept database {self.server.database_url}")
                self.server._pg_database = None
            status = self.server.stop()
        with contextlib.suppress(Exception):
            self.receiver.close()
        return status

    def run(self, iterations: int) -> Summary:
        began = time.monotonic()
        summary = Summary(self.backend, self.seed)
        self.start()
        try:
            self.mirror.refresh(full=True)
            self.view.rebuild(self.mirror, self.ledger)
            for n in range(1, iterations + 1):
                self.iteration = self.workload.iteration = n
                self.one_iteration(summary)
                if n % 50 == 0 or n == iterations:
                    self.log(f"[{self.backend}] iteration {n}/{iterations}: "
                             f"{len(self.mirror.requests)} requests, {len(self.mirror.audit)} audit records, "
                             f"violations {dict(self.violations.counts)}, "
                             f"{time.monotonic() - began:.0f} s")
                if n % self.verify_every == 0:
                    self.verify_audit(summary)
                if n == max(1, iterations // 2) and self.checkpoint is None:
                    self.export_checkpoint()
            self.drain()
            self.final_checks(summary)
            self.verify_audit(summary, final=True)
        except KeyboardInterrupt:
            self.violations.add(self.iteration, "other", "interrupted (SIGINT or SIGTERM)")
        except Exception:  # noqa: BLE001
            self.violations.add(self.iteration, "other", "the loop stopped:\n" + traceback.format_exc())
        finally:
            status = self.close(keep=bool(self.violations.items))
            if status != 0:
                self.violations.add(self.iteration, "other",
                                    f"writ serve exited with {status} after SIGTERM (expected 0)")
            self.check_logs()
        summary.iterations = self.iteration
        summary.requests = len(self.mirror.requests) if hasattr(self, "mirror") else 0
        summary.assignments = len(self.mirror.assignments) if hasattr(self, "mirror") else 0
        summary.audit_records = len(self.mirror.audit) if hasattr(self, "mirror") else 0
        summary.webhook_events = len(self.mirror.events) if hasattr(self, "mirror") else 0
        counts = self.violations.counts
        summary.lost = counts["lost"]
        summary.duplicated = counts["duplicated"]
        summary.invariant_violations = counts["invariant"]
        summary.other_violations = sum(v for k, v in counts.items()
                                       if k not in ("lost", "duplicated", "invariant"))
        summary.wall_s = time.monotonic() - began
        summary.details = self.details()
        return summary

    def details(self) -> dict:
        acked = Counter()
        refused = Counter()
        unanswered = Counter()
        idle = Counter()
        for (kind, what, outcome), n in self.ledger.counts.items():
            label = f"{kind} {what}".strip()
            if kind == "idle":
                idle[what] += n
            elif outcome == "acknowledged":
                acked[label] += n
            elif outcome == "unanswered":
                unanswered[label] += n
            else:
                refused[f"{label} ({outcome.split()[-1]})"] += n
        states = Counter(r["state"] for r in self.mirror.requests.values())
        types = Counter(m.get("requestType", "?") for m in self.mirror.request_meta.values())
        ended = Counter(a["status"] for a in self.mirror.assignments.values() if a["state"] == "expired")
        out = {
            "acknowledged": dict(sorted(acked.items())),
            "refused (expected: stale view, races)": dict(sorted(refused.items())),
            "unanswered (cut by a kill)": dict(sorted(unanswered.items())),
            "operations with nothing to act on": dict(sorted(idle.items())),
            "unanswered creates after the restart": dict(self.unknown_outcomes),
            "requests by type": dict(sorted(types.items())),
            "requests by final state": dict(sorted(states.items())),
            "assignments ended": dict(sorted(ended.items())),
            "checks": dict(sorted(self.stats.items())),
            "seconds per check": {k: round(v, 1) for k, v in sorted(self.timings.items())},
        }
        if self.violations.items:
            out["first violations"] = [f"[{i}] {k}: {m[:600]}" for i, k, m in self.violations.items[:20]]
        return out

    def one_iteration(self, summary: Summary) -> None:
        workload = self.workload
        workload.stop.clear()
        threads = [threading.Thread(
            target=workload.run, args=(random.Random(f"{self.seed}/{self.iteration}/{t}"),), daemon=True)
            for t in range(THREADS)]
        delay = self.rng.uniform(*KILL_DELAY_S)
        boot_kill = self.rng.random() < BOOT_KILL_SHARE
        boot_delay = self.rng.uniform(*BOOT_KILL_DELAY_S)
        wait_for_call = self.rng.random() < INFLIGHT_KILL_SHARE
        began = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(delay)
        if wait_for_call:
            until = time.monotonic() + 0.5
            while workload.inflight == 0 and time.monotonic() < until:
                time.sleep(0.001)
        self.server.crash()
        workload.stop.set()
        self.stats["seconds of workload"] += round(time.monotonic() - began, 3)
        summary.kills += 1
        for t in threads:
            t.join(timeout=60)
        if boot_kill:
            self.server.spawn()
            time.sleep(boot_delay)
            self.server.crash()
            summary.boot_kills += 1
        began = time.monotonic()
        try:
            self.server.restart()
        except Exception as err:  # noqa: BLE001
            self.violations.add(self.iteration, "restart", f"writ serve did not start again: {err}")
            raise
        restarted = time.monotonic()
        self.stats["seconds to restart"] += round(restarted - began, 3)
        self.check()
        self.stats["seconds of checks"] += round(time.monotonic() - restarted, 3)

    # ---- checks ---------------------------------------------------------------------------

    def guarded(self, name: str, check: Callable[[], None]) -> None:
        began = time.monotonic()
        try:
            check()
        except Unanswered as err:
            self.violations.add(self.iteration, "other", f"{name}: the server stopped answering: {err}")
        except Exception:  # noqa: BLE001
            self.violations.add(self.iteration, "other", f"{name} failed:\n{traceback.format_exc()}")
        finally:
            self.timings[name] += time.monotonic() - began

    def check(self) -> None:
        # The grant reads come first, before the worker has caught up with what was due while
        # the process was down; they refresh the mirror the other checks read.
        self.guarded("grants", self.check_grants)
        ops = self.ledger.take_unchecked()
        self.guarded("lost", lambda: self.check_acknowledged(ops))
        self.guarded("unanswered", lambda: self.check_unanswered(ops))
        self.guarded("duplicates", self.check_duplicates)
        self.view.rebuild(self.mirror, self.ledger)
        self.stats["checks after a restart"] += 1

    def lost(self, message: str) -> None:
        self.violations.add(self.iteration, "lost", message)

    def duplicated(self, message: str) -> None:
        self.violations.add(self.iteration, "duplicated", message)

    def invariant(self, message: str) -> None:
        self.violations.add(self.iteration, "invariant", message)

    def check_acknowledged(self, ops: list[Op]) -> None:
        """Every change answered 2xx before the kill is there after the restart."""
        m = self.mirror
        for op in Ledger.acked(ops):
            self.stats["acknowledged changes checked"] += 1
            if op.kind == "create":
                r = m.requests.get(op.request_id) or m.get_one(f"{EM}/assignmentRequests/{op.request_id}")
                meta = m.request_meta.get(op.request_id, {})
                if r is None:
                    self.lost(f"request {op.request_id} ({op.request_type}) was answered 201 but is gone")
                elif not m.by_request[op.request_id]:
                    self.lost(f"request {op.request_id} ({op.request_type}) has no audit record")
                elif (meta.get("requestType"), meta.get("onBehalfOf"), meta.get("accessPackageId")) != (
                        op.request_type, op.target, op.package):
                    self.lost(f"request {op.request_id} is recorded as {meta}, sent as "
                              f"{op.request_type} for {op.target} of {op.package}")
                if op.request_type in ("adminRemove", "userRemove"):
                    a = m.assignments.get(op.assignment)
                    if a is None or a["state"] != "expired" or a["status"] != "Removed":
                        self.lost(f"removal {op.request_id} was answered 201 but assignment "
                                  f"{op.assignment} reads {a and (a['state'], a['status'])}")
            elif op.kind == "cancel":
                if m.request_state(op.request_id) != "canceled":
                    self.lost(f"cancel of {op.request_id} was answered 204 but it reads "
                              f"{m.request_state(op.request_id)!r}")
            elif op.kind == "decide":
                approval = m.get_one(f"{EM}/accessPackageAssignmentApprovals/{op.request_id}")
                stage_id = op.path.rsplit("/", 1)[1]
                stage = next((s for s in (approval or {}).get("stages", []) if s["id"] == stage_id), None)
                expected = "Approved" if op.decision == "Approve" else "Denied"
                if stage is None or stage.get("reviewResult") != expected:
                    self.lost(f"{op.decision} of {op.request_id} was answered 204 but its stage reads "
                              f"{stage and stage.get('reviewResult')}")

    def check_unanswered(self, ops: list[Op]) -> None:
        """Creates the kill cut off were applied at most once. Calls of one type, target, package
        and requestor are taken together (two threads may send the same body): the requests of
        that kind made since the first was sent and answered to no other call, with those their
        retries make, number at most the calls. Each call is retried after the restart with its
        `Idempotency-Key`: it replays the request its first attempt made, makes it (the first
        attempt never reached the server's reservation of the key), or is refused."""
        groups: dict[tuple, list[Op]] = defaultdict(list)
        for op in Ledger.unanswered(ops):
            if op.kind == "create":
                groups[(op.request_type, op.target, op.package, op.assignment, op.by)].append(op)
        for calls in groups.values():
            made = self.matching_requests(min(calls, key=lambda o: o.sent_at))
            self.unknown_outcomes["applied before the kill"] += len(made)
            retried = []
            for op in calls:
                who = self.world.principal(op.by) or self.world.admin
                resp = call("POST", f"{self.server.graph}/{op.path}", token=self.tokens.get(who),
                            json_body=op.body, headers={"Idempotency-Key": op.key})
                if resp.status == 201:
                    rid = resp.json()["id"]
                    if resp.headers.get("idempotent-replayed") == "true":
                        outcome = "retry replayed its request"
                        if rid not in made:
                            self.duplicated(f"the retry of an unanswered {op.request_type} replayed {rid}, "
                                            f"which is not among the requests made since it was sent {made}")
                    else:
                        outcome = "retry made the request"
                        retried.append(rid)
                    self.ledger.add(Op(
                        "create", self.iteration, time.time(), op.by, body=op.body, path=op.path,
                        key=op.key, request_type=op.request_type, target=op.target, package=op.package,
                        assignment=op.assignment, request_id=rid, status=201, answered_at=time.time()))
                    with self.view.lock:
                        self.view.requestor[rid] = op.by
                elif resp.status == 409 and "Idempotency-Key" in resp.body.decode("utf-8", "replace"):
                    outcome = "retry refused: key still reserved (409)"
                else:
                    outcome = f"retry refused ({resp.status})"
                self.unknown_outcomes[outcome] += 1
            if len(set(made) | set(retried)) > len(calls):
                self.duplicated(f"{len(calls)} unanswered {calls[0].request_type} call(s) for {calls[0].target} "
                                f"made {made} before the kill and {retried} on retry")

    def matching_requests(self, op: Op) -> list[str]:
        m = self.mirror
        found = []
        for rid, meta in m.request_meta.items():
            if rid in self.ledger.created or meta.get("requestType") != op.request_type:
                continue
            if meta.get("onBehalfOf") != op.target or meta.get("accessPackageId") != op.package:
                continue
            if op.assignment and meta.get("assignmentId") not in (None, op.assignment):
                continue
            # Both clocks are this machine's; the record shows whole seconds.
            if (meta.get("createdAt") or 0) >= int(op.sent_at) and meta.get("createdBy") == op.by:
                found.append(rid)
        return found

    def check_duplicates(self) -> None:
        m = self.mirror
        for rid in m.touched_requests:
            for activity, n in m.by_request[rid].items():
                if n > 1:
                    self.duplicated(f"request {rid}: {n} audit records '{activity}'")
        add_requests_of: dict[str, list[str]] = defaultdict(list)
        ending_requests_of: dict[str, list[str]] = defaultdict(list)
        for rid, r in m.requests.items():
            meta = m.request_meta.get(rid, {})
            aid = (r.get("assignment") or {}).get("id")
            if not aid:
                continue
            if meta.get("requestType") in ADD_TYPES:
                add_requests_of[aid].append(rid)
            if meta.get("requestType") in REMOVE_TYPES and r["state"] == "delivered":
                ending_requests_of[aid].append(rid)
        for aid in m.touched_assignments:
            counts = m.by_assignment[aid]
            if counts[FULFIL] > 1:
                self.duplicated(f"assignment {aid}: {counts[FULFIL]} fulfilment audit records")
            ended = sum(counts[a] for a in ENDING_ACTIVITIES)
            if ended > 1:
                self.duplicated(f"assignment {aid}: {ended} ending audit records {dict(counts)}")
            if len(add_requests_of.get(aid, [])) > 1:
                self.duplicated(f"assignment {aid} delivers {add_requests_of[aid]}")
            if len(ending_requests_of.get(aid, [])) > 1:
                self.duplicated(f"assignment {aid} ended by {ending_requests_of[aid]}")
            for lead in LEAD_TIMES:
                if m.notices[(aid, lead)] > 1 + counts[EXTEND]:
                    self.duplicated(f"assignment {aid}: {m.notices[(aid, lead)]} notices for {lead} "
                                    f"with {counts[EXTEND]} extensions")
        live_of: dict[tuple[str, str], list[str]] = defaultdict(list)
        for a in m.assignments.values():
            if a["state"] in LIVE_ASSIGNMENT_STATES and "target" in a:
                live_of[(a["target"]["objectId"], a["accessPackage"]["id"])].append(a["id"])
        for key, ids in live_of.items():
            if len(ids) > 1:
                self.duplicated(f"{len(ids)} live assignments of one target and package {key}: {ids}")
        for key, ids in m.event_keys.items():
            if len(ids) > 1:
                self.duplicated(f"{len(ids)} distinct events for one change {key}: {sorted(ids)}")
        m.event_keys = defaultdict(set, {k: v for k, v in m.event_keys.items() if len(v) <= 1})
        self.check_grant_rows()
        m.touched_requests.clear()
        m.touched_assignments.clear()

    def check_grant_rows(self) -> None:
        """One row per holder and grant (the API lists a member once, so this reads SQL)."""
        rows = self.server.sql(
            "SELECT 'group_members', holder, group_id, member_id, count(*) FROM group_members "
            "WHERE holder <> 'direct' GROUP BY holder, group_id, member_id HAVING count(*) > 1 "
            "UNION ALL SELECT 'app_role_assignments', holder, app_role_id, principal_id, count(*) "
            "FROM app_role_assignments WHERE holder <> 'direct' "
            "GROUP BY holder, app_role_id, principal_id HAVING count(*) > 1 "
            "UNION ALL SELECT 'role_assignments', holder, role_definition_id, principal_id, count(*) "
            "FROM role_assignments WHERE holder <> 'direct' "
            "GROUP BY holder, role_definition_id, principal_id HAVING count(*) > 1")
        for row in rows:
            self.duplicated(f"grant rows held twice: {row}")

    def approved(self, assignment: dict) -> bool:
        """Whether the request that made this assignment passed every stage of its policy."""
        aid = assignment["id"]
        if aid in self.verified_assignments:
            return True
        m = self.mirror
        adds = m.fulfilled_by.get(aid, [])
        if len(adds) != 1:
            return False
        policy = self.world.policies.get(assignment["assignmentPolicy"]["id"])
        meta = m.request_meta.get(adds[0], {})
        if policy and policy.approval and meta.get("requestType") == "userAdd":
            approval = m.get_one(f"{EM}/accessPackageAssignmentApprovals/{adds[0]}")
            stages = (approval or {}).get("stages") or []
            if not stages or any(s.get("reviewResult") != "Approved" for s in stages):
                return False
        self.verified_assignments.add(aid)
        return True

    def check_grants(self) -> None:
        """Invariants 1-3 through the API: group members, then tokens' roles and wids."""
        m, w = self.mirror, self.world
        agents = {a.id for a in w.agents}
        before = m.read_live_assignments()
        read_started = time.time()
        members = {}
        for gid in w.groups.values():
            members[gid] = {x["id"] for x in m.get_all(f"groups/{gid}/members", **{"$top": "999"})} & agents
        read_ended = time.time()
        # Read again after the members: what the worker delivered meanwhile, with its requests
        # and audit records.
        m.refresh()
        self.stats["grant reads"] += 1

        def holders(agent: str, grant: tuple[str, str], at: float) -> list[dict]:
            """The assignments of `agent` that may grant `grant` at instant `at`."""
            found = []
            for a in m.assignments.values():
                if "target" not in a or a["target"]["objectId"] != agent:
                    continue
                if grant not in w.grants.get(a["accessPackage"]["id"], set()):
                    continue
                start = epoch(a["schedule"].get("startDateTime")) or 0
                end = epoch(a["schedule"]["expiration"].get("endDateTime")) or 0
                if a["state"] == "expired" and a["status"] == "Removed":
                    # expiredDateTime is shown in whole seconds, rounded down.
                    end = min(end, (epoch(a["expiredDateTime"]) or 0) + 1)
                if start <= at + 1 and end > at and a["state"] != "deliveryFailed":
                    found.append(a)
            return found

        for name, gid in w.groups.items():
            for agent in members[gid]:
                found = holders(agent, ("group", gid), read_started)
                if not found:
                    self.invariant(f"agent {agent} is a member of group {name} at {read_started:.3f} "
                                   f"with no assignment granting it live then (invariants 1/2)")
                elif not any(self.approved(a) for a in found):
                    self.invariant(f"agent {agent} is a member of group {name} through {[a['id'] for a in found]}, "
                                   f"whose requests did not pass every stage (invariant 1)")
                if len(found) > 1:
                    self.stats["grants held through two assignments"] += 1
        for a in before.values():
            end = epoch(a["schedule"]["expiration"].get("endDateTime")) or 0
            now_a = m.assignments[a["id"]]
            if a["state"] != "delivered" or now_a["state"] != "delivered" or end <= read_ended + 0.5:
                continue
            for kind, gid in w.grants[a["accessPackage"]["id"]]:
                if kind == "group" and a["target"]["objectId"] not in members[gid]:
                    self.invariant(f"assignment {a['id']} is delivered until {iso(end)} but its target is "
                                   f"not a member of {gid} (invariants 1/3)")
        for agent in self.rng.sample(w.agents, 3):
            self.check_tokens(agent)

    def check_tokens(self, agent: Principal) -> None:
        m, w = self.mirror, self.world
        for scope, claim, grant in ((f"api://{w.api_app_id}/.default", "roles", ("role", ROLE_VALUE)),
                                    (GRAPH_SCOPE, "wids", ("wid", DIRECTORY_READERS))):
            asked = time.time()
            resp = call("POST", self.server.url + "/oauth2/v2.0/token", form={
                "grant_type": "client_credentials", "client_id": agent.app_id,
                "client_secret": agent.secret, "scope": scope})
            answered = time.time()
            if resp.status != 200:
                self.violations.add(self.iteration, "other", f"token for {agent.name} ({scope}): {resp!r}")
                continue
            claims = jwt_claims(resp.json()["access_token"])
            self.stats["tokens read"] += 1
            held = grant[1] in (claims.get(claim) or [])

            def granting(assignments) -> list[dict]:
                return [a for a in assignments if "target" in a and a["target"]["objectId"] == agent.id
                        and grant in w.grants.get(a["accessPackage"]["id"], set())]

            def live_ends(assignments, started_by: float) -> list[float]:
                ends = []
                for a in assignments:
                    start = epoch(a["schedule"].get("startDateTime")) or 0
                    end = epoch(a["schedule"]["expiration"].get("endDateTime")) or 0
                    if a["state"] == "expired" and a["status"] == "Removed":
                        end = min(end, (epoch(a["expiredDateTime"]) or 0) + 1)
                    if start <= started_by and end > asked and a["state"] != "deliveryFailed":
                        ends.append(end)
                return ends

            live = granting(m.assignments.values())
            ends = live_ends(live, answered + 1)
            if held and (not ends or claims["exp"] > max(ends)):
                # The mirror was read before this token was asked for, so an assignment the worker
                # delivered in between (typically a delivery job claimed by the server just killed
                # and taken up again when its lease ran out, right after the restart) is missing
                # from it: the crash loop on main reported agent-0's Tools.Use "with no assignment
                # live" for assignment 01a24d92-edb4-..., delivered 31 ms before the token and
                # after the mirror had read the live assignments. Read again, and count only the
                # assignments the first read did not have (those it had are judged as they were)
                # whose start (shown in whole seconds, rounded down) is not after the token's answer.
                known = set(m.assignments)
                m.refresh()
                self.stats["token checks read again"] += 1
                fresh = [a for i, a in m.assignments.items() if i not in known]
                ends += live_ends(granting(fresh), answered)
            if held and not ends:
                self.invariant(f"{agent.name}'s token carries {claim} {grant[1]} with no assignment "
                               f"live at {asked:.3f} (invariants 1/2)")
            if held and ends and claims["exp"] > max(ends):
                self.invariant(f"{agent.name}'s token carrying {claim} {grant[1]} expires at {claims['exp']}, "
                               f"after the assignment's end {max(ends)} (invariant 2)")
            must = [a for a in live if a["state"] == "delivered"
                    and (epoch(a["schedule"]["expiration"].get("endDateTime")) or 0) > answered + 0.5
                    and (epoch(a["schedule"].get("startDateTime")) or 0) < asked - 1]
            if must and not held:
                self.invariant(f"{agent.name}'s token lacks {claim} {grant[1]} although assignment "
                               f"{must[0]['id']} is delivered (invariant 1)")

    def check_logs(self) -> None:
        for log in self.server.logs:
            try:
                text = log.read_text("utf-8", "replace")
            except OSError:
                continue
            if "panicked" in text:
                line = next(x for x in text.splitlines() if "panicked" in x)
                self.violations.add(self.iteration, "panic", f"{log.name}: {line}")

    # ---- the end ---------------------------------------------------------------------------

    def drain(self) -> None:
        """Waits until every request is final, every assignment has ended and been recorded, the
        queue is empty and every webhook delivery is done. Requests and assignments have
        `DRAIN_TIMEOUT_S`; webhook deliveries as long as their backlog shrinks (under a kill
        every two seconds the dispatcher falls behind: each kill leaves the deliveries it had
        claimed to their lease), failing only after `WEBHOOK_STALL_S` without progress."""
        began = time.monotonic()
        m = self.mirror
        last_pending: Optional[int] = None
        last_progress = began
        work_left: list = []
        while True:
            if last_pending is None or work_left:
                m.refresh()
            open_requests = [i for i, r in m.requests.items() if r["state"] in OPEN_REQUEST_STATES]
            live = [a["id"] for a in m.assignments.values() if a["state"] != "expired"]
            jobs = int(self.server.sql("SELECT count(*) FROM jobs WHERE parked_at IS NULL")[0][0])
            work_left = [*open_requests, *live][:5] + ([f"{jobs} jobs"] if jobs else [])
            page = call("GET", with_query(self.server.url + "/writ/v1/webhookDeliveries",
                                          **{"$filter": "state eq 'pending'", "$count": "true",
                                             "$top": "1"}), token=self.server.token).json()
            pending = int(page.get("@odata.count", len(page.get("value", []))))
            if last_pending is None:
                self.stats["webhook deliveries pending when the loop ended"] = pending
            if last_pending is None or pending < last_pending:
                last_progress = time.monotonic()
            last_pending = pending
            waited = time.monotonic() - began
            if not work_left and pending == 0:
                self.stats["seconds to drain"] = round(waited, 1)
                return
            if work_left and waited > DRAIN_TIMEOUT_S:
                self.lost(f"not drained within {DRAIN_TIMEOUT_S} s: open requests and assignments "
                          f"not ended {work_left}, webhook deliveries pending {pending}")
                return
            if time.monotonic() - last_progress > WEBHOOK_STALL_S:
                self.lost(f"webhook deliveries stalled at {pending} pending for {WEBHOOK_STALL_S} s")
                return
            time.sleep(1 if work_left else 5)

    def final_checks(self, summary: Summary) -> None:
        m = self.mirror
        m.refresh(full=True)
        m.touched_requests = set(m.requests) | set(m.by_request)
        m.touched_assignments = set(m.assignments) | set(m.by_assignment)
        self.guarded("final lost", lambda: self.check_acknowledged(list(self.ledger.ops)))
        self.guarded("final duplicates", self.check_duplicates)
        now = time.time()
        for rid, r in m.requests.items():
            terminal = sum(m.by_request[rid][a] for a in TERMINAL_ACTIVITIES)
            if r["state"] not in FINAL_REQUEST_STATES:
                self.lost(f"request {rid} is still {r['state']} after draining")
            elif terminal != 1:
                (self.lost if terminal == 0 else self.duplicated)(
                    f"request {rid} ({r['state']}) has {terminal} final audit records: {dict(m.by_request[rid])}")
            if not any(m.by_request[rid][a] for a in CREATE_ACTIVITIES):
                self.lost(f"request {rid} has no audit record of its creation")
        received = defaultdict(set)
        for event in m.events.values():
            received[event_key(event)].add(event["id"])
        for aid, a in m.assignments.items():
            end = epoch(a["schedule"]["expiration"].get("endDateTime")) or 0
            if end <= now and a["state"] != "expired":
                self.lost(f"assignment {aid} ended at {iso(end)} but reads {a['state']}")
            if a["state"] == "expired":
                if sum(m.by_assignment[aid][x] for x in ENDING_ACTIVITIES) != 1:
                    self.lost(f"assignment {aid} is expired with audit records {dict(m.by_assignment[aid])}")
                if len(received[("assignment.ended", aid)]) != 1:
                    self.lost(f"assignment {aid}: {len(received[('assignment.ended', aid)])} "
                              f"expired/removed events received")
            if m.by_assignment[aid][FULFIL] == 1 and len(received[("assignment.delivered", aid)]) != 1:
                self.lost(f"assignment {aid}: {len(received[('assignment.delivered', aid)])} delivered "
                          f"events received")
        for rid, r in m.requests.items():
            meta = m.request_meta.get(rid, {})
            if meta.get("requestType") in UPDATE_TYPES and m.by_request[rid][EXTEND] == 1:
                if len(received[("assignment.extended", rid)]) != 1:
                    self.lost(f"extension {rid}: {len(received[('assignment.extended', rid)])} events received")
        deliveries = self.webhook_deliveries()
        not_delivered = [d for d in deliveries if d["state"] != "delivered"]
        if not_delivered:
            self.lost(f"{len(not_delivered)} webhook deliveries not delivered: {not_delivered[:3]}")
        missing = {d["eventId"] for d in deliveries} - set(m.events)
        if missing:
            self.lost(f"{len(missing)} delivered webhook events never received: {sorted(missing)[:5]}")
        parked = self.server.sql("SELECT kind, subject_id, last_error FROM jobs")
        if parked:
            self.lost(f"jobs left after draining (parked or stuck): {parked[:5]}")
        self.guarded("final grants", self.check_grants)
        for agent in self.world.agents:
            self.guarded("final tokens", lambda agent=agent: self.check_tokens(agent))
        self.stats["webhook deliveries"] = len(deliveries)

    def webhook_deliveries(self) -> list[dict]:
        url = with_query(self.server.url + "/writ/v1/webhookDeliveries", **{"$top": "999"})
        items: list[dict] = []
        while url:
            resp = call("GET", url, token=self.server.token)
            if resp.status != 200:
                raise RuntimeError(f"GET {url}: {resp!r}")
            page = resp.json()
            items.extend(page["value"])
            url = page.get("@odata.nextLink")
        return items

    def audit_command(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRIT_")}
        env.update({"WRIT_AUDIT_KEY_FILE": str(self.workdir / "writ.audit-key"), "NO_COLOR": "1"})
        return subprocess.run([str(writ_binary()), "--database", self.server.database_url, "audit", *args],
                              env=env, capture_output=True, text=True, timeout=600)

    def export_checkpoint(self) -> None:
        path = self.workdir / "audit-export.jsonl"
        proc = self.audit_command("export", "--out", str(path))
        if proc.returncode != 0:
            self.violations.add(self.iteration, "audit", f"writ audit export failed: {proc.stdout}{proc.stderr}")
        else:
            self.checkpoint = path
            self.stats["audit checkpoint exported at iteration"] = self.iteration

    def verify_audit(self, summary: Summary, final: bool = False) -> None:
        args = ["verify"]
        if final and self.checkpoint:
            args += ["--checkpoint", str(self.checkpoint)]
        proc = self.audit_command(*args)
        out = (proc.stdout + proc.stderr).strip()
        self.stats["audit verifications"] += 1
        if proc.returncode != 0 or "intact" not in out:
            self.violations.add(self.iteration, "audit", f"writ audit verify: {out}")
            summary.audit = "BROKEN: " + out.splitlines()[-1] if out else "BROKEN"
        elif final:
            line = next((x for x in out.splitlines() if "intact" in x), out)
            summary.audit = line[line.index("intact"):] + (" (checked against the half-way checkpoint)"
                                                           if self.checkpoint else "")


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Writ's crash loop (issue 14)")
    parser.add_argument("iterations", type=int)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--verify-every", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    # SIGTERM (e.g. a timeout) unwinds like Ctrl-C, so the server is stopped and reported.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if args.iterations < 1:
        parser.error("iterations must be at least 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    workdir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"writ-chaos-{args.backend}-{seed}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"crash loop: {args.iterations} iterations on {args.backend}, seed {seed}, binary "
          f"{writ_binary()}, workdir {workdir}", flush=True)
    summary = Chaos(args.backend, seed, workdir, verify_every=args.verify_every,
                    log=lambda s: print(s, flush=True)).run(args.iterations)
    print(summary.text(), flush=True)
    if args.json:
        args.json.write_text(json.dumps({**summary.__dict__, "ok": summary.ok}, indent=2, default=str))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
