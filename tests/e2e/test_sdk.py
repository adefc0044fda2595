"""Writ driven by the official Microsoft Graph Python SDK, on SQLite and on PostgreSQL.

The acceptance criterion: a Graph client written for Entra works against Writ unchanged. The SDK
creates users and groups, adds members, reads them back as typed models, lists with `$filter`,
`$select`, `$count` and `$top` + `@odata.nextLink` paging, gets `ODataError`s for failures, and
updates and deletes users. Every JSON object the server returns - to the SDK (recorded on the
wire) and to plain HTTP GETs made alongside - passes the strict model check (`strict_check.py`).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from graph_sdk import sdk_client, strict_check_exchanges
from strict_check import assert_collection_conforms, assert_conforms

USER_COUNT = 7


def run(coro):
    """Each test drives the SDK in its own event loop (and its own client)."""
    return asyncio.run(coro)


def users_query(**kw) -> RequestConfiguration:
    return RequestConfiguration(query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**kw))


def new_user_model(prefix: str, n: int, **extra) -> User:
    return User(
        display_name=f"{prefix} user {n}",
        user_principal_name=f"{prefix}-{n}@example.org",
        mail_nickname=f"{prefix}-{n}",
        account_enabled=True,
        given_name=f"Given{n}",
        surname="Tester",
        job_title="Agent sponsor",
        password_profile=PasswordProfile(password=f"a long passphrase {n} {prefix}"),
        **extra,
    )


@dataclass
class Directory:
    """What the module's setup created through the SDK."""

    prefix: str
    users: dict[str, User] = field(default_factory=dict)  # id -> the model that was posted
    group_id: str = ""
    nested_group_id: str = ""


@pytest.fixture(scope="module")
def directory(writ) -> Directory:
    """Seven users, a group holding all of them plus a nested group, all created with the SDK."""
    prefix = "e2e" + secrets.token_hex(3)
    made = Directory(prefix=prefix)

    async def setup():
        client, recorder = sdk_client(writ)
        for n in range(1, USER_COUNT + 1):
            posted = new_user_model(prefix, n)
            created = await client.users.post(posted)
            assert isinstance(created, User)
            assert created.id and created.display_name == posted.display_name
            assert created.password_profile is None, "the password must never be returned"
            made.users[created.id] = posted
        group = await client.groups.post(Group(
            display_name=f"{prefix} support agents", mail_nickname=f"{prefix}-agents",
            description="Agents of the e2e suite", mail_enabled=False, security_enabled=True,
            group_types=[]))
        nested = await client.groups.post(Group(
            display_name=f"{prefix} nested", mail_nickname=f"{prefix}-nested",
            mail_enabled=False, security_enabled=True))
        assert isinstance(group, Group) and isinstance(nested, Group)
        made.group_id, made.nested_group_id = group.id, nested.id
        members = client.groups.by_group_id(group.id).members
        for member_id in [*made.users, nested.id]:
            await members.ref.post(ReferenceCreate(odata_id=f"{writ.graph}/directoryObjects/{member_id}"))
        # Every create response (201 + entity) and every $ref answer (204, no body).
        assert [ex.status for ex in recorder.exchanges] == [201] * (USER_COUNT + 2) + [204] * (USER_COUNT + 1), [
            str(ex) for ex in recorder.exchanges]
        strict_check_exchanges(recorder.exchanges)

    run(setup())
    return made


def test_created_users_and_group_read_back_as_typed_models(writ, directory):
    async def scenario():
        client, recorder = sdk_client(writ)
        for user_id, posted in directory.users.items():
            user = await client.users.by_user_id(user_id).get()
            assert isinstance(user, User)
            assert user.id == user_id
            for attr in ("display_name", "user_principal_name", "mail_nickname", "account_enabled",
                         "given_name", "surname", "job_title"):
                assert getattr(user, attr) == getattr(posted, attr), attr
            assert user.created_date_time is not None
            assert user.password_profile is None
            # The same entity over plain HTTP, strictly checked.
            raw = assert_conforms(User, writ.get_json(f"users/{user_id}"), f"GET users/{user_id}")
            assert raw.user_principal_name == posted.user_principal_name
        group = await client.groups.by_group_id(directory.group_id).get()
        assert isinstance(group, Group)
        assert (group.id, group.display_name, group.mail_nickname) == (
            directory.group_id, f"{directory.prefix} support agents", f"{directory.prefix}-agents")
        assert (group.mail_enabled, group.security_enabled, group.description) == (
            False, True, "Agents of the e2e suite")
        assert_conforms(Group, writ.get_json(f"groups/{directory.group_id}"))
        # A user read through the directoryObjects collection is typed by its @odata.type.
        some_user = next(iter(directory.users))
        obj = await client.directory_objects.by_directory_object_id(some_user).get()
        assert type(obj) is User and obj.id == some_user
        assert type(assert_conforms(DirectoryObject, writ.get_json(f"directoryObjects/{some_user}"))) is User
        assert strict_check_exchanges(recorder.exchanges) == USER_COUNT + 2

    run(scenario())


def test_group_members_are_typed_directory_objects(writ, directory):
    async def scenario():
        client, recorder = sdk_client(writ)
        members = client.groups.by_group_id(directory.group_id).members
        page = await members.get(RequestConfiguration(
            query_parameters=MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(top=3)))
        seen = []
        while True:
            assert all(isinstance(m, DirectoryObject) for m in page.value)
            seen.extend(page.value)
            if not page.odata_next_link:
                break
            page = await members.with_url(page.odata_next_link).get()
        by_id = {m.id: m for m in seen}
        assert len(seen) == len(by_id) == USER_COUNT + 1, [m.id for m in seen]
        assert set(by_id) == set(directory.users) | {directory.nested_group_id}
        for user_id, posted in directory.users.items():
            assert type(by_id[user_id]) is User, type(by_id[user_id])
            assert by_id[user_id].user_principal_name == posted.user_principal_name
        assert type(by_id[directory.nested_group_id]) is Group
        assert by_id[directory.nested_group_id].display_name == f"{directory.prefix} nested"
        strict_check_exchanges(recorder.exchanges)
        # Plain HTTP: every member conforms to the model its @odata.type names.
        raw = writ.get_all(f"groups/{directory.group_id}/members")
        for item in raw:
            assert item.get("@odata.type") in ("#microsoft.graph.user", "#microsoft.graph.group"), item
            assert_conforms(DirectoryObject, item, "member")
        assert {item["id"] for item in raw} == set(by_id)

    run(scenario())


def test_list_users_with_filter_select_count_and_paging(writ, directory):
    prefix = directory.prefix

    async def scenario():
        client, recorder = sdk_client(writ)
        page = await client.users.get(users_query(
            filter=f"startswith(displayName,'{prefix}')", select=["id", "displayName"], top=2, count=True))
        assert page.odata_count == USER_COUNT
        seen: list[str] = []
        pages = 0
        while True:
            pages += 1
            assert isinstance(page.value, list) and 0 < len(page.value) <= 2
            for user in page.value:
                assert isinstance(user, User)
                assert user.display_name.startswith(prefix)
                # $select: only id and displayName come back.
                assert user.user_principal_name is None and user.account_enabled is None
                assert user.mail_nickname is None and user.job_title is None
                seen.append(user.id)
            if not page.odata_next_link:
                break
            assert pages < 10, "paging does not end"
            page = await client.users.with_url(page.odata_next_link).get()
        assert pages == (USER_COUNT + 1) // 2
        assert sorted(seen) == sorted(directory.users), "each created user exactly once"
        assert len(set(seen)) == len(seen) == USER_COUNT
        assert strict_check_exchanges(recorder.exchanges) == USER_COUNT

    run(scenario())
    # The same listing over plain HTTP: pages strictly checked, items limited to the selection.
    page = writ.get_json("users", **{"$filter": f"startswith(displayName,'{prefix}')",
                                     "$select": "id,displayName", "$top": "2"})
    raw_ids = []
    while True:
        for user in assert_collection_conforms(User, page, "users page"):
            raw_ids.append(user.id)
        for item in page["value"]:
            assert set(k for k in item if not k.startswith("@odata.")) == {"id", "displayName"}, item
        if "@odata.nextLink" not in page:
            break
        page = writ.get_json(page["@odata.nextLink"])
    assert sorted(raw_ids) == sorted(directory.users)
    # Without $select every user conforms as a whole entity.
    everyone = writ.get_json("users", **{"$filter": f"startswith(displayName,'{prefix}')"})
    assert len(assert_collection_conforms(User, everyone, "users")) == USER_COUNT


async def _odata_error(call) -> ODataError:
    try:
        await call
    except ODataError as err:
        return err
    raise AssertionError("the SDK raised no ODataError")


def _assert_envelope(err: ODataError, status: int) -> None:
    assert err.response_status_code == status, err
    assert err.error is not None and err.error.code and err.error.message, err
    inner = err.error.inner_error
    assert inner is not None and inner.request_id, f"no request-id in innerError: {err}"
    assert inner.request_id == err.response_headers.get("request-id"), (inner.request_id, err.response_headers)
    assert inner.date is not None


def test_not_found_is_an_odata_error_with_request_id(writ):
    missing = str(uuid.uuid4())

    async def scenario():
        client, recorder = sdk_client(writ)
        err = await _odata_error(client.users.by_user_id(missing).get())
        _assert_envelope(err, 404)
        strict_check_exchanges(recorder.exchanges)
        return err

    err = run(scenario())
    # Over plain HTTP: the client's own correlation id is echoed in the header and the envelope.
    client_request_id = str(uuid.uuid4())
    resp = writ.api("GET", f"users/{missing}", headers={"client-request-id": client_request_id})
    assert resp.status == 404, resp
    body = assert_conforms(ODataError, resp.json(), "404 body")
    assert body.error.code == err.error.code
    assert resp.headers.get("client-request-id") == client_request_id, resp.headers
    assert body.error.inner_error.client_request_id == client_request_id, resp
    assert body.error.inner_error.request_id == resp.headers.get("request-id"), resp


# A missing object is Graph's `Request_ResourceNotFound`, which Entra scripts match on.
def test_not_found_code_is_graphs(writ):
    async def scenario():
        client, _ = sdk_client(writ)
        return await _odata_error(client.users.by_user_id(str(uuid.uuid4())).get())

    assert run(scenario()).error.code == "Request_ResourceNotFound"


def test_top_zero_is_a_bad_request(writ):
    async def scenario():
        client, recorder = sdk_client(writ)
        err = await _odata_error(client.users.get(users_query(top=0)))
        _assert_envelope(err, 400)
        assert err.error.code == "invalidRequest", err.error
        assert "$top" in err.error.message, err.error.message
        strict_check_exchanges(recorder.exchanges)

    run(scenario())


def test_patch_user_and_read_the_change_back(writ):
    prefix = "patch" + secrets.token_hex(3)

    async def scenario():
        client, recorder = sdk_client(writ)
        user = await client.users.post(new_user_model(prefix, 1))
        result = await client.users.by_user_id(user.id).patch(User(
            job_title="Head of agents", department="Support", display_name=f"{prefix} renamed"))
        assert result is None  # 204 No Content
        again = await client.users.by_user_id(user.id).get()
        assert (again.job_title, again.department, again.display_name) == (
            "Head of agents", "Support", f"{prefix} renamed")
        assert again.user_principal_name == f"{prefix}-1@example.org", "untouched properties stay"
        assert again.given_name == "Given1"
        assert [ex.status for ex in recorder.exchanges] == [201, 204, 200]
        strict_check_exchanges(recorder.exchanges)
        raw = assert_conforms(User, writ.get_json(f"users/{user.id}"))
        assert raw.job_title == "Head of agents" and raw.department == "Support"

    run(scenario())


def test_delete_user_then_it_is_gone(writ):
    prefix = "del" + secrets.token_hex(3)

    async def scenario():
        client, recorder = sdk_client(writ)
        user = await client.users.post(new_user_model(prefix, 1))
        assert await client.users.by_user_id(user.id).delete() is None
        err = await _odata_error(client.users.by_user_id(user.id).get())
        _assert_envelope(err, 404)
        assert [ex.status for ex in recorder.exchanges] == [201, 204, 404]
        strict_check_exchanges(recorder.exchanges)
        listed = await client.users.get(users_query(filter=f"startswith(displayName,'{prefix}')"))
        assert listed.value == []
        return user.id

    user_id = run(scenario())
    assert writ.api("GET", f"users/{user_id}").status == 404


def test_application_client_registrations_round_trip_as_typed_models(writ):
    """Issue 16: the SDK writes `publicClient`, `spa`, `web` and `isFallbackPublicClient` as its
    own typed models, PATCHes them, and reads them back typed; Writ's own command-line client is
    there with its fixed id."""
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.implicit_grant_settings import ImplicitGrantSettings
    from msgraph.generated.models.public_client_application import PublicClientApplication
    from msgraph.generated.models.spa_application import SpaApplication
    from msgraph.generated.models.web_application import WebApplication

    prefix = "cli" + secrets.token_hex(3)

    async def scenario():
        client, recorder = sdk_client(writ)
        created = await client.applications.post(Application(
            display_name=f"{prefix} console",
            public_client=PublicClientApplication(redirect_uris=["http://localhost", f"msal{prefix}://auth"]),
            spa=SpaApplication(redirect_uris=["https://spa.example/"]),
            web=WebApplication(
                redirect_uris=["https://web.example/signin-oidc"],
                logout_url="https://web.example/signout",
                home_page_url="https://web.example/",
                implicit_grant_settings=ImplicitGrantSettings(
                    enable_access_token_issuance=False, enable_id_token_issuance=False),
            ),
            is_fallback_public_client=True,
        ))
        assert isinstance(created, Application)
        assert isinstance(created.public_client, PublicClientApplication)
        assert created.public_client.redirect_uris == ["http://localhost", f"msal{prefix}://auth"]
        await client.applications.by_application_id(created.id).patch(Application(
            web=WebApplication(redirect_uris=["https://web.example/cb2"]),
            is_fallback_public_client=False,
        ))
        read = await client.applications.by_application_id(created.id).get()
        assert isinstance(read.spa, SpaApplication) and read.spa.redirect_uris == ["https://spa.example/"]
        assert isinstance(read.web, WebApplication)
        assert read.web.redirect_uris == ["https://web.example/cb2"]
        assert read.web.logout_url == "https://web.example/signout"
        assert read.web.home_page_url == "https://web.example/"
        assert read.web.implicit_grant_settings.enable_id_token_issuance is False
        assert read.is_fallback_public_client is False
        assert [ex.status for ex in recorder.exchanges] == [201, 204, 200]
        strict_check_exchanges(recorder.exchanges)
        raw = assert_conforms(Application, writ.get_json(f"applications/{created.id}"))
        assert raw.public_client.redirect_uris[0] == "http://localhost"
        cli = assert_conforms(
            Application,
            writ.get_json("applications(appId='a8d5e6f0-4c3b-4f7a-9d21-77717e000001')"),
        )
        assert cli.is_fallback_public_client is True
        assert cli.public_client.redirect_uris == ["http://localhost"]

    run(scenario())
