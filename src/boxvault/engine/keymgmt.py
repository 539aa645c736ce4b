"""Adding, removing and changing the passwords of a repository (one key file per password)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import CorruptObject, EngineError
from .keys import KeyFile, new_key_file
from .storage import StorageError

if TYPE_CHECKING:
    from .repository import Repository


def list_keys(repo: Repository) -> list[KeyFile]:
    keys = []
    for key_id in repo.list_ids("keys"):
        try:
            keys.append(KeyFile.parse(key_id, repo.backend.read(f"keys/{key_id}")))
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptObject(f"keys/{key_id}", f"invalid key file: {e}") from e
    return keys


def add_key(repo: Repository, password: str) -> str:
    key_id, raw = new_key_file(repo.key, password)
    try:
        repo.backend.write(f"keys/{key_id}", raw)
    except StorageError as e:
        raise EngineError(f"cannot save key: {e}") from e
    return key_id


def remove_key(repo: Repository, prefix: str) -> str:
    key_id = repo.find_id("keys", prefix)
    if key_id == repo.key_id:
        raise EngineError("refusing to remove the key currently used to access the repository")
    repo.backend.delete(f"keys/{key_id}")
    return key_id


def change_password(repo: Repository, password: str) -> str:
    """restic's ``key passwd``: the new key file is written before the old one goes."""
    new_id = add_key(repo, password)
    old = repo.key_id
    repo.key_id = new_id
    if old:
        repo.backend.delete(f"keys/{old}")
    return new_id
