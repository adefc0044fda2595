"""The acceptance criteria of issue 17 (the portal), each a scenario in Debian's headless Chromium
against a real `writ serve` over its own TLS, on SQLite and on PostgreSQL:

1. A sponsor sees their agents on My agents with an assignment ending soon (its time left),
   opens it and extends it (the policy requires approval, and the page says so), landing on the
   request's page with the outcome announced; the approver follows the link of the approval
   email, signs in, sees the context (agent, requestor, justification) and approves with a
   justification; the sponsor's assignment page then shows a later end. The same with a denial:
   the end stays, and the request's page shows it denied.
2. A sponsor requests a package on an agent's behalf, answering the policy's questions with a
   justification; the request's page shows the answers. A package the agent may not get is not
   offered; a refused request (a ticket number that fails the question's pattern, a missing
   justification) re-renders the form with the domain's reason in `#notice` and creates nothing.
3. Two approvers on one stage: the first approves; the second, deciding from a page opened
   before, gets the approval page saying who already decided it (409, not an error page), and
   following their own email link afterwards sees the same, with no form.
4. People see only what the API lets them see: another sponsor's agent is a 404 page, an
   approval the person does not approve is a 404 page, an agent's own token gets the 401 page
   on every portal page, and every form (request, extend, remove, decision, cancel) refuses a
   missing and a wrong CSRF token with a 403 and changes nothing (read back through the API).
5. Every page visited has no serious or critical axe-core violation, at desktop width and, for
   My agents, an approval and an assignment, at phone width (390 x 844, with no page-wide
   horizontal scrolling); the empty state of each list is checked with a person who has nothing.

One world per backend (`seed_world`), one test per backend whose scenarios are subtests: they
run in order on one server and one browser, each on its own agents so they do not interfere.
Assignments last ten minutes, so "ending soon" holds without waiting.
"""

from __future__ import annotations

import re
import ssl
from datetime import datetime
from typing import Any, Optional

import httpx
import pytest
from selenium.webdriver.common.by import By

from portal_support import (
    EM, Agent, Person, PortalWorld, agent_token, assert_accessible, assign_package, bearer_header,
    body_text, decide_by_api, h1, new_agent, new_person, notice, on_sign_in_page, path_of,
    portal_links, portal_server, request_on_behalf, seed_world, set_field, sign_in, sign_in_as,
    person_token, sign_out, submit, table_rows, wait, wait_for_mail, wait_for_state,
)
from writ_harness import HarnessError, http

EXPIRATION_S = 600
PHONE = (390, 844)
DESKTOP = (1280, 900)
SESSION_COOKIE = "__Host-writ_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


# --------------------------------------------------------------------------------------------
# Reading pages and the API


def fact_time(driver: Any, label: str) -> datetime:
    """The instant of the `<time datetime>` in the `dd` after the `dt` named `label` (first
    `dl.facts` holding one)."""
    iso = driver.execute_script("""
        for (const dt of document.querySelectorAll('dl.facts dt')) {
          if (dt.textContent.trim() === arguments[0]) {
            const t = dt.nextElementSibling && dt.nextElementSibling.querySelector('time[datetime]');
            if (t) { return t.getAttribute('datetime'); }
          }
        }
        return null;""", label)
    assert iso, f"no instant under {label!r} on {driver.current_url}:\n{body_text(driver)}"
    return parse_instant(iso)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant (fractions beyond microseconds dropped)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


def api_end(world: PortalWorld, assignment: str) -> datetime:
    body = world.server.get_json(f"{EM}/assignments/{assignment}")
    return parse_instant(body["schedule"]["expiration"]["endDateTime"])


def api_assignment(world: PortalWorld, assignment: str) -> dict:
    return world.server.get_json(f"{EM}/assignments/{assignment}")


def request_ids(world: PortalWorld) -> set[str]:
    return {r["id"] for r in world.server.get_all(f"{EM}/assignmentRequests")}


def api_request(world: PortalWorld, request_id: str) -> dict:
    return world.server.get_json(f"{EM}/assignmentRequests/{request_id}")


def row_with(driver: Any, table_id: str, text: str) -> str:
    rows = [r for r in table_rows(driver, table_id) if text in r]
    assert rows, f"no row of #{table_id} mentions {text!r} at {driver.current_url}: " \
                 f"{table_rows(driver, table_id)}"
    return rows[0]


def click_link(driver: Any, text: str) -> None:
    """Follows the link whose text is exactly `text` and waits for the next page."""
    links = driver.find_elements(By.LINK_TEXT, text)
    assert links, f"no link {text!r} on {driver.current_url}:\n{body_text(driver)}"
    old = driver.find_element(By.TAG_NAME, "html")
    links[0].click()
    wait(driver, f"the page after following {text!r}", lambda d: _stale(old))


def _stale(element: Any) -> bool:
    try:
        element.is_enabled()
        return False
    except Exception:  # StaleElementReferenceException: a new page
        return True


def visit(driver: Any, world: PortalWorld, path: str) -> None:
    driver.get(world.server.url + path)
    assert not on_sign_in_page(driver), f"{path} sent a signed-in person to sign in"


# The sign-in limiter allows 10 password attempts a minute from one address (the test's), so
# each person signs in once per server and the session (or the bearer token) is reused after.
_SESSIONS: dict[tuple[str, str], str] = {}
_TOKENS: dict[tuple[str, str], str] = {}


def remember_session(driver: Any, world: PortalWorld, person: Person) -> None:
    cookie = driver.get_cookie(SESSION_COOKIE)
    assert cookie, f"no {SESSION_COOKIE} cookie after {person.upn} signed in"
    _SESSIONS[(world.server.url, person.upn)] = cookie["value"]


def resume(driver: Any, world: PortalWorld, person: Person) -> bool:
    """Puts `person`'s earlier session back into the browser, when they have one."""
    value = _SESSIONS.get((world.server.url, person.upn))
    sign_out(driver)
    if value is None:
        return False
    # A cookie is set on the page's own origin: a small same-origin file first.
    driver.get(world.server.url + "/writ/assets/writ.css")
    driver.add_cookie({"name": SESSION_COOKIE, "value": value, "path": "/", "secure": True,
                       "httpOnly": True})
    return True


def become(driver: Any, world: PortalWorld, person: Person, path: str = "/portal/agents") -> None:
    """`person`'s session (signed in on Writ's page the first time), at `path`."""
    if resume(driver, world, person):
        visit(driver, world, path)
        return
    sign_in_as(driver, world, person, path)
    remember_session(driver, world, person)


def token_of(world: PortalWorld, person: Person) -> str:
    """`person`'s bearer token (the password grant once per server)."""
    key = (world.server.url, person.upn)
    if key not in _TOKENS:
        _TOKENS[key] = person_token(world.server, person)
    return _TOKENS[key]


def check_page(driver: Any, name: str, *, phone: bool = False) -> None:
    """No serious or critical accessibility violation on the current page at desktop width and,
    with `phone`, at phone width too, where the page must not scroll sideways as a whole (wide
    tables scroll inside their `.table-wrap`)."""
    assert_accessible(driver, f"{name} (desktop)")
    if not phone:
        return
    driver.set_window_size(*PHONE)
    try:
        assert_accessible(driver, f"{name} (phone)")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at phone width"
    finally:
        driver.set_window_size(*DESKTOP)


def agent_of(world: PortalWorld, label: str, *, assigned: bool = False) -> Agent:
    """A new agent of the sponsor's (co-sponsored by the second sponsor), holding a live
    assignment of "Support tools" when `assigned`."""
    agent = new_agent(world.server, world.blueprint_app_id, f"{world.prefix} {label} agent",
                      [world.sponsor, world.second_sponsor])
    world.agents.append(agent)
    if assigned:
        assign_package(world, agent)
    return agent


def approval_link(world: PortalWorld, approver: Person, request_id: str) -> str:
    """The link to the approval of `request_id` in the `approval.stageAssigned` email to
    `approver`, as mailed (not built here)."""
    target = f"{world.server.url}/portal/approvals/{request_id}"
    mail = wait_for_mail(world.mail, approver.mail, "approval.stageAssigned",
                         about=lambda m: target in portal_links(m, world.server))
    [link] = [u for u in portal_links(mail, world.server) if u == target]
    return link


def follow_mail_link(driver: Any, world: PortalWorld, person: Person, link: str) -> None:
    """Opens `link` as a click in a mail client would: signed out the first time, signing in
    where it leads (which returns to the link's page); in `person`'s session after that."""
    if resume(driver, world, person):
        driver.get(link)
        assert path_of(driver.current_url) == path_of(link), driver.current_url
        return
    driver.get(link)
    assert on_sign_in_page(driver), f"{link} opened without a session: {driver.current_url}"
    sign_in(driver, world.server, person.upn, person.password, path_of(link))
    remember_session(driver, world, person)


# --------------------------------------------------------------------------------------------
# Forms over HTTP with the browser's session


class Session:
    """The browser's signed-in session, reused by httpx to post forms as the browser would."""

    def __init__(self, driver: Any, world: PortalWorld):
        cookie = driver.get_cookie(SESSION_COOKIE)
        assert cookie, f"no {SESSION_COOKIE} cookie in the browser"
        self.world = world
        self.client = httpx.Client(
            base_url=world.server.url, follow_redirects=False, timeout=30,
            verify=ssl.create_default_context(cafile=str(world.server.ca_file)),
            headers={"Cookie": f"{SESSION_COOKIE}={cookie['value']}", "Accept": "text/html"})

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, f"GET {path}: {page.status_code} {page.text[:300]}"
        found = CSRF_FIELD.search(page.text)
        assert found, f"no csrf_token field on {path}"
        return found.group(1)

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        return self.client.post(path, data=form)

    def close(self) -> None:
        self.client.close()


def assert_csrf_refused(session: Session, page: str, action: str, form: dict[str, str],
                        unchanged: Any, control: Optional[tuple[dict[str, str], int]] = None) -> None:
    """The form posted to `action` without a CSRF token and with a wrong one is the 403 page
    and `unchanged()` (a snapshot read through the API) stays the same. `control`: the same
    form with the page's real token and some change that the domain refuses, answered with
    that status, which shows the 403 was the token's."""
    token = session.csrf(page)
    before = unchanged()
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    for label, fields in (("missing", dict(form)), ("wrong", {**form, "csrf_token": wrong}),
                          ("empty", {**form, "csrf_token": ""})):
        resp = session.post(action, fields)
        assert resp.status_code == 403, f"{action} with a {label} CSRF token: " \
                                        f"{resp.status_code} {resp.text[:300]}"
        assert "nothing was changed" in resp.text, resp.text[:500]
        assert unchanged() == before, f"{action} with a {label} CSRF token changed something"
    if control is not None:
        fields, status = control
        resp = session.post(action, {**fields, "csrf_token": token})
        assert resp.status_code == status, f"{action} with the page's token: " \
                                           f"{resp.status_code} {resp.text[:300]}"
        assert unchanged() == before, f"{action}'s refused control changed something"


# --------------------------------------------------------------------------------------------
# The world


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def world(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        with portal_server(backend, tmp_path_factory.mktemp(f"writ-portal-acceptance-{backend}"),
                           test_ca) as (server, sink):
            yield seed_world(server, mail=sink, expiration_seconds=EXPIRATION_S)
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)


def test_portal_acceptance(world: PortalWorld, browser, subtests):
    browser.set_window_size(*DESKTOP)
    for name, scenario in SCENARIOS:
        with subtests.test(name):
            scenario(world, browser)


# --------------------------------------------------------------------------------------------
# 1. Extend, approved and denied


def extend_from_my_agents(driver: Any, world: PortalWorld, agent: Agent,
                          justification: str) -> tuple[str, datetime]:
    """The sponsor finds `agent` on My agents with its assignment ending soon, opens the
    assignment and asks to extend it; returns the extension request's id and the old end."""
    become(driver, world, world.sponsor)
    assert h1(driver) == "My agents"
    row = row_with(driver, "agents", agent.name)
    assert "1 assignment; the first ends" in row, row
    left = re.search(r"\(in (\d+) (minute|minutes|seconds)\)", row)
    assert left, f"the time left is not shown: {row}"
    if left.group(2).startswith("minute"):
        assert int(left.group(1)) < EXPIRATION_S // 60, row
    check_page(driver, "My agents", phone=True)

    click_link(driver, agent.name)
    assert h1(driver) == agent.name
    live = row_with(driver, "assignments", world.package_name)
    assert re.search(r"\(in \d+ (minutes?|seconds)\)", live), live
    check_page(driver, "an agent's page")

    click_link(driver, f"Extend or remove access to {world.package_name}")
    assignment = world.assignments[agent.id]
    assert path_of(driver.current_url) == f"/portal/assignments/{assignment}"
    assert h1(driver) == f"{world.package_name} for {agent.name}"
    old_end = fact_time(driver, "End")
    assert old_end == api_end(world, assignment)
    form = driver.find_element(By.ID, "extend-form").text
    assert "An approver must approve the extension; until then the current end stands." in form, form
    check_page(driver, "an assignment's page", phone=True)

    set_field(driver, "extend-form", "justification", justification)
    submit(driver, "extend-form", f"Extend access of {agent.name} to {world.package_name}")
    found = re.fullmatch(r"/portal/requests/([^/?]+)\?done=extension-requested",
                         path_of(driver.current_url))
    assert found, driver.current_url
    request_id = found.group(1)
    assert "Your extension request was sent." in notice(driver), notice(driver)
    assert h1(driver) == f"Request of {agent.name} for {world.package_name}"
    # Just made: submitted, or already waiting for the approvers.
    status = driver.find_element(By.XPATH, "//h1/following-sibling::p[1]").text
    assert status in ("Status: Submitted", "Status: Waiting for approval"), status
    check_page(driver, "a request's page (just made)")
    created = wait_for_state(world, request_id, "pendingApproval")
    assert created["requestType"] == "userUpdate", created
    return request_id, old_end


def approver_decides(driver: Any, world: PortalWorld, approver: Person, agent: Agent,
                     request_id: str, justification: str, decision: str,
                     reason: str) -> None:
    """`approver` follows the link of their approval email, sees the request's context and
    decides it with `reason`."""
    link = approval_link(world, approver, request_id)
    follow_mail_link(driver, world, approver, link)
    assert h1(driver) == f"Request of {agent.name} for {world.package_name}"
    page = body_text(driver)
    for context in (agent.name, "Support assistant", world.sponsor.name, world.sponsor.upn,
                    justification, "Waiting for your decision"):
        assert context in page, f"{context!r} is not on the approval page:\n{page}"
    check_page(driver, "an approval", phone=True)

    set_field(driver, "decision-form", "decision", decision)
    set_field(driver, "decision-form", "justification", reason)
    submit(driver, "decision-form", "Send decision")
    done = "approved" if decision == "Approve" else "denied"
    assert path_of(driver.current_url) == f"/portal/approvals?done={done}", driver.current_url
    assert f"You {done} the request." in notice(driver), notice(driver)
    check_page(driver, "the approvals inbox after deciding")


def scenario_extend_approved(world: PortalWorld, driver: Any) -> None:
    agent = world.assigned_agent
    assignment = world.assignments[agent.id]
    justification = "The triage rota runs another week"
    request_id, old_end = extend_from_my_agents(driver, world, agent, justification)
    approver_decides(driver, world, world.approvers[0], agent, request_id, justification,
                     "Approve", "Rota confirmed with the team lead")
    wait_for_state(world, request_id, "delivered")

    become(driver, world, world.sponsor, f"/portal/assignments/{assignment}")
    new_end = fact_time(driver, "End")
    assert new_end > old_end, f"the end did not move: {old_end} -> {new_end}"
    assert new_end == api_end(world, assignment)
    visit(driver, world, f"/portal/requests/{request_id}")
    assert "Delivered" in body_text(driver)
    stages = row_with(driver, "stages", "Stage 1")
    assert world.approvers[0].name in stages and "Rota confirmed with the team lead" in stages, stages


def scenario_extend_denied(world: PortalWorld, driver: Any) -> None:
    agent = agent_of(world, "escalation", assigned=True)
    assignment = world.assignments[agent.id]
    justification = "Escalations need the tools until Friday"
    request_id, old_end = extend_from_my_agents(driver, world, agent, justification)
    approver_decides(driver, world, world.approvers[1], agent, request_id, justification,
                     "Deny", "Escalations move to the new queue")
    denied = wait_for_state(world, request_id, "denied")
    assert denied["requestType"] == "userUpdate", denied

    become(driver, world, world.sponsor, f"/portal/assignments/{assignment}")
    assert fact_time(driver, "End") == old_end
    assert api_end(world, assignment) == old_end
    assert driver.find_elements(By.ID, "extend-form"), "a denied extension leaves extend open"
    visit(driver, world, f"/portal/requests/{request_id}")
    assert h1(driver) == f"Request of {agent.name} for {world.package_name}"
    status = driver.find_element(By.XPATH, "//h1/following-sibling::p[1]").text
    assert status == "Status: Denied", status
    page = body_text(driver)
    assert world.approvers[1].name in page and "Escalations move to the new queue" in page, page
    check_page(driver, "a denied request's page")


# --------------------------------------------------------------------------------------------
# 2. Request on an agent's behalf


def scenario_request_on_behalf(world: PortalWorld, driver: Any) -> None:
    agent = world.free_agent
    become(driver, world, world.sponsor, f"/portal/agents/{agent.id}")
    click_link(driver, f"Request access for {agent.name}")
    assert path_of(driver.current_url) == f"/portal/agents/{agent.id}/request"
    offered = table_rows(driver, "packages")
    assert any(world.package_name in r for r in offered), offered
    assert not any(world.restricted_package_name in r for r in offered), offered
    assert world.restricted_package_name not in body_text(driver)
    check_page(driver, "the request page")

    click_link(driver, f"Request {world.package_name} (Sponsors request for their agents)")
    assert driver.find_elements(By.ID, "request-form")
    form = driver.find_element(By.ID, "request-form").text
    for text in ("Region? (required)", "Ticket number? (required)", "Justification (required)"):
        assert text in form, form
    check_page(driver, "the request page with its form")
    before = request_ids(world)
    button = f"Request {world.package_name} for {agent.name}"

    # A ticket number that is not one: the domain's reason, the answers kept, nothing created.
    set_field(driver, "request-form", f"answer.{world.choice_question}", "eu")
    set_field(driver, "request-form", f"answer.{world.text_question}", "ticket 42")
    set_field(driver, "request-form", "justification", "Billing disputes need the tools")
    submit(driver, "request-form", button)
    reason = notice(driver)
    assert "the answer to question 'Ticket number?' does not match its pattern 'INC[0-9]+'" \
        in reason, reason
    assert driver.find_element(By.ID, "notice").get_attribute("role") == "alert"
    assert driver.find_elements(By.ID, "request-form"), "the form is not shown again"
    kept = driver.find_element(By.CSS_SELECTOR, f"#request-form [name='answer.{world.text_question}']")
    assert kept.get_attribute("value") == "ticket 42"
    assert request_ids(world) == before
    check_page(driver, "the request form with a refusal")

    # No justification (as a browser that does not enforce `required` would send it).
    set_field(driver, "request-form", f"answer.{world.text_question}", "INC42")
    justification = driver.find_element(By.CSS_SELECTOR, "#request-form [name='justification']")
    justification.clear()
    driver.execute_script("document.querySelectorAll('#request-form [required]')"
                          ".forEach(e => e.removeAttribute('required'))")
    submit(driver, "request-form", button)
    assert "this policy requires a justification" in notice(driver), notice(driver)
    assert request_ids(world) == before

    # Answered and justified: the request exists and its page shows the answers.
    set_field(driver, "request-form", f"answer.{world.choice_question}", "us")
    set_field(driver, "request-form", f"answer.{world.text_question}", "INC4711")
    set_field(driver, "request-form", "justification", "Billing disputes need the tools")
    submit(driver, "request-form", button)
    found = re.fullmatch(r"/portal/requests/([^/?]+)\?done=requested", path_of(driver.current_url))
    assert found, f"{driver.current_url}: {notice(driver)}"
    request_id = found.group(1)
    assert "Your request was sent." in notice(driver), notice(driver)
    assert request_ids(world) == before | {request_id}
    answers = driver.find_element(By.ID, "answers").text
    assert "Region?" in answers and "United States" in answers, answers
    assert "Ticket number?" in answers and "INC4711" in answers, answers
    assert "Billing disputes need the tools" in body_text(driver)
    check_page(driver, "a request's page")
    created = api_request(world, request_id)
    assert created["requestType"] == "userAdd" and created["justification"] == \
        "Billing disputes need the tools", created
    assert sorted(a["value"] for a in created["answers"]) == ["INC4711", "us"], created

    # The request shows on My requests, linking to its page.
    visit(driver, world, "/portal/requests")
    row = row_with(driver, "requests", agent.name)
    assert world.package_name in row and "New access" in row, row
    check_page(driver, "My requests")
    # The restricted package's policy is no form for this agent either.
    visit(driver, world, f"/portal/agents/{agent.id}/request?policy={world.restricted_policy}")
    assert h1(driver) == "Not found" and not driver.find_elements(By.ID, "request-form")


# --------------------------------------------------------------------------------------------
# 3. Two approvers on one stage


def scenario_second_approver(world: PortalWorld, driver: Any) -> None:
    first, second = world.approvers
    agent = agent_of(world, "reporting")
    request_id = request_on_behalf(world, agent, justification="Monthly reports",
                                   token=token_of(world, world.sponsor))["id"]
    wait_for_state(world, request_id, "pendingApproval")

    # The second approver opens the approval from their own email: the form is there.
    follow_mail_link(driver, world, second, approval_link(world, second, request_id))
    assert driver.find_elements(By.ID, "decision-form")
    session = Session(driver, world)
    try:
        stage = driver.find_element(By.CSS_SELECTOR, "#decision-form [name='stage']").get_attribute("value")
        token = driver.find_element(By.CSS_SELECTOR, "#decision-form [name='csrf_token']").get_attribute("value")

        # Meanwhile the first approver approves.
        resp = decide_by_api(world, first, request_id, "Approve", "Reports are due")
        assert resp.status == 204 or resp.status == 200, repr(resp)

        # The second decides from the page they had open: told who decided, not an error page.
        set_field(driver, "decision-form", "decision", "Deny")
        set_field(driver, "decision-form", "justification", "Not this month")
        submit(driver, "decision-form", "Send decision")
        assert path_of(driver.current_url) == f"/portal/approvals/{request_id}/decision"
        assert h1(driver) == f"Request of {agent.name} for {world.package_name}"
        told = notice(driver)
        assert "Nothing was changed: this request was already decided." in told, told
        assert f"{first.name} approved it on" in told, told
        assert not driver.find_elements(By.ID, "decision-form")
        check_page(driver, "an approval decided meanwhile")
        # The same post answers 409, and the request stays approved.
        again = session.post(f"/portal/approvals/{request_id}/decision", {
            "csrf_token": token, "stage": stage, "decision": "Deny", "justification": "No"})
        assert again.status_code == 409, f"{again.status_code} {again.text[:300]}"
        assert "already decided" in again.text
    finally:
        session.close()
    assert api_request(world, request_id)["state"] != "denied"

    # Following the email link again: the page says who approved it and offers no form.
    follow_mail_link(driver, world, second, approval_link(world, second, request_id))
    status = driver.find_element(By.ID, "approval-status").text
    assert "Approved" in status and f"{first.name} approved it on" in status, status
    assert not driver.find_elements(By.ID, "decision-form")
    check_page(driver, "an approval decided by someone else", phone=True)
    # Both see the decision in its place: the first in their decisions, not the second.
    visit(driver, world, "/portal/approvals/history")
    assert not any(agent.name in r for r in table_rows(driver, "decisions"))
    become(driver, world, first, "/portal/approvals/history")
    row = row_with(driver, "decisions", agent.name)
    assert "Approved" in row and "Reports are due" in row, row
    check_page(driver, "my decisions")


# --------------------------------------------------------------------------------------------
# 4. What each person may see and do


def portal_pages(world: PortalWorld, agent: Agent, assignment: str, request_id: str) -> list[str]:
    """A path of every portal page of the URL scheme."""
    return ["/portal/agents", f"/portal/agents/{agent.id}", f"/portal/agents/{agent.id}/request",
            f"/portal/agents/{agent.id}/request?policy={world.policy}",
            f"/portal/assignments/{assignment}", "/portal/requests",
            f"/portal/requests/{request_id}", "/portal/approvals", "/portal/approvals/history",
            f"/portal/approvals/{request_id}"]


def scenario_visibility(world: PortalWorld, driver: Any) -> None:
    server = world.server
    other = world.other_agent
    # The second sponsor asks for their research agent, which only they sponsor.
    theirs = request_on_behalf(world, other, token=token_of(world, world.second_sponsor))["id"]
    wait_for_state(world, theirs, "pendingApproval")

    become(driver, world, world.sponsor)
    assert not any(other.name in r for r in table_rows(driver, "agents"))
    for path in (f"/portal/agents/{other.id}", f"/portal/agents/{other.id}/request",
                 f"/portal/approvals/{theirs}", f"/portal/requests/{theirs}"):
        visit(driver, world, path)
        assert h1(driver) == "Not found", f"{path}: {h1(driver)}"
        assert other.name not in body_text(driver)
    check_page(driver, "the 404 page")
    session = Session(driver, world)
    try:
        for path in (f"/portal/agents/{other.id}", f"/portal/approvals/{theirs}"):
            assert session.client.get(path).status_code == 404, path
        # Nor can the sponsor decide it.
        token = session.csrf(f"/portal/assignments/{world.assignments[world.assigned_agent.id]}")
        before = api_request(world, theirs)["state"]
        resp = session.post(f"/portal/approvals/{theirs}/decision", {
            "csrf_token": token, "stage": "x", "decision": "Approve", "justification": "mine"})
        assert resp.status_code == 404, f"{resp.status_code} {resp.text[:300]}"
        assert api_request(world, theirs)["state"] == before
    finally:
        session.close()

    # An approver who is not one of this stage's: a person with no part in it.
    nobody = new_person(server, world.prefix, "bystander", "Bo Bystander")
    become(driver, world, nobody)
    visit(driver, world, f"/portal/approvals/{theirs}")
    assert h1(driver) == "Not found"

    # An agent's own token: the 401 page on every page, and no form acts.
    assignment = world.assignments[world.assigned_agent.id]
    pages = portal_pages(world, world.assigned_agent, assignment, theirs)
    token = agent_token(server, world.assigned_agent)
    sign_out(driver)
    with bearer_header(driver, token):
        for path in pages:
            raw = http("GET", server.url + path, token=token, cafile=server.ca_file,
                       headers={"Accept": "text/html"})
            assert raw.status == 401, f"{path} with an agent's token: {raw!r}"
            driver.get(server.url + path)
            assert not on_sign_in_page(driver), path
            assert "Sign in with a browser" in h1(driver), f"{path}: {h1(driver)}"
        check_page(driver, "the 401 page")
    for path in (f"/portal/agents/{world.free_agent.id}/request",
                 f"/portal/assignments/{assignment}/extend",
                 f"/portal/assignments/{assignment}/remove",
                 f"/portal/approvals/{theirs}/decision", f"/portal/requests/{theirs}/cancel"):
        raw = http("POST", server.url + path, token=token, cafile=server.ca_file,
                   headers={"Accept": "text/html"}, form={"justification": "agent"})
        assert raw.status == 401, f"POST {path} with an agent's token: {raw!r}"


def scenario_csrf(world: PortalWorld, driver: Any) -> None:
    agent = agent_of(world, "audit", assigned=True)
    assignment = world.assignments[agent.id]
    pending_agent = agent_of(world, "forecast")
    pending = request_on_behalf(world, pending_agent, justification="Forecasts",
                                token=token_of(world, world.sponsor))["id"]
    wait_for_state(world, pending, "pendingApproval")

    def assignment_state() -> tuple:
        a = api_assignment(world, assignment)
        return a["state"], a["status"], a["schedule"]["expiration"].get("endDateTime"), \
            frozenset(request_ids(world))

    def request_state() -> tuple:
        r = api_request(world, pending)
        return r["state"], r["status"], frozenset(request_ids(world))

    become(driver, world, world.sponsor)
    sponsor = Session(driver, world)
    try:
        # The session's token is on every form; the assignment's page has two.
        page = f"/portal/assignments/{assignment}"
        request_form = {"policy": world.policy, "justification": "Audits",
                        f"answer.{world.choice_question}": "eu",
                        f"answer.{world.text_question}": "INC1"}
        assert_csrf_refused(sponsor, page, f"/portal/agents/{pending_agent.id}/request",
                            request_form, assignment_state,
                            control=({**request_form, "justification": ""}, 400))
        assert_csrf_refused(sponsor, f"/portal/assignments/{assignment}",
                            f"/portal/assignments/{assignment}/extend",
                            {"justification": "Audits run long"}, assignment_state,
                            control=({"justification": ""}, 400))
        assert_csrf_refused(sponsor, f"/portal/assignments/{assignment}",
                            f"/portal/assignments/{assignment}/remove",
                            {"confirm": "yes"}, assignment_state, control=({}, 400))
        assert_csrf_refused(sponsor, f"/portal/requests/{pending}",
                            f"/portal/requests/{pending}/cancel", {}, request_state)
        # The real token cancels: the 403s above were the token's.
        resp = sponsor.post(f"/portal/requests/{pending}/cancel",
                            {"csrf_token": sponsor.csrf(f"/portal/requests/{pending}")})
        assert resp.status_code == 303, f"{resp.status_code} {resp.text[:300]}"
    finally:
        sponsor.close()
    assert api_request(world, pending)["state"] == "canceled"

    other = agent_of(world, "planning")
    waiting = request_on_behalf(world, other, justification="Plans",
                                token=token_of(world, world.sponsor))["id"]
    wait_for_state(world, waiting, "pendingApproval")

    def waiting_state() -> tuple:
        r = api_request(world, waiting)
        return r["state"], r["status"]

    become(driver, world, world.approvers[0], f"/portal/approvals/{waiting}")
    stage = driver.find_element(By.CSS_SELECTOR, "#decision-form [name='stage']").get_attribute("value")
    approver = Session(driver, world)
    try:
        decision = {"stage": stage, "decision": "Approve", "justification": "Plans are fine"}
        assert_csrf_refused(approver, f"/portal/approvals/{waiting}",
                            f"/portal/approvals/{waiting}/decision", decision, waiting_state,
                            control=({**decision, "decision": "Maybe"}, 400))
    finally:
        approver.close()


# --------------------------------------------------------------------------------------------
# 5. Empty states and phone width


def scenario_empty_states(world: PortalWorld, driver: Any) -> None:
    nobody = new_person(world.server, world.prefix, "newcomer", "Nova Newcomer")
    become(driver, world, nobody)
    checks = [
        ("/portal/agents", "My agents", "agents", "An administrator makes you a sponsor"),
        ("/portal/requests", "My requests", "requests", "open it from My agents"),
        ("/portal/approvals", "Waiting for your decision (0)", "approvals",
         "Nothing waits for your decision."),
        ("/portal/approvals/history", "Your decisions", "decisions",
         "You have not decided any request yet."),
    ]
    for path, heading, table, hint in checks:
        visit(driver, world, path)
        assert h1(driver) == heading, f"{path}: {h1(driver)}"
        assert not driver.find_elements(By.ID, table), f"{path} shows #{table} without rows"
        empty = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".empty"))
        assert hint in empty, f"{path}: {empty!r}"
        check_page(driver, f"the empty {heading}", phone=path == "/portal/agents")

    # An approver's inbox with something waiting, and an agent with nothing live or pending.
    become(driver, world, world.approvers[1], "/portal/approvals")
    assert table_rows(driver, "approvals"), "the approver has nothing waiting"
    check_page(driver, "the approvals inbox", phone=True)
    sponsor_agent = agent_of(world, "idle")
    become(driver, world, world.sponsor, f"/portal/agents/{sponsor_agent.id}")
    assert "holds no access package now" in body_text(driver)
    assert "No request for" in body_text(driver)
    check_page(driver, "an agent's page without access", phone=True)


SCENARIOS = (
    ("1 extend, approved from the email link", scenario_extend_approved),
    ("1 extend, denied", scenario_extend_denied),
    ("2 request on an agent's behalf", scenario_request_on_behalf),
    ("3 a second approver on a decided stage", scenario_second_approver),
    ("4 only what the API shows", scenario_visibility),
    ("4 every form checks its CSRF token", scenario_csrf),
    ("5 empty states at desktop and phone width", scenario_empty_states),
)
