"""Comments are posted again on restored files (by their authors when they still may, else by the restoring
user with the author and time in the text), and web links come back with their URL and description."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recovery.fixtures import back_up, find, upload


def _restore(client: Any, backed: Any, paths: list[str], **options: bool) -> Any:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    response = client.post(
        "/api/v1/restores/",
        {"snapshot": backed.snapshot, "paths": paths, "mode": "bypass", **options},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    status = jobs.run(response.json()["id"])
    job = Job.objects.get(pk=response.json()["id"])
    assert status == "succeeded", list(job.log.values_list("message", flat=True))
    return job


def _comments(sdk: Any, file_id: str) -> list[tuple[str, str]]:
    entries = sdk.comments.get_file_comments(file_id, fields=["message", "created_by"]).entries or []
    return [(str(c.created_by.id), str(c.message)) for c in entries]


@pytest.mark.django_db(transaction=True)
def test_comments_and_web_links_come_back(client: Any, admin: Any, sandbox: Any) -> None:
    from box_sdk_gen.managers.comments import CreateCommentItem, CreateCommentItemTypeField
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.managers.user_collaborations import (
        CreateCollaborationAccessibleBy,
        CreateCollaborationAccessibleByTypeField,
        CreateCollaborationItem,
        CreateCollaborationItemTypeField,
        CreateCollaborationRole,
    )
    from box_sdk_gen.managers.web_links import CreateWebLinkParent

    def discuss(sdk: Any, other: dict[str, str]) -> None:
        review = sdk.folders.create_folder("Review", CreateFolderParent(id="0"))
        sdk.user_collaborations.create_collaboration(
            CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=str(review.id)),
            CreateCollaborationAccessibleBy(
                type=CreateCollaborationAccessibleByTypeField.USER, id=other["box_user_id"]
            ),
            CreateCollaborationRole.EDITOR,
        )
        draft = upload(sdk, str(review.id), "draft.txt", b"draft\n")
        on_draft = CreateCommentItem(id=draft, type=CreateCommentItemTypeField.FILE)
        sdk.comments.create_comment("First pass done", on_draft)
        sandbox.ccg_client(other["box_user_id"]).comments.create_comment("Please fix line 3", on_draft)
        sdk.web_links.create_web_link(
            "https://wiki.example.com/runbook",
            CreateWebLinkParent(id=str(review.id)),
            name="Runbook",
            description="ops",
        )

    backed = back_up(client, admin, sandbox, prepare=discuss)
    sdk, me, colleague = backed.client, backed.user["box_user_id"], backed.other["box_user_id"]
    review = f"/{backed.user['login']}/Review"

    # 1. the folder comes back unshared: the colleague may not post, so their comment is posted for them
    sdk.folders.delete_folder_by_id(str(find(sdk, "Review").id), recursive=True)
    job = _restore(client, backed, [review], comments=True)
    draft = str(find(sdk, "Review/draft.txt").id)
    got = _comments(sdk, draft)
    assert got[0] == (me, "First pass done")
    author, text = got[1]
    said = re.fullmatch(r"\[(.+), (\d{4}-\d\d-\d\d \d\d:\d\d)\] Please fix line 3", text)
    assert author == me and said is not None, text
    assert said.group(1) == backed.other["name"]  # who wrote it, and when, in the text
    link = find(sdk, "Review/Runbook")
    full = sdk.web_links.get_web_link_by_id(str(link.id))
    assert full.url == "https://wiki.example.com/runbook" and full.description == "ops"
    assert any(
        line.startswith("created: Review/Runbook") for line in job.log.values_list("message", flat=True)
    )

    # 2. with the collaborations re-applied first, the colleague posts their own comment again
    sdk.folders.delete_folder_by_id(str(find(sdk, "Review").id), recursive=True)
    _restore(client, backed, [review], comments=True, collaborations=True)
    again = _comments(sdk, str(find(sdk, "Review/draft.txt").id))
    assert again == [(me, "First pass done"), (colleague, "Please fix line 3")]
