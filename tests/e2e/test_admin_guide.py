"""The administrator's guide's worked example, run exactly as written against a real server, on both
backends.

The bash block between `<!-- guide:start -->` and `<!-- guide:end -->` is taken from
docs/admin-guide.md; its three placeholder assignments (`WRIT=`, `CLIENT_ID=`, `CLIENT_SECRET=`)
are deleted and the running server's values exported in front instead (the README test's
`with_server`), so every other line runs unchanged under `bash -euo pipefail`. Afterwards plain
HTTP must show what the guide promised: the "Support agent access" package in the "Support agent
fleet" catalog grants three resource roles (the group's Member role, the Tickets.Read app role,
Directory Readers' Active role) and has one policy for all agents, time-bound, that agents and
their sponsors may request through, approved by the agent's sponsors with the fallback approver
named in `fallbackPrimaryApprovers`. The package, expanded, also passes the strict model check.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from msgraph.generated.models.access_package import AccessPackage

from strict_check import assert_conforms
from test_readme import PLACEHOLDERS, with_server
from writ_harness import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "admin-guide.md"
EM = "identityGovernance/entitlementManagement"
SPONSORS = {"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"


def guide_script() -> str:
    text = GUIDE.read_text("utf-8")
    found = re.search(r"<!-- guide:start -->\n(.*?)<!-- guide:end -->", text, re.S)
    assert found, "docs/admin-guide.md has no <!-- guide:start --> ... <!-- guide:end --> block"
    block = found.group(1).strip()
    fenced = re.fullmatch(r"```(?:sh|bash)\n(.*)\n```", block, re.S)
    assert fenced, f"the guide's block is not one ```bash fenced block:\n{block}"
    return fenced.group(1) + "\n"


def one(writ, path: str, **query: str) -> dict:
    """The single item of a filtered collection."""
    items = writ.get_all(path, **query)
    assert len(items) == 1, f"GET {path} {query}: expected one item, got {items}"
    return items[0]


def test_guide_block_is_extracted_as_expected():
    script = guide_script()
    assert "```" not in script
    assert script.splitlines()[0] == "WRIT=http://127.0.0.1:8080", "the block starts like the README's"
    for name in PLACEHOLDERS:
        assert re.search(rf"^{name}=", script, re.M), name


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_placeholder_replacement_keeps_every_other_line(name):
    class Fake:
        url, client_id, client_secret = "http://127.0.0.1:1", "cid", "secret"

    original = guide_script()
    replaced = with_server(original, Fake)
    assert f"export {name}=" in replaced
    assert not re.search(rf"^{name}=", replaced, re.M)
    kept = [line for line in original.splitlines() if not re.match(r"(WRIT|CLIENT_ID|CLIENT_SECRET)=", line)]
    assert replaced.splitlines()[len(PLACEHOLDERS):] == kept


def test_admin_guide_example_runs_as_written(writ, tmp_path):
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"the guide's example needs {tool} on PATH"
    script = with_server(guide_script(), writ)
    (tmp_path / "guide.sh").write_text(script)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", str(tmp_path / "guide.sh")],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, (
        f"the admin guide's example failed with exit {proc.returncode}\n--- stdout\n{proc.stdout}\n"
        f"--- stderr\n{proc.stderr}"
    )
    # The last command prints the summary as JSON.
    assert '"package": "Support agent access"' in proc.stdout, proc.stdout
    assert "allDirectoryAgentIdentities" in proc.stdout, proc.stdout

    fallback = one(writ, "users", **{"$filter": "userPrincipalName eq 'frankie@example.org'"})
    one(writ, "users", **{"$filter": "userPrincipalName eq 'sasha@example.org'"})
    catalog = one(writ, f"{EM}/catalogs", **{"$filter": "displayName eq 'Support agent fleet'"})
    package = one(writ, f"{EM}/catalogs/{catalog['id']}/accessPackages",
                  **{"$filter": "displayName eq 'Support agent access'"})
    group = one(writ, "groups", **{"$filter": "displayName eq 'Support tools'"})
    api = one(writ, "servicePrincipals", **{"$filter": "displayName eq 'Tickets API'"})

    resources = writ.get_all(f"{EM}/catalogs/{catalog['id']}/resources")
    assert sorted((r["originSystem"], r["originId"]) for r in resources) == sorted([
        ("AadGroup", group["id"]), ("AadApplication", api["id"]), ("DirectoryRole", DIRECTORY_READERS)])

    expanded = writ.get_json(
        f"{EM}/accessPackages/{package['id']}",
        **{"$expand": "resourceRoleScopes($expand=role,scope),assignmentPolicies,catalog"})
    assert_conforms(AccessPackage, expanded, "the expanded access package")
    assert expanded["catalog"]["id"] == catalog["id"]

    # Three roles: the group's membership, the API's application permission, Directory Readers.
    scopes = expanded["resourceRoleScopes"]
    assert len(scopes) == 3, scopes
    granted = sorted((s["role"]["originSystem"], s["role"]["originId"]) for s in scopes)
    tickets_role = next(r for r in api["appRoles"] if r["value"] == "Tickets.Read")
    assert tickets_role["allowedMemberTypes"] == ["Application"]
    assert granted == sorted([
        ("AadGroup", f"Member_{group['id']}"),
        ("AadApplication", tickets_role["id"]),
        ("DirectoryRole", "Active"),
    ])
    for s in scopes:
        assert s["scope"]["isRootScope"] is True, s
        assert s["id"] == f"{s['role']['id']}_{s['scope']['id']}", s

    # One policy, for all agents, time-bound, sponsors approve with Frankie as the fallback.
    (policy,) = expanded["assignmentPolicies"]
    assert policy["allowedTargetScope"] == "allDirectoryAgentIdentities"
    assert policy["specificAllowedTargets"] == []
    assert policy["expiration"]["type"] == "afterDuration"
    assert policy["expiration"]["duration"] == "P30D"
    requestors = policy["requestorSettings"]
    assert requestors["enableTargetsToSelfAddAccess"] is True
    assert requestors["enableOnBehalfRequestorsToAddAccess"] is True
    assert requestors["onBehalfRequestors"] == [SPONSORS]
    approval = policy["requestApprovalSettings"]
    assert approval["isApprovalRequiredForAdd"] is True
    assert approval["isRequestorJustificationRequired"] is True
    (stage,) = approval["stages"]
    assert stage["primaryApprovers"] == [SPONSORS]
    assert stage["fallbackPrimaryApprovers"] == [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": fallback["id"]}]

    # The same policy through the policies collection.
    policies = writ.get_all(f"{EM}/assignmentPolicies",
                            **{"$filter": f"accessPackage/id eq '{package['id']}'"})
    assert [p["id"] for p in policies] == [policy["id"]]
