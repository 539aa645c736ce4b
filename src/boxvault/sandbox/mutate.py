"""Change a fraction of an enterprise deterministically: new versions, new files, renames, moves, trash,
deletes.

The report lists every change, so tests can check that an incremental backup picked up exactly these.
"""

from __future__ import annotations

import math
import random
from typing import Any

from . import content, items
from .errors import BoxError
from .names import file_name, folder_name, unique
from .store import Store

KINDS = ("new_versions", "new_files", "renames", "moves", "trashed", "deleted", "new_folders")
# Attack modes (smart-alert tests): what ransomware or a mass deletion does to one user's Box.
MODES = ("ordinary", "encrypt", "delete")
RANSOM_NOTE = "HOW_TO_DECRYPT_FILES.txt"


def mutate(store: Store, fraction: float, seed: int) -> dict[str, Any]:
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    rng = random.Random(f"mutate:{seed}")
    files = store.all(
        "SELECT * FROM items WHERE type = 'file' AND purged = 0 AND trashed_at IS NULL ORDER BY id"
    )
    files = [f for f in files if not items.ancestors_trashed(store, f)]
    folders = store.all(
        "SELECT * FROM items WHERE type = 'folder' AND purged = 0 AND trashed_at IS NULL ORDER BY id"
    )
    folders = [f for f in folders if not items.ancestors_trashed(store, f)]
    count = min(len(files), math.ceil(len(files) * fraction)) if fraction > 0 else 0
    chosen = rng.sample(files, count)
    report: dict[str, Any] = {"seed": seed, "fraction": fraction, "counts": {k: 0 for k in KINDS}}
    ids: dict[str, list[str]] = {k: [] for k in KINDS}
    changed: list[str] = []
    for row in chosen:
        roll = rng.random()
        actor = int(row["owner_id"])
        fid = str(row["id"])
        if roll < 0.40:
            n = int(store.scalar("SELECT COUNT(*) FROM versions WHERE file_id = ?", row["id"]) or 0) + 1
            ref = f"mutate:{seed}:{fid}:{n}"
            size = max(1, int(store.scalar("SELECT size FROM versions WHERE id = ?", row["version_id"]) or 1))
            size = max(1, int(size * rng.uniform(0.5, 1.5)))
            items.new_version(store, row, actor, (size, content.generated_sha1(ref, size), "gen", ref))
            ids["new_versions"].append(fid)
            changed.append(fid)
        elif roll < 0.60:
            taken = {
                r["name_key"]
                for r in store.all(
                    "SELECT name_key FROM items WHERE parent_id = ? AND owner_id = ? AND purged "
                    "= 0 AND trashed_at IS NULL",
                    row["parent_id"],
                    row["owner_id"],
                )
            }
            items.update(store, row, actor, name=unique(file_name(rng), taken))
            ids["renames"].append(fid)
        elif roll < 0.75:
            candidates = [
                f for f in folders if f["owner_id"] == row["owner_id"] and f["id"] != row["parent_id"]
            ]
            if not candidates:
                continue
            target = rng.choice(candidates)
            try:
                items.update(store, row, actor, parent=(int(target["id"]), int(target["owner_id"])))
            except BoxError:
                continue  # a name already taken in the target folder: Box would refuse the move too
            ids["moves"].append(fid)
        elif roll < 0.90:
            items.trash(store, row, actor)
            ids["trashed"].append(fid)
        else:
            items.trash(store, row, actor)
            fresh = store.item(int(row["id"]))
            if fresh is not None:
                items.purge(store, fresh, actor)
            ids["deleted"].append(fid)
    # new files land in random folders of random owners; a few in new folders
    owners = sorted({int(f["owner_id"]) for f in files}) or [
        int(u["id"])
        for u in store.all("SELECT id FROM users WHERE is_service = 0 AND deleted = 0 ORDER BY id")
    ]
    new_count = math.ceil(count * 0.25) if count else 0
    for i in range(new_count):
        owner = rng.choice(owners)
        mine = [f for f in folders if int(f["owner_id"]) == owner]
        parent = int(rng.choice(mine)["id"]) if mine and rng.random() < 0.8 else 0
        if i % 5 == 4:
            taken = _taken(store, parent, owner)
            parent = items.create_folder(store, parent, owner, owner, unique(folder_name(rng), taken))
            ids["new_folders"].append(str(parent))
        size = int(rng.lognormvariate(math.log(16 * 1024), 1.2))
        ref = f"mutate:{seed}:new:{i}"
        name = unique(file_name(rng), _taken(store, parent, owner))
        file_id = items.create_file(
            store, parent, owner, owner, name, (size, content.generated_sha1(ref, size), "gen", ref)
        )
        ids["new_files"].append(str(file_id))
        changed.append(str(file_id))
    for kind in KINDS:
        report["counts"][kind] = len(ids[kind])
    report["ids"] = ids
    report["changed_file_ids"] = changed
    return report


def _taken(store: Store, parent: int, owner: int) -> set[str]:
    sql = "SELECT name_key FROM items WHERE parent_id = ? AND purged = 0 AND trashed_at IS NULL"
    if parent == 0:
        return {r[0] for r in store.all(sql + " AND owner_id = ?", parent, owner)}
    return {r[0] for r in store.all(sql, parent)}


def attack(
    store: Store, mode: str, user: str, fraction: float, seed: int, extension: str = ".locked"
) -> dict[str, Any]:
    """Mass "encryption" or mass deletion of a fraction of one user's files (`user`: Box id or login).

    encrypt: each chosen file gets a new version of random bytes (the generated content is an AES keystream)
    of about its size, renamed with `extension` when one is given, and a ransom note lands in the user's
    root folder. delete: each chosen file is trashed and purged."""
    if mode not in ("encrypt", "delete"):
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be above 0 and at most 1")
    owner = store.one("SELECT * FROM users WHERE (id = ? OR login = ?) AND deleted = 0", user, user)
    if owner is None:
        raise ValueError(f"no user {user!r} in the sandbox")
    owner_id = int(owner["id"])
    rng = random.Random(f"attack:{mode}:{seed}")
    files = store.all(
        "SELECT * FROM items WHERE type = 'file' AND owner_id = ? AND purged = 0 AND trashed_at IS NULL "
        "ORDER BY id",
        owner_id,
    )
    files = [f for f in files if not items.ancestors_trashed(store, f)]
    count = min(len(files), math.ceil(len(files) * fraction))
    chosen = rng.sample(files, count)
    touched: list[str] = []
    for row in chosen:
        fid = str(row["id"])
        if mode == "delete":
            items.trash(store, row, owner_id)
            fresh = store.item(int(row["id"]))
            if fresh is not None:
                items.purge(store, fresh, owner_id)
        else:
            size = max(1, int(store.scalar("SELECT size FROM versions WHERE id = ?", row["version_id"]) or 1))
            ref = f"attack:{seed}:{fid}"
            name = str(row["name"]) + extension if extension else None
            try:
                items.new_version(
                    store, row, owner_id, (size, content.generated_sha1(ref, size), "gen", ref), name=name
                )
            except BoxError:  # the new name is taken in that folder: encrypt in place
                items.new_version(store, row, owner_id, (size, content.generated_sha1(ref, size), "gen", ref))
        touched.append(fid)
    report: dict[str, Any] = {"mode": mode, "user": str(owner_id), "seed": seed, "fraction": fraction}
    report["file_ids"] = touched
    if mode == "encrypt":
        ref = f"attack:{seed}:note"
        taken = _taken(store, 0, owner_id)
        name = unique(RANSOM_NOTE, taken)
        note = items.create_file(
            store, 0, owner_id, owner_id, name, (1024, content.generated_sha1(ref, 1024), "gen", ref)
        )
        report["ransom_note"] = {"id": str(note), "name": name}
    return report
