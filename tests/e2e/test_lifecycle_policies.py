"""Lifecycle policies end to end (DESIGN section 17, issue 19 part K), on SQLite and PostgreSQL:
a real `writ serve` whose lifecycle day lasts three seconds (`WRIT_LIFECYCLE_DAY_LENGTH=PT3S`,
allowed by `WRIT_LIFECYCLE_ALLOW_SHORT_DAYS=true`), posting its events to a webhook receiver on
loopback.

Two agents of one sponsor, one of them holding an access package (membership of a group). A
policy asks for re-confirmation every 4 days (12 s) with 1 day (3 s) of grace. Two days in, the
sponsor attests one agent; the other is not attested: its sponsor is notified (`agent.lifecycleNonCompliant`)
when its attestation is overdue, and at the end of the grace period it is disabled — its token
refused, its membership gone, an audit record written, `agent.lifecycleEnforced` sent — while the
attested agent stays enabled and keeps getting tokens. A second scenario does the same for
inactivity: an agent that takes a token every second stays enabled, with its last token time
exact to the second, while one that takes none is notified and disabled. The server also refuses
to start with a short day when the flag is missing.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from test_replicas import Fleet, created, poll
from test_webhooks import SECRET, Receiver, backend, start  # noqa: F401 (backend is a fixture)
from writ_harness import HarnessError, WritServer, http

DAY_S = 3
POLICIES = "identityGovernance/lifecycleWorkflows/lifecyclePolicies"


def agent_credentials(server: WritServer, agent: str) -> tuple[str, str]:
    secret = server.api("POST", f"servicePrincipals/{agent}/addPassword",
                        {"passwordCredential": {"displayName": "e2e"}})
    assert secret.status == 200, repr(secret)
    app_id = server.get_json(f"servicePrincipals/{agent}")["appId"]
    return app_id, secret.json()["secretText"]


def token_reply(server: WritServer, credentials: tuple[str, str]):
    app_id, secret = credentials
    return http("POST", server.url + "/oauth2/v2.0/token", form={
        "grant_type": "client_credentials", "client_id": app_id, "client_secret": secret,
        "scope": "https://graph.microsoft.com/.default"}, cafile=server.ca_file)


def sponsor_token(server: WritServer, prefix: str) -> str:
    reply = http("POST", server.url + "/oauth2/v2.0/token", form={
        "grant_type": "password", "username": f"{prefix}-sponsor@example.org",
        "password": f"a long passphrase {prefix}", "scope": "https://graph.microsoft.com/.default"},
        cafile=server.ca_file)
    assert reply.status == 200, repr(reply)
    return reply.json()["access_token"]


def enabled(server: WritServer, agent: str) -> bool:
    return server.get_json(f"servicePrincipals/{agent}")["accountEnabled"]


def test_an_unattested_agent_is_notified_then_disabled_in_real_seconds(backend, tmp_path):
    sink = Receiver(flaky=False)
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": sink.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_LIFECYCLE_DAY_LENGTH": f"PT{DAY_S}S",
        "WRIT_LIFECYCLE_ALLOW_SHORT_DAYS": "true",
    })
    try:
        prefix = "lifecycle"
        fleet = Fleet(server, prefix)
        sponsor = fleet.sponsor_bind[0].rsplit("/", 1)[1]
        neglected, attested = fleet.agents([server], 2)
        agents_created = datetime.now(timezone.utc)
        neglected_creds = agent_credentials(server, neglected)
        attested_creds = agent_credentials(server, attested)
        access = fleet.policy(server, {"type": "afterDuration", "duration": "P1D"})
        [request] = fleet.assign([server], access, [neglected])
        poll("the delivery", lambda: server.get_json(
            f"identityGovernance/entitlementManagement/assignmentRequests/{request}")["state"] == "delivered", 15)
        assert neglected in fleet.members(server)

        policy = created(server, POLICIES, {
            "@odata.type": "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy",
            "displayName": "Re-confirm every four days",
            "gracePeriodInDays": 1,
            "enforcementAction": {
                "@odata.type": "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction"},
            "rules": [{"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule",
                       "attestationIntervalInDays": 4}],
        })
        assert policy["@odata.type"] == "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy"

        # Two days after the agents' creation (halfway to their due time) the sponsor attests
        # one of them, which moves its due time two days past the other's enforcement.
        time.sleep(max(0.0, (agents_created + timedelta(seconds=2 * DAY_S)
                             - datetime.now(timezone.utc)).total_seconds()))
        reply = http("POST", f"{server.graph}/servicePrincipals/{attested}/attest",
                     token=sponsor_token(server, prefix), json_body={}, cafile=server.ca_file)
        assert reply.status == 204, repr(reply)
        attested_at = datetime.now(timezone.utc)
        lifecycle = server.get_json(f"servicePrincipals/{attested}/lifecycle")
        assert lifecycle["lastAttestationDateTime"] is not None, lifecycle
        assert lifecycle["complianceIssues"] == [], lifecycle

        # The neglected agent's attestation falls due (the agents were created before the
        # policy, so about 12 s after their creation): its sponsor is notified.
        [(notice, noticed)] = poll("the non-compliance notice", lambda: sink.events(
            "agent.lifecycleNonCompliant", "targetId", neglected) or None, 4 * DAY_S + 10)
        assert [r["id"] for r in notice["recipients"]] == [sponsor], notice
        assert notice["data"]["complianceIssues"][0]["issueCode"] == "attestationOverdue", notice
        state = server.get_json(f"servicePrincipals/{neglected}/lifecycle?$expand=effectiveGoverningPolicy")
        assert [i["issueCode"] for i in state["complianceIssues"]] == ["attestationOverdue"], state
        assert state["effectiveGoverningPolicy"]["id"] == policy["id"], state
        assert enabled(server, neglected)
        assert token_reply(server, neglected_creds).status == 200

        # One day of grace later it is disabled: tokens refused, membership gone, audited.
        poll("the enforcement", lambda: not enabled(server, neglected), DAY_S + 10)
        disabled_seen = datetime.now(timezone.utc)
        enforce_at = datetime.fromisoformat(
            notice["data"]["enforcementDateTime"].replace("Z", "+00:00"))
        assert disabled_seen >= enforce_at, (disabled_seen, enforce_at)
        refused = token_reply(server, neglected_creds)
        assert refused.status == 400 and refused.json()["error"] == "unauthorized_client", repr(refused)
        poll("the membership's removal", lambda: neglected not in fleet.members(server), 10)
        rows = server.sql("SELECT COUNT(*) FROM audit_log "
                          "WHERE activity = 'Disable agent identity by lifecycle policy'")
        assert rows == [("1",)], rows
        [(enforced, _)] = poll("the enforcement event", lambda: sink.events(
            "agent.lifecycleEnforced", "targetId", neglected) or None, 10)
        assert [r["id"] for r in enforced["recipients"]] == [sponsor], enforced

        # The attested agent (due four days after its attestation, enforced a day later) is
        # enabled and signs in; before its own due time it was not even notified.
        checked = datetime.now(timezone.utc)
        assert checked < attested_at + timedelta(seconds=5 * DAY_S), \
            "the scenario ran too slowly to check the attested agent before its own enforcement"
        assert enabled(server, attested)
        assert token_reply(server, attested_creds).status == 200
        if checked < attested_at + timedelta(seconds=4 * DAY_S):
            assert sink.events("agent.lifecycleNonCompliant", "targetId", attested) == []
        # The notice came at the due time, four days after the agents' creation (not before).
        noticed_at = datetime.fromtimestamp(noticed, timezone.utc)
        assert agents_created + timedelta(seconds=4 * DAY_S - 1) < noticed_at, (agents_created, noticed_at)
    finally:
        server.stop()
        sink.close()


def test_an_idle_agent_is_disabled_and_one_taking_tokens_stays_enabled(backend, tmp_path):
    sink = Receiver(flaky=False)
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": sink.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_LIFECYCLE_DAY_LENGTH": f"PT{DAY_S}S",
        "WRIT_LIFECYCLE_ALLOW_SHORT_DAYS": "true",
    })
    try:
        prefix = "inactivity"
        fleet = Fleet(server, prefix)
        sponsor = fleet.sponsor_bind[0].rsplit("/", 1)[1]
        idle, busy = fleet.agents([server], 2)
        idle_creds = agent_credentials(server, idle)
        busy_creds = agent_credentials(server, busy)
        created(server, POLICIES, {
            "@odata.type": "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy",
            "displayName": "Used within two days",
            "gracePeriodInDays": 1,
            "enforcementAction": {
                "@odata.type": "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction"},
            "rules": [{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule",
                       "lastActivityThresholdInDays": 2}],
        })

        # The busy agent takes a token every second until the idle one (no token since its
        # creation: inactive two days, 6 s, after it) has been disabled a day (3 s) later.
        give_up = time.monotonic() + 3 * DAY_S + 20
        while enabled(server, idle):
            assert time.monotonic() < give_up, "the idle agent was never disabled"
            before = datetime.now(timezone.utc)
            assert token_reply(server, busy_creds).status == 200
            after = datetime.now(timezone.utc)
            time.sleep(1)

        # Its last token time is the instant of the last token, to the second.
        activity = server.get_json(
            f"servicePrincipals/{busy}?$select=id,signInActivity")["signInActivity"]
        last = datetime.fromisoformat(activity["lastSignInDateTime"].replace("Z", "+00:00"))
        assert before.replace(microsecond=0) <= last <= after, (before, last, after)
        assert server.get_json(
            f"servicePrincipals/{idle}?$select=id,signInActivity"
        )["signInActivity"]["lastSignInDateTime"] is None

        [(notice, _)] = sink.events("agent.lifecycleNonCompliant", "targetId", idle)
        assert [r["id"] for r in notice["recipients"]] == [sponsor], notice
        assert notice["data"]["complianceIssues"][0]["issueCode"] == "inactive", notice
        refused = token_reply(server, idle_creds)
        assert refused.status == 400 and refused.json()["error"] == "unauthorized_client", repr(refused)
        poll("the enforcement event", lambda: sink.events(
            "agent.lifecycleEnforced", "targetId", idle) or None, 10)

        assert enabled(server, busy)
        assert token_reply(server, busy_creds).status == 200
        assert sink.events("agent.lifecycleNonCompliant", "targetId", busy) == []
        state = server.get_json(f"servicePrincipals/{busy}/lifecycle")
        assert state["complianceIssues"] == [], state
    finally:
        server.stop()
        sink.close()


def test_a_short_day_needs_the_explicit_flag(backend, tmp_path):
    with pytest.raises(HarnessError) as refused:
        WritServer.start(backend, tmp_path, env={"WRIT_LIFECYCLE_DAY_LENGTH": "PT3S"})
    assert "allow_short_days" in str(refused.value), refused.value
