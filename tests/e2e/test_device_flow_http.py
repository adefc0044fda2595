"""The device code flow (RFC 8628) against a real `writ serve`, on SQLite and on PostgreSQL, with
plain HTTP requests made as a browser makes them (issue 16).

A device asks `devicecode` for a user code and polls the token endpoint; a person's browser (an
`httpx.Client` keeping cookies, following no redirect by itself) opens `/devicelogin`, is sent to
the sign-in page, signs in with the CSRF token of the form and its pre-session cookie, enters the
code, reads which application asks for what and approves. The device then receives its tokens
once, and they work against Writ's API as that person. A headless browser replaces the
`httpx.Client` once the Chromium fixture exists.
"""

from __future__ import annotations

import html
import re
import secrets
import time

import httpx
import pytest

from writ_harness import HarnessError, WritServer

WRIT_PUBLIC_CLIENT_ID = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "a long passphrase 1"


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def writ(request, tmp_path_factory):
    """A server polling at 1 s, so that the test waits seconds, not tens of them."""
    backend = request.param
    try:
        server = WritServer.start(
            backend,
            tmp_path_factory.mktemp(f"writ-device-{backend}"),
            env={"WRIT_DEVICE_CODE_INTERVAL": "PT1S"},
        )
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve: {err}", pytrace=False)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.stderr_tail()


def csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def poll(writ: WritServer, device_code: str) -> httpx.Response:
    return httpx.post(
        f"{writ.url}/oauth2/v2.0/token",
        data={"grant_type": GRANT, "client_id": WRIT_PUBLIC_CLIENT_ID, "device_code": device_code},
        timeout=30,
    )


def test_device_flow_signs_a_person_in_through_the_browser_pages(writ: WritServer):
    nickname = "device" + secrets.token_hex(4)
    upn = f"{nickname}@example.org"
    created = writ.api(
        "POST",
        "users",
        {
            "displayName": "Device Person",
            "userPrincipalName": upn,
            "mailNickname": nickname,
            "accountEnabled": True,
            "passwordProfile": {"password": PASSWORD},
        },
    )
    assert created.status == 201, created
    user_id = created.json()["id"]

    # The device asks for a code.
    answer = httpx.post(
        f"{writ.url}/common/oauth2/v2.0/devicecode",
        data={
            "client_id": WRIT_PUBLIC_CLIENT_ID,
            "scope": "https://graph.microsoft.com/.default openid profile offline_access",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    grant = answer.json()
    assert grant["verification_uri"] == f"{writ.url}/devicelogin"
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", grant["user_code"])
    assert grant["interval"] == 1
    assert grant["user_code"] in grant["message"]
    pending = poll(writ, grant["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending", pending.text
    # Polled again at once: slow down (RFC 8628 section 3.5); the interval is now 6 s.
    too_fast = poll(writ, grant["device_code"])
    assert too_fast.json()["error"] == "slow_down", too_fast.text

    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        # Not signed in: the code page sends the browser to the sign-in page.
        entry = browser.get(grant["verification_uri"])
        assert entry.status_code == 303, entry.text
        sign_in_url = writ.url + entry.headers["location"]
        form = browser.get(sign_in_url)
        assert form.status_code == 200
        assert form.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
        action = re.search(r'<form method="post" action="([^"]+)"', form.text).group(1)
        # Without the form's token nothing happens.
        refused = browser.post(writ.url + action, data={"username": upn, "password": PASSWORD})
        assert refused.status_code == 403
        signed_in = browser.post(
            writ.url + action,
            data={
                "csrf_token": csrf(form),
                "username": upn,
                "password": PASSWORD,
                "return_to": "/devicelogin",
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/devicelogin"
        assert "writ_session" in browser.cookies

        entry = browser.get(writ.url + "/devicelogin")
        assert entry.status_code == 200 and upn in entry.text
        consent = browser.post(
            writ.url + "/devicelogin",
            data={"csrf_token": csrf(entry), "user_code": grant["user_code"].lower()},
        )
        assert consent.status_code == 200, consent.text
        assert "Writ command-line tools" in consent.text
        done = browser.post(
            writ.url + "/devicelogin/decision",
            data={"csrf_token": csrf(consent), "user_code": grant["user_code"], "decision": "approve"},
        )
        assert done.status_code == 200, done.text
        assert "close this window" in done.text

    # The device polls after the (grown) interval and receives its tokens once.
    time.sleep(6.5)
    tokens = poll(writ, grant["device_code"])
    assert tokens.status_code == 200, tokens.text
    access_token = tokens.json()["access_token"]
    me = httpx.get(
        f"{writ.graph}/users/{user_id}",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=30,
    )
    assert me.status_code == 200, me.text
    assert me.json()["userPrincipalName"] == upn
    time.sleep(6.5)
    spent = poll(writ, grant["device_code"])
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant", spent.text
