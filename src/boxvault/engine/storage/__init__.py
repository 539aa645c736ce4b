"""Storage backends for restic repositories: local directories, S3, Azure Blob and GCS (through OpenDAL)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .base import (
    CONFIG,
    DIRECTORIES,
    AlreadyExists,
    Backend,
    NotFound,
    ShortRead,
    StorageError,
    data_name,
    object_name,
)
from .local import LocalBackend
from .location import Location, parse_location

__all__ = [
    "CONFIG",
    "DIRECTORIES",
    "AlreadyExists",
    "Backend",
    "LocalBackend",
    "Location",
    "NotFound",
    "ShortRead",
    "StorageError",
    "data_name",
    "object_name",
    "open_backend",
    "parse_location",
]


def open_backend(location: str, env: Mapping[str, str] | None = None) -> Backend:
    """Open the repository storage at a restic-style location; credentials come from restic's env names.

    ``env`` defaults to ``os.environ``. Nothing is contacted yet for object stores: the first call does.
    """
    parsed = parse_location(location)
    if parsed.kind == "local":
        return LocalBackend(parsed.path, location)
    from .objectstore import open_object_store  # OpenDAL is loaded only when an object store is used

    return open_object_store(parsed, location, os.environ if env is None else env)
