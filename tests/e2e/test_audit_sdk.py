"""The audit log against a real `writ serve`, on SQLite and on PostgreSQL.

`auditLogs/directoryAudits` read through the official Microsoft Graph Python SDK (with `$filter`
on a target and `$orderby=activityDateTime desc`), every record passing the strict model check
against the SDK's `DirectoryAudit`; an ordinary user refused (403). Then the binary's own audit
commands on the same database while the server runs: the chainer links the records within
seconds, `writ audit export` writes JSON lines with a signed checkpoint, `writ audit verify
--checkpoint` says the chain is intact, and after an edit made directly in the database (the last
test of the module: the database is tampered with) it names the broken record and exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import time

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
    DirectoryAuditsRequestBuilder,
)
from msgraph.generated.models.directory_audit import DirectoryAudit
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from graph_sdk import sdk_client
from strict_check import assert_collection_conforms, assert_conforms
from writ_harness import http, writ_binary


def _run(coro):
    return asyncio.run(coro)


def _audit_command(writ, *args: str) -> subprocess.CompletedProcess:
    """`writ audit …` on the server's database, with the server's audit key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRIT_")}
    env["WRIT_AUDIT_KEY_FILE"] = str(writ.workdir / "writ.audit-key")
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(writ_binary()), "--database", writ.database_url, "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _tamper(writ, statement: str) -> None:
    if writ.backend == "postgres":
        writ.sql(statement)  # psql commits each statement
        return
    path = writ.database_url.removeprefix("sqlite://").split("?", 1)[0]
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        db.execute(statement)
        db.commit()


def _create_user(writ, nickname: str) -> str:
    resp = writ.api(
        "POST",
        "users",
        {
            "displayName": nickname.title(),
            "userPrincipalName": f"{nickname}@example.org",
            "mailNickname": nickname,
            "accountEnabled": True,
            "passwordProfile": {"password": "a long passphrase 1"},
        },
    )
    assert resp.status == 201, resp
    return resp.json()["id"]


def test_directory_audits_through_the_sdk_are_strictly_graph(writ):
    user = _create_user(writ, "auditeduser")
    patched = writ.api("PATCH", f"users/{user}", {"jobTitle": "Auditor"})
    assert patched.status == 204, patched

    async def read():
        client, recorder = sdk_client(writ)
        config = RequestConfiguration(
            query_parameters=DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(
                filter=f"targetResources/any(t: t/id eq '{user}')",
                orderby=["activityDateTime desc"],
                top=50,
            )
        )
        page = await client.audit_logs.directory_audits.get(request_configuration=config)
        return page, recorder

    page, recorder = _run(read())
    assert [a.activity_display_name for a in page.value] == ["Update user", "Add user"], page.value
    newest = page.value[0]
    assert newest.category == "UserManagement"
    assert newest.initiated_by.app.app_id == writ.client_id
    assert [t.id for t in newest.target_resources] == [user]
    assert [p.display_name for p in newest.target_resources[0].modified_properties] == ["jobTitle"]
    assert {d.key: d.value for d in newest.additional_details}["onBehalfOf"] == user
    body = recorder.exchanges[0].json()
    assert_collection_conforms(DirectoryAudit, body, "directoryAudits")

    # Everything the administrator can read, one record through /{id}.
    everything = writ.get_all("auditLogs/directoryAudits")
    assert len(everything) >= 4
    for record in everything:
        assert_conforms(DirectoryAudit, record, "directoryAudit")
    one = writ.get_json(f"auditLogs/directoryAudits/{everything[0]['id']}")
    assert_conforms(DirectoryAudit, one, "directoryAudit/{id}")

    # An ordinary user may not read the log.
    token = http(
        "POST",
        writ.url + "/oauth2/v2.0/token",
        form={
            "grant_type": "password",
            "username": "auditeduser@example.org",
            "password": "a long passphrase 1",
        },
    ).json()["access_token"]

    async def refused():
        client, _ = sdk_client(writ, token)
        try:
            await client.audit_logs.directory_audits.get()
        except ODataError as err:
            return err.response_status_code, err.error.code
        return None

    assert _run(refused()) == (403, "accessDenied")


def test_audit_verify_and_export_detect_an_edit(writ, tmp_path):
    # The chainer of the running server links what was written (within about a second).
    deadline = time.monotonic() + 20
    while True:
        unchained = writ.sql("SELECT COUNT(*) FROM audit_log WHERE chain_seq IS NULL")[0][0]
        if unchained == "0":
            break
        assert time.monotonic() < deadline, f"{unchained} records still unlinked\n{writ.stderr_tail()}"
        time.sleep(0.2)
    linked = int(writ.sql("SELECT COUNT(*) FROM audit_log")[0][0])

    export = tmp_path / "audit.jsonl"
    done = _audit_command(writ, "export", "--out", str(export))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    records = [line for line in lines if "directoryAudit" in line]
    assert len(records) >= linked  # the server may have linked more since
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    for record in records:
        assert_conforms(DirectoryAudit, record["directoryAudit"], "export line")
    checkpoint = lines[-1]["checkpoint"]
    assert checkpoint["seq"] == records[-1]["seq"]
    assert checkpoint["mac"] == records[-1]["mac"]

    verified = _audit_command(writ, "verify", "--checkpoint", str(export))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain intact" in verified.stdout, verified.stdout

    _tamper(writ, "UPDATE audit_log SET activity = 'Nothing happened' WHERE chain_seq = 2")
    broken = _audit_command(writ, "verify", "--checkpoint", str(export))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "BROKEN" in broken.stdout and "record 2 " in broken.stdout, broken.stdout
    assert "failed verification" in broken.stderr
