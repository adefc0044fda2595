"""Microsoft's client libraries against a real `writ serve` over its own TLS (issue 16), on both
backends: MSAL Python and `azure-identity` (with the Graph SDK), Node's `@azure/identity`, each
getting a client-credentials token with no proxy or patch and calling the API with it. The code
run is the snippets of docs/client-libraries.md, read from that file, in a process of its own
with the settings a user would give it (the authority, instance discovery off, the test CA
trusted). Also: the TLS files re-read on SIGHUP (a broken pair keeps the one in use), start-up
refusing bad TLS settings with the file named, and a headless browser opening the discovery
document over TLS.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from writ_harness import REPO_ROOT, HarnessError, WritServer, http, writ_binary

DOC = REPO_ROOT / "docs" / "client-libraries.md"
NODE_DIR = REPO_ROOT / "tests" / "node"
CLIENT_TIMEOUT_S = 120


def snippet(name: str) -> str:
    """The code block after `<!-- snippet: name -->` in docs/client-libraries.md."""
    text = DOC.read_text("utf-8")
    match = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\s*```[a-z]*\n(.*?)\n```", text, re.DOTALL
    )
    assert match, f"no snippet {name!r} in {DOC}"
    return match.group(1)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def tls_writ(request, tmp_path_factory, test_ca):
    backend = request.param
    try:
        server = WritServer.start(
            backend, tmp_path_factory.mktemp(f"writ-tls-{backend}"), tls=True, ca=test_ca
        )
    except HarnessError as err:
        pytest.fail(f"[{backend}] cannot start writ serve over TLS: {err}", pytrace=False)
    try:
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"[{backend}] writ serve did not stop cleanly:\n{server.stderr_tail()}"


def tenant_of(server: WritServer) -> str:
    return claims(server.token)["tid"]


def client_env(server: WritServer, tenant: str) -> dict[str, str]:
    """What a user's program is given: Writ's URL, tenant, client and CA; no Writ server
    settings leak in from the test's own environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRIT_")}
    env.update(server.client_env())
    env.update(
        {
            "WRIT_URL": server.url,
            "WRIT_TENANT_ID": tenant,
            "WRIT_CLIENT_ID": server.client_id,
            "WRIT_CLIENT_SECRET": server.client_secret,
            "WRIT_CA_FILE": str(server.ca_file),
        }
    )
    return env


def run_client(command: list[str], env: dict[str, str], cwd: Path) -> dict:
    proc = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S
    )
    assert proc.returncode == 0, f"{command[0]} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON output:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


def assert_writ_api_token(server: WritServer, token: str, tenant: str) -> None:
    got = claims(token)
    assert got["aud"] == server.url, got
    assert got["tid"] == tenant, got
    assert got["appid"] == server.client_id, got
    assert got["iss"] == f"{server.url}/{tenant}/v2.0", got
    # The token works on Writ's API.
    resp = http("GET", server.graph + "/servicePrincipals?$top=1", token=token, cafile=server.ca_file)
    assert resp.status == 200, resp


@pytest.mark.parametrize("authority_tenant", ["tenant id", "organizations", "common"])
def test_msal_python_client_credentials(tls_writ, tmp_path, authority_tenant):
    tenant = tenant_of(tls_writ)
    segment = tenant if authority_tenant == "tenant id" else authority_tenant
    out = run_client(
        [sys.executable, "-c", snippet("python-msal-client-credentials")],
        client_env(tls_writ, segment),
        tmp_path,
    )
    assert_writ_api_token(tls_writ, out["access_token"], tenant)
    assert out["cached"] is True and out["token_source"] == "cache", out


def test_azure_identity_python_client_credentials_and_the_graph_sdk(tls_writ, tmp_path):
    tenant = tenant_of(tls_writ)
    out = run_client(
        [sys.executable, "-c", snippet("python-azure-identity-client-credentials")],
        client_env(tls_writ, tenant),
        tmp_path,
    )
    assert_writ_api_token(tls_writ, out["access_token"], tenant)
    assert out["expires_on"] > time.time()
    assert tls_writ.client_id in out["service_principals"], out


def test_node_azure_identity_client_credentials(tls_writ, tmp_path):
    # Only with the tenant id: msal-node refuses client credentials on `common` and
    # `organizations` itself (`missing_tenant_id_error`), as with Entra.
    if not (NODE_DIR / "node_modules" / "@azure" / "identity").is_dir():
        pytest.fail("tests/node is not installed: run scripts/node-deps.sh", pytrace=False)
    tenant = tenant_of(tls_writ)
    script = tmp_path / "client.mjs"
    script.write_text(snippet("node-azure-identity-client-credentials"))
    # Node resolves packages from the script's directory upwards.
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
    out = run_client(["node", str(script)], client_env(tls_writ, tenant), tmp_path)
    assert out["status"] == 200, out
    assert_writ_api_token(tls_writ, out["access_token"], tenant)
    assert tls_writ.client_id in out["service_principals"], out


def test_browser_opens_discovery_over_tls(tls_writ, browser):
    tenant = tenant_of(tls_writ)
    browser.get(f"{tls_writ.url}/common/v2.0/.well-known/openid-configuration")
    text = browser.find_element("tag name", "body").text
    document = json.loads(text)
    assert document["issuer"] == f"{tls_writ.url}/{tenant}/v2.0"
    assert document["authorization_endpoint"] == f"{tls_writ.url}/common/oauth2/v2.0/authorize"


# ---- TLS files: reload on SIGHUP, and start-up errors ---------------------------------------


def served_certificate(server: WritServer) -> bytes:
    """The leaf certificate a new connection is given (DER), verified against the test CA."""
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def wait_for_log(server: WritServer, needle: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.stderr_text().count(needle) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not logged {count} time(s):\n{server.stderr_tail()}")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sighup_reloads_the_tls_files_and_keeps_the_old_pair_when_the_new_one_is_broken(
    backend, tmp_path, test_ca
):
    server = WritServer.start(backend, tmp_path / "writ", tls=True, ca=test_ca)
    try:
        cert_file = Path(server.env["WRIT_TLS_CERT_FILE"])
        key_file = Path(server.env["WRIT_TLS_KEY_FILE"])
        first = served_certificate(server)
        renewed_cert, renewed_key = test_ca.issue_server(f"renewed-{backend}-{os.getpid()}")
        # A half-done renewal: the new certificate beside the old key.
        cert_file.write_bytes(renewed_cert.read_bytes())
        server.process.send_signal(signal.SIGHUP)
        wait_for_log(server, "could not be reloaded", 1)
        assert "not a usable pair" in server.stderr_text()
        assert served_certificate(server) == first
        # Garbage in the key file: still the old pair.
        key_file.write_text("not a key\n")
        server.process.send_signal(signal.SIGHUP)
        wait_for_log(server, "could not be reloaded", 2)
        assert served_certificate(server) == first
        # The renewal completed: new connections get the new certificate.
        key_file.write_bytes(renewed_key.read_bytes())
        server.process.send_signal(signal.SIGHUP)
        wait_for_log(server, "TLS certificate and key reloaded", 1)
        second = served_certificate(server)
        assert second != first
        assert second in [
            ssl.PEM_cert_to_DER_cert(block + "-----END CERTIFICATE-----\n")
            for block in renewed_cert.read_text().split("-----END CERTIFICATE-----\n")
            if block.strip()
        ]
        # The API works on the new certificate.
        assert http("GET", server.url + "/readyz", cafile=server.ca_file).status == 200
    finally:
        status = server.stop()
    assert status == 0, f"writ serve did not stop cleanly after the reloads:\n{server.stderr_tail()}"


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"WRIT_TLS_CERT_FILE": "{dir}/server.crt"}, "WRIT_TLS_KEY_FILE"),
        ({"WRIT_TLS_KEY_FILE": "{dir}/server.key"}, "WRIT_TLS_CERT_FILE"),
        (
            {"WRIT_TLS_CERT_FILE": "{dir}/missing.crt", "WRIT_TLS_KEY_FILE": "{dir}/server.key"},
            "tls.cert_file {dir}/missing.crt: cannot be read",
        ),
        (
            {"WRIT_TLS_CERT_FILE": "{dir}/server.key", "WRIT_TLS_KEY_FILE": "{dir}/server.key"},
            "tls.cert_file {dir}/server.key: no CERTIFICATE",
        ),
        (
            {"WRIT_TLS_CERT_FILE": "{dir}/server.crt", "WRIT_TLS_KEY_FILE": "{dir}/server.crt"},
            "tls.key_file {dir}/server.crt",
        ),
    ],
)
def test_start_up_refuses_bad_tls_settings_naming_the_file(files, expected, tmp_path, test_ca):
    cert, key = test_ca.issue_server(f"startup-{os.getpid()}-{time.monotonic_ns()}")
    (tmp_path / "server.crt").write_bytes(cert.read_bytes())
    (tmp_path / "server.key").write_bytes(key.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRIT_")}
    env.update({k: v.format(dir=tmp_path) for k, v in files.items()})
    env["WRIT_AUDIT_KEY_FILE"] = str(tmp_path / "audit.key")
    proc = subprocess.run(
        [str(writ_binary()), "serve", "--listen", "127.0.0.1:0",
         "--database", f"sqlite://{tmp_path / 'writ.db'}"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert expected.format(dir=tmp_path) in proc.stderr, proc.stderr


def test_openid_client_discovers_writ_and_gets_a_token(tls_writ, tmp_path):
    """openid-client, a certified relying party, as a second opinion on the discovery document
    (it requires the issuer to be the URL it was discovered from) and the token endpoint."""
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        pytest.fail("tests/node is not installed: run scripts/node-deps.sh", pytrace=False)
    tenant = tenant_of(tls_writ)
    out = run_client(
        ["node", str(NODE_DIR / "openid_client_credentials.mjs")],
        client_env(tls_writ, tenant),
        tmp_path,
    )
    assert out["issuer"] == f"{tls_writ.url}/{tenant}/v2.0", out
    assert out["token_endpoint"] == f"{tls_writ.url}/{tenant}/oauth2/v2.0/token", out
    assert out["token_type"].lower() == "bearer" and out["expires_in"] > 0, out
    assert_writ_api_token(tls_writ, out["access_token"], tenant)
