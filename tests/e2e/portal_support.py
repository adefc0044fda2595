"""What the portal's browser tests share (issue 17, DESIGN section 15): the accessibility check,
a seeded world on a real `writ serve`, signing in through Writ's own page, the links of a captured
email, and small page helpers, so that an acceptance test is clicks and asserts.

- **Accessibility**: `assert_accessible(driver, page_name)` injects axe-core (pinned in
  `tests/node/package-lock.json`, installed by `scripts/node-deps.sh`) into the current page with
  Selenium's `execute_script` and runs `axe.run` with the WCAG 2.0/2.1/2.2 A and AA rules; it fails
  listing every violation of impact `serious` or `critical` (rule id, help, the nodes' targets).
  The script goes in through the DevTools protocol, which the portal's CSP (`script-src 'self'`)
  does not govern, so the pages' real policy stays in force for everything else.
- **The server**: `portal_server(backend, workdir, ca)` starts `writ serve` over its own TLS with
  email to a `MailSink` and expiry notices at `lead_times` before each end (a context manager
  that stops it cleanly).
- **The world**: `seed_world(server)` creates, through the Graph API as the harness's
  administrator, the people (sponsor, second sponsor, two approvers; each with a password and a
  mailbox), an agent identity blueprint and its agents, a catalog with a group, the package
  "Support tools" (sponsors request on behalf for all agents, required justification, a
  multiple-choice and a text question, one approval stage either approver decides, approval
  required for extensions, a short expiration) and "Restricted tools" (only another agent may
  get it), and live assignments of "Support tools" made by the administrator.
- **People**: `sign_in(driver, server, upn, password, path)` opens `path`, signs in on Writ's
  sign-in page when sent there, and waits to be back at `path`. `person_token` is a person's
  bearer token (the password grant), `agent_token` an agent's (client credentials).
- **Email**: `wait_for_mail(sink, rcpt, event_type)`, `links_in(mail)` and `portal_links(mail,
  server)` read what a message links to.
"""

from __future__ import annotations

import contextlib
import functools
import html
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mail_sink import Mail, MailSink
from writ_harness import HarnessError, REPO_ROOT, RawResponse, TestCa, WritServer, http

EM = "identityGovernance/entitlementManagement"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SPONSORS = {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}
TEXT_QUESTION = "#microsoft.graph.accessPackageTextInputQuestion"
CHOICE_QUESTION = "#microsoft.graph.accessPackageMultipleChoiceQuestion"
AXE_JS = REPO_ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA: the rules the portal is held to.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
FAILING_IMPACTS = ("serious", "critical")
WAIT_S = 30.0


# --------------------------------------------------------------------------------------------
# Accessibility


class AccessibilityError(AssertionError):
    """Serious or critical violations on a page; `violations` holds axe's entries."""

    def __init__(self, message: str, violations: list[dict]):
        super().__init__(message)
        self.violations = violations


@functools.cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        raise HarnessError(
            f"axe-core is missing at {AXE_JS}: run scripts/node-deps.sh (scripts/e2e-tests.sh does)"
        )
    return AXE_JS.read_text("utf-8")


_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(r => done({violations: r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}))}))
  .catch(e => done({error: String(e)}));
"""


def axe_violations(driver: Any) -> list[dict]:
    """Every WCAG 2 A/AA violation axe finds on the current page (all impacts)."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(WAIT_S)
    result = driver.execute_async_script(_RUN_AXE, list(WCAG_TAGS))
    if not isinstance(result, dict) or "error" in result:
        raise AssertionError(f"axe.run failed on {driver.current_url}: {result!r}")
    return result["violations"]


def assert_accessible(driver: Any, page_name: str) -> None:
    """Fails listing every `serious` or `critical` WCAG 2 A/AA violation of the current page."""
    serious = [v for v in axe_violations(driver) if v.get("impact") in FAILING_IMPACTS]
    if not serious:
        return
    lines = [f"{page_name} ({driver.current_url}): {len(serious)} serious or critical "
             "accessibility violation(s):"]
    for v in serious:
        lines.append(f"- {v['id']} [{v['impact']}]: {v['help']} ({v.get('helpUrl', '')})")
        for node in v["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node.get('html', '')[:160]}")
    raise AccessibilityError("\n".join(lines), serious)


# --------------------------------------------------------------------------------------------
# The server


def portal_env(sink: Optional[MailSink], lead_times: tuple[int, ...] = (20,)) -> dict[str, str]:
    """Settings of a portal test's server: email to `sink`, expiry notices `lead_times` seconds
    before each end."""
    env = {"WRIT_EXPIRY_NOTICE_LEAD_TIMES": ",".join(f"PT{s}S" for s in lead_times)}
    if sink is not None:
        env.update({"WRIT_SMTP_URL": sink.url, "WRIT_SMTP_FROM": "Writ <writ@example.org>"})
    return env


@contextlib.contextmanager
def portal_server(backend: str, workdir: Path, ca: Optional[TestCa], *,
                  lead_times: tuple[int, ...] = (20,), tls: bool = True,
                  env: Optional[dict[str, str]] = None) -> Iterator[tuple[WritServer, MailSink]]:
    """`writ serve` (over its own TLS with `ca`, unless `tls=False`) mailing to a fresh
    `MailSink`; yields (server, sink) and stops both, asserting a clean exit."""
    sink = MailSink()
    try:
        server = WritServer.start(backend, workdir, tls=tls, ca=ca,
                                  env={**portal_env(sink, lead_times), **(env or {})})
        try:
            yield server, sink
        finally:
            status = server.stop()
        assert status == 0, f"[{backend}] writ serve did not stop cleanly:\n{server.stderr_tail()}"
    finally:
        sink.close()


# --------------------------------------------------------------------------------------------
# The world


@dataclass
class Person:
    id: str
    upn: str
    password: str
    mail: str
    name: str


@dataclass
class Agent:
    id: str
    app_id: str
    name: str
    secret: str = ""


@dataclass
class PortalWorld:
    server: WritServer
    prefix: str
    sponsor: Person
    second_sponsor: Person
    approvers: tuple[Person, Person]
    blueprint_app_id: str
    # Sponsored by `sponsor` (the second sponsor co-sponsors the first): the first holds a live
    # assignment of "Support tools", the second holds nothing (to request for).
    agents: list[Agent]
    # Sponsored by the second sponsor only: `sponsor` must not see it.
    other_agent: Agent
    catalog: str
    group: str
    package: str
    package_name: str
    policy: str
    # Question ids of the "Support tools" policy: the multiple choice and the text one.
    choice_question: str
    text_question: str
    # The multiple choice's values (actualValue -> text shown).
    choices: dict[str, str]
    restricted_package: str
    restricted_package_name: str
    restricted_policy: str
    # agent id -> id of its live "Support tools" assignment.
    assignments: dict[str, str] = field(default_factory=dict)
    expiration_seconds: int = 0
    # Where the server mails (`portal_server`'s sink), when the test has one.
    mail: Optional[MailSink] = None

    @property
    def assigned_agent(self) -> Agent:
        return self.agents[0]

    @property
    def free_agent(self) -> Agent:
        return self.agents[1]

    def people(self) -> list[Person]:
        return [self.sponsor, self.second_sponsor, *self.approvers]


def created(server: WritServer, path: str, body: dict) -> dict:
    """POST as the administrator that must answer 201; returns the entity."""
    resp = server.api("POST", path, body)
    assert resp.status == 201, f"POST {path}: {resp!r}"
    return resp.json()


def poll(what: str, probe: Callable[[], Any], timeout: float = WAIT_S, every: float = 0.2) -> Any:
    """`probe()` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(every)


def new_person(server: WritServer, prefix: str, role: str, name: str) -> Person:
    upn = f"{prefix}-{role}@example.org"
    password = f"a long passphrase {prefix} {role}"
    user = created(server, "users", {
        "displayName": name, "userPrincipalName": upn, "mailNickname": f"{prefix}-{role}",
        "mail": upn, "accountEnabled": True, "passwordProfile": {"password": password}})
    return Person(user["id"], upn, password, upn, name)


def new_agent(server: WritServer, blueprint_app_id: str, name: str, sponsors: list[Person]) -> Agent:
    agent = created(server, "servicePrincipals", {
        "@odata.type": "#microsoft.graph.agentIdentity", "displayName": name,
        "agentIdentityBlueprintId": blueprint_app_id,
        "sponsors@odata.bind": [f"{server.graph}/users/{p.id}" for p in sponsors]})
    return Agent(agent["id"], agent["appId"], name)


def seed_world(server: WritServer, *, prefix: Optional[str] = None, expiration_seconds: int = 120,
               approval_for_add: bool = True, assign: bool = True,
               mail: Optional[MailSink] = None) -> PortalWorld:
    """The portal's world on `server` (see the module doc). `expiration_seconds`: how long an
    assignment of "Support tools" lasts (so notices come soon); `approval_for_add`: whether a
    sponsor's new request waits for the approvers too (extensions always do); `assign`: whether
    the first agent gets its live assignment (delivered before this returns)."""
    prefix = prefix or "pt" + secrets.token_hex(3)
    sponsor = new_person(server, prefix, "sponsor", "Sam Sponsor")
    second = new_person(server, prefix, "sponsor2", "Sasha Second")
    approvers = (new_person(server, prefix, "approver1", "Avery Approver"),
                 new_person(server, prefix, "approver2", "Blake Approver"))
    blueprint = created(server, "applications", {
        "@odata.type": "#microsoft.graph.agentIdentityBlueprint",
        "displayName": "Support assistant",
        "sponsors@odata.bind": [f"{server.graph}/users/{sponsor.id}"]})
    created(server, "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
            {"appId": blueprint["appId"]})
    agents = [new_agent(server, blueprint["appId"], f"{prefix} triage agent", [sponsor, second]),
              new_agent(server, blueprint["appId"], f"{prefix} billing agent", [sponsor])]
    other = new_agent(server, blueprint["appId"], f"{prefix} research agent", [second])

    group = created(server, "groups", {
        "displayName": "Support tools users", "mailEnabled": False,
        "mailNickname": f"{prefix}tools", "securityEnabled": True})["id"]
    catalog = created(server, f"{EM}/catalogs", {"displayName": "Support"})["id"]
    created(server, f"{EM}/resourceRequests", {
        "requestType": "adminAdd", "catalog": {"id": catalog},
        "resource": {"originId": group, "originSystem": "AadGroup"}})
    roles = server.get_json(f"{EM}/catalogs/{catalog}/resourceRoles")["value"]
    member = next(r["id"] for r in roles if r["displayName"] == "Member")

    def package(name: str) -> str:
        pid = created(server, f"{EM}/accessPackages", {
            "displayName": name, "description": f"{name} for support agents",
            "catalog": {"id": catalog}})["id"]
        created(server, f"{EM}/accessPackages/{pid}/resourceRoleScopes", {"role": {"id": member}})
        return pid

    choices = {"eu": "Europe", "us": "United States"}
    stage = {"durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": True,
             "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": a.id}
                                  for a in approvers]}
    on_behalf = {"enableOnBehalfRequestorsToAddAccess": True,
                 "enableOnBehalfRequestorsToUpdateAccess": True,
                 "enableOnBehalfRequestorsToRemoveAccess": True,
                 "onBehalfRequestors": [SPONSORS]}
    support = package("Support tools")
    policy = created(server, f"{EM}/assignmentPolicies", {
        "displayName": "Sponsors request for their agents",
        "description": "Sponsors ask on behalf of their agents; an approver decides.",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": f"PT{expiration_seconds}S"},
        "requestorSettings": on_behalf,
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": approval_for_add, "isApprovalRequiredForUpdate": True,
            "isRequestorJustificationRequired": True, "stages": [stage]},
        "questions": [
            {"@odata.type": CHOICE_QUESTION, "text": "Region?", "isRequired": True, "sequence": 1,
             "isMultipleSelectionAllowed": False,
             "choices": [{"actualValue": k, "text": v} for k, v in choices.items()]},
            {"@odata.type": TEXT_QUESTION, "text": "Ticket number?", "isRequired": True,
             "sequence": 2, "isSingleLineQuestion": True, "regexPattern": "INC[0-9]+"}],
        "accessPackage": {"id": support}})
    by_type = {q["@odata.type"]: q["id"] for q in policy["questions"]}

    restricted = package("Restricted tools")
    restricted_policy = created(server, f"{EM}/assignmentPolicies", {
        "displayName": "Only the research agent",
        "allowedTargetScope": "specificDirectoryServicePrincipals",
        "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.singleServicePrincipal",
                                    "servicePrincipalId": other.id}],
        "expiration": {"type": "afterDuration", "duration": "P1D"},
        "requestorSettings": on_behalf,
        "requestApprovalSettings": {"isApprovalRequiredForAdd": False,
                                    "isApprovalRequiredForUpdate": False, "stages": []},
        "accessPackage": {"id": restricted}})["id"]

    world = PortalWorld(
        server=server, prefix=prefix, sponsor=sponsor, second_sponsor=second, approvers=approvers,
        blueprint_app_id=blueprint["appId"], agents=agents, other_agent=other, catalog=catalog,
        group=group, package=support, package_name="Support tools", policy=policy["id"],
        choice_question=by_type[CHOICE_QUESTION], text_question=by_type[TEXT_QUESTION],
        choices=choices, restricted_package=restricted, restricted_package_name="Restricted tools",
        restricted_policy=restricted_policy, expiration_seconds=expiration_seconds, mail=mail)
    if assign:
        assign_package(world, world.assigned_agent)
    return world


def assign_package(world: PortalWorld, agent: Agent) -> str:
    """The administrator's `adminAdd` of "Support tools" to `agent` (no approval, no answers);
    waits for its delivery and returns the assignment's id."""
    server = world.server
    request = created(server, f"{EM}/assignmentRequests", {
        "requestType": "adminAdd", "assignment": {
            "targetId": agent.id, "assignmentPolicyId": world.policy,
            "accessPackageId": world.package}})

    def delivered():
        r = server.get_json(f"{EM}/assignmentRequests/{request['id']}", **{"$expand": "assignment"})
        return r if r["state"] == "delivered" and r.get("assignment") else None

    assignment = poll(f"delivery of {agent.name}'s assignment", delivered)["assignment"]["id"]
    world.assignments[agent.id] = assignment
    return assignment


def answers(world: PortalWorld, region: str = "eu", ticket: str = "INC42") -> list[dict]:
    """The "Support tools" policy's answers in Graph's shape (for API requests)."""
    def answer(question: str, kind: str, value: str) -> dict:
        return {"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": value,
                "answeredQuestion": {"@odata.type": kind, "id": question}}
    return [answer(world.choice_question, CHOICE_QUESTION, region),
            answer(world.text_question, TEXT_QUESTION, ticket)]


def request_on_behalf(world: PortalWorld, agent: Agent, *, justification: str = "Needed for triage",
                      token: Optional[str] = None) -> dict:
    """The sponsor's `userAdd` of "Support tools" for `agent` through the Graph API (with the
    answers): a pending request for the approvers when the policy asks approval."""
    token = token or person_token(world.server, world.sponsor)
    resp = http("POST", f"{world.server.graph}/{EM}/assignmentRequests", token=token,
                cafile=world.server.ca_file, json_body={
                    "requestType": "userAdd", "justification": justification,
                    "answers": answers(world),
                    "assignment": {"targetId": agent.id, "accessPackageId": world.package,
                                   "assignmentPolicyId": world.policy}})
    assert resp.status == 201, f"on-behalf request for {agent.name}: {resp!r}"
    return resp.json()


def wait_for_state(world: PortalWorld, request_id: str, state: str) -> dict:
    return poll(f"request {request_id} reaching {state}", lambda: (
        lambda r: r if r["state"] == state else None)(
            world.server.get_json(f"{EM}/assignmentRequests/{request_id}")))


def decide_by_api(world: PortalWorld, approver: Person, request_id: str, decision: str = "Approve",
                  justification: str = "Looks right") -> RawResponse:
    """`approver` decides the request's stage through the Graph API (the stage assigned to them)."""
    server = world.server
    token = person_token(server, approver)
    approval = http("GET", f"{server.graph}/{EM}/accessPackageAssignmentApprovals/{request_id}",
                    token=token, cafile=server.ca_file)
    assert approval.status == 200, repr(approval)
    [stage] = [s for s in approval.json()["stages"] if s.get("assignedToMe")
               and s["status"] == "InProgress"]
    return http("PATCH",
                f"{server.graph}/{EM}/accessPackageAssignmentApprovals/{request_id}/stages/{stage['id']}",
                token=token, cafile=server.ca_file,
                json_body={"reviewResult": decision, "justification": justification})


# --------------------------------------------------------------------------------------------
# Tokens


def person_token(server: WritServer, person: Person) -> str:
    """A person's bearer token for Writ's API (the password grant)."""
    resp = http("POST", server.url + "/oauth2/v2.0/token", cafile=server.ca_file, form={
        "grant_type": "password", "username": person.upn, "password": person.password,
        "scope": GRAPH_SCOPE})
    assert resp.status == 200, f"token of {person.upn}: {resp!r}"
    return resp.json()["access_token"]


def agent_token(server: WritServer, agent: Agent) -> str:
    """An agent's own bearer token (client credentials with a secret added here once)."""
    if not agent.secret:
        resp = server.api("POST", f"servicePrincipals/{agent.id}/addPassword",
                          {"passwordCredential": {"displayName": "portal e2e"}})
        assert resp.status == 200, f"addPassword of {agent.name}: {resp!r}"
        agent.secret = resp.json()["secretText"]
    resp = http("POST", server.url + "/oauth2/v2.0/token", cafile=server.ca_file, form={
        "grant_type": "client_credentials", "client_id": agent.app_id,
        "client_secret": agent.secret, "scope": GRAPH_SCOPE})
    assert resp.status == 200, f"token of {agent.name}: {resp!r}"
    return resp.json()["access_token"]


# --------------------------------------------------------------------------------------------
# The browser


def wait(driver: Any, what: str, condition: Callable[[Any], Any], timeout: float = WAIT_S) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except Exception as err:  # TimeoutException: say what was awaited and where the page is
        raise AssertionError(f"{what} (at {driver.current_url}): {err!r}") from err


def path_of(url: str) -> str:
    """The path and query of `url`."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def tenant_of(server: WritServer) -> str:
    """The server's tenant id (the `tid` of the administrator's token)."""
    import base64
    import json

    payload = server.token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["tid"]


def sign_in_url(server: WritServer, return_to: str) -> str:
    """Writ's sign-in page, returning to `return_to` (as the portal's redirect leads)."""
    return f"{server.url}/{tenant_of(server)}/login?return_to={urllib.parse.quote(return_to, safe='')}"


def on_sign_in_page(driver: Any) -> bool:
    return re.fullmatch(r"/[^/]+/login", urllib.parse.urlsplit(driver.current_url).path) is not None


def sign_in(driver: Any, server: WritServer, upn: str, password: str, path: str = "/portal/agents") -> None:
    """Opens `path`; when sent to Writ's sign-in page, signs in there as `upn`; waits until the
    browser is back at `path` (its path and query)."""
    from selenium.webdriver.common.by import By

    driver.get(server.url + path)
    if on_sign_in_page(driver):
        wait(driver, "the sign-in form", lambda d: d.find_elements(By.ID, "username"))
        driver.find_element(By.ID, "username").clear()
        driver.find_element(By.ID, "username").send_keys(upn)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver, f"back at {path} after signing in as {upn}",
         lambda d: not on_sign_in_page(d) and path_of(d.current_url) == path)


def sign_in_as(driver: Any, world: PortalWorld, person: Person, path: str = "/portal/agents") -> None:
    sign_in(driver, world.server, person.upn, person.password, path)


def sign_out(driver: Any) -> None:
    """Forgets the browser's session (its cookies), as a fresh browser would be."""
    driver.delete_all_cookies()


@contextlib.contextmanager
def bearer_header(driver: Any, token: str) -> Iterator[None]:
    """Every request of the browser carries `Authorization: Bearer <token>` meanwhile (the
    DevTools protocol's extra headers), as a client holding a token would send."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": f"Bearer {token}"}})
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def h1(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "h1").text


def notice(driver: Any) -> str:
    """The layout's announced notice (`#notice`), or "" when there is none."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, "notice")
    return found[0].text if found else ""


def body_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def table_rows(driver: Any, table_id: str) -> list[str]:
    """The text of each body row of table `#table_id` ([] when the table is absent)."""
    from selenium.webdriver.common.by import By

    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def set_field(driver: Any, form_id: str, name: str, value: str) -> None:
    """Fills the field `name` of form `#form_id`: types into a text input or text area, picks
    an option of a select, checks the radio button or checkbox with that value."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    fields = driver.find_elements(By.CSS_SELECTOR, f"#{form_id} [name='{name}']")
    assert fields, f"form #{form_id} has no field named {name!r} (at {driver.current_url})"
    first = fields[0]
    kind = (first.get_attribute("type") or "").lower()
    if first.tag_name == "select":
        Select(first).select_by_value(value)
    elif kind in ("radio", "checkbox"):
        [choice] = [f for f in fields if f.get_attribute("value") == value]
        if not choice.is_selected():
            choice.click()
    elif kind == "datetime-local":
        # Typing into a datetime-local control depends on the locale's field order.
        driver.execute_script("arguments[0].value = arguments[1]", first, value)
    else:
        first.clear()
        first.send_keys(value)


def answer_questions(driver: Any, world: PortalWorld, form_id: str = "request-form",
                     region: str = "eu", ticket: str = "INC42") -> None:
    """Answers the "Support tools" questions (`answer.{questionId}`) in the request form."""
    set_field(driver, form_id, f"answer.{world.choice_question}", region)
    set_field(driver, form_id, f"answer.{world.text_question}", ticket)


def submit(driver: Any, form_id: str, button_text: Optional[str] = None) -> None:
    """Clicks the submit button of form `#form_id` (the one whose text contains `button_text`,
    when given) and waits for the next page."""
    from selenium.webdriver.common.by import By

    buttons = driver.find_elements(By.CSS_SELECTOR, f"#{form_id} button, #{form_id} input[type=submit]")
    if button_text is not None:
        buttons = [b for b in buttons if button_text in (b.text or b.get_attribute("value") or "")]
    assert buttons, f"form #{form_id} has no button {button_text!r} (at {driver.current_url})"
    old = driver.find_element(By.TAG_NAME, "html")
    buttons[0].click()
    wait(driver, f"the page after submitting #{form_id}", lambda d: _stale(old))


def _stale(element: Any) -> bool:
    try:
        element.is_enabled()
        return False
    except Exception:  # StaleElementReferenceException: a new page
        return True


# --------------------------------------------------------------------------------------------
# Email


_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_URL = re.compile(r"""https?://[^\s<>"')\]]+""")


def links_in(mail: Mail) -> list[str]:
    """Every URL a message links to, in order, without repeats: the HTML part's `href`s, then
    the URLs written in the text part."""
    found: list[str] = []
    try:
        found += [html.unescape(h) for h in _HREF.findall(mail.html)]
    except (KeyError, AttributeError):  # no HTML part
        pass
    found += _URL.findall(mail.text)
    return list(dict.fromkeys(u.rstrip(".,;") for u in found))


def portal_links(mail: Mail, server: WritServer) -> list[str]:
    """The links of `mail` to pages of the portal at `server`."""
    return [u for u in links_in(mail) if u.startswith(server.url + "/portal/")]


def event_type_of(mail: Mail) -> Optional[str]:
    """The event type a Writ message is about (its text's `Event:` line), or None."""
    found = re.search(r"^Event: (\S+) \(", mail.text, re.MULTILINE)
    return found.group(1) if found else None


def mails_to(sink: MailSink, rcpt: str, event_type: Optional[str] = None) -> list[Mail]:
    """The messages `sink` got for `rcpt` (about `event_type`, when given), oldest first."""
    return [m for m in sink.all()
            if m.rcpt == rcpt and (event_type is None or event_type_of(m) == event_type)]


def wait_for_mail(sink: MailSink, rcpt: str, event_type: Optional[str] = None,
                  timeout: float = WAIT_S, about: Optional[Callable[[Mail], bool]] = None) -> Mail:
    """The first message to `rcpt` (of `event_type`, matching `about`), waiting for it."""
    def found():
        mails = [m for m in mails_to(sink, rcpt, event_type) if about is None or about(m)]
        return mails[0] if mails else None
    return poll(f"an email {event_type or ''} to {rcpt}", found, timeout)
