"""Box Notes (`.boxnote`) are captured with their content and restored so that Box sees a Box Note again:
the same name and extension, the note's document byte for byte (checked through the official SDK)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from recovery.fixtures import back_up, find, sha1, upload

NOTE = json.dumps(
    {
        "doc": {
            "type": "doc",
            "content": [
                {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Kick-off"}]},
                {"type": "paragraph", "content": [{"type": "text", "text": "Owners: Ann, Raj — ünïcødé ✓"}]},
            ],
        },
        "schema_version": 1,
    },
    ensure_ascii=False,
).encode()


@pytest.mark.django_db(transaction=True)
def test_a_box_note_comes_back_as_a_box_note(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.jobs import services as jobs

    made: dict[str, str] = {}

    def write_note(sdk: Any, _other: Any) -> None:
        made["id"] = upload(sdk, str(find(sdk, "Proj").id), "Kick-off meeting.boxnote", NOTE)

    backed = back_up(client, admin, sandbox, prepare=write_note)
    sdk = backed.client
    tree = client.get(f"/api/v1/snapshots/{backed.snapshot}/tree/", {"path": backed.proj}).json()["results"]
    stored = next(e for e in tree if e["name"] == "Kick-off meeting.boxnote")
    assert stored["type"] == "file" and stored["sha1"] == sha1(NOTE) and stored["size"] == len(NOTE)

    sdk.files.delete_file_by_id(made["id"])
    response = client.post(
        "/api/v1/restores/",
        {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/Kick-off meeting.boxnote"], "mode": "bypass"},
        content_type="application/json",
    )
    assert response.status_code == 201 and jobs.run(response.json()["id"]) == "succeeded"
    note = find(sdk, "Proj/Kick-off meeting.boxnote")
    full = sdk.files.get_file_by_id(str(note.id), fields=["name", "extension", "sha1", "size"])
    assert full.extension == "boxnote" and full.sha_1 == sha1(NOTE) and full.size == len(NOTE)
    body = bytes(sdk.downloads.download_file(str(note.id)).read())
    assert body == NOTE and json.loads(body)["doc"]["content"][0]["content"][0]["text"] == "Kick-off"
