"""The MCP server at `/mcp` (issue 18) driven by the official Python `mcp` SDK's streamable HTTP
client against a real `writ serve`, on SQLite and on PostgreSQL: the issue's acceptance scenario.

An agent holding its own client-credentials token connects (the SDK negotiates the protocol: it
probes the stateless `server/discover` first and falls back to the `initialize` handshake Writ
serves) and lists the tools with their schemas. `check_access` on a group says no and names the
package that grants it ("Ticket tools": the group's membership and an app role of an API), with
what its policy asks; `describe_package` says the same (a sponsor's approval, a justification);
`request_access` without a justification is refused with the domain's reason, with one it is
submitted. The sponsor approves through the Graph API, the server's own worker delivers, and one
`get_request` with `wait_seconds` answers `delivered` within a second of the delivery (read from
the request's `completedDateTime`). `check_access` then says yes, and a token for the API now
carries the role. `release_access` ends it: `check_access` says no and a new token has no role
at once. Without a token the endpoint answers 401 with `WWW-Authenticate` naming its RFC 9728
metadata, which names Writ's issuer."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from datetime import datetime

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from test_agents_sdk import GRAPH_SCOPE, token_for
from test_catalogs_sdk import password_token
from writ_harness import http

EM = "identityGovernance/entitlementManagement"
TICKETS_ROLE_ID = "5b0c7a7e-4c1e-4f0e-9a57-0d1c3e2f6a11"
TICKETS_ROLE = "Tickets.Work"
# How long the worker may take to route and to deliver (it is woken at once; this is slack).
WINDOW_S = 10.0


def created(writ, path: str, body: dict) -> dict:
    resp = writ.api("POST", path, body)
    assert resp.status == 201, f"POST {path}: {resp!r}"
    return resp.json()


def world(writ, prefix: str) -> dict:
    """A sponsor, its agent with a secret, and package "Ticket tools" (membership of a group)
    under a policy agents request themselves, a sponsor approves, with a justification."""
    password = f"a long passphrase {prefix}"
    sponsor = created(writ, "users", {
        "displayName": f"{prefix} sponsor", "userPrincipalName": f"{prefix}-sponsor@example.org",
        "mailNickname": f"{prefix}-sponsor", "accountEnabled": True,
        "passwordProfile": {"password": password}})
    bind = {"sponsors@odata.bind": [f"{writ.graph}/users/{sponsor['id']}"]}
    blueprint = created(writ, "applications", {
        "@odata.type": "#microsoft.graph.agentIdentityBlueprint",
        "displayName": f"{prefix} blueprint", **bind})
    created(writ, "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
            {"appId": blueprint["appId"]})
    agent = created(writ, "servicePrincipals", {
        "@odata.type": "#microsoft.graph.agentIdentity", "displayName": f"{prefix}-agent",
        "agentIdentityBlueprintId": blueprint["appId"], **bind})
    secret = writ.api("POST", f"servicePrincipals/{agent['id']}/addPassword",
                      {"passwordCredential": {"displayName": "mcp"}})
    assert secret.status == 200, secret
    group = created(writ, "groups", {
        "displayName": f"{prefix} ticket tools", "mailNickname": f"{prefix}-tickets",
        "mailEnabled": False, "securityEnabled": True})
    api = created(writ, "applications", {
        "displayName": f"{prefix} tickets API",
        "appRoles": [{"id": TICKETS_ROLE_ID, "allowedMemberTypes": ["Application"],
                      "value": TICKETS_ROLE, "displayName": "Work tickets",
                      "description": "Work tickets", "isEnabled": True}]})
    api_sp = created(writ, "servicePrincipals", {"appId": api["appId"]})
    catalog = created(writ, f"{EM}/catalogs", {"displayName": f"{prefix} support"})
    for origin, system in ((group["id"], "AadGroup"), (api_sp["id"], "AadApplication")):
        created(writ, f"{EM}/resourceRequests", {
            "requestType": "adminAdd", "catalog": {"id": catalog["id"]},
            "resource": {"originId": origin, "originSystem": system}})
    package = created(writ, f"{EM}/accessPackages",
                      {"displayName": "Ticket tools", "catalog": {"id": catalog["id"]}})
    roles = writ.get_json(f"{EM}/catalogs/{catalog['id']}/resourceRoles")["value"]
    member = next(r for r in roles if r["originId"] == f"Member_{group['id']}")
    app_role = next(r for r in roles if r["originId"] == TICKETS_ROLE_ID)
    for role in (member, app_role):
        created(writ, f"{EM}/accessPackages/{package['id']}/resourceRoleScopes",
                {"role": {"id": role["id"]}})
    created(writ, f"{EM}/assignmentPolicies", {
        "displayName": "Agents, approved by a sponsor",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT8H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": True,
                              "enableTargetsToSelfRemoveAccess": True},
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": True, "isRequestorJustificationRequired": True,
            "stages": [{"durationBeforeAutomaticDenial": "P7D", "primaryApprovers": [
                {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]}]},
        "accessPackage": {"id": package["id"]}})
    agent_secret = secret.json()["secretText"]
    agent_token = token_for(writ, agent["appId"], agent_secret, GRAPH_SCOPE)
    return {
        "agent": agent, "agent_token": agent_token["access_token"], "group": group,
        "package": package, "agent_secret": agent_secret, "api": api, "api_sp": api_sp,
        "sponsor_token": password_token(writ, f"{prefix}-sponsor@example.org", password),
    }


def iso_seconds(text: str) -> float:
    """An ISO 8601 UTC instant (Graph's `…Z`, fractions kept) as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def structured(result) -> dict:
    """The structured content of a successful tool result, which its text content repeats."""
    assert not result.is_error, result
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def member_ids(writ, group_id: str) -> set[str]:
    return {m["id"] for m in writ.get_json(f"groups/{group_id}/members")["value"]}


def approve(writ, sponsor_token: str, request_id: str) -> None:
    """The sponsor approves the request's stage through the Graph API, once it is routed."""
    approvals = f"{writ.graph}/{EM}/accessPackageAssignmentApprovals/{request_id}/stages"
    deadline = time.monotonic() + WINDOW_S
    while True:
        stages = http("GET", approvals, token=sponsor_token)
        if stages.status == 200 and stages.json()["value"]:
            break
        assert time.monotonic() < deadline, f"no stage to decide: {stages!r}"
        time.sleep(0.1)
    stage = stages.json()["value"][0]["id"]
    resp = http("PATCH", f"{approvals}/{stage}", token=sponsor_token,
                json_body={"reviewResult": "Approve", "justification": "fine"})
    assert resp.status == 204, resp


def test_an_agent_requests_access_through_mcp(writ):
    prefix = "mcp" + secrets.token_hex(3)
    w = world(writ, prefix)
    package_id = w["package"]["id"]

    async def scenario():
        headers = {"Authorization": f"Bearer {w['agent_token']}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http_client:
            transport = streamable_http_client(f"{writ.url}/mcp", http_client=http_client)
            async with Client(transport) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert set(tools) == {
                    "check_access", "list_requestable_packages", "describe_package",
                    "request_access", "get_request", "list_my_access", "extend_access",
                    "release_access"}
                for tool in tools.values():
                    assert tool.input_schema["type"] == "object", tool
                    assert tool.output_schema["type"] == "object", tool

                # Denied, and told which package would grant it and what its policy asks.
                membership = {"resource": {"type": "group", "id": w["group"]["id"]},
                              "action": {"name": "member"}}
                denied = structured(await client.call_tool("check_access", membership))
                assert denied["decision"] is False, denied
                [offer] = denied["context"]["requestable"]
                assert offer["accessPackageId"] == package_id, denied
                assert offer["isApprovalRequired"] is True, offer
                assert offer["isRequestorJustificationRequired"] is True, offer

                listed = structured(await client.call_tool("list_requestable_packages", {}))
                assert [p["id"] for p in listed["packages"]] == [package_id], listed
                described = structured(
                    await client.call_tool("describe_package", {"package_id": package_id}))
                policy = described["package"]["policies"][0]
                assert policy["approvalRequired"] is True, policy
                assert policy["justificationRequired"] is True, policy
                assert sorted(described["grants"]) == sorted(["Member", "Work tickets"]), described

                # Without the justification the policy asks for: the domain's refusal, as a
                # tool error the model can act on.
                refused = await client.call_tool("request_access", {"package_id": package_id})
                assert refused.is_error and "justification" in refused.content[0].text, refused

                asked = structured(await client.call_tool("request_access", {
                    "package_id": package_id, "justification": "on call for the ticket queue"}))
                request_id = asked["request"]["id"]
                assert asked["request"]["state"] == "submitted", asked

                # The sponsor approves through the Graph API; the server's worker delivers. One
                # wait answers once the request is delivered, not at an intermediate state.
                await asyncio.to_thread(approve, writ, w["sponsor_token"], request_id)
                # The request's states as Graph reads them while the tool waits: if the wait
                # ever answers late, the failure says when each state was recorded.
                timeline, waiting = [], threading.Event()
                waiting.set()

                def watch() -> None:
                    while waiting.is_set():
                        read = writ.get_json(f"{EM}/assignmentRequests/{request_id}")
                        if not timeline or timeline[-1][1] != read["state"]:
                            timeline.append((round(time.time(), 3), read["state"]))
                        time.sleep(0.05)

                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                asked_at = round(time.time(), 3)
                try:
                    followed = structured(await client.call_tool(
                        "get_request", {"request_id": request_id, "wait_seconds": 30}))
                finally:
                    waiting.clear()
                    watcher.join()
                answered = time.time()
                assert followed["request"]["state"] == "delivered", followed
                assert followed["request"]["final"] is True
                completed = writ.get_json(f"{EM}/assignmentRequests/{request_id}")["completedDateTime"]
                late = answered - iso_seconds(completed)
                assert late < 1.0, (
                    f"answered {late:.3f} s after the delivery; asked at {asked_at}, "
                    f"answered at {answered:.3f}; states read meanwhile: {timeline}")

                allowed = structured(await client.call_tool("check_access", membership))
                assert allowed == {"decision": True}, allowed
                api_scope = f"api://{w['api']['appId']}/.default"
                resource_token = token_for(writ, w["agent"]["appId"], w["agent_secret"], api_scope)
                assert resource_token["claims"].get("roles") == [TICKETS_ROLE], resource_token

                held = structured(await client.call_tool("list_my_access", {}))
                [assignment] = held["assignments"]
                assert assignment["accessPackageId"] == package_id, held
                assert assignment["endDateTime"], held
                assert w["agent"]["id"] in member_ids(writ, w["group"]["id"])

                released = structured(await client.call_tool(
                    "release_access", {"assignment_id": assignment["id"]}))
                assert released["request"]["requestType"] == "userRemove", released
                assert w["agent"]["id"] not in member_ids(writ, w["group"]["id"])
                # Denied at that instant: the decision and a new token both.
                gone = structured(await client.call_tool("check_access", membership))
                assert gone["decision"] is False, gone
                resource_token = token_for(writ, w["agent"]["appId"], w["agent_secret"], api_scope)
                assert resource_token["claims"].get("roles", []) == [], resource_token
                after = structured(await client.call_tool("list_my_access", {}))
                assert after["assignments"] == [], after

    asyncio.run(scenario())


def test_without_a_token_mcp_points_to_its_metadata(writ):
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    resp = http("POST", f"{writ.url}/mcp", json_body=ping,
                headers={"Accept": "application/json, text/event-stream"})
    assert resp.status == 401, resp
    metadata_url = f"{writ.url}/.well-known/oauth-protected-resource/mcp"
    assert resp.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
    metadata = http("GET", metadata_url)
    assert metadata.status == 200, metadata
    assert metadata.json()["resource"] == f"{writ.url}/mcp"
    [issuer] = metadata.json()["authorization_servers"]
    discovery = http("GET", f"{issuer}/.well-known/openid-configuration")
    assert discovery.status == 200 and discovery.json()["issuer"] == issuer, discovery
