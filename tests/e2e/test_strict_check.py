"""The strict model check checked: hand-made entities that must (and must not) be reported.

No server here: these make sure `strict_check` can fail, so that its silence on Writ's responses
in test_sdk.py means something.
"""

import pytest
from msgraph.generated.models.application import Application
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.group import Group
from msgraph.generated.models.group_access_type import GroupAccessType
from msgraph.generated.models.user import User

from strict_check import assert_collection_conforms, assert_conforms, check

GOOD_USER = {
    "@odata.context": "http://127.0.0.1:1/v1.0/$metadata#users/$entity",
    "id": "01a217df-9452-7189-adda-7d9d5a910325",
    "displayName": "Ada",
    "userPrincipalName": "ada@example.org",
    "accountEnabled": True,
    "businessPhones": [],
    "createdDateTime": "2026-11-26T12:40:58Z",
    "jobTitle": None,
    "userType": "Member",
    "mailboxSettings": {"userPurpose": "user"},
}


def test_a_conforming_entity_has_no_problems():
    user = assert_conforms(User, GOOD_USER)
    assert user.display_name == "Ada"
    assert user.mailbox_settings.user_purpose is not None


def test_undeclared_property_and_bad_enum_are_both_reported():
    bad = {
        "id": "01a217df-a28d-72ed-8f03-6cb49a19c572",
        "displayName": "G",
        "favouriteColour": "teal",  # not a Group property
        "accessType": "sideways",  # not a GroupAccessType member
        "securityEnabled": True,
    }
    obj, problems = check(Group, bad)
    # The SDK itself says nothing: the extra lands in additional_data, the enum becomes None.
    assert obj.additional_data.get("favouriteColour") == "teal"
    assert obj.access_type is None
    assert len(problems) == 2, problems
    assert any("favouriteColour" in p and "not a property of Group" in p for p in problems), problems
    assert any("accessType" in p and "sideways" in p and "GroupAccessType" in p for p in problems), problems
    with pytest.raises(AssertionError, match="2 strict-check problem"):
        assert_conforms(Group, bad)


def test_known_enum_values_pass():
    _, problems = check(Group, {"id": "x", "accessType": "private"})
    assert problems == []
    assert check(Group, {"id": "x", "accessType": "private"})[0].access_type is GroupAccessType.Private


def test_nested_objects_are_checked():
    bad = dict(GOOD_USER, mailboxSettings={"userPurpose": "robot", "moodRing": 1},
               passwordProfile={"password": "x", "strength": "high"})
    _, problems = check(User, bad)
    assert sorted(p.split(":")[0] for p in problems) == [
        "User.mailboxSettings.moodRing",
        "User.mailboxSettings.userPurpose",
        "User.passwordProfile.strength",
    ], problems


def test_wrong_scalar_types_are_reported():
    _, problems = check(User, dict(GOOD_USER, accountEnabled="yes", createdDateTime="yesterday"))
    assert any(p.startswith("User.accountEnabled:") for p in problems), problems
    assert any(p.startswith("User.createdDateTime:") for p in problems), problems


def test_collections_of_enums_including_flags_strings():
    assert check(Application, {"id": "a", "nativeAuthenticationApisEnabled": "none,all"})[1] == []
    _, problems = check(Application, {"id": "a", "nativeAuthenticationApisEnabled": "all,bogus"})
    assert len(problems) == 1 and "bogus" in problems[0], problems


def test_directory_objects_are_checked_as_their_odata_type():
    member = {"@odata.type": "#microsoft.graph.user", "id": "u1", "userPrincipalName": "u@example.org"}
    obj = assert_conforms(DirectoryObject, member)
    assert type(obj) is User
    group = {"@odata.type": "#microsoft.graph.group", "id": "g1", "securityEnabled": True}
    assert type(assert_conforms(DirectoryObject, group)) is Group
    # Without @odata.type the SDK makes a bare DirectoryObject: user properties are undeclared.
    _, problems = check(DirectoryObject, {"id": "u1", "userPrincipalName": "u@example.org"})
    assert problems == ["DirectoryObject.userPrincipalName: not a property of DirectoryObject"]


def test_annotations_are_allowed_but_collection_pages_are_checked_too():
    page = {"@odata.context": "c", "@odata.nextLink": "n", "@odata.count": 1, "value": [GOOD_USER]}
    assert len(assert_collection_conforms(User, page)) == 1
    with pytest.raises(AssertionError, match="unexpected keys"):
        assert_collection_conforms(User, dict(page, total=1))
    with pytest.raises(AssertionError, match="nickname"):
        assert_collection_conforms(User, dict(page, value=[dict(GOOD_USER, nickname="x")]))
