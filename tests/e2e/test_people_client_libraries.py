"""People signing in with Microsoft's client libraries against a real `writ serve` over its own
TLS, on both backends (issue 16), each program the snippet of docs/client-libraries.md run in a
process of its own:

- MSAL Python's device code flow, with a headless Chromium signing the person in at
  `/devicelogin`: the program shows a user code, the browser signs in with the local password,
  enters the code and allows the sign-in, the program receives the person's tokens, and
  `acquire_token_silent` later refreshes them through Writ from MSAL's cache;
- `azure-identity`'s `UsernamePasswordCredential`, whose `AuthenticationRecord` is built from
  Writ's id token and `client_info`.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from browser_waits import left_the_page
from test_client_libraries import claims, client_env, snippet, tenant_of
from writ_harness import HarnessError, WritServer, http

WRIT_CLI_CLIENT_ID = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
PASSWORD = "a long passphrase 1"
STEP_TIMEOUT_S = 20


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def tls_writ(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        server = WritServer.start(
            backend,
            tmp_path_factory.mktemp(f"writ-device-tls-{backend}"),
            tls=True,
            ca=test_ca,
            # MSAL polls at the interval Writ gives: one second keeps the test short.
            env={"WRIT_DEVICE_CODE_INTERVAL": "PT1S"},
        )
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)
    try:
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"[{backend}] writ serve did not stop cleanly:\n{server.stderr_tail()}"


def create_person(server: WritServer) -> tuple[str, str]:
    nickname = "sponsor" + secrets.token_hex(4)
    upn = f"{nickname}@example.org"
    created = server.api(
        "POST",
        "users",
        {
            "displayName": "Device Sponsor",
            "userPrincipalName": upn,
            "mailNickname": nickname,
            "accountEnabled": True,
            "passwordProfile": {"password": PASSWORD},
        },
    )
    assert created.status == 201, created
    return created.json()["id"], upn


def test_msal_device_flow_with_a_browser_and_a_silent_refresh(tls_writ, browser, tmp_path):
    user_id, upn = create_person(tls_writ)
    tenant = tenant_of(tls_writ)
    env = client_env(tls_writ, "organizations")
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
        assert first.startswith("{"), f"no user code: {first!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        shown = json.loads(first)
        assert shown["verification_uri"] == f"{tls_writ.url}/devicelogin"

        # The person, in a browser: sign in, enter the code, allow.
        wait = WebDriverWait(browser, STEP_TIMEOUT_S)
        browser.get(shown["verification_uri"])
        wait.until(EC.presence_of_element_located((By.ID, "username"))).send_keys(upn)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.presence_of_element_located((By.ID, "user_code"))).send_keys(
            shown["user_code"].lower().replace("-", "")
        )
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        allow = wait.until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, "button[name=decision][value=approve]"))
        )
        assert "Are you trying to sign in to" in browser.find_element(By.TAG_NAME, "h1").text
        allow.click()
        wait.until(left_the_page(allow))

        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, f"the program failed:\n{err}\n{out}"
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    assert result["username"] == upn
    assert result["refreshed"] is True, result
    assert result["token_source"] == "identity_provider", result
    got = claims(result["access_token"])
    assert got["oid"] == user_id and got["tid"] == tenant
    assert got["azp"] == WRIT_CLI_CLIENT_ID
    # The person's token works on Writ's API as that person.
    me = http("GET", f"{tls_writ.graph}/me", token=result["access_token"], cafile=tls_writ.ca_file)
    assert me.status == 200 and me.json()["id"] == user_id, me


def test_azure_identity_username_password_credential(tls_writ, tmp_path):
    user_id, upn = create_person(tls_writ)
    tenant = tenant_of(tls_writ)
    env = client_env(tls_writ, tenant)
    env.update(
        {"WRIT_CLIENT_ID": WRIT_CLI_CLIENT_ID, "WRIT_USERNAME": upn, "WRIT_PASSWORD": PASSWORD}
    )
    program = tmp_path / "password.py"
    # Before a password grant MSAL asks `https://<host>/common/userrealm/<name>` on the default
    # port 443, whatever port the authority names. A deployment on 443 gets Writ's answer there
    # ("managed": the Rust suite's transport::user_realm_is_managed_for_every_name); this test's
    # server listens on a free port, so the program is told the host's realm is known, which is
    # what MSAL itself records after a 404 there.
    realm_known = (
        "import msal.authority\n"
        "msal.authority.Authority._domains_without_user_realm_discovery.add('127.0.0.1')\n"
    )
    program.write_text(
        realm_known + snippet("python-azure-identity-username-password"), "utf-8"
    )
    proc = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"the program failed:\n{proc.stderr}\n{proc.stdout}"
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    # The record is built from Writ's id token and client_info: MSAL's account is oid.tid.
    assert result["username"] == upn
    assert result["home_account_id"] == f"{user_id}.{tenant}"
    got = claims(result["access_token"])
    assert got["oid"] == user_id and got["azp"] == WRIT_CLI_CLIENT_ID
