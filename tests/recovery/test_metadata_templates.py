"""Metadata whose enterprise template was deleted in Box: the task keeps a copy of each template it saw; a
restore re-creates the template from that copy when the task allows it (a setting, off by default), and
otherwise reports which instances were not put back while the files come back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from recovery.fixtures import back_up, find


def _restore_a(client: Any, backed: Any) -> Any:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    response = client.post(
        "/api/v1/restores/",
        {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/a.txt"], "mode": "bypass", "metadata": True},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    jobs.run(response.json()["id"])
    return Job.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_a_deleted_template_is_created_again_only_when_the_task_allows_it(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from box_sdk_gen import BoxAPIError
    from box_sdk_gen.managers.file_metadata import CreateFileMetadataByIdScope
    from box_sdk_gen.managers.metadata_templates import (
        CreateMetadataTemplateFields,
        CreateMetadataTemplateFieldsOptionsField,
        CreateMetadataTemplateFieldsTypeField,
        DeleteMetadataTemplateScope,
        GetMetadataTemplateScope,
    )

    from boxvault.backups.models import MetadataTemplateCopy
    from boxvault.backups.services import discover_users
    from boxvault.security.models import AuditEvent

    box_admin = sandbox.ccg_client()
    key = f"contract{uuid.uuid4().hex[:6]}"
    box_admin.metadata_templates.create_metadata_template(
        "enterprise",
        "Contract",
        template_key=key,
        fields=[
            CreateMetadataTemplateFields(
                type=CreateMetadataTemplateFieldsTypeField.STRING, key="party", display_name="Party"
            ),
            CreateMetadataTemplateFields(
                type=CreateMetadataTemplateFieldsTypeField.ENUM,
                key="stage",
                display_name="Stage",
                options=[
                    CreateMetadataTemplateFieldsOptionsField(key="draft"),
                    CreateMetadataTemplateFieldsOptionsField(key="signed"),
                ],
            ),
        ],
    )

    def tag(sdk: Any, _other: Any) -> None:
        sdk.file_metadata.create_file_metadata_by_id(
            str(find(sdk, "Proj/a.txt").id),
            CreateFileMetadataByIdScope.ENTERPRISE,
            key,
            {"party": "ACME", "stage": "signed"},
        )

    backed = back_up(client, admin, sandbox, prepare=tag)
    discover_users(backed.task)  # the periodic discovery also copies the enterprise's templates
    copy = MetadataTemplateCopy.objects.get(task=backed.task, template_key=key)
    assert [f["key"] for f in copy.schema["fields"]] == ["party", "stage"] and copy.gone_since is None

    box_admin.metadata_templates.delete_metadata_template(DeleteMetadataTemplateScope.ENTERPRISE, key)
    sdk = backed.client
    sdk.files.delete_file_by_id(str(find(sdk, "Proj/a.txt").id))

    # 1. the setting is off (the default): the file comes back, its metadata is reported, not invented
    job = _restore_a(client, backed)
    assert job.status == "partially_succeeded" and job.result["failed"] == 0
    (missed,) = job.result["not_reapplied"]
    assert missed["path"] == "Proj/a.txt" and key in missed["what"]
    assert "does not create deleted templates again" in missed["reason"]
    assert find(sdk, "Proj/a.txt") is not None
    with pytest.raises(BoxAPIError):  # still gone from Box
        box_admin.metadata_templates.get_metadata_template(GetMetadataTemplateScope.ENTERPRISE, key)
    discover_users(backed.task)
    assert MetadataTemplateCopy.objects.get(task=backed.task, template_key=key).gone_since is not None

    # 2. allowed (an audited setting): the template is created again from the copy, the instance restored
    allowed = client.patch(
        f"/api/v1/tasks/{backed.task.pk}/",
        {"recreate_metadata_templates": True},
        content_type="application/json",
    )
    assert allowed.status_code == 200 and allowed.json()["recreate_metadata_templates"] is True
    assert AuditEvent.objects.filter(
        description__contains="recreate_metadata_templates: False → True"
    ).exists()
    sdk.files.delete_file_by_id(str(find(sdk, "Proj/a.txt").id))
    job = _restore_a(client, backed)
    log = list(job.log.values_list("message", flat=True))
    assert job.status == "succeeded", log
    assert any(f"metadata template {key} created again" in line for line in log)
    template = box_admin.metadata_templates.get_metadata_template(GetMetadataTemplateScope.ENTERPRISE, key)
    assert [f.key for f in template.fields] == ["party", "stage"] and template.display_name == "Contract"
    assert [o.key for o in template.fields[1].options] == ["draft", "signed"]
    instance = sdk.file_metadata.get_file_metadata_by_id(str(find(sdk, "Proj/a.txt").id), "enterprise", key)
    assert instance.extra_data == {"party": "ACME", "stage": "signed"} or (
        instance.to_dict().get("party"),
        instance.to_dict().get("stage"),
    ) == ("ACME", "signed")

    # 3. a template the task never copied cannot be created again: said so, the file still comes back
    MetadataTemplateCopy.objects.filter(task=backed.task, template_key=key).delete()
    box_admin.metadata_templates.delete_metadata_template(DeleteMetadataTemplateScope.ENTERPRISE, key)
    sdk.files.delete_file_by_id(str(find(sdk, "Proj/a.txt").id))
    job = _restore_a(client, backed)
    assert job.status == "partially_succeeded" and find(sdk, "Proj/a.txt") is not None
    (missed,) = job.result["not_reapplied"]
    assert missed["reason"] == (
        "its template was deleted in Box and could not be created again: "
        "the task never saw that template (no copy of its fields)"
    )
