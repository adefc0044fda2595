"""Replicas and crashes (DESIGN sections 5 and 7, invariants 1-5): real `writ serve` processes,
plain HTTP, and the database read directly for what the API does not count.

1. Two processes on one PostgreSQL database (`test_two_replicas_expire_a_thousand_at_one_instant`):
   1,000 agent identities are assigned one access package (membership of one group) through both
   processes, under a policy whose assignments all end at one instant. Right after it no agent is
   a member any more; then each assignment is recorded `expired` exactly once (one `systemRemove`
   request, one "expired" audit record, one `assignment.expired` event), its grant row is gone,
   the queue is empty, and the job-pass logs of both processes show that each did part of the
   work. Two processes on one SQLite file are not a supported deployment (SQLite has one writer;
   replicas need PostgreSQL), so this test runs on PostgreSQL only.

2. SIGKILL in the middle of a batch (`test_sigkill_during_deliveries_and_expiries`, SQLite and
   PostgreSQL): in each of three rounds 100 delivered assignments end at an instant T while 100
   scheduled requests start at T (and end 4 s later); the process is SIGKILLed at a different
   point after T each round, restarted on the same database, and once the work has settled the
   invariants are checked over everything done so far: no request stuck, every live assignment
   holds its grants exactly once, no ended assignment holds any, and nothing was recorded twice.
   The job lease is set to 2 s (`WRIT_JOB_LEASE`) so that the jobs the killed process held are
   claimed again soon after the restart rather than after the default minute.

3. SIGKILL of one of two replicas (`test_a_killed_replicas_work_is_taken_over`, PostgreSQL): the
   same storm of 100 expiries and 100 deliveries at T, replica B killed while both workers hold
   leases; replica A alone finishes the work, B's jobs once their 2 s lease has lapsed, and the
   same invariants hold.

Each test prints what it measured (run with `-s` to see it): durations, how the work was split
between the processes, how far the work had got at each kill.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import pytest

from writ_harness import SHUTDOWN_TIMEOUT_S, HarnessError, WritServer

EM = "identityGovernance/entitlementManagement"
HTTP_THREADS = 8
JOB_LOG = {"WRIT_LOG": "info,writ_runtime::job_worker=debug"}
OPEN_STATES = ("submitted", "pendingApproval", "scheduled", "delivering")
ROLE_ID = "0f5a1c2e-7d3b-4e6f-9a8b-1c2d3e4f5a6b"


# --------------------------------------------------------------------------------------------
# Helpers


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def instant_in(seconds: float) -> datetime:
    """The first whole second at least `seconds` from now (assignments end on whole seconds)."""
    at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return at.replace(microsecond=0) + timedelta(seconds=1 if at.microsecond else 0)


def micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def created(server: WritServer, path: str, body: dict) -> dict:
    """POST that must answer 201; returns the created object."""
    resp = server.api("POST", path, body)
    assert resp.status == 201, f"POST {path} on {server.url}: {resp!r}"
    return resp.json()


def parallel(calls: Iterable[Callable[[], dict]]) -> list[dict]:
    """Runs the calls on a few threads (the server is the bottleneck, not the client)."""
    with ThreadPoolExecutor(max_workers=HTTP_THREADS) as pool:
        return list(pool.map(lambda call: call(), list(calls)))


def poll(what: str, check: Callable[[], object], deadline_s: float, pause: float = 0.2):
    """Calls `check` until it returns something truthy; fails after `deadline_s` seconds."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {deadline_s:.0f} s"
        time.sleep(pause)


def sleep_until(at: datetime) -> None:
    """Waits for an instant of the scenario (not for work: work is always polled)."""
    remaining = (at - datetime.now(timezone.utc)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)


def count(server: WritServer, query: str) -> int:
    return int(server.sql(query)[0][0])


def in_list(ids: Sequence[str]) -> str:
    return "(" + ",".join(f"'{i}'" for i in ids) + ")"


class Fleet:
    """A sponsor, an agent blueprint, and a group delivered by one access package (with, when
    `with_app_role`, an app role of an API as well) in one catalog."""

    def __init__(self, server: WritServer, prefix: str, with_app_role: bool = False):
        self.prefix = prefix
        sponsor = created(server, "users", {
            "displayName": f"{prefix} sponsor", "userPrincipalName": f"{prefix}-sponsor@example.org",
            "mailNickname": f"{prefix}-sponsor", "accountEnabled": True,
            "passwordProfile": {"password": f"a long passphrase {prefix}"}})
        self.sponsor_bind = [f"{server.graph}/users/{sponsor['id']}"]
        blueprint = created(server, "applications", {
            "@odata.type": "#microsoft.graph.agentIdentityBlueprint",
            "displayName": f"{prefix} blueprint", "sponsors@odata.bind": self.sponsor_bind})
        self.blueprint_app_id = blueprint["appId"]
        created(server, "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
                {"appId": self.blueprint_app_id})
        self.group = created(server, "groups", {
            "displayName": f"{prefix} tools", "mailEnabled": False, "mailNickname": f"{prefix}tools",
            "securityEnabled": True})["id"]
        self.catalog = created(server, f"{EM}/catalogs", {"displayName": f"{prefix} catalog"})["id"]
        created(server, f"{EM}/resourceRequests", {
            "requestType": "adminAdd", "catalog": {"id": self.catalog},
            "resource": {"originId": self.group, "originSystem": "AadGroup"}})
        wanted = ["Member"]
        if with_app_role:
            api = created(server, "applications", {
                "displayName": f"{prefix} API",
                "appRoles": [{"id": ROLE_ID, "allowedMemberTypes": ["Application"], "value": "Tools.Use",
                              "displayName": "Use tools", "description": "Use", "isEnabled": True}]})
            api_sp = created(server, "servicePrincipals", {"appId": api["appId"]})["id"]
            created(server, f"{EM}/resourceRequests", {
                "requestType": "adminAdd", "catalog": {"id": self.catalog},
                "resource": {"originId": api_sp, "originSystem": "AadApplication"}})
            wanted.append(ROLE_ID)
        self.package = created(server, f"{EM}/accessPackages", {
            "displayName": f"{prefix} package", "catalog": {"id": self.catalog}})["id"]
        roles = server.get_json(f"{EM}/catalogs/{self.catalog}/resourceRoles")["value"]
        for role in roles:
            if role["displayName"] in wanted or role["originId"] in wanted:
                created(server, f"{EM}/accessPackages/{self.package}/resourceRoleScopes",
                        {"role": {"id": role["id"]}})
        self.grants_per_assignment = len(wanted)

    def agents(self, servers: Sequence[WritServer], n: int) -> list[str]:
        """`n` agent identities, created round-robin through `servers`."""
        def make(i: int) -> Callable[[], dict]:
            return lambda: created(servers[i % len(servers)], "servicePrincipals", {
                "@odata.type": "#microsoft.graph.agentIdentity",
                "displayName": f"{self.prefix}-agent-{i}",
                "agentIdentityBlueprintId": self.blueprint_app_id,
                "sponsors@odata.bind": self.sponsor_bind})
        return [agent["id"] for agent in parallel(make(i) for i in range(n))]

    def policy(self, server: WritServer, expiration: dict) -> str:
        return created(server, f"{EM}/assignmentPolicies", {
            "displayName": f"{self.prefix} agents", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": expiration,
            "requestApprovalSettings": {"isApprovalRequiredForAdd": False,
                                        "isApprovalRequiredForUpdate": False, "stages": []},
            "accessPackage": {"id": self.package}})["id"]

    def assign(self, servers: Sequence[WritServer], policy: str, targets: Sequence[str],
               schedule: Optional[dict] = None) -> list[str]:
        """`adminAdd` for each target, round-robin through `servers`; returns the request ids."""
        def make(i: int, target: str) -> Callable[[], dict]:
            body = {"requestType": "adminAdd", "assignment": {
                "targetId": target, "assignmentPolicyId": policy, "accessPackageId": self.package}}
            if schedule:
                body["schedule"] = schedule
            return lambda: created(servers[i % len(servers)], f"{EM}/assignmentRequests", body)
        requests = parallel(make(i, t) for i, t in enumerate(targets))
        assert all(r["state"] == "submitted" for r in requests)
        return [r["id"] for r in requests]

    def members(self, server: WritServer) -> set[str]:
        return {m["id"] for m in server.get_all(f"groups/{self.group}/members")}


def audit_assignment_ids(server: WritServer, activity: str) -> list[str]:
    """The `assignmentId` named in each audit record of this activity (one entry per record)."""
    ids = []
    for (details,) in server.sql(
            f"SELECT additional_details FROM audit_log WHERE activity = '{activity}'"):
        parsed = json.loads(details)
        pairs = parsed.items() if isinstance(parsed, dict) else parsed
        ids.extend(value for key, value in pairs if key == "assignmentId")
    return ids


def event_assignment_ids(server: WritServer, event_type: str) -> list[str]:
    return [json.loads(data)["assignmentId"] for (data,) in server.sql(
        f"SELECT data FROM outbox_events WHERE event_type = '{event_type}'")]


def duplicates(ids: Iterable[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    return {i: n for i, n in seen.items() if n > 1}


_PASS = re.compile(r"job pass.*completed: (\d+), retried: (\d+), parked: (\d+)")


def job_passes(log: Path, offset: int) -> tuple[int, int, int]:
    """Completed, retried and parked jobs in the worker's pass reports written after `offset`."""
    totals = [0, 0, 0]
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            m = _PASS.search(line)
            if m:
                totals = [t + int(v) for t, v in zip(totals, m.groups())]
    return totals[0], totals[1], totals[2]


def stop_all(servers: Sequence[WritServer]) -> list[str]:
    """SIGTERM each (replicas first: the first server owns the database); returns problems.
    A process the test killed on purpose is not asked to exit cleanly."""
    problems = []
    for server in reversed(servers):
        crashed = server.process is not None and server.process.returncode == -9
        status = server.stop()
        if status != 0 and not crashed:
            problems.append(f"{server.name} ({server.backend}) exited with {status} after SIGTERM "
                            f"(expected 0 within {SHUTDOWN_TIMEOUT_S:.0f} s):\n{server.stderr_tail()}")
    return problems


# --------------------------------------------------------------------------------------------
# 1. Two replicas, 1,000 assignments ending at one instant.

REPLICA_ASSIGNMENTS = 1000


def two_processes(tmp_path: Path, env: dict[str, str]):
    """Two `writ serve` processes on one fresh PostgreSQL database; stopped (SIGTERM, exit 0
    expected of each one still running) afterwards."""
    servers: list[WritServer] = []
    try:
        servers.append(WritServer.start("postgres", tmp_path, env=env))
        servers.append(servers[0].replica("writ-serve-b"))
    except HarnessError as err:
        stop_all(servers)
        pytest.fail(f"[postgres] cannot start two writ serve processes: {err}", pytrace=False)
    yield servers
    problems = stop_all(servers)
    assert not problems, "\n".join(problems)


@pytest.fixture
def replicas(tmp_path):
    yield from two_processes(tmp_path, JOB_LOG)


def test_two_replicas_expire_a_thousand_at_one_instant(replicas):
    a, b = replicas
    n = REPLICA_ASSIGNMENTS
    fleet = Fleet(a, "rep" + secrets.token_hex(3))

    began = time.monotonic()
    agents = fleet.agents(replicas, n)
    creating = time.monotonic() - began
    # The instant must leave time to submit and deliver every assignment; submitting costs about
    # what creating the agents did. Generous, so that a slow machine is not a failure.
    end = instant_in(max(10.0, 2.5 * creating + 5))
    policy = fleet.policy(a, {"type": "afterDateTime", "endDateTime": iso(end)})
    fleet.assign(replicas, policy, agents)
    poll(f"delivery of {n} assignments",
         lambda: count(a, "SELECT count(*) FROM assignments WHERE state = 'delivered'") == n,
         deadline_s=max(5.0, (end - datetime.now(timezone.utc)).total_seconds() - 1))
    delivered_at = time.monotonic()
    assert datetime.now(timezone.utc) < end, "delivery did not finish before the end instant"
    assert len(fleet.members(a)) == n
    offsets = [s.stderr_path.stat().st_size for s in replicas]

    # At the instant the access is gone, whatever the workers have recorded yet (invariant 2).
    sleep_until(end)
    members_after_end = fleet.members(b)
    checked = (datetime.now(timezone.utc) - end).total_seconds()
    assert members_after_end == set(), (
        f"{len(members_after_end)} agents still members {checked:.3f} s after the end instant")

    poll(f"all {n} assignments recorded expired",
         lambda: count(a, "SELECT count(*) FROM assignments WHERE state = 'expired'") == n,
         deadline_s=60)
    recorded = (datetime.now(timezone.utc) - end).total_seconds()
    poll("an empty job queue", lambda: count(a, "SELECT count(*) FROM jobs") == 0, deadline_s=10)

    # Each recorded once.
    rows = a.sql("SELECT id, status, expired_at, end_at FROM assignments")
    assert len(rows) == n
    ids = [r[0] for r in rows]
    assert {r[1] for r in rows} == {"Expired"}
    assert all(r[2] == r[3] == str(micros(end)) for r in rows), "expiredDateTime is the end instant"
    removals = [r[0] for r in a.sql(
        "SELECT assignment_id FROM assignment_requests WHERE request_type = 'systemRemove'")]
    assert sorted(removals) == sorted(ids), f"systemRemove requests: duplicates {duplicates(removals)}"
    expired_audit = audit_assignment_ids(a, "Access package assignment expired")
    assert sorted(expired_audit) == sorted(ids), f"audit duplicates {duplicates(expired_audit)}"
    expired_events = event_assignment_ids(a, "assignment.expired")
    assert sorted(expired_events) == sorted(ids), f"event duplicates {duplicates(expired_events)}"
    # Each grant released (the holder's rows gone; a row cannot be deleted twice).
    assert count(a, "SELECT count(*) FROM group_members WHERE holder <> 'direct'") == 0
    assert fleet.members(a) == set()

    # Both processes did part of the work (their workers' pass reports after the instant).
    done = [job_passes(s.stderr_path, off) for s, off in zip(replicas, offsets)]
    print(f"\n[replicas] {n} agents created in {creating:.1f} s, assigned and delivered in "
          f"{delivered_at - began - creating:.1f} s; no member {checked:.3f} s after the instant; "
          f"all recorded expired {recorded:.2f} s after it; jobs completed/retried/parked per "
          f"process: {done}")
    assert all(d[0] > 0 for d in done), f"each process completes some expiries: {done}"
    assert sum(d[0] for d in done) >= n, done
    assert all(d[2] == 0 for d in done), f"no job parked: {done}"


# --------------------------------------------------------------------------------------------
# 2. SIGKILL during a batch of deliveries and expiries, then restart.

CRASH_WAVE = 250
CRASH_LEASE = {"WRIT_JOB_LEASE": "PT2S"}
# From one instant T to the next: room for the kill, the restart, the lease to run out, the
# work to settle, the checks and the next wave's requests (7 s overran on a VM with half the
# usual raw rates, 2026-12-08).
ROUND = timedelta(seconds=12)
# How long after T each round's SIGKILL comes, drawn from these windows: as the storm starts,
# in its middle, near its end. Since the storm's rows are written set-wise (issue 20), the 500
# jobs take about 0.15-0.3 s on SQLite and 0.3-0.4 s on PostgreSQL in a debug build on 2 cores
# (kills at T + 0.07-0.18 s found 250-300 done on both); a later window found SQLite finished.
KILL_WINDOWS_S = ((0.0, 0.05), (0.05, 0.12), (0.12, 0.25))
# Rounds added when none of those kills found the storm under way: on a machine slower (or
# faster) than the windows assume, each extra kill comes twice as late (or half as early) as the
# last, until one lands in the middle of a batch. A VM with half the usual raw rates (2026-12-08)
# had not committed its first batch by T + 0.12 s on PostgreSQL.
EXTRA_KILLS = 3


@pytest.fixture(params=("sqlite", "postgres"))
def crashable(request, tmp_path):
    try:
        server = WritServer.start(request.param, tmp_path, env={**JOB_LOG, **CRASH_LEASE})
    except HarnessError as err:
        pytest.fail(f"[{request.param}] cannot start writ serve: {err}", pytrace=False)
    yield server
    problems = stop_all([server])
    assert not problems, "\n".join(problems)


def settled(server: WritServer) -> bool:
    """No job due by now is left (done jobs are deleted), no request open, nothing that has
    ended still unrecorded."""
    now = micros(datetime.now(timezone.utc))
    return count(server, "SELECT "
                 f"(SELECT count(*) FROM jobs WHERE due_at <= {now}) + "
                 f"(SELECT count(*) FROM assignment_requests WHERE state IN {in_list(OPEN_STATES)}) + "
                 f"(SELECT count(*) FROM assignments WHERE state <> 'expired' AND end_at <= {now})") == 0


def check_invariants(server: WritServer, fleet: Fleet) -> dict[str, int]:
    """Invariants 1-5 over the whole database, once the work due so far has settled."""
    now = micros(datetime.now(timezone.utc))
    stuck = server.sql(
        f"SELECT id, state FROM assignment_requests WHERE state IN {in_list(OPEN_STATES)}")
    assert stuck == [], f"requests stuck: {stuck}"
    adds = server.sql(
        "SELECT id, state, assignment_id FROM assignment_requests WHERE request_type = 'adminAdd'")
    assert {r[1] for r in adds} == {"delivered"}, "every request delivered"
    assignments = {r[0]: r for r in server.sql(
        "SELECT id, state, status, end_at, expired_at FROM assignments")}
    # One assignment per request, none without one.
    assert sorted(r[2] for r in adds) == sorted(assignments), "one assignment per delivered request"

    grants: dict[str, int] = {}
    for (holder,) in server.sql(
            "SELECT holder FROM group_members WHERE holder <> 'direct' "
            "UNION ALL SELECT holder FROM app_role_assignments WHERE holder <> 'direct'"):
        grants[holder] = grants.get(holder, 0) + 1
    ended = [i for i, r in assignments.items() if int(r[3]) <= now]
    live = [i for i, r in assignments.items() if int(r[3]) > now]
    for i in ended:
        _, state, status, end_at, expired_at = assignments[i]
        assert (state, status, expired_at) == ("expired", "Expired", end_at), assignments[i]
        assert grants.get(i, 0) == 0, f"ended assignment {i} still holds {grants[i]} grants"
    for i in live:
        assert assignments[i][1] == "delivered", assignments[i]
        assert grants.get(i, 0) == fleet.grants_per_assignment, \
            f"live assignment {i} holds {grants.get(i, 0)} grants"
    assert set(grants) <= set(live), "grants held only by live assignments"

    # Nothing recorded twice.
    removals = [r[0] for r in server.sql(
        "SELECT assignment_id FROM assignment_requests WHERE request_type = 'systemRemove'")]
    assert sorted(removals) == sorted(ended), f"systemRemove: duplicates {duplicates(removals)}"
    for name, recorded, expected in (
        ("expired audit", audit_assignment_ids(server, "Access package assignment expired"), ended),
        ("expired events", event_assignment_ids(server, "assignment.expired"), ended),
        ("delivery audit", audit_assignment_ids(server, "Fulfill access package assignment request"),
         list(assignments)),
        ("delivered events", event_assignment_ids(server, "assignment.delivered"), list(assignments)),
    ):
        assert sorted(recorded) == sorted(expected), f"{name}: duplicates {duplicates(recorded)}"
    parked = server.sql("SELECT kind, subject_id, last_error FROM jobs WHERE parked_at IS NOT NULL")
    assert parked == [], f"parked jobs: {parked}"
    return {"assignments": len(assignments), "ended": len(ended), "live": len(live)}


def test_sigkill_during_deliveries_and_expiries(crashable):
    server = crashable
    fleet = Fleet(server, "kil" + secrets.token_hex(3), with_app_role=True)
    policy = fleet.policy(server, {"type": "afterDuration", "duration": "PT1H"})
    agents = fleet.agents([server], 2 * CRASH_WAVE)
    waves = (agents[:CRASH_WAVE], agents[CRASH_WAVE:])
    # Room to submit and deliver the first wave before T (5 s was not, on a VM with half the
    # usual raw rates with the other e2e tests beside it, 2026-12-08).
    t = instant_in(15)
    fleet.assign([server], policy, waves[0], {"expiration": {"type": "afterDateTime", "endDateTime": iso(t)}})
    done_at_kill, slack = [], []

    delays = []
    for n in range(len(KILL_WINDOWS_S) + EXTRA_KILLS):
        if n < len(KILL_WINDOWS_S):
            delay = round(random.uniform(*KILL_WINDOWS_S[n]), 3)
        elif any(0 < d < 2 * CRASH_WAVE for d in done_at_kill):
            break
        else:
            delay = round(max(delays[-1], 0.05) * 2 if done_at_kill[-1] == 0 else delays[-1] / 2, 3)
        delays.append(delay)
        # At T one wave's assignments end while the other wave's requests start (until the next T).
        ending, starting = waves[n % 2], waves[(n + 1) % 2]
        next_t = t + ROUND
        fleet.assign([server], policy, starting, {
            "startDateTime": iso(t), "expiration": {"type": "afterDateTime", "endDateTime": iso(next_t)}})
        poll("delivery of the wave that ends at T", lambda: count(
            server, "SELECT count(*) FROM assignments WHERE state = 'delivered' "
                    f"AND end_at = {micros(t)}") == CRASH_WAVE, deadline_s=30)
        slack.append(round((t - datetime.now(timezone.utc)).total_seconds(), 1))
        assert slack[-1] > 0, "round overran: the next wave was not ready before T"

        sleep_until(t + timedelta(seconds=delay))
        server.crash()
        done_at_kill.append(int(server.sql(
            f"SELECT (SELECT count(*) FROM assignments WHERE state = 'expired' AND end_at = {micros(t)})"
            f" + (SELECT count(*) FROM assignments WHERE start_at >= {micros(t)})")[0][0]))

        server.restart()
        # Straight after the restart, before the worker has caught up, no ended access is read.
        assert not fleet.members(server) & set(ending), "an assignment that ended at T still grants"
        poll("the work to settle after the restart", lambda: settled(server), deadline_s=30)
        totals = check_invariants(server, fleet)
        assert totals["live"] == CRASH_WAVE, totals
        assert fleet.members(server) == set(starting)
        t = next_t

    print(f"\n[{server.backend}] SIGKILL at T + {delays} s; jobs done of {2 * CRASH_WAVE} "
          f"({CRASH_WAVE} expiries, {CRASH_WAVE} deliveries) when killed: {done_at_kill}; "
          f"seconds to spare before each T: {slack}")
    assert totals["assignments"] == CRASH_WAVE * (1 + len(delays)), totals
    # At least one kill landed in the middle of the storm: the test crashed a batch.
    assert any(0 < d < 2 * CRASH_WAVE for d in done_at_kill), done_at_kill


# --------------------------------------------------------------------------------------------
# 3. SIGKILL of one replica during a batch: the other takes its jobs over when the lease lapses.


@pytest.fixture
def leased_replicas(tmp_path):
    yield from two_processes(tmp_path, {**JOB_LOG, **CRASH_LEASE})


def test_a_killed_replicas_work_is_taken_over(leased_replicas):
    a, b = leased_replicas
    # Three crash waves: the faster delivery and expiry passes finish one wave's 200 jobs
    # before the queue can be watched (a psql round trip per look), and the kill must land
    # while both workers hold leases.
    wave = 3 * CRASH_WAVE
    fleet = Fleet(a, "tko" + secrets.token_hex(3), with_app_role=True)
    policy = fleet.policy(a, {"type": "afterDuration", "duration": "PT1H"})
    agents = fleet.agents(leased_replicas, 2 * wave)
    ending, starting = agents[:wave], agents[wave:]
    # Both waves' requests and the first wave's delivery must be done before T: 8 s was enough
    # until a VM with half the usual raw rates (2026-12-08) was still submitting the first wave
    # at T. The wait for T after the delivery is the price on a faster machine.
    t = instant_in(25)
    fleet.assign(leased_replicas, policy, ending,
                 {"expiration": {"type": "afterDateTime", "endDateTime": iso(t)}})
    fleet.assign(leased_replicas, policy, starting, {
        "startDateTime": iso(t), "expiration": {"type": "afterDateTime", "endDateTime": iso(t + ROUND)}})
    poll("delivery of the wave that ends at T", lambda: count(
        a, f"SELECT count(*) FROM assignments WHERE state = 'delivered' AND end_at = {micros(t)}"
    ) == wave, deadline_s=max(30.0, (t - datetime.now(timezone.utc)).total_seconds() + 1))
    assert datetime.now(timezone.utc) < t, "the first wave was not delivered before T"
    offset = b.stderr_path.stat().st_size

    # Both workers are in the middle of a batch: each holds leases. The moment is caught by
    # watching the queue from T (a batch can be done in tens of milliseconds), and B is killed
    # as soon as it is seen. (Which owner is B cannot be told from the table; B's log shows
    # whether it had finished a pass when it was killed.)
    sleep_until(t)
    leases = {}
    watch_until = time.monotonic() + 3
    while time.monotonic() < watch_until:
        leases = dict(a.sql("SELECT lease_owner, count(*) FROM jobs WHERE lease_owner IS NOT NULL "
                            "AND lease_until > " + str(micros(datetime.now(timezone.utc))) +
                            " GROUP BY lease_owner"))
        if len(leases) == 2:
            break
    b.crash()
    delay = round((datetime.now(timezone.utc) - t).total_seconds(), 3)
    assert len(leases) == 2, f"both workers held leases just before B was killed: {leases}"
    assert not fleet.members(a) & set(ending), "an assignment that ended at T still grants"
    poll("the surviving replica to finish the work", lambda: settled(a), deadline_s=30)
    totals = check_invariants(a, fleet)
    assert totals == {"assignments": 2 * wave, "ended": wave, "live": wave}, totals
    assert fleet.members(a) == set(starting)
    # B's leased jobs were due at T, so the queue settled only once A had claimed them again
    # after the lease ran out.
    print(f"\n[takeover] replica B SIGKILLed at T + {delay} s; jobs leased per worker just before: "
          f"{sorted(leases.values())}; B's completed passes before: {job_passes(b.stderr_path, offset)}")
