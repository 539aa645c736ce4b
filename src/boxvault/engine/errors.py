"""Every error the engine raises on bad input, each naming the repository object it concerns."""

from __future__ import annotations


class EngineError(Exception):
    """Base of the engine's errors; the message is meant for the user, without a traceback."""


class WrongPassword(EngineError):
    def __init__(self, location: str) -> None:
        super().__init__(f"wrong password or no key found for repository {location}")


class NotARepository(EngineError):
    def __init__(self, location: str, reason: str = "no config file") -> None:
        super().__init__(f"{location} is not a restic repository ({reason})")


class RepositoryExists(EngineError):
    def __init__(self, location: str) -> None:
        super().__init__(f"a repository already exists at {location}")


class UnsupportedVersion(EngineError):
    def __init__(self, version: object) -> None:
        super().__init__(f"unsupported repository version {version!r} (boxvault reads versions 1 and 2)")


class CorruptObject(EngineError):
    """An object failed its MAC, hash, decompression or parsing check."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} is damaged: {reason}")
        self.name = name


class MissingObject(EngineError):
    """A referenced file of the repository does not exist."""

    def __init__(self, name: str, referenced_by: str = "") -> None:
        suffix = f" (referenced by {referenced_by})" if referenced_by else ""
        super().__init__(f"{name} is missing from the repository{suffix}")
        self.name = name


class BlobNotFound(EngineError):
    def __init__(self, kind: str, blob_id: str) -> None:
        super().__init__(f"{kind} blob {blob_id} is not in any index")
        self.blob_id = blob_id


class SnapshotNotFound(EngineError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no snapshot matches {ref!r}")


class AmbiguousId(EngineError):
    def __init__(self, kind: str, prefix: str) -> None:
        super().__init__(f"{kind} id prefix {prefix!r} is ambiguous")


class RepositoryLocked(EngineError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"repository is already locked: {detail}")


class InvalidArgument(EngineError):
    """A caller-side mistake: a bad path, a file added twice, a closed writer."""
