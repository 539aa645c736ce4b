"""A restore re-creates shared links: new URLs with the same access, permissions and expiry, the old and new
URLs in the job's results; a link that had a password or had expired is reported, not invented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recovery.fixtures import back_up, find, restore_job


@pytest.mark.django_db(transaction=True)
def test_shared_links_recreated_with_the_same_access(client: Any, admin: Any, sandbox: Any) -> None:
    from box_sdk_gen.managers.shared_links_files import (
        AddShareLinkToFileSharedLink,
        AddShareLinkToFileSharedLinkAccessField,
        AddShareLinkToFileSharedLinkPermissionsField,
    )
    from box_sdk_gen.managers.shared_links_folders import (
        AddShareLinkToFolderSharedLink,
        AddShareLinkToFolderSharedLinkAccessField,
    )

    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    old: dict[str, str] = {}

    def share(sdk: Any, _other: Any) -> None:
        files = sdk.shared_links_files
        a = files.add_share_link_to_file(
            str(find(sdk, "Proj/a.txt").id),
            "shared_link",
            shared_link=AddShareLinkToFileSharedLink(
                access=AddShareLinkToFileSharedLinkAccessField.OPEN,
                unshared_at=later,
                permissions=AddShareLinkToFileSharedLinkPermissionsField(can_download=False),
            ),
        )
        old["a.txt"] = a.shared_link.url
        sub = sdk.shared_links_folders.add_share_link_to_folder(
            str(find(sdk, "Proj/Sub").id),
            "shared_link",
            shared_link=AddShareLinkToFolderSharedLink(
                access=AddShareLinkToFolderSharedLinkAccessField.COMPANY
            ),
        )
        old["Sub"] = sub.shared_link.url
        files.add_share_link_to_file(
            str(find(sdk, "Proj/b.bin").id),
            "shared_link",
            shared_link=AddShareLinkToFileSharedLink(password="a secret phrase"),
        )
        files.add_share_link_to_file(
            str(find(sdk, "Proj/Sub/c.txt").id),
            "shared_link",
            shared_link=AddShareLinkToFileSharedLink(unshared_at=datetime(2020, 1, 1, tzinfo=UTC)),
        )

    backed = back_up(client, admin, sandbox, prepare=share)
    job = restore_job(
        client,
        {
            "snapshot": backed.snapshot,
            "paths": [backed.proj],
            "mode": "non_destructive",
            "shared_links": True,
        },
    )["job"]
    links = {link["path"]: link for link in job.result["shared_links"]}
    assert set(links) == {"Proj/a.txt", "Proj/Sub", "Proj/b.bin", "Proj/Sub/c.txt"}

    sdk = backed.client
    restored = next(
        i.name for i in sdk.folders.get_folder_items("0").entries if i.name.startswith("Restored ")
    )
    new_a = find(sdk, f"{restored}/Proj/a.txt")
    a = links["Proj/a.txt"]
    assert (
        a["old_url"] == old["a.txt"]
        and a["new_url"]
        and a["new_url"] != a["old_url"]
        and a["access"] == "open"
    )
    behind = sdk.shared_links_files.find_file_for_shared_link(
        f"shared_link={a['new_url']}", fields=["shared_link"]
    )
    assert str(behind.id) == str(new_a.id)
    assert behind.shared_link.access.value == "open" and behind.shared_link.permissions.can_download is False
    assert behind.shared_link.unshared_at == later  # the same expiry
    sub = links["Proj/Sub"]
    assert sub["old_url"] == old["Sub"] and sub["access"] == "company"
    folder = sdk.shared_links_folders.find_folder_for_shared_link(f"shared_link={sub['new_url']}")
    assert str(folder.id) == str(find(sdk, f"{restored}/Proj/Sub").id)

    assert links["Proj/b.bin"]["new_url"] == "" and "password" in links["Proj/b.bin"]["note"]
    assert links["Proj/Sub/c.txt"]["new_url"] == "" and "expired" in links["Proj/Sub/c.txt"]["note"]
    log = list(job.log.values_list("message", flat=True))
    assert any(line.startswith("shared link: Proj/a.txt: ") and a["new_url"] in line for line in log)
    assert any(line.startswith("shared link not re-created: Proj/b.bin") for line in log)

    # without the option, nothing is shared
    again = restore_job(
        client, {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/a.txt"], "mode": "non_destructive"}
    )
    assert "shared_links" not in again["result"]
