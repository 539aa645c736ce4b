"""Box's previous versions of a file (`GET /files/{id}/versions`), kept with `--versions`.

They go into the user's snapshot as ordinary files under `/<login>/.box-versions/<file id>/`, named
`<version id> <name at that version>`, with the same `box.*` attributes as current files plus
`box.type=file_version`; a previous version never changes, so after the first run its blob list is
always reused (blob cache key: file id + version id) and the list itself is asked for again only when
the file gets a new current version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from box_sdk_gen.client import BoxClient

from boxvault.box.api import iter_offset_pages
from boxvault.box.model import BoxItem, parse_time, user_json

VERSIONS_DIR = ".box-versions"
VERSION_FIELDS = "id,type,sha1,name,size,created_at,modified_at,modified_by,trashed_at,version_number"


@dataclass(frozen=True)
class OldVersion:
    id: str
    sha1: str | None
    name: str
    size: int
    created_at: str | None
    modified_at: str | None
    modified_by: str | None
    version_number: str | None

    @property
    def mtime(self) -> datetime:
        return (
            parse_time(self.modified_at)
            or parse_time(self.created_at)
            or datetime.fromtimestamp(0).astimezone()
        )

    def node_name(self) -> str:
        return f"{self.id} {self.name}".replace("/", "_")

    def xattrs(self, item: BoxItem) -> dict[str, bytes]:
        values = {
            "box.type": "file_version",
            "box.id": item.id,
            "box.version_id": self.id,
            "box.version_number": self.version_number,
            "box.sha1": self.sha1,
            "box.name": self.name,
            "box.created_at": self.created_at,
            "box.modified_at": self.modified_at,
            "box.modified_by": self.modified_by,
            "box.current_path": item.path,
        }
        return {k: v.encode() for k, v in values.items() if v is not None}

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> OldVersion:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def list_old_versions(client: BoxClient, file_id: str) -> list[OldVersion]:
    """Previous versions, oldest first; trashed ones are skipped (Box cannot serve their content)."""
    out: list[OldVersion] = []
    for page in iter_offset_pages(client, f"/2.0/files/{file_id}/versions", {"fields": VERSION_FIELDS}):
        for raw in page:
            if raw.get("trashed_at"):
                continue
            size = raw.get("size")
            out.append(
                OldVersion(
                    id=str(raw.get("id")),
                    sha1=raw.get("sha1") if isinstance(raw.get("sha1"), str) else None,
                    name=str(raw.get("name") or file_id),
                    size=int(size) if isinstance(size, int | float) else 0,
                    created_at=_opt(raw.get("created_at")),
                    modified_at=_opt(raw.get("modified_at")),
                    modified_by=user_json(raw.get("modified_by")),
                    version_number=_opt(raw.get("version_number")),
                )
            )
    out.reverse()
    return out


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def dumps(versions: list[OldVersion]) -> str:
    return json.dumps([v.to_json() for v in versions], ensure_ascii=False)


def loads(text: str) -> list[OldVersion]:
    return [OldVersion.from_json(d) for d in json.loads(text)]
