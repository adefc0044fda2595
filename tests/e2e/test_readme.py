"""The README's quick start, run exactly as written against a real server, on both backends.

The bash block between `<!-- quickstart:start -->` and `<!-- quickstart:end -->` is taken from
README.md; its three placeholder assignments (`WRIT=`, `CLIENT_ID=`, `CLIENT_SECRET=`) are deleted
and the running server's values exported in front instead, so every other line runs unchanged under
`bash -euo pipefail`. Afterwards the API must show what the quick start promised: the user
`sam@example.org`, the group `Support agents`, and the user in the group.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.group import Group
from msgraph.generated.models.user import User

from strict_check import assert_collection_conforms, assert_conforms
from writ_harness import REPO_ROOT

README = REPO_ROOT / "README.md"
PLACEHOLDERS = ("WRIT", "CLIENT_ID", "CLIENT_SECRET")


def quickstart_script() -> str:
    text = README.read_text("utf-8")
    found = re.search(r"<!-- quickstart:start -->\n(.*?)<!-- quickstart:end -->", text, re.S)
    assert found, "README.md has no <!-- quickstart:start --> ... <!-- quickstart:end --> block"
    block = found.group(1).strip()
    fenced = re.fullmatch(r"```(?:sh|bash)\n(.*)\n```", block, re.S)
    assert fenced, f"the quick start block is not one ```sh fenced block:\n{block}"
    return fenced.group(1) + "\n"


def with_server(script: str, server) -> str:
    lines = script.splitlines()
    for name in PLACEHOLDERS:
        matching = [line for line in lines if line.startswith(f"{name}=")]
        assert len(matching) == 1, f"the quick start should assign {name}= exactly once: {matching}"
    kept = [line for line in lines if not any(line.startswith(f"{n}=") for n in PLACEHOLDERS)]
    values = {"WRIT": server.url, "CLIENT_ID": server.client_id, "CLIENT_SECRET": server.client_secret}
    exports = [f"export {name}='{values[name]}'" for name in PLACEHOLDERS]
    return "\n".join(exports + kept) + "\n"


def test_quickstart_block_is_extracted_as_expected():
    script = quickstart_script()
    assert "```" not in script
    for name in PLACEHOLDERS:
        assert re.search(rf"^{name}=", script, re.M), name


def test_readme_quickstart_runs_as_written(writ, tmp_path):
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"the quick start needs {tool} on PATH"
    script = with_server(quickstart_script(), writ)
    (tmp_path / "quickstart.sh").write_text(script)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", str(tmp_path / "quickstart.sh")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, (
        f"the README quick start failed with exit {proc.returncode}\n--- stdout\n{proc.stdout}\n"
        f"--- stderr\n{proc.stderr}"
    )
    # It printed the members and the filtered users as JSON (the last two commands pipe to jq).
    assert "sam@example.org" in proc.stdout, proc.stdout

    users = writ.get_json("users", **{"$filter": "userPrincipalName eq 'sam@example.org'"})
    (sam,) = assert_collection_conforms(User, users, "users")
    assert (sam.display_name, sam.mail_nickname, sam.account_enabled) == ("Sam Sponsor", "sam", True)

    groups = writ.get_json("groups", **{"$filter": "displayName eq 'Support agents'"})
    (group,) = assert_collection_conforms(Group, groups, "groups")
    assert (group.mail_nickname, group.mail_enabled, group.security_enabled) == (
        "support-agents", False, True)

    members = writ.get_all(f"groups/{group.id}/members")
    parsed = [assert_conforms(DirectoryObject, m, "member") for m in members]
    assert [(type(m), m.id) for m in parsed] == [(User, sam.id)]


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_placeholder_replacement_keeps_every_other_line(name):
    class Fake:
        url, client_id, client_secret = "http://127.0.0.1:1", "cid", "secret"

    original = quickstart_script()
    replaced = with_server(original, Fake)
    assert f"export {name}=" in replaced
    assert not re.search(rf"^{name}=", replaced, re.M)
    kept = [line for line in original.splitlines() if not re.match(r"(WRIT|CLIENT_ID|CLIENT_SECRET)=", line)]
    assert replaced.splitlines()[len(PLACEHOLDERS):] == kept
