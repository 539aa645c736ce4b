"""Groups, memberships and group collaborations through the official SDK: a member of a group that
collaborates on a folder sees it; deleting the group ends both."""

from __future__ import annotations

import uuid

import pytest
from box_sdk_gen import (
    BoxAPIError,
    CreateCollaborationAccessibleBy,
    CreateCollaborationAccessibleByTypeField,
    CreateCollaborationItem,
    CreateCollaborationItemTypeField,
    CreateCollaborationRole,
    CreateFolderParent,
)
from box_sdk_gen.managers.memberships import CreateGroupMembershipGroup, CreateGroupMembershipUser

from support.sandbox import SandboxServer


def test_group_collaboration_gives_its_members_access(fresh_sandbox: SandboxServer) -> None:
    admin = fresh_sandbox.ccg_client()
    owner_id, member_id = fresh_sandbox.users[0]["id"], fresh_sandbox.users[1]["id"]
    owner = admin.with_as_user_header(owner_id)
    member = admin.with_as_user_header(member_id)

    group = admin.groups.create_group(f"Finance {uuid.uuid4().hex[:6]}", description="money people")
    assert group.name.startswith("Finance") and group.id in {g.id for g in admin.groups.get_groups().entries}
    with pytest.raises(BoxAPIError) as dup:
        admin.groups.create_group(group.name)
    assert dup.value.response_info.status_code == 409
    membership = admin.memberships.create_group_membership(
        CreateGroupMembershipUser(id=member_id), CreateGroupMembershipGroup(id=group.id)
    )
    assert membership.user.id == member_id and membership.group.id == group.id
    assert [m.id for m in admin.memberships.get_group_memberships(group.id).entries] == [membership.id]
    assert [m.group.id for m in admin.memberships.get_user_memberships(member_id).entries] == [group.id]

    folder = owner.folders.create_folder(f"Budget {uuid.uuid4().hex[:6]}", CreateFolderParent(id="0"))
    with pytest.raises(BoxAPIError):
        member.folders.get_folder_by_id(folder.id)
    collab = owner.user_collaborations.create_collaboration(
        CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=folder.id),
        CreateCollaborationAccessibleBy(type=CreateCollaborationAccessibleByTypeField.GROUP, id=group.id),
        CreateCollaborationRole.VIEWER,
    )
    assert collab.accessible_by.type.value == "group" and collab.accessible_by.id == group.id
    assert member.folders.get_folder_by_id(folder.id).name == folder.name  # through the group
    listed = owner.list_collaborations.get_folder_collaborations(folder.id).entries
    assert [(c.accessible_by.type.value, c.accessible_by.id) for c in listed] == [("group", group.id)]

    with pytest.raises(BoxAPIError) as missing:
        owner.user_collaborations.create_collaboration(
            CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=folder.id),
            CreateCollaborationAccessibleBy(type=CreateCollaborationAccessibleByTypeField.GROUP, id="987654"),
            CreateCollaborationRole.VIEWER,
        )
    assert missing.value.response_info.status_code == 404

    admin.groups.delete_group_by_id(group.id)
    with pytest.raises(BoxAPIError):
        member.folders.get_folder_by_id(folder.id)
    assert owner.list_collaborations.get_folder_collaborations(folder.id).entries == []
    with pytest.raises(BoxAPIError) as gone:
        admin.groups.get_group_by_id(group.id)
    assert gone.value.response_info.status_code == 404
    with pytest.raises(BoxAPIError) as plain:
        member.groups.create_group("Not an admin")  # a plain user may not manage groups
    assert plain.value.response_info.status_code == 403
