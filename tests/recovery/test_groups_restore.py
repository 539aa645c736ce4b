"""Group collaborations are captured and re-applied by a restore; a collaborator that no longer exists in
Box is reported in the job's log and results, the job ends partially succeeded, and the rest is restored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from recovery.fixtures import back_up, find, run_job, upload


@pytest.mark.django_db(transaction=True)
def test_group_collaboration_reapplied_and_a_deleted_group_reported(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.managers.memberships import CreateGroupMembershipGroup, CreateGroupMembershipUser
    from box_sdk_gen.managers.user_collaborations import (
        CreateCollaborationAccessibleBy,
        CreateCollaborationAccessibleByTypeField,
        CreateCollaborationItem,
        CreateCollaborationItemTypeField,
        CreateCollaborationRole,
    )

    box_admin = sandbox.ccg_client()
    suffix = uuid.uuid4().hex[:6]
    groups: dict[str, str] = {}

    def share_with_groups(sdk: Any, other: dict[str, str]) -> None:
        for name in ("Finance", "Auditors"):
            groups[name] = box_admin.groups.create_group(f"{name} {suffix}").id
        box_admin.memberships.create_group_membership(
            CreateGroupMembershipUser(id=other["box_user_id"]),
            CreateGroupMembershipGroup(id=groups["Finance"]),
        )
        folder = sdk.folders.create_folder("Ledgers", CreateFolderParent(id="0"))
        upload(sdk, str(folder.id), "2026.csv", b"month,total\n")
        for name, role in (
            ("Finance", CreateCollaborationRole.VIEWER),
            ("Auditors", CreateCollaborationRole.EDITOR),
        ):
            sdk.user_collaborations.create_collaboration(
                CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=str(folder.id)),
                CreateCollaborationAccessibleBy(
                    type=CreateCollaborationAccessibleByTypeField.GROUP, id=groups[name]
                ),
                role,
            )

    backed = back_up(client, admin, sandbox, prepare=share_with_groups)
    sdk = backed.client
    sdk.folders.delete_folder_by_id(str(find(sdk, "Ledgers").id), recursive=True)
    box_admin.groups.delete_group_by_id(groups["Auditors"])  # gone from Box since the backup

    job = run_job(
        client,
        "/api/v1/restores/",
        {
            "snapshot": backed.snapshot,
            "paths": [f"/{backed.user['login']}/Ledgers"],
            "mode": "bypass",
            "collaborations": True,
        },
        expect="partially_succeeded",
    )["job"]
    assert "could not be re-applied" in job.message and job.result["failed"] == 0

    ledgers = find(sdk, "Ledgers")
    assert find(sdk, "Ledgers/2026.csv") is not None  # the content came back
    collabs = sdk.list_collaborations.get_folder_collaborations(str(ledgers.id)).entries or []
    assert [(c.accessible_by.type.value, c.accessible_by.id, c.role.value) for c in collabs] == [
        ("group", groups["Finance"], "viewer")
    ]
    assert backed.other_client.folders.get_folder_by_id(str(ledgers.id)).name == "Ledgers"  # a member sees it

    (missed,) = job.result["not_reapplied"]
    assert missed["path"] == "Ledgers" and f"group Auditors {suffix}" in missed["what"]
    assert missed["reason"] == "it no longer exists in Box"
    log = list(job.log.values_list("message", flat=True))
    assert any(
        line.startswith(f"not re-applied: Ledgers: collaboration of group Auditors {suffix}") for line in log
    )
