"""What people's sign-in refuses, against a real `writ serve` over its own TLS, on SQLite and on
PostgreSQL (issue 16's "bad input"), with plain HTTPS requests made as a browser and a public
client make them: an unregistered `redirect_uri` is a page and never a redirect; a wrong PKCE
verifier is `invalid_grant`; a code used twice is `invalid_grant` and the refresh token of its
first use is revoked; a rotated refresh token presented again revokes its family; a device code
polled too fast is `slow_down` and an expired one `expired_token`; a session cookie stops working
the moment its user is disabled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import re
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from writ_harness import HarnessError, WritServer

CLI_CLIENT_ID = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
PASSWORD = "a long passphrase 1"
SCOPE = "openid profile offline_access https://graph.microsoft.com/.default"
LOOPBACK = "http://localhost:8400"  # the CLI client registers http://localhost (any port)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def writ(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        server = WritServer.start(
            backend,
            tmp_path_factory.mktemp(f"writ-refusals-{backend}"),
            tls=True,
            ca=test_ca,
            # The shortest device code life the settings allow, and a one-second poll interval.
            env={"WRIT_DEVICE_CODE_LIFETIME": "PT1M", "WRIT_DEVICE_CODE_INTERVAL": "PT1S"},
        )
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)
    try:
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"[{backend}] writ serve did not stop cleanly:\n{server.stderr_tail()}"


def trust(writ: WritServer) -> ssl.SSLContext:
    """Trusts the test CA of Writ's certificate."""
    return ssl.create_default_context(cafile=str(writ.ca_file))


def person(writ: WritServer) -> tuple[str, str]:
    nickname = "refused" + secrets.token_hex(4)
    upn = f"{nickname}@example.org"
    created = writ.api(
        "POST",
        "users",
        {
            "displayName": "Refusals Person",
            "userPrincipalName": upn,
            "mailNickname": nickname,
            "accountEnabled": True,
            "passwordProfile": {"password": PASSWORD},
        },
    )
    assert created.status == 201, created
    return created.json()["id"], upn


def csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


@contextlib.contextmanager
def signed_in_browser(writ: WritServer, upn: str) -> Iterator[httpx.Client]:
    """A browser (cookies kept, redirects not followed) signed in on Writ's page."""
    with httpx.Client(verify=trust(writ), timeout=30, follow_redirects=False) as browser:
        form = browser.get(f"{writ.url}/organizations/login")
        assert form.status_code == 200, form.text
        action = re.search(r'<form method="post" action="([^"]+)"', form.text).group(1)
        done = browser.post(
            writ.url + html.unescape(action),
            data={"csrf_token": csrf(form), "username": upn, "password": PASSWORD, "return_to": "/"},
        )
        assert done.status_code == 303, done.text
        yield browser


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(writ: WritServer, browser: httpx.Client, challenge: str, **extra: str) -> httpx.Response:
    params = {
        "client_id": CLI_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": LOOPBACK,
        "scope": SCOPE,
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return browser.get(f"{writ.url}/organizations/oauth2/v2.0/authorize", params=params)


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st"], query
    return query["code"][0]


def token(writ: WritServer, **form: str) -> httpx.Response:
    return httpx.post(
        f"{writ.url}/organizations/oauth2/v2.0/token",
        data={"client_id": CLI_CLIENT_ID, **form},
        verify=trust(writ),
        timeout=30,
    )


def redeem(writ: WritServer, code: str, verifier: str) -> httpx.Response:
    return token(
        writ,
        grant_type="authorization_code",
        code=code,
        redirect_uri=LOOPBACK,
        code_verifier=verifier,
        scope=SCOPE,
    )


def refresh(writ: WritServer, refresh_token: str) -> httpx.Response:
    return token(writ, grant_type="refresh_token", refresh_token=refresh_token, scope=SCOPE)


def test_an_unregistered_redirect_is_a_page_never_a_redirect(writ):
    _, upn = person(writ)
    with signed_in_browser(writ, upn) as browser:
        _, challenge = pkce()
        answer = authorize(writ, browser, challenge, redirect_uri="https://evil.example/cb")
        assert answer.status_code == 400
        assert "location" not in answer.headers
        assert answer.headers["content-type"].startswith("text/html")


def test_wrong_verifier_then_a_code_used_twice_revokes_its_tokens(writ):
    _, upn = person(writ)
    with signed_in_browser(writ, upn) as browser:
        verifier, challenge = pkce()
        code = code_of(authorize(writ, browser, challenge))
    wrong = redeem(writ, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
    first = redeem(writ, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert tokens["refresh_token"] and tokens["id_token"]
    again = redeem(writ, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
    # The tokens of the code's first use are revoked with it.
    revoked = refresh(writ, tokens["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant", revoked.text


def test_a_rotated_refresh_token_used_again_revokes_the_family(writ):
    _, upn = person(writ)
    with signed_in_browser(writ, upn) as browser:
        verifier, challenge = pkce()
        code = code_of(authorize(writ, browser, challenge))
    first = redeem(writ, code, verifier).json()["refresh_token"]
    rotated = refresh(writ, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    reused = refresh(writ, first)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text
    # The whole family ends: the newest token of it too.
    after = refresh(writ, second)
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant", after.text


def test_a_session_ends_when_its_user_is_disabled(writ):
    user_id, upn = person(writ)
    with signed_in_browser(writ, upn) as browser:
        assert browser.get(f"{writ.url}/devicelogin").status_code == 200
        disabled = writ.api("PATCH", f"users/{user_id}", {"accountEnabled": False})
        assert disabled.status == 204, disabled
        # Signed out: the page sends the browser to sign in again.
        assert browser.get(f"{writ.url}/devicelogin").status_code == 303


def test_device_codes_polled_too_fast_slow_down_and_expire(writ):
    grant = httpx.post(
        f"{writ.url}/organizations/oauth2/v2.0/devicecode",
        data={"client_id": CLI_CLIENT_ID, "scope": SCOPE},
        verify=trust(writ),
        timeout=30,
    )
    assert grant.status_code == 200, grant.text
    device_code = grant.json()["device_code"]
    assert grant.json()["expires_in"] == 60
    first = token(writ, grant_type=DEVICE_GRANT, device_code=device_code)
    assert first.json()["error"] == "authorization_pending", first.text
    too_fast = token(writ, grant_type=DEVICE_GRANT, device_code=device_code)
    assert too_fast.json()["error"] == "slow_down", too_fast.text
    # Nobody approves: after its minute the code has expired.
    time.sleep(61)
    expired = token(writ, grant_type=DEVICE_GRANT, device_code=device_code)
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token", expired.text
