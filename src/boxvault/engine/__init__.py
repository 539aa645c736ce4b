"""restic-compatible repository engine (format v2); never imports Django.

The public API (see docs/repository.md): ``Repository.init/open``, ``repo.writer()`` -> ``Writer``,
``writer.snapshot(...)`` -> ``SnapshotBuilder`` with ``NodeMeta`` and ``FileResult``, and the reader
methods of ``Repository``. Errors are in ``boxvault.engine.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builder import FileResult, FileWriter, NodeMeta, SnapshotBuilder
    from .repository import Repository
    from .snapshot import Snapshot
    from .tree import Node
    from .writer import Writer

_EXPORTS = {
    "Repository": "repository",
    "Writer": "writer",
    "SnapshotBuilder": "builder",
    "FileWriter": "builder",
    "FileResult": "builder",
    "NodeMeta": "builder",
    "Snapshot": "snapshot",
    "Node": "tree",
}

__all__ = [
    "FileResult",
    "FileWriter",
    "Node",
    "NodeMeta",
    "Repository",
    "Snapshot",
    "SnapshotBuilder",
    "Writer",
]


def __getattr__(name: str) -> Any:
    # lazy, so importing boxvault.engine.storage alone does not load numpy, zstandard and cryptography
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
