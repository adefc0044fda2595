"""The directory half of the served OpenAPI description, checked by an independent validator on
both backends: every directory entity route names a component schema, every directory write names
its body schema, and the entities a real `writ serve` returns (users and agent users, managers,
groups with members and owners expanded, applications and blueprints, secrets, service principals
and agent identities, directory objects, app role assignments, permission grants, directory roles,
audit records) validate against the schema their route names (`openapi-schema-validator`).
"""

from __future__ import annotations

from openapi_schema_validator import OAS31Validator

from writ_harness import http

DIRECTORY = (
    "/users",
    "/me",
    "/groups",
    "/applications",
    "/servicePrincipals",
    "/oauth2PermissionGrants",
    "/roleManagement/directory",
    "/auditLogs",
    "/directoryObjects",
)
ROLE = "6d1e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"
SCOPE = "7e2f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"
READER_ROLE = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"


def served_description(writ) -> dict:
    resp = http("GET", f"{writ.url}/writ/v1/openapi.json")
    assert resp.status == 200, resp
    return resp.json()


def assert_matches(document: dict, name: str, instance: dict) -> None:
    """`instance` (an entity as served) validates against `#/components/schemas/{name}`."""
    assert name in document["components"]["schemas"], name
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    body = {k: v for k, v in instance.items() if k != "@odata.context"}
    errors = sorted(OAS31Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{name}: " + "; ".join(e.message for e in errors[:5])


def assert_all_match(document: dict, name: str, page: dict) -> None:
    assert page["value"], f"{name}: an empty page checks nothing"
    for item in page["value"]:
        assert_matches(document, name, item)


def created(writ, path: str, body: dict) -> dict:
    resp = writ.api("POST", path, body)
    assert resp.status in (200, 201), f"POST {path}: {resp!r}"
    return resp.json()


def test_directory_routes_name_their_schemas(writ):
    document = served_description(writ)
    schemas = document["components"]["schemas"]
    checked = 0
    for path, operations in document["paths"].items():
        unversioned = path.removeprefix("/v1.0").removeprefix("/beta")
        if not path.startswith(("/v1.0/", "/beta/")) or not unversioned.startswith(DIRECTORY):
            continue
        for method, operation in operations.items():
            checked += 1
            # Graph's revokeSignInSessions and attest are actions without a body.
            if method in ("post", "patch", "put") and not path.endswith(
                    ("/revokeSignInSessions", "/attest")):
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                assert body, f"{method.upper()} {path} names no body"
                assert body["schema"]["$ref"].rsplit("/", 1)[1] in schemas
            for status in ("200", "201"):
                response = operation["responses"].get(status)
                if response is None or path.endswith("/$count"):
                    continue
                content = response.get("content", {}).get("application/json")
                assert content, f"{method.upper()} {path}: {status} names no schema"
                schema = content["schema"]
                ref = schema.get("$ref") or schema["properties"]["value"]["items"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas, f"{method.upper()} {path}: {ref}"
    assert checked > 100


def test_served_directory_entities_match_their_schemas(writ):
    doc = served_description(writ)
    user = created(
        writ,
        "users",
        {
            "displayName": "Schema Person",
            "userPrincipalName": "schema.person@example.org",
            "mailNickname": "schema.person",
            "accountEnabled": True,
            "passwordProfile": {"password": "a long passphrase 1"},
        },
    )
    assert_matches(doc, "user", user)
    boss = created(
        writ,
        "users",
        {
            "displayName": "Schema Boss",
            "userPrincipalName": "schema.boss@example.org",
            "mailNickname": "schema.boss",
            "accountEnabled": True,
            "passwordProfile": {"password": "a long passphrase 2"},
        },
    )
    ref = {"@odata.id": f"{writ.graph}/users/{boss['id']}"}
    assert writ.api("PUT", f"users/{user['id']}/manager/$ref", ref).status == 204
    assert_matches(doc, "user", writ.get_json(f"users/{user['id']}", **{"$expand": "manager"}))
    assert_matches(doc, "directoryObject", writ.get_json(f"users/{user['id']}/manager"))
    assert_all_match(doc, "user", writ.get_json("users"))

    blueprint = created(
        writ,
        "applications",
        {
            "@odata.type": "#microsoft.graph.agentIdentityBlueprint",
            "displayName": "Schema blueprint",
            "sponsors@odata.bind": [f"{writ.graph}/users/{boss['id']}"],
        },
    )
    assert_matches(doc, "application", blueprint)
    principal = created(
        writ,
        "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        {"appId": blueprint["appId"]},
    )
    assert_matches(doc, "servicePrincipal", principal)
    agent = created(
        writ,
        "servicePrincipals",
        {
            "@odata.type": "#microsoft.graph.agentIdentity",
            "displayName": "schema-agent",
            "agentIdentityBlueprintId": blueprint["appId"],
            "sponsors@odata.bind": [f"{writ.graph}/users/{boss['id']}"],
        },
    )
    assert_matches(doc, "servicePrincipal", agent)
    agent_user = created(
        writ,
        "users",
        {
            "@odata.type": "#microsoft.graph.agentUser",
            "displayName": "schema-agent user",
            "userPrincipalName": "schema-agent@example.org",
            "mailNickname": "schema-agent",
            "accountEnabled": True,
            "identityParentId": agent["id"],
            "sponsors@odata.bind": [f"{writ.graph}/users/{boss['id']}"],
        },
    )
    assert_matches(doc, "user", agent_user)
    assert_all_match(doc, "directoryObject", writ.get_json(f"servicePrincipals/{agent['id']}/sponsors"))

    api = created(
        writ,
        "applications",
        {
            "displayName": "Schema API",
            "identifierUris": ["api://schema"],
            "appRoles": [{"id": ROLE, "allowedMemberTypes": ["User"], "displayName": "Read", "description": "Read", "value": "Schema.Read"}],
            "api": {"oauth2PermissionScopes": [{"id": SCOPE, "value": "Schema.Read", "type": "User", "adminConsentDisplayName": "Read", "adminConsentDescription": "Read"}]},
        },
    )
    secret = created(writ, f"applications/{api['id']}/addPassword", {"passwordCredential": {"displayName": "ci"}})
    assert_matches(doc, "passwordCredential", secret)
    assert_matches(doc, "application", writ.get_json(f"applications/{api['id']}"))
    assert_all_match(doc, "application", writ.get_json("applications"))
    sp = created(writ, "servicePrincipals", {"appId": api["appId"]})
    assert_matches(doc, "servicePrincipal", writ.get_json(f"servicePrincipals/{sp['id']}"))
    assert_all_match(doc, "servicePrincipal", writ.get_json("servicePrincipals"))

    assignment = created(writ, f"users/{user['id']}/appRoleAssignments", {"resourceId": sp["id"], "appRoleId": ROLE})
    assert_matches(doc, "appRoleAssignment", assignment)
    assert_all_match(doc, "appRoleAssignment", writ.get_json(f"servicePrincipals/{sp['id']}/appRoleAssignedTo"))
    grant = created(
        writ,
        "oauth2PermissionGrants",
        {"clientId": agent["id"], "consentType": "AllPrincipals", "resourceId": sp["id"], "scope": "Schema.Read"},
    )
    assert_matches(doc, "oAuth2PermissionGrant", grant)
    assert_all_match(doc, "oAuth2PermissionGrant", writ.get_json("oauth2PermissionGrants"))

    group = created(
        writ,
        "groups",
        {"displayName": "Schema group", "mailNickname": "schema-group", "mailEnabled": False, "securityEnabled": True},
    )
    for navigation, member in (("members", agent["id"]), ("members", user["id"]), ("owners", boss["id"])):
        body = {"@odata.id": f"{writ.graph}/directoryObjects/{member}"}
        assert writ.api("POST", f"groups/{group['id']}/{navigation}/$ref", body).status == 204
    assert_matches(doc, "group", writ.get_json(f"groups/{group['id']}", **{"$expand": "members,owners"}))
    assert_all_match(doc, "directoryObject", writ.get_json(f"groups/{group['id']}/members"))
    for object_id in (user["id"], group["id"], sp["id"], api["id"], agent_user["id"]):
        assert_matches(doc, "directoryObject", writ.get_json(f"directoryObjects/{object_id}"))

    assert_all_match(doc, "unifiedRoleDefinition", writ.get_json("roleManagement/directory/roleDefinitions"))
    role = created(writ, "roleManagement/directory/roleAssignments", {"principalId": user["id"], "roleDefinitionId": READER_ROLE})
    assert_matches(doc, "unifiedRoleAssignment", role)
    assert_all_match(doc, "directoryAudit", writ.get_json("auditLogs/directoryAudits"))
