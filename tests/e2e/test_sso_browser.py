"""Single sign-on through a real upstream OpenID provider, in a real browser (issue 16).

The upstream is the certified `oidc-provider` (tests/node/upstream_idp.mjs) on a loopback port,
with Writ registered as a confidential client; it signs in the person named by `login_hint`
without a form. Writ runs `writ serve` over its own TLS on SQLite and PostgreSQL with
`WRIT_SSO_*` pointing at it, and headless Chromium (the `browser` fixture) clicks "Sign in with
Test IdP" on Writ's sign-in page.

- A person whose upstream `preferred_username` is a Writ user's UPN lands back at `/devicelogin`
  signed in (the session cookie is set), and the first sign-in linked the user
  (`identities`, issuer = the provider's).
- An upstream person with no Writ account (creation off), or whose Writ user is disabled, sees the
  clear page and gets no session.
- MSAL Python's device code flow through single sign-on (the second run of
  test_people_client_libraries.py's): the program shows a code, the browser opens `/devicelogin`,
  signs in through the provider, enters the code and allows; the program's tokens act as that
  person in Writ's API, and `acquire_token_silent` refreshes them from MSAL's cache.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Optional

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from browser_waits import left_the_page
from test_client_libraries import claims, client_env, snippet
from writ_harness import HarnessError, WritServer, http

WRIT_CLI_CLIENT_ID = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
CLIENT_ID = "writ"
CLIENT_SECRET = "upstream-client-secret-" + os.urandom(8).hex()
ACCOUNTS = {
    "upstream-ada": {
        "preferred_username": "ada@example.org",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "email_verified": True,
    },
    "upstream-grace": {
        "preferred_username": "grace@example.org",
        "name": "Grace Hopper",
    },
    "upstream-stranger": {
        "preferred_username": "stranger@example.org",
        "name": "A Stranger",
    },
}


class UpstreamIdp:
    """The oidc-provider process: its issuer first, then ready once told Writ's redirect URI."""

    def __init__(self, workdir: Path):
        if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
            pytest.fail("tests/node is not installed: run scripts/node-deps.sh", pytrace=False)
        self.log = open(workdir / "upstream-idp.log", "wb")
        env = dict(os.environ)
        env.update(
            {
                "IDP_CLIENT_ID": CLIENT_ID,
                "IDP_CLIENT_SECRET": CLIENT_SECRET,
                "IDP_ACCOUNTS": json.dumps(ACCOUNTS),
                "IDP_DEFAULT_SUB": "upstream-ada",
            }
        )
        self.process = subprocess.Popen(
            ["node", str(NODE_DIR / "upstream_idp.mjs")],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.issuer = self._line()["issuer"]

    def _line(self, timeout: float = 30) -> dict:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise HarnessError("the upstream provider said nothing in time")
        line = self.process.stdout.readline()
        if not line:
            raise HarnessError(f"the upstream provider exited ({self.process.poll()})")
        return json.loads(line)

    def serve(self, redirect_uri: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(redirect_uri.encode() + b"\n")
        self.process.stdin.flush()
        assert self._line().get("ready"), "the upstream provider did not start"

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def sso(request, tmp_path_factory, test_ca):
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"writ-sso-{backend}")
    idp = UpstreamIdp(workdir)
    server: Optional[WritServer] = None
    try:
        server = WritServer.start(
            backend,
            workdir,
            tls=True,
            ca=test_ca,
            env={
                "WRIT_SIGN_IN": "both",
                "WRIT_SSO_ISSUER": idp.issuer,
                "WRIT_SSO_CLIENT_ID": CLIENT_ID,
                "WRIT_SSO_CLIENT_SECRET": CLIENT_SECRET,
                "WRIT_SSO_DISPLAY_NAME": "Test IdP",
                "WRIT_DEVICE_CODE_INTERVAL": "PT1S",
            },
        )
        idp.serve(server.url + "/signin/sso/callback")
        yield server, idp
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start: {err}", pytrace=False)
    finally:
        idp.stop()
        if server is not None:
            assert server.stop() == 0, server.stderr_tail()


def session_cookie(browser) -> Optional[dict]:
    return browser.get_cookie("__Host-writ_session")


def test_sso_signs_a_linked_person_in_and_returns(sso, browser):
    writ, idp = sso
    created = writ.api(
        "POST",
        "users",
        {
            "displayName": "Ada Lovelace",
            "userPrincipalName": "ada@example.org",
            "mailNickname": "ada",
            "accountEnabled": True,
            "passwordProfile": {"password": "a long passphrase 1"},
        },
    )
    assert created.status == 201, created
    user_id = created.json()["id"]

    # Not signed in: /devicelogin sends the browser to the sign-in page, which offers SSO.
    browser.get(f"{writ.url}/devicelogin")
    button = WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "sso-sign-in")))
    assert button.text == "Sign in with Test IdP"
    assert browser.find_elements(By.NAME, "password"), "WRIT_SIGN_IN=both keeps the password form"
    button.click()
    # Through the provider (its interaction signs Ada in) and back to where the person was going.
    WebDriverWait(browser, 30).until(EC.url_to_be(f"{writ.url}/devicelogin"))
    assert "Signed in as ada@example.org" in browser.page_source, browser.page_source
    assert session_cookie(browser) is not None
    assert browser.get_cookie("__Host-writ_sso") is None

    # The first sign-in linked the user to the upstream account.
    identities = writ.get_json(f"users/{user_id}?$select=identities")["identities"]
    assert {
        "signInType": "federated",
        "issuer": idp.issuer,
        "issuerAssignedId": "upstream-ada",
    } in identities, identities


def refused_through_sso(writ: WritServer, browser, upn: str, reason: str) -> None:
    hint = urllib.parse.quote(upn)
    browser.get(f"{writ.url}/common/login?return_to=%2Fdevicelogin&login_hint={hint}")
    WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "sso-sign-in"))).click()
    WebDriverWait(browser, 30).until(EC.url_contains("/signin/sso/callback"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "You are not signed in"
    assert reason in browser.page_source, browser.page_source
    assert session_cookie(browser) is None


def test_sso_refuses_a_disabled_user(sso, browser):
    writ, _ = sso
    created = writ.api(
        "POST",
        "users",
        {
            "displayName": "Grace Hopper",
            "userPrincipalName": "grace@example.org",
            "mailNickname": "grace",
            "accountEnabled": False,
            "passwordProfile": {"password": "a long passphrase 1"},
        },
    )
    assert created.status == 201, created
    refused_through_sso(writ, browser, "grace@example.org", "The Writ account is disabled.")


def test_sso_refuses_a_person_without_a_writ_account(sso, browser):
    writ, _ = sso
    refused_through_sso(
        writ, browser, "stranger@example.org", "There is no Writ account for this person."
    )
    # Still not signed in: the device page sends the browser back to the sign-in page.
    browser.get(f"{writ.url}/devicelogin")
    WebDriverWait(browser, 30).until(EC.url_contains("/login?return_to="))


def test_msal_device_flow_through_sso(sso, browser, tmp_path):
    """MSAL Python's device code flow (docs/client-libraries.md's snippet), the person signing in
    through the upstream provider; `acquire_token_silent` then refreshes from MSAL's cache."""
    writ, _ = sso
    found = writ.get_json("users", **{"$filter": "userPrincipalName eq 'ada@example.org'"})["value"]
    if found:
        user_id = found[0]["id"]
    else:
        created = writ.api(
            "POST",
            "users",
            {
                "displayName": "Ada Lovelace",
                "userPrincipalName": "ada@example.org",
                "mailNickname": "ada",
                "accountEnabled": True,
                "passwordProfile": {"password": "a long passphrase 1"},
            },
        )
        assert created.status == 201, created
        user_id = created.json()["id"]
    env = client_env(writ, "organizations")
    env["WRIT_CLIENT_ID"] = WRIT_CLI_CLIENT_ID
    program = tmp_path / "device.py"
    program.write_text(snippet("python-msal-device-code"), "utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(program)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("{"), f"no user code: {first!r}"
        shown = json.loads(first)
        # The person, in a browser: single sign-on, then the code, then allow.
        wait = WebDriverWait(browser, 30)
        browser.get(shown["verification_uri"])
        wait.until(EC.element_to_be_clickable((By.ID, "sso-sign-in"))).click()
        code = wait.until(EC.element_to_be_clickable((By.ID, "user_code")))
        assert "Signed in as ada@example.org" in browser.page_source
        code.send_keys(shown["user_code"])
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        allow = wait.until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, "button[name=decision][value=approve]"))
        )
        allow.click()
        wait.until(left_the_page(allow))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, f"the program failed:\n{err}\n{out}"
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    assert result["username"] == "ada@example.org"
    assert result["refreshed"] is True, result
    assert claims(result["access_token"])["oid"] == user_id
    me = http("GET", f"{writ.graph}/me", token=result["access_token"], cafile=writ.ca_file)
    assert me.status == 200 and me.json()["id"] == user_id, me
