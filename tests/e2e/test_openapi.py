"""The OpenAPI description a real `writ serve` serves (`/writ/v1/openapi.json`), checked by an
independent validator on both backends: `openapi-spec-validator` accepts the document as OpenAPI
3.1, every entity route of entitlement management names a component schema, and entities the
server returns validate against the schema their route names (`openapi-schema-validator`).
"""

from __future__ import annotations

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from writ_harness import http

EM = "identityGovernance/entitlementManagement"
# Entitlement routes that list directory objects: the directory's schemas describe them.
DIRECTORY_LISTS = ("/incompatibleGroups", "/internalSponsors", "/externalSponsors")


def served_description(writ) -> dict:
    resp = http("GET", f"{writ.url}/writ/v1/openapi.json")
    assert resp.status == 200, resp
    return resp.json()


def assert_matches_schema(document: dict, name: str, instance: dict) -> None:
    """`instance` (an entity as served) validates against `#/components/schemas/{name}`."""
    assert name in document["components"]["schemas"], name
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    body = {k: v for k, v in instance.items() if k != "@odata.context"}
    errors = sorted(OAS31Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{name}: " + "; ".join(e.message for e in errors[:5])


def test_the_served_description_is_valid_openapi(writ):
    document = served_description(writ)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the first violation
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        if f"/{EM}/" not in path + "/" or path.endswith(DIRECTORY_LISTS):
            continue
        for method, operation in operations.items():
            for status in ("200", "201"):
                response = operation["responses"].get(status)
                if response is None:
                    continue
                content = response.get("content", {}).get("application/json")
                assert content, f"{method.upper()} {path}: {status} names no schema"
                schema = content["schema"]
                name = (schema.get("$ref") or schema["properties"]["value"]["items"]["$ref"]).rsplit("/", 1)[1]
                assert name in schemas, f"{method.upper()} {path}: {name}"


def test_served_entities_match_their_schemas(writ):
    document = served_description(writ)
    catalog = writ.api("POST", f"{EM}/catalogs", {"displayName": "Validated"})
    assert catalog.status == 201, catalog
    assert_matches_schema(document, "accessPackageCatalog", catalog.json())
    catalog_id = catalog.json()["id"]
    package = writ.api(
        "POST", f"{EM}/accessPackages", {"displayName": "Validated", "catalog": {"id": catalog_id}}
    )
    assert package.status == 201, package
    assert_matches_schema(document, "accessPackage", package.json())
    policy = writ.api(
        "POST",
        f"{EM}/assignmentPolicies",
        {
            "displayName": "Administrators assign",
            "allowedTargetScope": "notSpecified",
            "expiration": {"type": "afterDuration", "duration": "P1D"},
            "accessPackage": {"id": package.json()["id"]},
        },
    )
    assert policy.status == 201, policy
    assert_matches_schema(document, "accessPackageAssignmentPolicy", policy.json())
    expanded = writ.get_json(f"{EM}/accessPackages/{package.json()['id']}", **{"$expand": "catalog"})
    assert_matches_schema(document, "accessPackage", expanded)
    for item in writ.get_json(f"{EM}/catalogs")["value"]:
        assert_matches_schema(document, "accessPackageCatalog", item)
    settings = writ.get_json(f"{EM}/settings")
    assert_matches_schema(document, "entitlementManagementSettings", settings)
