"""Fixtures for the end-to-end tests: a real `writ serve` on each storage backend.

`writ` is parametrized over `sqlite` and `postgres`: each test module gets its own server per
backend, on a free loopback port and a fresh database, with a bootstrap administrator application
(Global Administrator) and an admin token. PostgreSQL needs `WRIT_TEST_POSTGRES_URL`; without it the
postgres variants fail (never skip). Teardown sends SIGTERM and asserts that the server exits 0
within 10 s. When a test fails, the tail of the server's log is attached to the report.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from writ_harness import SHUTDOWN_TIMEOUT_S, HarnessError, WritServer  # noqa: E402

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="module", params=BACKENDS)
def writ(request, tmp_path_factory):
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"writ-{backend}")
    failure = None
    try:
        server = WritServer.start(backend, workdir)
    except HarnessError as err:
        failure = f"[{backend}] cannot start writ serve: {err}"
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield server
    finally:
        status = server.stop()
    assert status is not None, (
        f"[{backend}] writ serve did not exit within {SHUTDOWN_TIMEOUT_S:.0f} s of SIGTERM "
        f"(killed):\n{server.stderr_tail()}"
    )
    assert status == 0, (
        f"[{backend}] writ serve exited with status {status} after SIGTERM (expected 0):\n"
        f"{server.stderr_tail()}"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for value in (getattr(item, "funcargs", None) or {}).values():
            servers = value if isinstance(value, (list, tuple)) else [value]
            for server in servers:
                if isinstance(server, WritServer):
                    report.sections.append(
                        (f"{server.name} log ({server.backend}, last lines)", server.stderr_tail(80))
                    )
