"""The authorization code flow with PKCE (issue 16) against a real `writ serve` over its own TLS,
on SQLite and on PostgreSQL: MSAL Python's `initiate_auth_code_flow` with Writ's command-line
client and a loopback redirect on a free port, a headless Chromium signing in on Writ's page and
carried back to the loopback address, `acquire_token_by_auth_code_flow` getting the tokens, and
the Graph SDK then acting as that person: reading `/me` and, as the sponsor of an agent,
approving the agent's pending request. The code run is the `python-msal-auth-code` snippet of
docs/client-libraries.md, in a process of its own; the test plays the person at the browser.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import subprocess
import sys
import time

import httpx
import pytest
from msgraph import GraphServiceClient
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_approval_stage import AccessPackageApprovalStage
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_approval_settings import (
    AccessPackageAssignmentApprovalSettings,
)
from msgraph.generated.models.access_package_assignment_policy import AccessPackageAssignmentPolicy
from msgraph.generated.models.access_package_assignment_request import AccessPackageAssignmentRequest
from msgraph.generated.models.access_package_assignment_requestor_settings import (
    AccessPackageAssignmentRequestorSettings,
)
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import AccessPackageResourceRequest
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import AccessPackageResourceRoleScope
from msgraph.generated.models.agent_identity import AgentIdentity
from msgraph.generated.models.agent_identity_blueprint import AgentIdentityBlueprint
from msgraph.generated.models.agent_identity_blueprint_principal import AgentIdentityBlueprintPrincipal
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.group import Group
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.single_user import SingleUser
from msgraph.generated.models.target_agent_identity_sponsors_or_owners import (
    TargetAgentIdentitySponsorsOrOwners,
)
from msgraph.generated.service_principals.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory
from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from graph_sdk import StaticToken
from test_agents_sdk import new_user, sponsor_bind
from test_client_libraries import claims, client_env, snippet, tenant_of
from writ_harness import HarnessError, WritServer

WRIT_PUBLIC_CLIENT_ID = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEADLINE_S = 60


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def tls_writ(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        server = WritServer.start(
            backend, tmp_path_factory.mktemp(f"writ-authcode-{backend}"), tls=True, ca=test_ca
        )
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)
    try:
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"[{backend}] writ serve did not stop cleanly:\n{server.stderr_tail()}"


def admin_sdk(server: WritServer, token: str | None = None) -> GraphServiceClient:
    """The Graph SDK with a static token, trusting the server's CA."""
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            timeout=30.0, verify=ssl.create_default_context(cafile=str(server.ca_file))
        )
    )
    adapter = GraphRequestAdapter(
        BaseBearerTokenAuthenticationProvider(StaticToken(token or server.token)), client=http_client
    )
    adapter.base_url = server.graph
    return GraphServiceClient(request_adapter=adapter)


async def poll(fetch, done, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = await fetch()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {DEADLINE_S} s: {result}"
        await asyncio.sleep(0.3)


async def an_agent_asks_its_sponsor(server: WritServer, prefix: str):
    """A person who sponsors an agent, and the agent's request waiting for that person's
    approval: (the person, its password, the request id)."""
    admin = admin_sdk(server)
    em = admin.identity_governance.entitlement_management
    sponsor = await admin.users.post(new_user(prefix, 1))
    fallback = await admin.users.post(new_user(prefix, 2))
    blueprint = await admin.applications.post(AgentIdentityBlueprint(
        display_name=f"{prefix} blueprint", additional_data=sponsor_bind(server, sponsor.id)))
    await admin.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
    agent = await admin.service_principals.post(AgentIdentity(
        display_name=f"{prefix}-agent", agent_identity_blueprint_id=blueprint.app_id,
        additional_data=sponsor_bind(server, sponsor.id)))
    secret = await admin.service_principals.by_service_principal_id(agent.id).add_password.post(
        AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))
    group = await admin.groups.post(Group(
        display_name=f"{prefix} tools", mail_enabled=False, mail_nickname=f"{prefix}tools",
        security_enabled=True))
    catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
    await em.resource_requests.post(AccessPackageResourceRequest(
        request_type=AccessPackageRequestType.AdminAdd,
        resource=AccessPackageResource(origin_id=group.id, origin_system="AadGroup"),
        catalog=AccessPackageCatalog(id=catalog.id)))
    roles = await em.catalogs.by_access_package_catalog_id(catalog.id).resource_roles.get()
    member = next(r for r in roles.value if r.display_name == "Member")
    package = await em.access_packages.post(AccessPackage(
        display_name=f"{prefix} package", catalog=AccessPackageCatalog(id=catalog.id)))
    await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
        AccessPackageResourceRoleScope(role=AccessPackageResourceRole(id=member.id)))
    policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
        display_name="All agents, sponsors approve",
        allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
        expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="P30D"),
        requestor_settings=AccessPackageAssignmentRequestorSettings(
            enable_targets_to_self_add_access=True),
        request_approval_settings=AccessPackageAssignmentApprovalSettings(
            is_approval_required_for_add=True,
            stages=[AccessPackageApprovalStage(
                duration_before_automatic_denial="P7D",
                primary_approvers=[TargetAgentIdentitySponsorsOrOwners()],
                fallback_primary_approvers=[SingleUser(user_id=fallback.id)])]),
        access_package=AccessPackage(id=package.id)))
    token = httpx.post(
        f"{server.url}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": agent.app_id,
              "client_secret": secret.secret_text, "scope": GRAPH_SCOPE},
        verify=ssl.create_default_context(cafile=str(server.ca_file)), timeout=30,
    ).json()["access_token"]
    as_agent = admin_sdk(server, token)
    created = await as_agent.identity_governance.entitlement_management.assignment_requests.post(
        AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.UserAdd,
            assignment=AccessPackageAssignment(additional_data={
                "accessPackageId": package.id, "assignmentPolicyId": policy.id})))
    await poll(
        lambda: em.assignment_requests.by_access_package_assignment_request_id(created.id).get(),
        lambda r: r.state == AccessPackageRequestState.PendingApproval, "approval routing")
    return sponsor, f"a long passphrase 1 {prefix}", created.id


def test_msal_auth_code_flow_with_pkce_a_loopback_redirect_and_the_browser(tls_writ, browser, tmp_path):
    prefix = "ac" + secrets.token_hex(3)
    tenant = tenant_of(tls_writ)
    sponsor, password, request_id = asyncio.run(an_agent_asks_its_sponsor(tls_writ, prefix))

    env = client_env(tls_writ, tenant)
    env["BROWSER"] = "true"  # webbrowser.open runs `true`: the test's Chromium plays the browser
    (tmp_path / "client.py").write_text(snippet("python-msal-auth-code"))
    client = subprocess.Popen(
        [sys.executable, str(tmp_path / "client.py")], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = client.stdout.readline()
        assert line.startswith("Sign in at: "), f"{line}\n{client.stderr.read() if client.poll() is not None else ''}"
        auth_uri = line.removeprefix("Sign in at: ").strip()
        assert auth_uri.startswith(f"{tls_writ.url}/{tenant}/oauth2/v2.0/authorize?"), auth_uri
        assert "code_challenge_method=S256" in auth_uri

        # The person, at the browser: Writ's sign-in page, then back to the loopback address.
        browser.get(auth_uri)
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "username"))
        assert browser.current_url.startswith(f"{tls_writ.url}/{tenant}/login?")
        browser.find_element(By.ID, "username").send_keys(sponsor.user_principal_name)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, 30).until(lambda b: b.current_url.startswith("http://localhost:"))
        assert "code=" in browser.current_url and "state=" in browser.current_url
        WebDriverWait(browser, 30).until(lambda b: "Signed in" in b.find_element(By.TAG_NAME, "body").text)

        out, err = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, f"the client failed:\n{err}\n{out}"
    result = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    got = claims(result["access_token"])
    assert got["oid"] == sponsor.id, got
    assert got["azp"] == WRIT_PUBLIC_CLIENT_ID, got
    assert got["tid"] == tenant, got
    assert result["upn"] == sponsor.user_principal_name, result
    # MSAL checked the id token's nonce and cached the account from it and client_info.
    assert result["username"] == sponsor.user_principal_name, result
    # The person approved the agent's request through the Graph SDK; the worker delivers it.
    assert result["approved"] == [request_id], result

    async def delivered():
        # A new client: the setup's belongs to the event loop that has ended.
        em = admin_sdk(tls_writ).identity_governance.entitlement_management
        return await poll(
            lambda: em.assignment_requests.by_access_package_assignment_request_id(request_id).get(),
            lambda r: r.state == AccessPackageRequestState.Delivered, "delivery after approval")

    asyncio.run(delivered())


def test_an_unregistered_redirect_is_a_page_in_the_browser(tls_writ, browser):
    tenant = tenant_of(tls_writ)
    browser.get(
        f"{tls_writ.url}/{tenant}/oauth2/v2.0/authorize?client_id={WRIT_PUBLIC_CLIENT_ID}"
        "&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=openid"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    assert browser.current_url.startswith(tls_writ.url)
    assert "redirect_uri is not registered" in browser.find_element(By.TAG_NAME, "body").text


def test_form_post_submits_itself_in_the_browser_under_the_page_csp(tls_writ, browser):
    """response_mode=form_post: the page's one script, allowed by its hash, posts the code to the
    loopback redirect; the code redeems with the PKCE verifier."""
    import base64
    import hashlib
    import http.server
    import threading
    import urllib.parse

    tenant = tenant_of(tls_writ)
    nickname = "fp" + secrets.token_hex(3)
    created = tls_writ.api("POST", "users", {
        "displayName": "Form Post Person", "userPrincipalName": f"{nickname}@example.org",
        "mailNickname": nickname, "accountEnabled": True,
        "passwordProfile": {"password": "a long passphrase 1"},
    })
    assert created.status == 201, created

    received: dict = {}

    class Catch(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            received.update(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"posted")

        def log_message(self, *args):
            pass

    loopback = http.server.HTTPServer(("127.0.0.1", 0), Catch)
    thread = threading.Thread(target=loopback.handle_request, daemon=True)
    thread.start()
    redirect = f"http://localhost:{loopback.server_port}"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "client_id": WRIT_PUBLIC_CLIENT_ID, "response_type": "code", "redirect_uri": redirect,
        "scope": "openid offline_access", "state": "fp-state", "nonce": "fp-nonce",
        "code_challenge": challenge, "code_challenge_method": "S256", "response_mode": "form_post",
    })
    try:
        browser.get(f"{tls_writ.url}/{tenant}/oauth2/v2.0/authorize?{query}")
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "username"))
        browser.find_element(By.ID, "username").send_keys(f"{nickname}@example.org")
        browser.find_element(By.ID, "password").send_keys("a long passphrase 1")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        thread.join(timeout=30)
        assert received.get("state") == "fp-state", (received, browser.current_url, browser.page_source[:2000])
    finally:
        loopback.server_close()
    tokens = httpx.post(
        f"{tls_writ.url}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "client_id": WRIT_PUBLIC_CLIENT_ID,
              "code": received["code"], "redirect_uri": redirect, "code_verifier": verifier},
        verify=ssl.create_default_context(cafile=str(tls_writ.ca_file)), timeout=30,
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert claims(body["id_token"])["nonce"] == "fp-nonce"
    assert body.get("refresh_token")
