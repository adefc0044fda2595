"""Fixtures for the end-to-end tests: a real `writ serve` on each storage backend.

`writ` is parametrized over `sqlite` and `postgres`: each test module gets its own server per
backend, on a free loopback port and a fresh database, with a bootstrap administrator application
(Global Administrator) and an admin token. PostgreSQL needs `WRIT_TEST_POSTGRES_URL`; without it the
postgres variants fail (never skip). Teardown sends SIGTERM and asserts that the server exits 0
within 10 s. When a test fails, the tail of the server's log is attached to the report.

`test_ca` is a throwaway certificate authority per pytest-xdist worker, for servers started with
`WritServer.start(..., tls=True, ca=test_ca)`. `browser` is a headless Debian chromium driven by
Selenium through the system chromium-driver (scripts/chromium.sh installs both): a fresh profile
per test, `test_ca` trusted, and a screenshot in the test's tmp dir when the test fails.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from writ_harness import SHUTDOWN_TIMEOUT_S, HarnessError, TestCa, WritServer  # noqa: E402

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


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCa:
    """A throwaway CA for this worker's HTTPS servers and browsers."""
    return TestCa.create(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture
def browser(request, tmp_path, test_ca):
    """Headless chromium (Selenium, the system chromedriver), a fresh profile per test,
    trusting `test_ca`; on failure a screenshot is saved as `<tmp_path>/failure.png`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "Debian's chromium and chromium-driver are needed: run scripts/chromium.sh as root "
            "(scripts/e2e-tests.sh does)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        # Root in a container has no user namespaces for the sandbox.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        # Trusts chains that hold the test CA's key (effective with --user-data-dir), without
        # touching any certificate store shared with other tests.
        f"--ignore-certificate-errors-spki-list={test_ca.spki_sha256()}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=driver, log_output=str(tmp_path / "chromedriver.log"))
    session = webdriver.Chrome(service=service, options=options)
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                session.save_screenshot(str(tmp_path / "failure.png"))
            except Exception:  # the browser may be what failed
                pass
        session.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # For fixtures that act on the outcome at teardown (the browser's screenshot).
    setattr(item, f"rep_{report.when}", report)
    if report.failed:
        for value in (getattr(item, "funcargs", None) or {}).values():
            servers = value if isinstance(value, (list, tuple)) else [value]
            for server in servers:
                if isinstance(server, WritServer):
                    report.sections.append(
                        (f"{server.name} log ({server.backend}, last lines)", server.stderr_tail(80))
                    )
