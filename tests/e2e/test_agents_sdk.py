"""Agent identities driven by the official Microsoft Graph Python SDK, on SQLite and on PostgreSQL.

The acceptance test of the Agent ID directory: with the SDK a sponsor user is created, then an agent
identity blueprint (`AgentIdentityBlueprint` posted to `/applications`) and its principal
(`AgentIdentityBlueprintPrincipal` posted to `/servicePrincipals`), and an agent identity of that
blueprint sponsored by the user (`AgentIdentity` posted to `/servicePrincipals`). The agent gets a
secret with `addPassword`, its own token, reads itself and cannot read its sponsor. An app role of
a resource application assigned to the agent shows up as `roles` in the agent's token for that
resource, and disappears once the assignment is deleted. Creates the server must refuse (no
sponsor, unknown blueprint) are `ODataError`s with status 400 and change nothing.

Every step the SDK has a builder for goes through the SDK; the rest (sponsors of a service
principal, token requests, the agent-identity cast with `$count`) is plain HTTP. Every JSON body the
server returns - to the SDK (recorded on the wire) and to plain HTTP - passes the strict model
check, through the route table of `graph_sdk.py`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from dataclasses import dataclass

import pytest
from msgraph.generated.models.agent_identity import AgentIdentity
from msgraph.generated.models.agent_identity_blueprint import AgentIdentityBlueprint
from msgraph.generated.models.agent_identity_blueprint_principal import AgentIdentityBlueprintPrincipal
from msgraph.generated.models.app_role import AppRole
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.application import Application
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.user import User
from msgraph.generated.service_principals.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)

from graph_sdk import Exchange, sdk_client, strict_check_exchanges
from writ_harness import RawResponse, http

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ORDERS_ROLE_ID = uuid.UUID("6c3b4f0e-2a4d-4e8b-9a51-0d7e5c1f2b93")
ORDERS_ROLE_VALUE = "Orders.Read"


def run(coro):
    """Each test drives the SDK in its own event loop (and its own client)."""
    return asyncio.run(coro)


def strict_check_raw(method: str, url: str, resp: RawResponse) -> int:
    """Strict-checks a plain-HTTP answer exactly as the SDK's recorded ones (same route table)."""
    return strict_check_exchanges([Exchange(method, url, resp.status, resp.body)])


def raw(writ, method: str, path: str, json_body=None, *, expect: int) -> RawResponse:
    """A plain-HTTP Graph request with the admin token; the status must be `expect`, the body conform."""
    url = f"{writ.graph}/{path.lstrip('/')}"
    resp = writ.api(method, url, json_body)
    assert resp.status == expect, f"{method} {path}: expected {expect}, got {resp!r}"
    strict_check_raw(method, url, resp)
    return resp


def token_for(writ, client_id: str, client_secret: str, scope: str) -> dict:
    """A client-credentials token from Writ's token endpoint; returns the decoded JWT payload too."""
    resp = http("POST", writ.url + "/oauth2/v2.0/token", form={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": client_secret, "scope": scope})
    assert resp.status == 200, f"token for {client_id} with scope {scope}: {resp!r}"
    body = resp.json()
    assert body.get("token_type", "").lower() == "bearer" and body.get("access_token"), body
    return {"access_token": body["access_token"], "claims": jwt_claims(body["access_token"])}


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, base64url-decoded (no signature check: the server is trusted here)."""
    parts = token.split(".")
    assert len(parts) == 3, f"not a JWS compact token: {token[:40]}..."
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def sponsor_bind(writ, user_id: str) -> dict:
    return {"sponsors@odata.bind": [f"{writ.graph}/users/{user_id}"]}


def new_user(prefix: str, n: int) -> User:
    return User(
        display_name=f"{prefix} sponsor {n}",
        user_principal_name=f"{prefix}-sponsor-{n}@example.org",
        mail_nickname=f"{prefix}-sponsor-{n}",
        account_enabled=True,
        password_profile=PasswordProfile(password=f"a long passphrase {n} {prefix}"),
    )


async def odata_error(call) -> ODataError:
    try:
        await call
    except ODataError as err:
        return err
    raise AssertionError("the SDK raised no ODataError")


def assert_envelope(err: ODataError, status: int) -> None:
    assert err.response_status_code == status, err
    assert err.error is not None and err.error.code and err.error.message, err
    assert err.error.inner_error is not None and err.error.inner_error.request_id, err


@dataclass
class AgentWorld:
    """What the module's setup created through the SDK."""

    prefix: str
    sponsor_id: str
    blueprint: AgentIdentityBlueprint
    blueprint_principal: AgentIdentityBlueprintPrincipal
    agent: AgentIdentity


@pytest.fixture(scope="module")
def world(writ) -> AgentWorld:
    """Steps 1-4 of the scenario: a sponsor, a blueprint, its principal, a sponsored agent identity."""
    prefix = "agt" + secrets.token_hex(3)

    async def setup() -> AgentWorld:
        client, recorder = sdk_client(writ)
        # 1. The human sponsor.
        sponsor = await client.users.post(new_user(prefix, 1))
        assert isinstance(sponsor, User) and sponsor.id

        # 2. The blueprint: the SDK posts `@odata.type: #microsoft.graph.agentIdentityBlueprint`
        #    to the plain /applications collection.
        blueprint = await client.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} support agent", additional_data=sponsor_bind(writ, sponsor.id)))
        assert type(blueprint) is AgentIdentityBlueprint, type(blueprint)
        assert blueprint.id and blueprint.app_id, blueprint
        assert blueprint.display_name == f"{prefix} support agent"
        assert blueprint.odata_type == "#microsoft.graph.agentIdentityBlueprint"

        # 3. Its principal in this tenant, posted to the plain /servicePrincipals collection.
        principal = await client.service_principals.post(
            AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        assert type(principal) is AgentIdentityBlueprintPrincipal, type(principal)
        assert principal.id and principal.app_id == blueprint.app_id, principal

        # 4. The agent identity of that blueprint, sponsored by the user.
        agent = await client.service_principals.post(AgentIdentity(
            display_name=f"{prefix}-agent-1", agent_identity_blueprint_id=blueprint.app_id,
            additional_data=sponsor_bind(writ, sponsor.id)))
        assert type(agent) is AgentIdentity, type(agent)
        assert agent.id and agent.app_id, agent
        assert agent.display_name == f"{prefix}-agent-1"
        assert agent.agent_identity_blueprint_id == blueprint.app_id
        assert agent.app_id != blueprint.app_id, "an agent identity has its own appId"

        sent = [(ex.method, ex.path) for ex in recorder.exchanges]
        assert sent == [("POST", "/v1.0/users"), ("POST", "/v1.0/applications"),
                        ("POST", "/v1.0/servicePrincipals"), ("POST", "/v1.0/servicePrincipals")], sent
        assert [ex.status for ex in recorder.exchanges] == [201] * 4, [str(ex) for ex in recorder.exchanges]
        assert strict_check_exchanges(recorder.exchanges) == 4
        return AgentWorld(prefix, sponsor.id, blueprint, principal, agent)

    return run(setup())


def test_blueprint_and_principal_read_back_typed(writ, world):
    async def scenario():
        client, recorder = sdk_client(writ)
        blueprint = await client.applications.by_application_id(world.blueprint.id).get()
        assert type(blueprint) is AgentIdentityBlueprint, type(blueprint)
        assert (blueprint.id, blueprint.app_id) == (world.blueprint.id, world.blueprint.app_id)
        principal = await client.service_principals.by_service_principal_id(world.blueprint_principal.id).get()
        assert type(principal) is AgentIdentityBlueprintPrincipal, type(principal)
        assert principal.app_id == world.blueprint.app_id
        assert strict_check_exchanges(recorder.exchanges) == 2

    run(scenario())
    # The blueprint's sponsors (no SDK builder in v1.0: plain HTTP), each a typed directory object.
    page = raw(writ, "GET", f"applications/{world.blueprint.id}/sponsors", expect=200).json()
    assert [(s.get("@odata.type"), s["id"]) for s in page["value"]] == [
        ("#microsoft.graph.user", world.sponsor_id)], page


def test_agent_identity_and_its_sponsors(writ, world):
    agent_id = world.agent.id

    async def scenario():
        client, recorder = sdk_client(writ)
        agent = await client.service_principals.by_service_principal_id(agent_id).get()
        assert type(agent) is AgentIdentity, type(agent)
        assert agent.id == agent_id and agent.app_id == world.agent.app_id
        assert agent.agent_identity_blueprint_id == world.blueprint.app_id
        assert agent.display_name == f"{world.prefix}-agent-1"
        second = await client.users.post(new_user(world.prefix, 2))
        assert strict_check_exchanges(recorder.exchanges) == 2
        return second.id

    second_id = run(scenario())

    # The v1.0 SDK has no `servicePrincipals/{id}/sponsors` builder: plain HTTP, strictly checked.
    def sponsor_ids() -> list[str]:
        page = raw(writ, "GET", f"servicePrincipals/{agent_id}/sponsors", expect=200).json()
        assert all(s.get("@odata.type") == "#microsoft.graph.user" for s in page["value"]), page
        return sorted(s["id"] for s in page["value"])

    assert sponsor_ids() == [world.sponsor_id]
    resp = raw(writ, "POST", f"servicePrincipals/{agent_id}/sponsors/$ref",
               {"@odata.id": f"{writ.graph}/users/{second_id}"}, expect=204)
    assert resp.body == b""
    assert sponsor_ids() == sorted([world.sponsor_id, second_id])


def test_agent_secret_token_and_own_reads(writ, world):
    agent_id = world.agent.id

    async def add_password():
        client, recorder = sdk_client(writ)
        cred = await client.service_principals.by_service_principal_id(agent_id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))
        assert isinstance(cred, PasswordCredential)
        assert cred.secret_text and cred.key_id and cred.display_name == "e2e", cred
        assert strict_check_exchanges(recorder.exchanges) == 1
        return cred.secret_text

    secret = run(add_password())
    token = token_for(writ, world.agent.app_id, secret, GRAPH_SCOPE)
    claims = token["claims"]
    assert claims.get("idtyp") == "app", claims
    assert claims.get("oid") == agent_id, claims

    async def as_agent():
        client, recorder = sdk_client(writ, token=token["access_token"])
        me = await client.service_principals.by_service_principal_id(agent_id).get()
        assert type(me) is AgentIdentity and me.id == agent_id, me
        assert me.agent_identity_blueprint_id == world.blueprint.app_id
        err = await odata_error(client.users.by_user_id(world.sponsor_id).get())
        assert_envelope(err, 404)
        assert [ex.status for ex in recorder.exchanges] == [200, 404], [str(ex) for ex in recorder.exchanges]
        assert strict_check_exchanges(recorder.exchanges) == 2

    run(as_agent())


def test_app_role_in_resource_token(writ, world):
    agent_id = world.agent.id

    async def setup():
        client, recorder = sdk_client(writ)
        orders = await client.applications.post(Application(
            display_name=f"{world.prefix} Orders API",
            app_roles=[AppRole(
                id=ORDERS_ROLE_ID, allowed_member_types=["Application"], value=ORDERS_ROLE_VALUE,
                display_name="Read orders", description="Read all orders", is_enabled=True)]))
        assert type(orders) is Application and orders.app_id, orders
        assert [(r.id, r.value, r.allowed_member_types, r.is_enabled) for r in orders.app_roles] == [
            (ORDERS_ROLE_ID, ORDERS_ROLE_VALUE, ["Application"], True)], orders.app_roles
        resource = await client.service_principals.post(ServicePrincipal(app_id=orders.app_id))
        assert type(resource) is ServicePrincipal and resource.app_id == orders.app_id, resource
        assignment = await client.service_principals.by_service_principal_id(resource.id).app_role_assigned_to.post(
            AppRoleAssignment(principal_id=uuid.UUID(agent_id), resource_id=uuid.UUID(resource.id),
                              app_role_id=ORDERS_ROLE_ID))
        assert isinstance(assignment, AppRoleAssignment) and assignment.id, assignment
        assert (assignment.principal_id, assignment.resource_id, assignment.app_role_id) == (
            uuid.UUID(agent_id), uuid.UUID(resource.id), ORDERS_ROLE_ID), assignment
        assert [ex.status for ex in recorder.exchanges] == [201] * 3, [str(ex) for ex in recorder.exchanges]
        assert strict_check_exchanges(recorder.exchanges) == 3
        return orders.app_id, resource.id, assignment.id

    orders_app_id, resource_id, assignment_id = run(setup())

    async def add_password():
        client, recorder = sdk_client(writ)
        cred = await client.service_principals.by_service_principal_id(agent_id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e roles")))
        strict_check_exchanges(recorder.exchanges)
        return cred.secret_text

    secret = run(add_password())
    scope = f"api://{orders_app_id}/.default"
    claims = token_for(writ, world.agent.app_id, secret, scope)["claims"]
    assert claims.get("aud") == orders_app_id, claims
    assert claims.get("roles") == [ORDERS_ROLE_VALUE], claims
    assert claims.get("oid") == agent_id and claims.get("idtyp") == "app", claims

    async def unassign():
        client, recorder = sdk_client(writ)
        assigned = client.service_principals.by_service_principal_id(resource_id).app_role_assigned_to
        listed = await assigned.get()
        assert [a.id for a in listed.value] == [assignment_id], listed.value
        assert await assigned.by_app_role_assignment_id(assignment_id).delete() is None
        listed = await assigned.get()
        assert listed.value == [], listed.value
        assert [ex.status for ex in recorder.exchanges] == [200, 204, 200], [str(ex) for ex in recorder.exchanges]
        strict_check_exchanges(recorder.exchanges)

    run(unassign())
    claims = token_for(writ, world.agent.app_id, secret, scope)["claims"]
    assert claims.get("aud") == orders_app_id, claims
    assert "roles" not in claims, claims


def test_refused_agent_identities_are_400_and_change_nothing(writ, world):
    def agent_identities() -> tuple[int, list[str], int]:
        page = raw(writ, "GET", "servicePrincipals/microsoft.graph.agentIdentity?$count=true", expect=200).json()
        ids = [item["id"] for item in page["value"]]
        assert "@odata.nextLink" not in page, "more agent identities than one page"
        # Nor may a refused create leave a plain service principal behind.
        every_sp = raw(writ, "GET", "servicePrincipals?$count=true", expect=200).json()
        return page.get("@odata.count"), sorted(ids), every_sp.get("@odata.count")

    before = agent_identities()
    assert before[0] == len(before[1]) and world.agent.id in before[1], before
    assert isinstance(before[2], int) and before[2] > before[0], before

    async def scenario():
        client, recorder = sdk_client(writ)
        # No sponsor: Graph requires at least one for an agent identity.
        no_sponsor = await odata_error(client.service_principals.post(AgentIdentity(
            display_name=f"{world.prefix}-unsponsored", agent_identity_blueprint_id=world.blueprint.app_id)))
        assert_envelope(no_sponsor, 400)
        assert "sponsor" in no_sponsor.error.message.lower(), no_sponsor.error.message
        # A blueprint appId that names no blueprint.
        missing_app_id = str(uuid.uuid4())
        unknown = await odata_error(client.service_principals.post(AgentIdentity(
            display_name=f"{world.prefix}-orphan", agent_identity_blueprint_id=missing_app_id,
            additional_data=sponsor_bind(writ, world.sponsor_id))))
        assert_envelope(unknown, 400)
        assert missing_app_id in unknown.error.message, unknown.error.message
        assert [ex.status for ex in recorder.exchanges] == [400, 400], [str(ex) for ex in recorder.exchanges]
        assert strict_check_exchanges(recorder.exchanges) == 2

    run(scenario())
    assert agent_identities() == before
