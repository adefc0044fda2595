"""The portal's browser tooling, smoke-tested (issue 17) against a real `writ serve` over its own
TLS, on SQLite and on PostgreSQL, in Debian's headless Chromium:

- the accessibility check fails on a page known to violate WCAG (an unlabeled input), so a
  passing check means something;
- signed out, `/portal/agents` leads to Writ's sign-in page and, after signing in there, back to
  `/portal/agents`; the sign-in page has no serious or critical accessibility violation;
- an agent's bearer token at `/portal/agents` gets the 401 page, which is accessible too;
- the seeded world is what the acceptance tests rely on: a sponsor's request on behalf of an
  agent waits for the two approvers, each of whom is mailed about it; the restricted package is
  refused for the sponsor's agent.
"""

from __future__ import annotations

import ssl
import urllib.parse

import httpx
import pytest
from selenium.webdriver.common.by import By

from portal_support import (
    EM, AccessibilityError, PortalWorld, agent_token, assert_accessible, bearer_header, h1,
    links_in, on_sign_in_page, path_of, person_token, portal_server, request_on_behalf,
    seed_world, sign_in_as, sign_in_url, wait, wait_for_mail, wait_for_state,
)
from writ_harness import HarnessError, http


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def world(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        with portal_server(backend, tmp_path_factory.mktemp(f"writ-portal-{backend}"), test_ca) as (
                server, sink):
            yield seed_world(server, mail=sink)
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)


def test_the_accessibility_check_fails_on_a_page_with_an_unlabeled_input(browser):
    browser.get("data:text/html,<!doctype html><html lang=en><title>Bad</title>"
                "<main><h1>Bad</h1><input type=text></main></html>")
    with pytest.raises(AccessibilityError) as failed:
        assert_accessible(browser, "a page with an unlabeled input")
    assert "label" in {v["id"] for v in failed.value.violations}, failed.value.violations
    message = str(failed.value)
    assert "label" in message and "input" in message, message


def redirect_of_signed_out(world: PortalWorld) -> str:
    """Where `/portal/agents` sends a browser without a session (it must be a 303)."""
    raw = httpx.get(world.server.url + "/portal/agents", headers={"Accept": "text/html"},
                    verify=ssl.create_default_context(cafile=str(world.server.ca_file)),
                    follow_redirects=False, timeout=30)
    assert raw.status_code == 303, f"{raw.status_code} {raw.text[:500]}"
    return raw.headers["location"]


def test_signed_out_the_portal_leads_to_sign_in_and_back(world: PortalWorld, browser):
    server = world.server
    assert "/login?return_to=%2Fportal%2Fagents" in redirect_of_signed_out(world)
    browser.get(server.url + "/portal/agents")
    wait(browser, "the sign-in page", lambda d: d.find_elements(By.ID, "username"))
    assert on_sign_in_page(browser), browser.current_url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    assert query.get("return_to") == ["/portal/agents"], browser.current_url
    assert h1(browser) == "Sign in"
    assert_accessible(browser, "the sign-in page")

    sign_in_as(browser, world, world.sponsor, "/portal/agents")
    assert path_of(browser.current_url) == "/portal/agents"
    assert browser.current_url.startswith(server.url)


def test_a_bearer_token_gets_the_401_page(world: PortalWorld, browser):
    server = world.server
    token = agent_token(server, world.assigned_agent)
    raw = http("GET", server.url + "/portal/agents", token=token, cafile=server.ca_file,
               headers={"Accept": "text/html"})
    assert raw.status == 401, repr(raw)
    assert raw.headers["content-type"].startswith("text/html"), raw.headers
    assert "script-src 'self'" in raw.headers.get("content-security-policy", ""), raw.headers

    with bearer_header(browser, token):
        browser.get(server.url + "/portal/agents")
        assert not on_sign_in_page(browser), browser.current_url
        assert "Sign in with a browser" in h1(browser)
        assert_accessible(browser, "the 401 page of a bearer token")


def test_the_world_routes_a_sponsors_request_to_both_approvers(world: PortalWorld):
    server = world.server
    created = request_on_behalf(world, world.free_agent)
    wait_for_state(world, created["id"], "pendingApproval")
    for approver in world.approvers:
        mail = wait_for_mail(world.mail, approver.mail, "approval.stageAssigned")
        assert world.free_agent.name in mail.text or world.package_name in mail.text, mail.text
        assert all(link.startswith("http") for link in links_in(mail))

    # The restricted package is not for the sponsor's agents.
    resp = http("POST", f"{server.graph}/{EM}/assignmentRequests",
                token=person_token(server, world.sponsor), cafile=server.ca_file, json_body={
                    "requestType": "userAdd", "justification": "try",
                    "assignment": {"targetId": world.assigned_agent.id,
                                   "accessPackageId": world.restricted_package,
                                   "assignmentPolicyId": world.restricted_policy}})
    assert resp.status in (400, 403), repr(resp)
