"""The administrator's worked example, built entirely with the official Microsoft Graph Python SDK,
on SQLite and on PostgreSQL.

1. Two users (a sponsor and a fallback approver), the `Support agent fleet` catalog, the security
   group `Support tools`, the application `Tickets API` with an app role for applications
   (`Tickets.Read`) and its service principal.
2. The group, the API's service principal and the directory role Directory Readers are onboarded
   into the catalog with `resourceRequests` (`adminAdd`).
3. The access package `Support agent access` grants the group's Member role, the `Tickets.Read` app
   role and the Directory Readers `Active` role as resource role scopes; each role is found with
   `catalogs/{id}/resourceRoles?$filter=...`, each root scope with `resourceScopes?$filter=...`.
4. The `All agents` assignment policy is posted with typed SDK models: all directory agent
   identities, 30 days of access, the agent itself or its sponsors/owners request, one approval stage
   (the agent's sponsors/owners, a single user as fallback), a text question.
5. The policy reads back as `AccessPackageAssignmentPolicy` with each subject set and the question
   parsed as their own classes (their `@odata.type` checked in the raw JSON too); the package, read
   with `$expand=resourceRoleScopes($expand=role,scope),assignmentPolicies`, has its three grants
   and the policy.
6. The policy is replaced with PUT (new name, 14 days) and reads back as it was put.
7. The same policy with `noExpiration` is refused: `ODataError` 400, access for agents is
   time-bound.

Durations: the SDK models type them as `datetime.timedelta`, but Kiota's JSON writer
(`kiota_serialization_json` 1.16.0, `write_timedelta_value`) sends `str(timedelta)`, e.g.
`timedelta(days=30)` as `"30 days, 0:00:00"`, not ISO 8601 (msgraph-sdk-python issue #1262). The same
writer sends a string that parses as an ISO 8601 duration unchanged, so the example gives its
durations as `"P30D"`, `"P7D"`, `"P14D"`; reading, the SDK parses them into `timedelta`s.
`test_timedelta_durations_from_the_sdk_are_refused` pins what happens with `timedelta` objects:
the server refuses the non-ISO string with a 400 that names ISO 8601.

Every request goes through the SDK's request builders; every JSON body the server returns to the
SDK (recorded on the wire) passes the strict model check through the route table of `graph_sdk.py`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph.generated.identity_governance.entitlement_management.access_packages.item.access_package_item_request_builder import (
    AccessPackageItemRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.assignment_policies.assignment_policies_request_builder import (
    AssignmentPoliciesRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.assignment_policies.item.access_package_assignment_policy_item_request_builder import (
    AccessPackageAssignmentPolicyItemRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resource_roles.resource_roles_request_builder import (
    ResourceRolesRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resource_scopes.resource_scopes_request_builder import (
    ResourceScopesRequestBuilder,
)
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_approval_stage import AccessPackageApprovalStage
from msgraph.generated.models.access_package_assignment_approval_settings import (
    AccessPackageAssignmentApprovalSettings,
)
from msgraph.generated.models.access_package_assignment_policy import AccessPackageAssignmentPolicy
from msgraph.generated.models.access_package_assignment_requestor_settings import (
    AccessPackageAssignmentRequestorSettings,
)
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_localized_text import AccessPackageLocalizedText
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import AccessPackageResourceRequest
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import AccessPackageResourceRoleScope
from msgraph.generated.models.access_package_resource_scope import AccessPackageResourceScope
from msgraph.generated.models.access_package_text_input_question import AccessPackageTextInputQuestion
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.app_role import AppRole
from msgraph.generated.models.application import Application
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.single_user import SingleUser
from msgraph.generated.models.target_agent_identity_sponsors_or_owners import TargetAgentIdentitySponsorsOrOwners
from msgraph.generated.models.user import User

from graph_sdk import sdk_client, strict_check_exchanges

DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
TICKETS_ROLE_ID = uuid.UUID("5b0f3c7e-1d2a-4e8f-9c6b-7a4d3e2f1c0b")
AGENT_SPONSORS = "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"
SINGLE_USER = "#microsoft.graph.singleUser"
TEXT_QUESTION = "#microsoft.graph.accessPackageTextInputQuestion"


def run(coro):
    """Each test drives the SDK in its own event loop (and its own client)."""
    return asyncio.run(coro)


def statuses(recorder) -> list[int]:
    return [ex.status for ex in recorder.exchanges]


def sent(recorder) -> list[str]:
    return [str(ex) for ex in recorder.exchanges]


def wire_json(model) -> dict:
    """The JSON body the SDK sends for `model` (the request adapter's own JSON writer)."""
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    return json.loads(writer.get_serialized_content())


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


def query(builder, **kw) -> RequestConfiguration:
    """A request configuration with the builder's typed GET query parameters."""
    params = next(v for k, v in vars(builder).items() if k.endswith("GetQueryParameters"))
    return RequestConfiguration(query_parameters=params(**kw))


def add_request(catalog_id: str, origin_system: str, origin_id: str) -> AccessPackageResourceRequest:
    return AccessPackageResourceRequest(
        request_type=AccessPackageRequestType.AdminAdd,
        resource=AccessPackageResource(origin_id=origin_id, origin_system=origin_system),
        catalog=AccessPackageCatalog(id=catalog_id))


def agent_policy(package_id: str, fallback_id: str, *, display_name: str = "All agents",
                 expiration: ExpirationPattern | None = None,
                 denial: Any = "P7D") -> AccessPackageAssignmentPolicy:
    """The `All agents` policy of the worked example, with typed SDK models.

    Durations are ISO 8601 strings by default (see the module docstring): Kiota's writer sends
    them as they are, while a `timedelta` would go out as `str(timedelta)`.
    """
    if expiration is None:
        expiration = ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="P30D")
    return AccessPackageAssignmentPolicy(
        display_name=display_name,
        description="Every agent identity; its sponsors approve, with a fallback approver",
        allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
        expiration=expiration,
        requestor_settings=AccessPackageAssignmentRequestorSettings(
            enable_targets_to_self_add_access=True,
            enable_on_behalf_requestors_to_add_access=True,
            on_behalf_requestors=[TargetAgentIdentitySponsorsOrOwners()]),
        request_approval_settings=AccessPackageAssignmentApprovalSettings(
            is_approval_required_for_add=True,
            is_requestor_justification_required=True,
            stages=[AccessPackageApprovalStage(
                duration_before_automatic_denial=denial,
                primary_approvers=[TargetAgentIdentitySponsorsOrOwners()],
                fallback_primary_approvers=[SingleUser(user_id=fallback_id)])]),
        questions=[AccessPackageTextInputQuestion(
            sequence=1, is_required=True, is_answer_editable=True, is_single_line_question=True,
            text="Which ticket queue?",
            localizations=[AccessPackageLocalizedText(language_code="fr", text="Quelle file de tickets ?")])],
        access_package=AccessPackage(id=package_id))


_MISSING = object()


def project(got: Any, like: Any) -> Any:
    """`got` cut down to the shape of `like`: the keys `like` has, recursively (lists item by item)."""
    if isinstance(like, dict) and isinstance(got, dict):
        return {k: project(got.get(k, _MISSING), v) for k, v in like.items()}
    if isinstance(like, list) and isinstance(got, list) and len(like) == len(got):
        return [project(g, v) for g, v in zip(got, like)]
    return got


def extras(got: Any, like: Any, path: str = "") -> dict[str, Any]:
    """What `got` has beyond `like` (path -> value): the server-set and defaulted properties.

    Annotations (`@odata.context`, ...) are not properties and are left out.
    """
    out: dict[str, Any] = {}
    if isinstance(got, dict) and isinstance(like, dict):
        for k, v in got.items():
            where = f"{path}.{k}" if path else k
            if k.startswith("@odata.") and k not in like:
                continue
            if k in like:
                out.update(extras(v, like[k], where))
            else:
                out[where] = v
    elif isinstance(got, list) and isinstance(like, list):
        for i, (g, v) in enumerate(zip(got, like)):
            out.update(extras(g, v, f"{path}[{i}]"))
    return out


# The properties a policy's JSON has beyond what the example sends: set by the server (ids, dates)
# or the documented defaults of what was left out.
SERVER_SET = {"id", "createdDateTime", "modifiedDateTime", "questions[0].id"}
DEFAULTS = {
    "specificAllowedTargets": [],
    "expiration.endDateTime": None,
    "requestorSettings.enableTargetsToSelfUpdateAccess": False,
    "requestorSettings.enableTargetsToSelfRemoveAccess": False,
    "requestorSettings.allowCustomAssignmentSchedule": False,
    "requestorSettings.enableOnBehalfRequestorsToUpdateAccess": False,
    "requestorSettings.enableOnBehalfRequestorsToRemoveAccess": False,
    "requestApprovalSettings.isApprovalRequiredForUpdate": False,
    "requestApprovalSettings.stages[0].approverInformationVisibility": "default",
    "requestApprovalSettings.stages[0].durationBeforeEscalation": None,
    "requestApprovalSettings.stages[0].escalationApprovers": [],
    "requestApprovalSettings.stages[0].fallbackEscalationApprovers": [],
    "requestApprovalSettings.stages[0].isApproverJustificationRequired": False,
    "requestApprovalSettings.stages[0].isEscalationEnabled": False,
    "questions[0].regexPattern": None,
    "notificationSettings": {"isAssignmentNotificationDisabled": False},
    "customExtensionStageSettings": [],
    "automaticRequestSettings": None,
    "reviewSettings": None,
}


def assert_reads_back_as_sent(got: dict, body: dict) -> None:
    """A policy's JSON is what was sent, plus server-set properties and documented defaults."""
    body = {k: v for k, v in body.items() if k != "accessPackage"}  # a navigation, not returned
    assert project(got, body) == body, json.dumps({"sent": body, "got": got}, indent=1)
    added = extras(got, body)
    assert set(added) - set(DEFAULTS) == SERVER_SET, sorted(added)
    wrong = {k: v for k, v in added.items() if k in DEFAULTS and v != DEFAULTS[k]}
    assert not wrong, wrong


# --------------------------------------------------------------------------------------------
# Steps 1-3: the directory objects, the catalog and its resources, the package and its grants.


@dataclass
class Example:
    sponsor_id: str
    fallback_id: str
    catalog_id: str
    group_id: str
    api_sp_id: str
    package_id: str
    # role origin id (Member_{group}, the app role's id, Active) -> (role id, scope id)
    grants: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def example(writ) -> Example:
    async def setup() -> Example:
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management

        # 1. The people, the catalog, the group, the API.
        people = []
        for nickname, name in [("sponsor", "Sam Sponsor"), ("fallback", "Fran Fallback")]:
            user = await client.users.post(User(
                display_name=name, user_principal_name=f"{nickname}@example.org", mail_nickname=nickname,
                account_enabled=True, password_profile=PasswordProfile(password=f"a long passphrase for {nickname}")))
            assert type(user) is User and user.id and user.display_name == name, user
            people.append(user.id)
        sponsor_id, fallback_id = people
        catalog = await em.catalogs.post(AccessPackageCatalog(
            display_name="Support agent fleet", description="What support agents may get"))
        assert type(catalog) is AccessPackageCatalog and catalog.id, catalog
        assert catalog.display_name == "Support agent fleet", catalog
        group = await client.groups.post(Group(
            display_name="Support tools", mail_nickname="support-tools", mail_enabled=False,
            security_enabled=True))
        assert type(group) is Group and group.id and group.security_enabled is True, group
        api = await client.applications.post(Application(
            display_name="Tickets API",
            app_roles=[AppRole(
                id=TICKETS_ROLE_ID, allowed_member_types=["Application"], value="Tickets.Read",
                display_name="Read tickets", description="Read every ticket", is_enabled=True)]))
        assert type(api) is Application and api.app_id, api
        assert [(r.id, r.value, r.allowed_member_types) for r in api.app_roles] == [
            (TICKETS_ROLE_ID, "Tickets.Read", ["Application"])], api.app_roles
        api_sp = await client.service_principals.post(ServicePrincipal(app_id=api.app_id))
        assert type(api_sp) is ServicePrincipal and api_sp.id and api_sp.app_id == api.app_id, api_sp
        assert statuses(recorder) == [201] * 6, sent(recorder)

        # 2. The three resources, onboarded with resource requests.
        for system, origin in [("AadGroup", group.id), ("AadApplication", api_sp.id),
                               ("DirectoryRole", DIRECTORY_READERS)]:
            request = await em.resource_requests.post(add_request(catalog.id, system, origin))
            assert type(request) is AccessPackageResourceRequest and request.id, request
            assert request.request_type == AccessPackageRequestType.AdminAdd, (system, request.request_type)
            assert request.state == AccessPackageRequestState.Delivered, (system, request.state)
        assert statuses(recorder)[6:] == [201] * 3, sent(recorder)

        # 3. The package; each role found with $filter, the resource's root scope likewise.
        package = await em.access_packages.post(AccessPackage(
            display_name="Support agent access", description="Tools and tickets for support agents",
            catalog=AccessPackageCatalog(id=catalog.id)))
        assert type(package) is AccessPackage and package.id, package
        assert package.display_name == "Support agent access", package
        catalog_rb = em.catalogs.by_access_package_catalog_id(catalog.id)
        grants = {}
        for system, role_origin, resource_origin, role_name in [
            ("AadGroup", f"Member_{group.id}", group.id, "Member"),
            ("AadApplication", str(TICKETS_ROLE_ID), api_sp.id, "Read tickets"),
            ("DirectoryRole", "Active", DIRECTORY_READERS, None),
        ]:
            roles = await catalog_rb.resource_roles.get(query(
                ResourceRolesRequestBuilder,
                filter=f"originSystem eq '{system}' and originId eq '{role_origin}'", expand=["resource"]))
            assert [(type(r), r.origin_id, r.origin_system) for r in roles.value] == [
                (AccessPackageResourceRole, role_origin, system)], roles.value
            [role] = roles.value
            assert role.id, role
            if role_name:
                assert role.display_name == role_name, role
            assert type(role.resource) is AccessPackageResource, role.resource
            assert role.resource.origin_id == resource_origin, role.resource
            scopes = await catalog_rb.resource_scopes.get(query(
                ResourceScopesRequestBuilder, filter=f"resource/id eq '{role.resource.id}'"))
            assert [(type(s), s.origin_id, s.is_root_scope) for s in scopes.value] == [
                (AccessPackageResourceScope, resource_origin, True)], scopes.value
            [scope] = scopes.value
            role_scope = await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
                AccessPackageResourceRoleScope(
                    role=AccessPackageResourceRole(id=role.id), scope=AccessPackageResourceScope(id=scope.id)))
            assert type(role_scope) is AccessPackageResourceRoleScope, role_scope
            assert role_scope.id == f"{role.id}_{scope.id}", role_scope.id
            grants[role_origin] = (role.id, scope.id)
        assert statuses(recorder)[9:] == [201] + [200, 200, 201] * 3, sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 9 + 1 + (1 + 1 + 1) * 3
        return Example(sponsor_id, fallback_id, catalog.id, group.id, api_sp.id, package.id, grants)

    return run(setup())


async def package_policies(em, package_id: str) -> list[AccessPackageAssignmentPolicy]:
    page = await em.assignment_policies.get(query(
        AssignmentPoliciesRequestBuilder, filter=f"accessPackage/id eq '{package_id}'"))
    assert all(type(p) is AccessPackageAssignmentPolicy for p in page.value), page.value
    return page.value


def test_timedelta_durations_from_the_sdk_are_refused(writ, example):
    """The typed way to give a duration goes out as `str(timedelta)`, which is not ISO 8601."""
    policy = agent_policy(
        example.package_id, example.fallback_id, denial=timedelta(days=7),
        expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration=timedelta(days=30)))
    body = wire_json(policy)
    assert body["expiration"] == {"type": "afterDuration", "duration": "30 days, 0:00:00"}, body["expiration"]
    assert body["requestApprovalSettings"]["stages"][0]["durationBeforeAutomaticDenial"] == "7 days, 0:00:00"

    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        err = await odata_error(em.assignment_policies.post(policy))
        assert_envelope(err, 400)
        assert "expiration.duration '30 days, 0:00:00' is not an ISO 8601 duration" in err.error.message, err.error.message
        assert await package_policies(em, example.package_id) == []
        assert statuses(recorder) == [400, 200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 1

    run(scenario())


# --------------------------------------------------------------------------------------------
# Step 4: the policy.


@dataclass
class Policy:
    id: str
    body: dict  # the JSON the SDK sent


@pytest.fixture(scope="module")
def policy(writ, example) -> Policy:
    model = agent_policy(example.package_id, example.fallback_id)
    body = wire_json(model)
    assert body["expiration"] == {"type": "afterDuration", "duration": "P30D"}, body["expiration"]
    assert body["requestorSettings"]["onBehalfRequestors"] == [{"@odata.type": AGENT_SPONSORS}], body

    async def setup() -> Policy:
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        created = await em.assignment_policies.post(model)
        assert [(ex.method, ex.status) for ex in recorder.exchanges] == [("POST", 201)], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 1
        assert type(created) is AccessPackageAssignmentPolicy and created.id, created
        assert created.display_name == "All agents", created
        assert created.allowed_target_scope == AllowedTargetScope.AllDirectoryAgentIdentities, created
        assert_reads_back_as_sent(recorder.exchanges[0].json(), body)
        return Policy(created.id, body)

    return run(setup())


# --------------------------------------------------------------------------------------------
# Step 5: the policy and the package read back.


def test_policy_reads_back_typed(writ, example, policy):
    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        item = em.assignment_policies.by_access_package_assignment_policy_id(policy.id)
        got = await item.get()
        raw = recorder.exchanges[-1].json()

        assert type(got) is AccessPackageAssignmentPolicy and got.id == policy.id, got
        assert (got.display_name, got.description) == ("All agents", policy.body["description"]), got
        assert got.allowed_target_scope == AllowedTargetScope.AllDirectoryAgentIdentities, got.allowed_target_scope
        assert got.specific_allowed_targets == [], got.specific_allowed_targets
        assert got.created_date_time is not None and got.modified_date_time is not None, got
        assert type(got.expiration) is ExpirationPattern, got.expiration
        assert got.expiration.type == ExpirationPatternType.AfterDuration, got.expiration
        assert got.expiration.duration == timedelta(days=30), got.expiration.duration
        assert got.expiration.end_date_time is None, got.expiration

        rs = got.requestor_settings
        assert type(rs) is AccessPackageAssignmentRequestorSettings, rs
        assert (rs.enable_targets_to_self_add_access, rs.enable_on_behalf_requestors_to_add_access) == (True, True), rs
        assert [type(s) for s in rs.on_behalf_requestors] == [TargetAgentIdentitySponsorsOrOwners], rs
        assert [s["@odata.type"] for s in raw["requestorSettings"]["onBehalfRequestors"]] == [AGENT_SPONSORS], raw

        approval = got.request_approval_settings
        assert type(approval) is AccessPackageAssignmentApprovalSettings, approval
        assert (approval.is_approval_required_for_add, approval.is_requestor_justification_required) == (
            True, True), approval
        [stage] = approval.stages
        assert type(stage) is AccessPackageApprovalStage, stage
        assert stage.duration_before_automatic_denial == timedelta(days=7), stage
        assert [type(s) for s in stage.primary_approvers] == [TargetAgentIdentitySponsorsOrOwners], stage
        assert [(type(s), s.user_id) for s in stage.fallback_primary_approvers] == [
            (SingleUser, example.fallback_id)], stage
        raw_stage = raw["requestApprovalSettings"]["stages"][0]
        assert [s["@odata.type"] for s in raw_stage["primaryApprovers"]] == [AGENT_SPONSORS], raw_stage
        assert raw_stage["fallbackPrimaryApprovers"] == [
            {"@odata.type": SINGLE_USER, "userId": example.fallback_id}], raw_stage

        [question] = got.questions
        assert type(question) is AccessPackageTextInputQuestion and question.id, question
        assert (question.text, question.sequence, question.is_required, question.is_single_line_question) == (
            "Which ticket queue?", 1, True, True), question
        assert [(type(t), t.language_code, t.text) for t in question.localizations] == [
            (AccessPackageLocalizedText, "fr", "Quelle file de tickets ?")], question.localizations
        assert raw["questions"][0]["@odata.type"] == TEXT_QUESTION, raw["questions"]
        assert_reads_back_as_sent(raw, policy.body)

        # With its package expanded, and found among the package's policies.
        expanded = await item.get(query(AccessPackageAssignmentPolicyItemRequestBuilder, expand=["accessPackage"]))
        assert type(expanded.access_package) is AccessPackage, expanded.access_package
        assert (expanded.access_package.id, expanded.access_package.display_name) == (
            example.package_id, "Support agent access"), expanded.access_package
        assert [p.id for p in await package_policies(em, example.package_id)] == [policy.id]
        assert statuses(recorder) == [200] * 3, sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 3

    run(scenario())


def test_package_has_three_grants_and_the_policy(writ, example, policy):
    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        got = await em.access_packages.by_access_package_id(example.package_id).get(query(
            AccessPackageItemRequestBuilder,
            expand=["resourceRoleScopes($expand=role,scope)", "assignmentPolicies"]))
        assert type(got) is AccessPackage and got.id == example.package_id, got
        assert got.display_name == "Support agent access", got
        assert all(type(rs) is AccessPackageResourceRoleScope for rs in got.resource_role_scopes), got
        by_origin = {rs.role.origin_id: rs for rs in got.resource_role_scopes}
        assert len(got.resource_role_scopes) == 3 and set(by_origin) == set(example.grants), by_origin
        for origin, (role_id, scope_id) in example.grants.items():
            rs = by_origin[origin]
            assert type(rs.role) is AccessPackageResourceRole and type(rs.scope) is AccessPackageResourceScope, rs
            assert (rs.id, rs.role.id, rs.scope.id) == (f"{role_id}_{scope_id}", role_id, scope_id), rs
            assert rs.scope.is_root_scope is True, rs.scope
        assert [(r.role.origin_system, r.role.display_name, r.scope.origin_id) for r in (
            by_origin[f"Member_{example.group_id}"], by_origin[str(TICKETS_ROLE_ID)])] == [
            ("AadGroup", "Member", example.group_id), ("AadApplication", "Read tickets", example.api_sp_id)]
        assert (by_origin["Active"].role.origin_system, by_origin["Active"].scope.origin_id) == (
            "DirectoryRole", DIRECTORY_READERS), by_origin["Active"]
        assert [(type(p), p.id, p.display_name) for p in got.assignment_policies] == [
            (AccessPackageAssignmentPolicy, policy.id, "All agents")], got.assignment_policies
        [p] = got.assignment_policies
        assert p.expiration.duration == timedelta(days=30), p.expiration
        assert [type(s) for s in p.requestor_settings.on_behalf_requestors] == [TargetAgentIdentitySponsorsOrOwners]
        assert statuses(recorder) == [200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 1

    run(scenario())


# --------------------------------------------------------------------------------------------
# Step 6: PUT replaces the policy.


def test_put_replaces_the_policy(writ, example, policy):
    model = agent_policy(
        example.package_id, example.fallback_id, display_name="All agents, two weeks",
        expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="P14D"))
    body = wire_json(model)

    async def scenario():
        client, recorder = sdk_client(writ)
        item = client.identity_governance.entitlement_management.assignment_policies \
            .by_access_package_assignment_policy_id(policy.id)
        replaced = await item.put(model)
        assert [(ex.method, ex.status) for ex in recorder.exchanges] == [("PUT", 200)], sent(recorder)
        assert type(replaced) is AccessPackageAssignmentPolicy and replaced.id == policy.id, replaced
        assert replaced.display_name == "All agents, two weeks", replaced
        assert replaced.expiration.duration == timedelta(days=14), replaced.expiration
        got = await item.get()
        raw = recorder.exchanges[-1].json()
        assert type(got) is AccessPackageAssignmentPolicy and got.id == policy.id, got
        assert got.display_name == "All agents, two weeks", got
        assert (got.expiration.type, got.expiration.duration) == (
            ExpirationPatternType.AfterDuration, timedelta(days=14)), got.expiration
        assert raw["expiration"] == {"type": "afterDuration", "duration": "P14D", "endDateTime": None}, raw
        assert_reads_back_as_sent(raw, body)
        assert_reads_back_as_sent(recorder.exchanges[0].json(), body)
        assert [type(s) for s in got.request_approval_settings.stages[0].fallback_primary_approvers] == [SingleUser]
        assert type(got.questions[0]) is AccessPackageTextInputQuestion and got.questions[0].id, got.questions
        assert statuses(recorder) == [200, 200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 2

    run(scenario())


# --------------------------------------------------------------------------------------------
# Step 7: access for agents is time-bound.


def test_no_expiration_for_agents_is_refused(writ, example, policy):
    model = agent_policy(example.package_id, example.fallback_id,
                         expiration=ExpirationPattern(type=ExpirationPatternType.NoExpiration))
    assert wire_json(model)["expiration"] == {"type": "noExpiration"}

    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        err = await odata_error(em.assignment_policies.post(model))
        assert_envelope(err, 400)
        message = err.error.message
        assert "access for agents is always time-bound" in message, message
        assert [p.id for p in await package_policies(em, example.package_id)] == [policy.id]
        assert statuses(recorder) == [400, 200], sent(recorder)
        assert strict_check_exchanges(recorder.exchanges) == 1 + 1

    run(scenario())
