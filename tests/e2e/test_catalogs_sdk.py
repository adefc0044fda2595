"""Entitlement-management catalogs driven by the official Microsoft Graph Python SDK, on SQLite and
on PostgreSQL.

The administrator's side of entitlement management, as a Graph client written for Entra does it:
the built-in `General` catalog is listed by its `catalogType`; a `Support fleet` catalog is created,
read back and found with `contains(tolower(displayName),...)`. A group, an API's service principal
(an app role for applications) and the `Directory Readers` directory role are added with
`resourceRequests` (`adminAdd`, delivered); the catalog's resources are read with their roles and
scopes, and the documented `resourceRoles` query finds the group's `Member_`/`Owner_` roles. An
access package in the catalog grants the group's Member role through a resource role scope
(`{roleId}_{scopeId}`), read back with `$expand=resourceRoleScopes($expand=role,scope),catalog`.
The five catalog role definitions are listed; a user made Catalog reader of the catalog sees only
that catalog and cannot create a package there (403). Removing a resource a package uses, and
deleting a catalog that holds a package, are refused with 409 and change nothing.

Every step goes through the SDK's request builders (`identity_governance.entitlement_management`,
`role_management.entitlement_management`); only the user's token (password grant) and a few
cross-checks are plain HTTP. Every JSON body the server returns - to the SDK (recorded on the wire)
and to plain HTTP - passes the strict model check, through the route table of `graph_sdk.py`.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.identity_governance.entitlement_management.access_packages.item.access_package_item_request_builder import (
    AccessPackageItemRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.catalogs_request_builder import (
    CatalogsRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resource_roles.resource_roles_request_builder import (
    ResourceRolesRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resources.item.access_package_resource_item_request_builder import (
    AccessPackageResourceItemRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resources.resources_request_builder import (
    ResourcesRequestBuilder,
)
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_catalog_state import AccessPackageCatalogState
from msgraph.generated.models.access_package_catalog_type import AccessPackageCatalogType
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import AccessPackageResourceRequest
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import AccessPackageResourceRoleScope
from msgraph.generated.models.access_package_resource_scope import AccessPackageResourceScope
from msgraph.generated.models.app_role import AppRole
from msgraph.generated.models.application import Application
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.role_type import RoleType
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.models.unified_role_definition import UnifiedRoleDefinition
from msgraph.generated.models.user import User

from graph_sdk import Exchange, sdk_client, strict_check_exchanges
from writ_harness import RawResponse, http

EM = "identityGovernance/entitlementManagement"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
TICKETS_ROLE_ID = uuid.UUID("3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b")
# The five built-in catalog roles of entitlement management.
CATALOG_CREATOR = "ba92d953-d8e0-4e39-a797-0cbedb0a89e8"
CATALOG_OWNER = "ae79f266-94d4-4dab-b730-feca7e132178"
CATALOG_READER = "44272f93-9762-48e8-af59-1b5351b1d6b3"
PACKAGE_MANAGER = "7f480852-ebdc-47d4-87de-0d8498384a83"
ASSIGNMENT_MANAGER = "e2182095-804a-4656-ae11-64734e9b7ae5"
CATALOG_ROLES = {CATALOG_CREATOR, CATALOG_OWNER, CATALOG_READER, PACKAGE_MANAGER, ASSIGNMENT_MANAGER}


def run(coro):
    """Each test drives the SDK in its own event loop (and its own client)."""
    return asyncio.run(coro)


def strict_check_raw(method: str, url: str, resp: RawResponse) -> int:
    """Strict-checks a plain-HTTP answer exactly as the SDK's recorded ones (same route table)."""
    return strict_check_exchanges([Exchange(method, url, resp.status, resp.body)])


def raw_get(writ, path: str, *, token: str | None = None) -> dict:
    """A plain-HTTP GET (admin token unless told) that must answer 200; the body is strictly checked."""
    url = f"{writ.graph}/{path.lstrip('/')}"
    resp = http("GET", url, token=token or writ.token)
    assert resp.status == 200, f"GET {path}: {resp!r}"
    strict_check_raw("GET", url, resp)
    return resp.json()


def statuses(recorder) -> list[int]:
    return [ex.status for ex in recorder.exchanges]


def sent(recorder) -> list[str]:
    return [str(ex) for ex in recorder.exchanges]


async def odata_error(call) -> ODataError:
    try:
        await call
    except ODataError as err:
        return err
    raise AssertionError("the SDK raised no ODataError")


def assert_envelope(err: ODataError, status: int) -> None:
    assert err.response_status_code == status, err
    assert err.error is not None and err.error.code and err.error.message, err
    assert err.error.inner_error is not None and err.error.inner_error.request_id, err


def catalogs_query(**kw) -> RequestConfiguration:
    return RequestConfiguration(
        query_parameters=CatalogsRequestBuilder.CatalogsRequestBuilderGetQueryParameters(**kw))


def add_request(catalog_id: str, origin_system: str, origin_id: str,
                request_type: AccessPackageRequestType = AccessPackageRequestType.AdminAdd,
                ) -> AccessPackageResourceRequest:
    return AccessPackageResourceRequest(
        request_type=request_type,
        resource=AccessPackageResource(origin_id=origin_id, origin_system=origin_system),
        catalog=AccessPackageCatalog(id=catalog_id))


def password_token(writ, upn: str, password: str) -> str:
    """A user's delegated token from Writ's token endpoint (resource-owner password grant)."""
    resp = http("POST", writ.url + "/oauth2/v2.0/token", form={
        "grant_type": "password", "username": upn, "password": password, "scope": GRAPH_SCOPE})
    assert resp.status == 200, f"password token for {upn}: {resp!r}"
    body = resp.json()
    assert body.get("token_type", "").lower() == "bearer" and body.get("access_token"), body
    return body["access_token"]


@dataclass
class Fleet:
    """What the module's setup created through the SDK: a catalog with three resources."""

    prefix: str
    catalog_id: str
    group_id: str
    api_sp_id: str
    # originSystem -> the AccessPackageResource the resource request answered with (its id).
    resource_ids: dict[str, str]


@pytest.fixture(scope="module")
def fleet(writ) -> Fleet:
    """Steps 2-3: the `Support fleet` catalog; a group, an API's principal and a directory role in it."""
    prefix = "cat" + secrets.token_hex(3)

    async def setup() -> Fleet:
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        catalog = await em.catalogs.post(AccessPackageCatalog(
            display_name="Support fleet", description="Access for the support fleet",
            is_externally_visible=False))
        assert type(catalog) is AccessPackageCatalog and catalog.id, catalog
        assert (catalog.display_name, catalog.description, catalog.is_externally_visible) == (
            "Support fleet", "Access for the support fleet", False), catalog
        assert catalog.catalog_type == AccessPackageCatalogType.UserManaged, catalog.catalog_type
        assert catalog.state == AccessPackageCatalogState.Published, catalog.state

        group = await client.groups.post(Group(
            display_name=f"{prefix} support tier 1", mail_nickname=f"{prefix}-tier1",
            mail_enabled=False, security_enabled=True))
        assert type(group) is Group and group.id, group
        api = await client.applications.post(Application(
            display_name=f"{prefix} Tickets API",
            app_roles=[AppRole(
                id=TICKETS_ROLE_ID, allowed_member_types=["Application"], value="Tickets.Read",
                display_name="Read tickets", description="Read all tickets", is_enabled=True)]))
        assert type(api) is Application and api.app_id, api
        api_sp = await client.service_principals.post(ServicePrincipal(app_id=api.app_id))
        assert type(api_sp) is ServicePrincipal and api_sp.id, api_sp

        resource_ids = {}
        for system, origin in [("AadGroup", group.id), ("AadApplication", api_sp.id),
                               ("DirectoryRole", DIRECTORY_READERS)]:
            request = await em.resource_requests.post(add_request(catalog.id, system, origin))
            assert type(request) is AccessPackageResourceRequest and request.id, request
            assert request.request_type == AccessPackageRequestType.AdminAdd, (system, request.request_type)
            assert request.state == AccessPackageRequestState.Delivered, (system, request.state)
            if request.resource is not None:  # Graph's answer need not echo the resource
                assert (request.resource.origin_system, request.resource.origin_id) == (system, origin), request
        assert statuses(recorder) == [201] * 7, sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 7

        # The resources' ids, from the catalog (the request need not carry the resource's id).
        resources = await em.catalogs.by_access_package_catalog_id(catalog.id).resources.get()
        assert strict_check_exchanges(recorder.exchanges[7:]) == len(resources.value) == 3, resources.value
        for resource in resources.value:
            resource_ids[resource.origin_system] = resource.id
        return Fleet(prefix, catalog.id, group.id, api_sp.id, resource_ids)

    return run(setup())


def test_general_catalog_is_listed_by_catalog_type(writ):
    async def scenario():
        client, recorder = sdk_client(writ)
        page = await client.identity_governance.entitlement_management.catalogs.get(
            catalogs_query(filter="catalogType eq 'serviceDefault'"))
        assert [type(c) for c in page.value] == [AccessPackageCatalog], page.value
        general = page.value[0]
        assert general.display_name == "General", general
        assert general.catalog_type == AccessPackageCatalogType.ServiceDefault, general.catalog_type
        assert general.state == AccessPackageCatalogState.Published, general.state
        assert general.id
        assert strict_check_exchanges(recorder.exchanges) == 1
        return general.id

    general_id = run(scenario())
    # Plain HTTP: the wire value of the enum is Graph's camelCase string.
    item = raw_get(writ, f"{EM}/catalogs/{general_id}")
    assert item["catalogType"] == "serviceDefault" and item["displayName"] == "General", item


def test_catalog_reads_back_and_is_found_by_contains(writ, fleet):
    async def scenario():
        client, recorder = sdk_client(writ)
        catalogs = client.identity_governance.entitlement_management.catalogs
        catalog = await catalogs.by_access_package_catalog_id(fleet.catalog_id).get()
        assert type(catalog) is AccessPackageCatalog, type(catalog)
        assert (catalog.id, catalog.display_name, catalog.description) == (
            fleet.catalog_id, "Support fleet", "Access for the support fleet"), catalog
        assert catalog.is_externally_visible is False
        assert catalog.catalog_type == AccessPackageCatalogType.UserManaged, catalog.catalog_type
        assert catalog.state == AccessPackageCatalogState.Published, catalog.state
        assert catalog.created_date_time is not None
        found = await catalogs.get(catalogs_query(filter="contains(tolower(displayName),'fleet')"))
        assert [(type(c), c.id) for c in found.value] == [(AccessPackageCatalog, fleet.catalog_id)], found.value
        everything = await catalogs.get()
        assert {c.display_name for c in everything.value} == {"General", "Support fleet"}, everything.value
        assert statuses(recorder) == [200, 200, 200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 1 + 1 + 2

    run(scenario())


def test_resources_with_roles_and_scopes(writ, fleet):
    group_resource_id = fleet.resource_ids["AadGroup"]

    async def scenario():
        client, recorder = sdk_client(writ)
        catalog = client.identity_governance.entitlement_management.catalogs.by_access_package_catalog_id(
            fleet.catalog_id)
        page = await catalog.resources.get(RequestConfiguration(
            query_parameters=ResourcesRequestBuilder.ResourcesRequestBuilderGetQueryParameters(
                expand=["roles", "scopes"])))
        assert all(type(r) is AccessPackageResource for r in page.value), page.value
        by_system = {r.origin_system: r for r in page.value}
        assert sorted(by_system) == ["AadApplication", "AadGroup", "DirectoryRole"], page.value
        assert len(page.value) == 3

        group = by_system["AadGroup"]
        assert (group.id, group.origin_id) == (group_resource_id, fleet.group_id), group
        assert group.display_name == f"{fleet.prefix} support tier 1", group.display_name
        assert all(type(r) is AccessPackageResourceRole for r in group.roles), group.roles
        assert sorted(r.origin_id for r in group.roles) == [
            f"Member_{fleet.group_id}", f"Owner_{fleet.group_id}"], group.roles
        assert sorted(r.display_name for r in group.roles) == ["Member", "Owner"], group.roles
        assert all(type(s) is AccessPackageResourceScope for s in group.scopes), group.scopes
        assert [(s.origin_id, s.origin_system, s.is_root_scope) for s in group.scopes] == [
            (fleet.group_id, "AadGroup", True)], group.scopes

        api = by_system["AadApplication"]
        assert api.origin_id == fleet.api_sp_id, api
        assert [(r.origin_id, r.display_name) for r in api.roles] == [
            (str(TICKETS_ROLE_ID), "Read tickets")], api.roles
        assert api.roles[0].type == RoleType.Application, api.roles[0].type
        assert [s.is_root_scope for s in api.scopes] == [True], api.scopes

        role = by_system["DirectoryRole"]
        assert role.origin_id == DIRECTORY_READERS, role
        assert [r.origin_id for r in role.roles] == ["Active"], role.roles

        # The documented resourceRoles query: the roles of one resource, each with its resource.
        roles = await catalog.resource_roles.get(RequestConfiguration(
            query_parameters=ResourceRolesRequestBuilder.ResourceRolesRequestBuilderGetQueryParameters(
                filter=f"(originSystem eq 'AadGroup' and resource/id eq '{group_resource_id}')",
                expand=["resource"])))
        assert all(type(r) is AccessPackageResourceRole for r in roles.value), roles.value
        assert sorted(r.origin_id for r in roles.value) == [
            f"Member_{fleet.group_id}", f"Owner_{fleet.group_id}"], roles.value
        for r in roles.value:
            assert r.origin_system == "AadGroup", r
            assert type(r.resource) is AccessPackageResource, r.resource
            assert (r.resource.id, r.resource.origin_id) == (group_resource_id, fleet.group_id), r.resource
        scopes = await catalog.resource_scopes.get()
        assert all(type(s) is AccessPackageResourceScope for s in scopes.value), scopes.value
        assert len(scopes.value) == 3, scopes.value
        assert statuses(recorder) == [200] * 3, sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 3 + 2 + 3

    run(scenario())


@dataclass
class Package:
    id: str
    member_role_id: str
    group_scope_id: str
    role_scope_id: str


@pytest.fixture(scope="module")
def package(writ, fleet) -> Package:
    """Step 5: an access package in the catalog granting the group's Member role."""

    async def setup() -> Package:
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        resources = em.catalogs.by_access_package_catalog_id(fleet.catalog_id).resources
        group_resource = await resources.by_access_package_resource_id(fleet.resource_ids["AadGroup"]).get(
            RequestConfiguration(query_parameters=AccessPackageResourceItemRequestBuilder
                                 .AccessPackageResourceItemRequestBuilderGetQueryParameters(expand=["roles", "scopes"])))
        assert type(group_resource) is AccessPackageResource, group_resource
        member = next(r for r in group_resource.roles if r.origin_id == f"Member_{fleet.group_id}")
        [scope] = group_resource.scopes

        created = await em.access_packages.post(AccessPackage(
            display_name="Support agent access", description="Tier 1", is_hidden=False,
            catalog=AccessPackageCatalog(id=fleet.catalog_id)))
        assert type(created) is AccessPackage and created.id, created
        assert (created.display_name, created.description, created.is_hidden) == (
            "Support agent access", "Tier 1", False), created
        role_scope = await em.access_packages.by_access_package_id(created.id).resource_role_scopes.post(
            AccessPackageResourceRoleScope(
                role=AccessPackageResourceRole(id=member.id),
                scope=AccessPackageResourceScope(id=scope.id)))
        assert type(role_scope) is AccessPackageResourceRoleScope, role_scope
        assert role_scope.id == f"{member.id}_{scope.id}", role_scope.id
        assert statuses(recorder) == [200, 201, 201], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 3
        return Package(created.id, member.id, scope.id, role_scope.id)

    return run(setup())


def test_package_with_resource_role_scope_expanded(writ, fleet, package):
    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        got = await em.access_packages.by_access_package_id(package.id).get(RequestConfiguration(
            query_parameters=AccessPackageItemRequestBuilder.AccessPackageItemRequestBuilderGetQueryParameters(
                expand=["resourceRoleScopes($expand=role,scope)", "catalog"])))
        assert type(got) is AccessPackage and got.id == package.id, got
        assert got.display_name == "Support agent access", got
        assert type(got.catalog) is AccessPackageCatalog and got.catalog.id == fleet.catalog_id, got.catalog
        assert got.catalog.display_name == "Support fleet", got.catalog
        [rs] = got.resource_role_scopes
        assert type(rs) is AccessPackageResourceRoleScope, rs
        assert rs.id == package.role_scope_id == f"{package.member_role_id}_{package.group_scope_id}", rs.id
        assert type(rs.role) is AccessPackageResourceRole and type(rs.scope) is AccessPackageResourceScope, rs
        assert (rs.role.id, rs.role.origin_id, rs.role.origin_system, rs.role.display_name) == (
            package.member_role_id, f"Member_{fleet.group_id}", "AadGroup", "Member"), rs.role
        assert (rs.scope.id, rs.scope.origin_id, rs.scope.is_root_scope) == (
            package.group_scope_id, fleet.group_id, True), rs.scope
        # The same grants through the package's own collection, and the package in its catalog's.
        listed = await em.access_packages.by_access_package_id(package.id).resource_role_scopes.get()
        assert [r.id for r in listed.value] == [package.role_scope_id], listed.value
        in_catalog = await em.catalogs.by_access_package_catalog_id(fleet.catalog_id).access_packages.get()
        assert [(type(p), p.id) for p in in_catalog.value] == [(AccessPackage, package.id)], in_catalog.value
        assert statuses(recorder) == [200] * 3, sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 3

    run(scenario())


def test_catalog_reader_sees_only_its_catalog(writ, fleet, package):
    upn = f"{fleet.prefix}-reader@example.org"
    password = f"a long passphrase for {fleet.prefix}"

    async def as_admin():
        client, recorder = sdk_client(writ)
        definitions = await client.role_management.entitlement_management.role_definitions.get()
        assert all(type(d) is UnifiedRoleDefinition for d in definitions.value), definitions.value
        assert {d.id for d in definitions.value} == CATALOG_ROLES, [(d.id, d.display_name) for d in definitions.value]
        reader_def = next(d for d in definitions.value if d.id == CATALOG_READER)
        assert reader_def.display_name == "Catalog reader", reader_def.display_name
        user = await client.users.post(User(
            display_name=f"{fleet.prefix} catalog reader", user_principal_name=upn,
            mail_nickname=f"{fleet.prefix}-reader", account_enabled=True,
            password_profile=PasswordProfile(password=password)))
        assert type(user) is User and user.id, user
        assignment = await client.role_management.entitlement_management.role_assignments.post(UnifiedRoleAssignment(
            principal_id=user.id, role_definition_id=CATALOG_READER,
            app_scope_id=f"/AccessPackageCatalog/{fleet.catalog_id}", directory_scope_id="/"))
        assert type(assignment) is UnifiedRoleAssignment and assignment.id, assignment
        assert (assignment.principal_id, assignment.role_definition_id, assignment.app_scope_id,
                assignment.directory_scope_id) == (
            user.id, CATALOG_READER, f"/AccessPackageCatalog/{fleet.catalog_id}", "/"), assignment
        again = await client.role_management.entitlement_management.role_assignments.by_unified_role_assignment_id(
            assignment.id).get()
        assert type(again) is UnifiedRoleAssignment and again.id == assignment.id, again
        assert statuses(recorder) == [200, 201, 201, 200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == len(definitions.value) + 3
        return user.id

    run(as_admin())
    token = password_token(writ, upn, password)

    async def as_reader():
        client, recorder = sdk_client(writ, token=token)
        em = client.identity_governance.entitlement_management
        page = await em.catalogs.get()
        assert [(type(c), c.id, c.display_name) for c in page.value] == [
            (AccessPackageCatalog, fleet.catalog_id, "Support fleet")], page.value
        got = await em.access_packages.by_access_package_id(package.id).get()
        assert type(got) is AccessPackage and got.id == package.id, got
        err = await odata_error(em.access_packages.post(AccessPackage(
            display_name="Reader's package", catalog=AccessPackageCatalog(id=fleet.catalog_id))))
        assert_envelope(err, 403)
        assert statuses(recorder) == [200, 200, 403], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 3

    run(as_reader())
    # The refused create left nothing behind.
    page = raw_get(writ, f"{EM}/catalogs/{fleet.catalog_id}/accessPackages")
    assert [p["id"] for p in page["value"]] == [package.id], page


def test_dependents_refuse_removal_with_409(writ, fleet, package):
    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        remove = await odata_error(em.resource_requests.post(add_request(
            fleet.catalog_id, "AadGroup", fleet.group_id, AccessPackageRequestType.AdminRemove)))
        assert_envelope(remove, 409)
        delete = await odata_error(em.catalogs.by_access_package_catalog_id(fleet.catalog_id).delete())
        assert_envelope(delete, 409)
        assert statuses(recorder) == [409, 409], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 2
        # Nothing changed: the catalog, its three resources and the package's grant are all there.
        catalog = await em.catalogs.by_access_package_catalog_id(fleet.catalog_id).get()
        assert catalog.id == fleet.catalog_id
        resources = await em.catalogs.by_access_package_catalog_id(fleet.catalog_id).resources.get()
        assert sorted(r.id for r in resources.value) == sorted(fleet.resource_ids.values()), resources.value
        grants = await em.access_packages.by_access_package_id(package.id).resource_role_scopes.get()
        assert [g.id for g in grants.value] == [package.role_scope_id], grants.value
        assert statuses(recorder)[2:] == [200] * 3, sent(recorder)
        strict_check_exchanges(recorder.exchanges[2:])

    run(scenario())
