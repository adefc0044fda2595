"""Runs a real `writ serve` for the end-to-end tests and talks to it over plain HTTP.

`WritServer.start(backend, workdir)` picks a free loopback port and a fresh database (a SQLite
file in `workdir`, or a new database on the PostgreSQL server named by `WRIT_TEST_POSTGRES_URL`),
starts the binary with a chosen bootstrap administrator, waits for `GET /readyz` and fetches an
admin token. `stop()` sends SIGTERM and reports how the process ended: a clean shutdown (exit 0
within 10 s) is part of the server's contract, so the fixture asserts it.

For the replica and crash tests: `replica()` starts another process on the same database (same
administrator, its own port and log), `crash()` SIGKILLs a process and keeps its database,
`restart()` starts it again on that database, and `sql()` reads the database directly.
With `keep_port` set, every restart listens on the port of the first start, so the URL (and with
it the tokens' issuer) stays the same across crashes, as for a real deployment; `spawn()` starts
the process without waiting for it to be ready (the crash loop kills some processes during
start-up).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "WRIT_TEST_POSTGRES_URL"
READY_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 30.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class HarnessError(Exception):
    """The environment cannot run the server (missing binary, no PostgreSQL, start failure)."""


def writ_binary() -> Path:
    """The debug binary that scripts/e2e-tests.sh builds; `WRIT_TEST_BINARY` overrides it."""
    override = os.environ.get("WRIT_TEST_BINARY")
    if override:
        path = Path(override)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        if not target.is_absolute():
            target = REPO_ROOT / target
        path = target / "debug" / "writ"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise HarnessError(
            f"the writ binary is missing at {path}: build it with `cargo build -p writ` "
            "(scripts/e2e-tests.sh does) or set WRIT_TEST_BINARY"
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# PostgreSQL: one fresh database per server, dropped afterwards.


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if candidates:
        return candidates[-1]
    raise HarnessError("psql was not found on PATH nor under /usr/lib/postgresql/*/bin")


def _admin_postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        raise HarnessError(
            f"{POSTGRES_ENV} is not set, so the PostgreSQL variant cannot run. Start the test "
            f"cluster and export its URL: export {POSTGRES_ENV}=\"$(scripts/pg-test-cluster.sh)\" "
            "(scripts/test.sh does this). The PostgreSQL variants are never skipped."
        )
    return url


def _run_psql(admin_url: str, sql: str) -> None:
    proc = subprocess.run(
        [_psql(), admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise HarnessError(f"psql {sql!r} failed ({proc.returncode}): {proc.stderr.strip()}")


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


# --------------------------------------------------------------------------------------------
# A throwaway certificate authority for servers that speak HTTPS.


@dataclass
class TestCa:
    """A CA (P-256, valid one day) in `directory`, and server certificates it issues for the
    loopback names (`localhost`, `127.0.0.1`, `::1`)."""

    directory: Path
    ca_file: Path
    _key: Any = field(repr=False)
    _cert: Any = field(repr=False)

    __test__ = False  # not a pytest test class

    @classmethod
    def create(cls, directory: Path) -> "TestCa":
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Writ e2e test CA {uuid.uuid4()}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca_file = directory / "ca.crt"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(directory=directory, ca_file=ca_file, _key=key, _cert=cert)

    def issue_server(self, name: str = "server") -> tuple[Path, Path]:
        """A server certificate for the loopback names: (chain file, key file). The chain file
        holds the leaf and the CA, as a deployment's full chain does."""
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("::1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        chain_file = self.directory / f"{name}.crt"
        key_file = self.directory / f"{name}.key"
        chain_file.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + self._cert.public_bytes(serialization.Encoding.PEM)
        )
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
        return chain_file, key_file

    def spki_sha256(self) -> str:
        """base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's
        `--ignore-certificate-errors-spki-list`, which trusts chains holding this key)."""
        import base64
        import hashlib

        from cryptography.hazmat.primitives import serialization

        spki = self._cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# --------------------------------------------------------------------------------------------
# Plain HTTP, for raw JSON next to the SDK's typed view.


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        text = self.body.decode("utf-8", "replace")
        return f"<HTTP {self.status} {text[:2000]}>"


def http(
    method: str,
    url: str,
    *,
    token: Optional[str] = None,
    json_body: Any = None,
    form: Optional[dict[str, str]] = None,
    headers: Optional[dict[str, str]] = None,
    cafile: Optional[Path] = None,
) -> RawResponse:
    """One request with urllib; HTTP error statuses are returned, not raised. `cafile`: the CA
    an https server's certificate must chain to (a `TestCa`'s)."""
    data = None
    all_headers = {"Accept": "application/json"}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S, context=context) as resp:
            return RawResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return RawResponse(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


# --------------------------------------------------------------------------------------------
# The server process.


@dataclass
class WritServer:
    backend: str
    workdir: Path
    client_id: str
    client_secret: str
    database_url: str
    # Extra `WRIT_*` settings for this process (e.g. `WRIT_JOB_LEASE`).
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    stderr_path: Path = Path("/dev/null")
    process: Optional[subprocess.Popen] = None
    token: str = ""
    # The name that tells this process's log files from another's in the same workdir.
    name: str = "writ-serve"
    # Every log file this server has written, one per process started (restarts included).
    logs: list[Path] = field(default_factory=list)
    # Restarts listen on the port of the first start (`spawn()` and `restart()`).
    keep_port: bool = False
    # HTTPS with a `TestCa` of its own (`start(..., tls=True)`); `ca_file` is that CA.
    tls: bool = False
    ca_file: Optional[Path] = None
    ca: Optional[TestCa] = None
    _admin_pg_url: Optional[str] = None
    _pg_database: Optional[str] = None
    _stderr_file: Any = field(default=None, repr=False)

    @property
    def graph(self) -> str:
        """The Graph base URL, as the SDK's `base_url`."""
        return self.url + "/v1.0"

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        backend: str,
        workdir: Path,
        env: Optional[dict[str, str]] = None,
        tls: bool = False,
        ca: Optional[TestCa] = None,
    ) -> "WritServer":
        """A server on a fresh database that it owns: `stop()` drops it (PostgreSQL). With
        `tls`, over HTTPS with a certificate of `ca` (default: a `TestCa` made in
        `workdir/tls`)."""
        workdir.mkdir(parents=True, exist_ok=True)
        admin_pg_url = pg_database = None
        if backend == "sqlite":
            database_url = f"sqlite://{workdir / 'writ.db'}"
        elif backend == "postgres":
            admin_pg_url = _admin_postgres_url()
            pg_database = f"writ_e2e_{secrets.token_hex(6)}"
            _run_psql(admin_pg_url, f"CREATE DATABASE {pg_database}")
            database_url = _with_database(admin_pg_url, pg_database)
        else:
            raise ValueError(f"unknown backend {backend!r}")
        server = cls(
            backend=backend,
            workdir=workdir,
            client_id=str(uuid.uuid4()),
            client_secret="e2e-" + secrets.token_urlsafe(24),
            database_url=database_url,
            env=dict(env or {}),
            tls=tls,
        )
        if tls:
            ca = ca or TestCa.create(workdir / "tls")
            cert_file, key_file = ca.issue_server(f"server-{secrets.token_hex(4)}")
            server.ca = ca
            server.ca_file = ca.ca_file
            server.env.setdefault("WRIT_TLS_CERT_FILE", str(cert_file))
            server.env.setdefault("WRIT_TLS_KEY_FILE", str(key_file))
        try:
            server._launch()
        except BaseException:
            if pg_database:
                _run_psql(admin_pg_url, f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
            raise
        # From here on the server owns its database: stop() drops it.
        server._admin_pg_url, server._pg_database = admin_pg_url, pg_database
        return server

    def replica(self, name: str, env: Optional[dict[str, str]] = None) -> "WritServer":
        """A second `writ serve` process on this server's database, with the same bootstrap
        administrator and its own port and log. It does not own the database: stop replicas
        before the server that does."""
        other = WritServer(
            backend=self.backend,
            workdir=self.workdir,
            client_id=self.client_id,
            client_secret=self.client_secret,
            database_url=self.database_url,
            env=dict(self.env if env is None else env),
            name=name,
            tls=self.tls,
            ca_file=self.ca_file,
            ca=self.ca,
        )
        other._launch()
        return other

    def crash(self) -> None:
        """SIGKILL: the process dies at once, wherever it is; the database is kept for a restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def restart(self) -> None:
        """Starts the process again on the same database (after `crash()` or a stopped process),
        on a new port (the same one with `keep_port`), and fetches a new admin token."""
        assert self.process is None or self.process.poll() is not None, "still running"
        self._launch()

    def _launch(self) -> None:
        last_error: Optional[HarnessError] = None
        for _ in range(3):  # a free port can be taken between probing and binding
            self.spawn()
            try:
                self._wait_ready()
                self.token = self.client_credentials_token()
                return
            except HarnessError as err:
                last_error = err
                self.crash()
                if "in use" not in self.stderr_text().lower():
                    break
        raise last_error  # type: ignore[misc]

    def spawn(self) -> None:
        """Starts the process (on a new free port, or the first start's port with `keep_port`)
        without waiting for it to be ready."""
        binary = writ_binary()
        port = int(self.url.rsplit(":", 1)[1]) if self.keep_port and self.url else _free_port()
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRIT_")}
        env.update(
            {
                "WRIT_BOOTSTRAP_CLIENT_ID": self.client_id,
                "WRIT_BOOTSTRAP_CLIENT_SECRET": self.client_secret,
                "WRIT_PUBLIC_URL": self.url,
                # The audit HMAC key: required with PostgreSQL, and shared by the replicas
                # of one database, as they share this workdir.
                "WRIT_AUDIT_KEY_FILE": str(self.workdir / "writ.audit-key"),
                "NO_COLOR": "1",
            }
        )
        env.update(self.env)
        self.stderr_path = self.workdir / f"{self.name}-{len(self.logs)}.stderr"
        self.logs.append(self.stderr_path)
        self._stderr_file = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--database", self.database_url],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr_file,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(
                    f"writ serve ({self.backend}) exited with {self.process.returncode} before it "
                    f"was ready:\n{self.stderr_tail()}"
                )
            try:
                if http("GET", self.url + "/readyz", cafile=self.ca_file).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise HarnessError(
            f"writ serve ({self.backend}) was not ready within {READY_TIMEOUT_S:.0f} s:\n"
            f"{self.stderr_tail()}"
        )

    def stop(self) -> Optional[int]:
        """SIGTERM, then wait up to 10 s. Returns the exit status, or None if it had to be killed."""
        status: Optional[int]
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                status = self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                status = None
        else:
            status = self.process.returncode if self.process is not None else None
        self._cleanup()
        return status

    def kill(self) -> None:
        """SIGKILL, then drop the database this server owns."""
        self.crash()
        self._cleanup()

    def _close_log(self) -> None:
        if self._stderr_file and not self._stderr_file.closed:
            self._stderr_file.close()

    def _cleanup(self) -> None:
        self._close_log()
        if self._pg_database and self._admin_pg_url:
            name, self._pg_database = self._pg_database, None
            _run_psql(self._admin_pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    # ---- the database, read directly (for counts the API does not expose) ------------------

    def sql(self, query: str) -> list[tuple[str, ...]]:
        """Runs a read-only query on this server's database and returns its rows as text
        tuples (`psql` for PostgreSQL, Python's sqlite3 module for SQLite)."""
        if self.backend == "postgres":
            proc = subprocess.run(
                [_psql(), self.database_url, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t",
                 "-F", "\x1f", "-c", query],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if proc.returncode != 0:
                raise HarnessError(f"psql {query!r} failed ({proc.returncode}): {proc.stderr.strip()}")
            return [tuple(line.split("\x1f")) for line in proc.stdout.splitlines() if line]
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            return [tuple("" if v is None else str(v) for v in row) for row in db.execute(query)]

    def client_env(self) -> dict[str, str]:
        """Variables that make a client process trust this server's CA (empty on plain HTTP):
        Python's requests and ssl, and Node."""
        if not self.ca_file:
            return {}
        ca = str(self.ca_file)
        return {"REQUESTS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca, "NODE_EXTRA_CA_CERTS": ca}

    # ---- output ----------------------------------------------------------------------------

    def stderr_text(self) -> str:
        try:
            return _ANSI.sub("", self.stderr_path.read_text("utf-8", "replace"))
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 60) -> str:
        text = self.stderr_text().splitlines()
        return "\n".join(text[-lines:]) or "(no output)"

    # ---- API helpers -----------------------------------------------------------------------

    def client_credentials_token(self) -> str:
        resp = http(
            "POST",
            self.url + "/oauth2/v2.0/token",
            form={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
            cafile=self.ca_file,
        )
        if resp.status != 200 or not (resp.json() or {}).get("access_token"):
            raise HarnessError(f"token request failed: {resp!r}\n{self.stderr_tail()}")
        return resp.json()["access_token"]

    def api(self, method: str, path: str, json_body: Any = None, **kw: Any) -> RawResponse:
        """A request to `<server>/v1.0/<path>` (or an absolute URL) with the admin token."""
        url = path if path.startswith("http") else f"{self.graph}/{path.lstrip('/')}"
        kw.setdefault("cafile", self.ca_file)
        return http(method, url, token=self.token, json_body=json_body, **kw)

    def get_json(self, path: str, **query: str) -> Any:
        """GET that must answer 200; returns the parsed body."""
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        resp = self.api("GET", path)
        assert resp.status == 200, f"GET {path}: {resp!r}"
        return resp.json()

    def get_all(self, path: str, **query: str) -> list[dict]:
        """Every item of a collection, following `@odata.nextLink` with plain HTTP."""
        page = self.get_json(path, **query)
        items = list(page["value"])
        seen_links = set()
        while page.get("@odata.nextLink"):
            link = page["@odata.nextLink"]
            assert link not in seen_links, f"nextLink loops: {link}"
            seen_links.add(link)
            page = self.get_json(link)
            items.extend(page["value"])
        return items
