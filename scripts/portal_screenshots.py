"""Screenshots of every portal page (scripts/portal-screenshots.sh): starts `writ serve` on a
throwaway SQLite database (tests/e2e/writ_harness.py), seeds the portal's world
(tests/e2e/portal_support.py) with a request waiting for approval, a decided one and an
assignment, signs each person in through Writ's sign-in page in headless chromium, and saves each
page of the portal's URL scheme at desktop (1280 wide) and phone (390 wide) width as
`<out>/portal-<name>-<desktop|phone>.png`, the whole page's height.

A page that is not served (404 before its part is merged), or that fails to load, is reported
and skipped; the others are still taken. Each page is also run through the accessibility check,
and its serious or critical violations are reported (not fatal: the browser tests fail on them).
Exits 1 when any page was skipped, after taking all the others.

Usage: portal_screenshots.py OUT_DIR
"""

from __future__ import annotations

import shutil
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

import httpx  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

from portal_support import (  # noqa: E402
    EM, AccessibilityError, assert_accessible, decide_by_api, new_agent,
    person_token, portal_server, request_on_behalf, seed_world, sign_in, wait_for_state,
)
from writ_harness import http  # noqa: E402

WIDTHS = (("desktop", 1280, 900), ("phone", 390, 844))
MAX_HEIGHT = 6000


def browser(width: int, height: int, profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--hide-scrollbars", f"--window-size={width},{height}",
                     f"--user-data-dir={profile}", "--lang=en-GB"):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def served(base: str, path: str) -> bool:
    """Whether `path` is a portal page here: signed out, a page sends the browser to sign in
    (303); an unknown path is 404."""
    answer = httpx.get(base + path, follow_redirects=False, timeout=30,
                       verify=ssl.create_default_context())
    return answer.status_code == 303


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="portal-screenshots-"))
    skipped: list[str] = []
    try:
        with portal_server("sqlite", work / "writ", None, tls=False, lead_times=(3600,)) as (
                server, sink):
            world = seed_world(server, prefix="shots", expiration_seconds=7 * 24 * 3600, mail=sink)
            # An agent with nothing (for the request form).
            fresh = new_agent(server, world.blueprint_app_id, "shots inventory agent",
                              [world.sponsor])
            assignment = world.assignments[world.assigned_agent.id]
            # A request approved by the first approver (their history; "already decided" for the
            # second), and one waiting for both.
            sponsor_token = person_token(server, world.sponsor)
            extension = http("POST", f"{server.graph}/{EM}/assignmentRequests", token=sponsor_token,
                             json_body={"requestType": "userUpdate",
                                        "justification": "Still triaging the backlog",
                                        "assignment": {"id": assignment}})
            assert extension.status == 201, repr(extension)
            decided = extension.json()["id"]
            wait_for_state(world, decided, "pendingApproval")
            reply = decide_by_api(world, world.approvers[0], decided, "Approve", "Backlog is real")
            assert reply.status in (200, 204), repr(reply)
            pending = request_on_behalf(world, world.free_agent, token=sponsor_token)["id"]
            wait_for_state(world, pending, "pendingApproval")

            sponsor, approver, second = world.sponsor, world.approvers[0], world.approvers[1]
            pages = [
                ("my-agents", sponsor, "/portal/agents"),
                ("agent", sponsor, f"/portal/agents/{world.assigned_agent.id}"),
                ("agent-request", sponsor, f"/portal/agents/{fresh.id}/request"),
                ("agent-request-form", sponsor,
                 f"/portal/agents/{fresh.id}/request?policy={world.policy}"),
                ("assignment", sponsor, f"/portal/assignments/{assignment}"),
                ("requests", sponsor, "/portal/requests"),
                ("request", sponsor, f"/portal/requests/{pending}"),
                ("approvals", approver, "/portal/approvals"),
                ("approval", approver, f"/portal/approvals/{pending}"),
                ("approvals-history", approver, "/portal/approvals/history"),
                ("approval-decided", second, f"/portal/approvals/{decided}"),
            ]
            for tag, width, height in WIDTHS:
                drivers: dict[str, webdriver.Chrome] = {}
                try:
                    for name, person, path in pages:
                        label = f"portal-{name}-{tag}"
                        if not served(server.url, path):
                            print(f"skipped {label}: {path} is not served (404)", file=sys.stderr)
                            skipped.append(label)
                            continue
                        try:
                            if person.upn not in drivers:
                                drivers[person.upn] = browser(width, height,
                                                              work / f"profile-{tag}-{len(drivers)}")
                            driver = drivers[person.upn]
                            driver.set_window_size(width, height)
                            sign_in(driver, server, person.upn, person.password, path)
                            time.sleep(0.3)  # portal.js rewrites the times
                            full = driver.execute_script(
                                "return document.documentElement.scrollHeight")
                            driver.set_window_size(width, min(max(int(full), height), MAX_HEIGHT))
                            time.sleep(0.2)
                            driver.save_screenshot(str(out / f"{label}.png"))
                            print(f"saved {out / label}.png")
                            try:
                                assert_accessible(driver, label)
                            except AccessibilityError as err:
                                print(f"accessibility: {err}", file=sys.stderr)
                        except Exception as err:  # report, continue with the next page
                            print(f"skipped {label}: {err!r}", file=sys.stderr)
                            skipped.append(label)
                finally:
                    for driver in drivers.values():
                        driver.quit()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if skipped:
        print(f"{len(skipped)} screenshot(s) not taken: {', '.join(skipped)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
