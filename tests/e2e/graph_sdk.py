"""The official Microsoft Graph Python SDK (`msgraph-sdk`) pointed at a Writ server.

`sdk_client(server)` returns a `GraphServiceClient` whose `GraphRequestAdapter` sends every request
to `<server>/v1.0` with the server's admin token (a static bearer token: no Azure identity
library). Every response the SDK receives is also recorded (`Recorder`), so a test can run the
strict model check on exactly the JSON the SDK parsed, next to plain-HTTP reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphServiceClient
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_policy import AccessPackageAssignmentPolicy
from msgraph.generated.models.access_package_assignment_request import AccessPackageAssignmentRequest
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import AccessPackageResourceRequest
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import AccessPackageResourceRoleScope
from msgraph.generated.models.access_package_resource_scope import AccessPackageResourceScope
from msgraph.generated.models.access_package_subject import AccessPackageSubject
from msgraph.generated.models.agent_identity import AgentIdentity
from msgraph.generated.models.agent_identity_blueprint_principal import AgentIdentityBlueprintPrincipal
from msgraph.generated.models.application import Application
from msgraph.generated.models.approval import Approval
from msgraph.generated.models.approval_stage import ApprovalStage
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.models.unified_role_definition import UnifiedRoleDefinition
from msgraph.generated.models.user import User
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from strict_check import assert_collection_conforms, assert_conforms


class StaticToken(AccessTokenProvider):
    """Hands the SDK a token fetched beforehand from Writ's token endpoint."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])  # no list: any host (the server is on 127.0.0.1)


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    body: bytes

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


class Recorder:
    """An httpx response hook that keeps every exchange the SDK makes."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    async def on_response(self, response: httpx.Response) -> None:
        body = await response.aread()
        self.exchanges.append(
            Exchange(response.request.method, str(response.request.url), response.status_code, body)
        )


def sdk_client(server, token: Optional[str] = None) -> tuple[GraphServiceClient, Recorder]:
    recorder = Recorder()
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(timeout=30.0, event_hooks={"response": [recorder.on_response]})
    )
    adapter = GraphRequestAdapter(
        BaseBearerTokenAuthenticationProvider(StaticToken(token or server.token)), client=http_client
    )
    adapter.base_url = server.graph
    return GraphServiceClient(request_adapter=adapter), recorder


# Which SDK model each Writ route's JSON must parse into: (method, path pattern, model, is_collection).
_KEY = r"[^/]+"  # an id, or for users a userPrincipalName
_EM = r"/v1\.0/identityGovernance/entitlementManagement"
_EM_ROLES = r"/v1\.0/roleManagement/entitlementManagement"
# filterByCurrentUser(on='…') with literal or percent-encoded quotes, any member and case.
_ON = r"filterByCurrentUser\(on=('|%27)\w+('|%27)\)"
_ROUTES = [
    ("GET", rf"/v1\.0/users", User, True),
    ("POST", rf"/v1\.0/users", User, False),
    ("GET", rf"/v1\.0/users/{_KEY}", User, False),
    ("GET", rf"/v1\.0/groups", Group, True),
    ("POST", rf"/v1\.0/groups", Group, False),
    ("GET", rf"/v1\.0/groups/{_KEY}", Group, False),
    ("GET", rf"/v1\.0/groups/{_KEY}/(members|owners)", DirectoryObject, True),
    ("GET", rf"/v1\.0/directoryObjects/{_KEY}", DirectoryObject, False),
    # Applications and service principals, Agent ID subtypes included: a body is checked as the
    # subclass its @odata.type names (AgentIdentityBlueprint, AgentIdentity, ...), as the SDK does.
    ("POST", rf"/v1\.0/applications", Application, False),
    ("GET", rf"/v1\.0/applications", Application, True),
    ("GET", rf"/v1\.0/applications/{_KEY}", Application, False),
    ("GET", rf"/v1\.0/servicePrincipals/microsoft\.graph\.agentIdentity", AgentIdentity, True),
    ("GET", rf"/v1\.0/servicePrincipals/microsoft\.graph\.agentIdentityBlueprintPrincipal",
     AgentIdentityBlueprintPrincipal, True),
    ("POST", rf"/v1\.0/servicePrincipals(/microsoft\.graph\.(agentIdentity|agentIdentityBlueprintPrincipal))?",
     ServicePrincipal, False),
    ("GET", rf"/v1\.0/servicePrincipals", ServicePrincipal, True),
    ("GET", rf"/v1\.0/servicePrincipals/{_KEY}", ServicePrincipal, False),
    ("GET", rf"/v1\.0/(applications|servicePrincipals|users)/{_KEY}/(sponsors|owners)", DirectoryObject, True),
    ("POST", rf"/v1\.0/(applications|servicePrincipals)/{_KEY}/addPassword", PasswordCredential, False),
    ("POST", rf"/v1\.0/servicePrincipals/{_KEY}/(appRoleAssignedTo|appRoleAssignments)", AppRoleAssignment, False),
    ("GET", rf"/v1\.0/servicePrincipals/{_KEY}/(appRoleAssignedTo|appRoleAssignments)", AppRoleAssignment, True),
    # Entitlement management: catalogs, their resources, access packages, catalog roles.
    ("GET", rf"{_EM}/catalogs", AccessPackageCatalog, True),
    ("POST", rf"{_EM}/catalogs", AccessPackageCatalog, False),
    ("GET", rf"{_EM}/catalogs/{_KEY}", AccessPackageCatalog, False),
    ("GET", rf"{_EM}/catalogs/{_KEY}/accessPackages", AccessPackage, True),
    ("GET", rf"{_EM}/catalogs/{_KEY}/resources", AccessPackageResource, True),
    ("GET", rf"{_EM}/catalogs/{_KEY}/resources/{_KEY}", AccessPackageResource, False),
    ("GET", rf"{_EM}/catalogs/{_KEY}/resourceRoles", AccessPackageResourceRole, True),
    ("GET", rf"{_EM}/catalogs/{_KEY}/resourceScopes", AccessPackageResourceScope, True),
    ("GET", rf"{_EM}/resourceRequests", AccessPackageResourceRequest, True),
    ("POST", rf"{_EM}/resourceRequests", AccessPackageResourceRequest, False),
    ("GET", rf"{_EM}/accessPackages", AccessPackage, True),
    ("POST", rf"{_EM}/accessPackages", AccessPackage, False),
    ("GET", rf"{_EM}/accessPackages/{_KEY}", AccessPackage, False),
    ("GET", rf"{_EM}/accessPackages/{_KEY}/resourceRoleScopes", AccessPackageResourceRoleScope, True),
    ("POST", rf"{_EM}/accessPackages/{_KEY}/resourceRoleScopes", AccessPackageResourceRoleScope, False),
    ("GET", rf"{_EM}/assignmentPolicies", AccessPackageAssignmentPolicy, True),
    ("POST", rf"{_EM}/assignmentPolicies", AccessPackageAssignmentPolicy, False),
    ("GET", rf"{_EM}/assignmentPolicies/{_KEY}", AccessPackageAssignmentPolicy, False),
    ("PUT", rf"{_EM}/assignmentPolicies/{_KEY}", AccessPackageAssignmentPolicy, False),
    ("GET", rf"{_EM}/assignmentRequests", AccessPackageAssignmentRequest, True),
    ("POST", rf"{_EM}/assignmentRequests", AccessPackageAssignmentRequest, False),
    ("GET", rf"{_EM}/assignmentRequests/{_ON}", AccessPackageAssignmentRequest, True),
    ("GET", rf"{_EM}/assignmentRequests/{_KEY}", AccessPackageAssignmentRequest, False),
    ("GET", rf"{_EM}/accessPackageAssignmentApprovals/{_ON}", Approval, True),
    ("GET", rf"{_EM}/accessPackageAssignmentApprovals/{_KEY}", Approval, False),
    ("GET", rf"{_EM}/accessPackageAssignmentApprovals/{_KEY}/stages", ApprovalStage, True),
    ("GET", rf"{_EM}/accessPackageAssignmentApprovals/{_KEY}/stages/{_KEY}", ApprovalStage, False),
    ("GET", rf"{_EM}/assignments", AccessPackageAssignment, True),
    ("GET", rf"{_EM}/assignments/{_ON}", AccessPackageAssignment, True),
    ("GET", rf"{_EM}/assignments/{_KEY}", AccessPackageAssignment, False),
    ("GET", rf"{_EM}/subjects", AccessPackageSubject, True),
    ("GET", rf"{_EM}/subjects/{_KEY}", AccessPackageSubject, False),
    ("GET", rf"{_EM_ROLES}/roleDefinitions", UnifiedRoleDefinition, True),
    ("GET", rf"{_EM_ROLES}/roleDefinitions/{_KEY}", UnifiedRoleDefinition, False),
    ("GET", rf"{_EM_ROLES}/roleAssignments", UnifiedRoleAssignment, True),
    ("POST", rf"{_EM_ROLES}/roleAssignments", UnifiedRoleAssignment, False),
    ("GET", rf"{_EM_ROLES}/roleAssignments/{_KEY}", UnifiedRoleAssignment, False),
]


def strict_check_exchanges(exchanges: list[Exchange]) -> int:
    """Strict-checks every JSON body the SDK received; returns how many entities were checked.

    Errors must be Graph's `ODataError` envelope; 204 must have no body; a success body on a route
    not listed above fails, so nothing the server returns escapes the check.
    """
    checked = 0
    for ex in exchanges:
        if ex.status == 204:
            assert not ex.body, f"{ex}: a 204 with a body: {ex.body[:500]!r}"
            continue
        body = ex.json()
        if ex.status >= 400:
            assert_conforms(ODataError, body, str(ex))
            checked += 1
            continue
        for method, pattern, model, is_collection in _ROUTES:
            if ex.method == method and re.fullmatch(pattern, ex.path):
                if is_collection:
                    checked += len(assert_collection_conforms(model, body, str(ex)))
                else:
                    assert_conforms(model, body, str(ex))
                    checked += 1
                break
        else:
            raise AssertionError(f"{ex}: no SDK model is known for this route, add it to _ROUTES")
    return checked
