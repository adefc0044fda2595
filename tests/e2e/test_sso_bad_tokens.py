"""Single sign-on refuses a bad upstream id token, end to end (issue 16): a real `writ serve` over
its own TLS, on SQLite and on PostgreSQL, signs people in through an upstream provider played by
this file — a small OpenID provider on a loopback port whose token endpoint signs the id token
with one chosen defect (wrong `nonce`, `iss`, `aud`, expired, signed by another key). A certified
provider (`oidc-provider`, test_sso_browser.py) never signs such tokens, hence this one. Each
defect ends on Writ's refusal page with no session; the same provider with no defect signs the
person in.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from writ_harness import HarnessError, WritServer

CLIENT_ID = "writ-at-fake-idp"
CLIENT_SECRET = "fake-idp-secret"
UPN = "grace@example.org"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeProvider:
    """Discovery, JWKS, an authorize endpoint that signs the person in at once, and a token
    endpoint whose id token has the defect in `self.defect` (None: a good token)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.defect: str | None = None
        self.codes: dict[str, str] = {}  # code -> nonce
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    base = provider.issuer
                    self._json({
                        "issuer": base,
                        "authorization_endpoint": f"{base}/authorize",
                        "token_endpoint": f"{base}/token",
                        "jwks_uri": f"{base}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                    })
                elif url.path == "/jwks":
                    numbers = provider.key.public_key().public_numbers()
                    self._json({"keys": [{
                        "kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                        "n": _b64(numbers.n), "e": _b64(numbers.e),
                    }]})
                elif url.path == "/authorize":
                    query = dict(urllib.parse.parse_qsl(url.query))
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query.get("nonce", "")
                    target = query["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": query.get("state", "")}
                    )
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                nonce = provider.codes.pop(form.get("code", ""), None)
                if nonce is None:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                self._json({
                    "access_token": "opaque",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": provider.id_token(nonce),
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "grace-upstream-id",
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
            "preferred_username": UPN,
            "name": "Grace Upstream",
        }
        key = self.key
        if self.defect == "nonce":
            claims["nonce"] = "not-the-nonce-writ-sent"
        elif self.defect == "iss":
            claims["iss"] = "https://another-issuer.example"
        elif self.defect == "aud":
            claims["aud"] = "some-other-client"
        elif self.defect == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif self.defect == "signature":
            key = self.other_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def setup(request, tmp_path_factory, test_ca):
    provider = FakeProvider()
    backend = request.param
    try:
        server = WritServer.start(
            backend,
            tmp_path_factory.mktemp(f"writ-sso-bad-{backend}"),
            tls=True,
            ca=test_ca,
            env={
                "WRIT_SSO_ISSUER": provider.issuer,
                "WRIT_SSO_CLIENT_ID": CLIENT_ID,
                "WRIT_SSO_CLIENT_SECRET": CLIENT_SECRET,
            },
        )
    except HarnessError as err:
        provider.close()
        pytest.fail(f"[{backend}] cannot start writ serve: {err}", pytrace=False)
    created = server.api(
        "POST",
        "users",
        {
            "displayName": "Grace",
            "userPrincipalName": UPN,
            "mailNickname": "grace",
            "accountEnabled": True,
            "passwordProfile": {"password": "a long passphrase 1"},
        },
    )
    assert created.status == 201, created
    try:
        yield server, provider
    finally:
        provider.close()
        assert server.stop() == 0, server.stderr_tail()


def round_trip(server: WritServer) -> tuple[httpx.Response, httpx.Client]:
    """A browser through Writ's SSO start, the provider, and Writ's callback: the callback's answer."""
    browser = httpx.Client(
        verify=ssl.create_default_context(cafile=str(server.ca_file)),
        timeout=30,
        follow_redirects=False,
    )
    start = browser.get(f"{server.url}/signin/sso", params={"return_to": "/devicelogin"})
    assert start.status_code in (302, 303), start.text
    upstream = browser.get(start.headers["location"])
    assert upstream.status_code == 302, upstream.text
    callback = browser.get(upstream.headers["location"])
    return callback, browser


# Each defect and a word of the reason Writ's page gives for it.
DEFECTS = {
    "nonce": "nonce",
    "iss": "issuer",
    "aud": "audience",
    "expired": "expired",
    "signature": "signature",
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_bad_upstream_id_token_is_refused(setup, defect):
    server, provider = setup
    provider.defect = defect
    answer, browser = round_trip(server)
    try:
        assert answer.status_code == 403, (defect, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert "location" not in answer.headers
        assert DEFECTS[defect] in html.unescape(answer.text).lower(), answer.text
        assert not any("writ_session" in name for name in browser.cookies.keys()), defect
        # Not signed in: the device page still asks for a sign-in.
        assert browser.get(f"{server.url}/devicelogin").status_code == 303
    finally:
        browser.close()


def test_the_same_provider_without_a_defect_signs_the_person_in(setup):
    server, provider = setup
    provider.defect = None
    answer, browser = round_trip(server)
    try:
        assert answer.status_code == 303, html.unescape(answer.text)
        assert answer.headers["location"] == "/devicelogin"
        assert browser.get(f"{server.url}/devicelogin").status_code == 200
    finally:
        browser.close()
