"""Copying a snapshot selection out of the repository: into a zip file or into the customer's object store.

No Django here. Every file is streamed blob by blob from the engine, hashed on the way (sha1, as Box
computes it) and checked against the sha1 recorded at backup time; a mismatch is a failed item, never a
silent bad copy. A manifest (`.boxvault-manifest.json`: path, size, sha1, Box id, snapshot) goes with the
files.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import opendal

from boxvault.box.restore import VERSIONS_DIR, node_kind, xattr_text
from boxvault.engine.reader import FileReader
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.storage.base import StorageError
from boxvault.engine.storage.credentials import operator_options
from boxvault.engine.storage.location import parse_location
from boxvault.engine.tree import Node
from boxvault.recovery.zipnames import entry_name

MANIFEST = ".boxvault-manifest.json"
_CONTENT_TYPE = "application/octet-stream"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class Sink(Protocol):
    def add_dir(self, rel: str, node: Node) -> None: ...
    def add_file(self, rel: str, node: Node, chunks: Iterator[bytes]) -> tuple[int, str]: ...
    def add_bytes(self, rel: str, data: bytes) -> None: ...
    def close(self) -> None: ...


@dataclass
class ExportReport:
    items: int = 0
    files: int = 0
    bytes: int = 0
    failed: int = 0
    cancelled: bool = False
    failures: list[dict[str, str]] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)


def _hashing(chunks: Iterator[bytes], digest: Any, counter: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        counter[0] += len(chunk)
        yield chunk


class ZipSink:
    """A zip file written front to back (no seeking back: fine for any size, zip64 where needed)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._zip = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)

    def _info(self, name: str, node: Node | None) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(entry_name(name, directory=name.endswith("/")), _ZIP_EPOCH)
        if node is not None:
            when = node.mtime_dt
            if when.year >= 1980:
                info.date_time = (when.year, when.month, when.day, when.hour, when.minute, when.second)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def add_dir(self, rel: str, node: Node) -> None:
        info = self._info(rel.rstrip("/") + "/", node)
        info.external_attr = 0o40755 << 16
        self._zip.writestr(info, b"")

    def add_file(self, rel: str, node: Node, chunks: Iterator[bytes]) -> tuple[int, str]:
        info = self._info(rel, node)
        info.external_attr = 0o100644 << 16
        info.file_size = node.size
        digest, counter = hashlib.sha1(usedforsecurity=False), [0]
        # zip64 when the size needs it; force it when the node's recorded size might be an underestimate
        with self._zip.open(info, "w", force_zip64=node.size >= zipfile.ZIP64_LIMIT // 2) as out:
            for chunk in _hashing(chunks, digest, counter):
                out.write(chunk)
        return counter[0], digest.hexdigest()

    def add_bytes(self, rel: str, data: bytes) -> None:
        self._zip.writestr(self._info(rel, None), data)

    def close(self) -> None:
        self._zip.close()
        self._file.close()


def target_operator(target: Mapping[str, Any]) -> opendal.Operator:
    """An OpenDAL operator for an export target as the dialog/API gives it (see docs/recovery.md)."""
    kind = str(target.get("kind") or "")
    location = str(target.get("location") or "").strip()
    expected = {"s3": "s3:", "azure": "azure:", "gcs": "gs:"}.get(kind)
    if expected is None:
        raise StorageError(f"unknown export target kind {kind!r} (s3, azure or gcs)")
    if not location.startswith(expected):
        raise StorageError(f"a {kind} location starts with '{expected}' (e.g. {_EXAMPLES[kind]})")
    env: dict[str, str] = {}
    if kind == "s3":
        env = {
            "AWS_ACCESS_KEY_ID": str(target.get("access_key_id") or ""),
            "AWS_SECRET_ACCESS_KEY": str(target.get("secret_access_key") or ""),
            "AWS_DEFAULT_REGION": str(target.get("region") or "us-east-1"),
        }
        if not env["AWS_ACCESS_KEY_ID"] or not env["AWS_SECRET_ACCESS_KEY"]:
            raise StorageError("an S3 export needs an access key id and a secret access key")
    elif kind == "azure":
        env = {
            "AZURE_ACCOUNT_NAME": str(target.get("account_name") or ""),
            "AZURE_ACCOUNT_KEY": str(target.get("account_key") or ""),
            "AZURE_ACCOUNT_SAS": str(target.get("sas_token") or ""),
            "BOXVAULT_AZURE_ENDPOINT": str(target.get("endpoint") or ""),
        }
    else:
        env = {
            "GOOGLE_ACCESS_TOKEN": str(target.get("access_token") or ""),
            "STORAGE_EMULATOR_HOST": str(target.get("endpoint") or ""),
        }
    env = {k: v for k, v in env.items() if v}
    scheme, options = operator_options(parse_location(location), env)
    try:
        return opendal.Operator(scheme, **options)
    except Exception as exc:  # noqa: BLE001 - OpenDAL's configuration errors become one clear message
        raise StorageError(f"cannot use {location}: {_first_line(exc)}") from exc


_EXAMPLES = {
    "s3": "s3:https://s3.amazonaws.com/bucket/prefix",
    "azure": "azure:container:/prefix",
    "gcs": "gs:bucket:/prefix",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def probe(target: Mapping[str, Any]) -> None:
    """Write and delete a small object, so wrong credentials fail here and not after an hour of work."""
    op = target_operator(target)
    name = f".boxvault-probe-{secrets.token_hex(8)}"
    try:
        op.write(name, b"boxvault export probe", content_type=_CONTENT_TYPE)
        op.delete(name)
    except Exception as exc:  # noqa: BLE001 - every OpenDAL error means: this target cannot take the export
        raise StorageError(f"the storage refused a test write: {_first_line(exc)}") from exc


class ObjectStoreSink:
    def __init__(self, target: Mapping[str, Any]) -> None:
        self.op = target_operator(target)

    def add_dir(self, rel: str, node: Node) -> None:
        return  # object stores have no folders; the files' keys carry the paths

    def add_file(self, rel: str, node: Node, chunks: Iterator[bytes]) -> tuple[int, str]:
        digest, counter = hashlib.sha1(usedforsecurity=False), [0]
        with self.op.open(rel, "wb", content_type=_CONTENT_TYPE) as out:
            for chunk in _hashing(chunks, digest, counter):
                out.write(chunk)
        return counter[0], digest.hexdigest()

    def add_bytes(self, rel: str, data: bytes) -> None:
        self.op.write(rel, data, content_type="application/json")

    def close(self) -> None:
        return


def export(
    repo: Repository,
    snapshot: Snapshot,
    include: list[str] | None,
    sink: Sink,
    *,
    snapshot_ref: str,
    on_item: Callable[[ExportReport, str, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportReport:
    """Copy the selection (paths relative to the user's root in the sink) and write the manifest."""
    report = ExportReport()
    base = (snapshot.paths[0] if snapshot.paths else "").rstrip("/") + "/"
    for path, node in repo.walk(snapshot, include):
        if cancelled is not None and cancelled():
            report.cancelled = True
            break
        if not path.startswith(base):
            continue
        rel = path[len(base) :]
        if rel == VERSIONS_DIR:
            continue
        report.items += 1
        error = ""
        try:
            if node.type == "dir":
                sink.add_dir(rel, node)
            elif node.type == "file":
                error = _copy_file(repo, rel, node, sink, report, snapshot_ref)
        except (OSError, StorageError, ValueError) as exc:
            error = _first_line(exc)
        except Exception as exc:  # noqa: BLE001 - OpenDAL and engine errors on one file fail that file only
            error = f"{type(exc).__name__}: {_first_line(exc)}"
        if error:
            report.failed += 1
            report.failures.append({"path": rel, "error": error})
        if on_item is not None:
            on_item(report, rel, error)
    doc = {"snapshot": snapshot_ref, "root": base.rstrip("/"), "files": report.manifest}
    sink.add_bytes(MANIFEST, json.dumps(doc, indent=1).encode())
    sink.close()
    return report


def _copy_file(repo: Repository, rel: str, node: Node, sink: Sink, report: ExportReport, ref: str) -> str:
    reader = FileReader(repo, node)
    try:
        size, sha1 = sink.add_file(rel, node, reader.iter_blobs())
    finally:
        reader.close()
    expected = xattr_text(node, "box.sha1") or ""
    kind = node_kind(node)
    if expected and kind in ("file", "file_version") and expected != sha1:
        return f"content does not match Box's sha1 ({sha1} != {expected})"
    report.files += 1
    report.bytes += size
    report.manifest.append(
        {"path": rel, "size": size, "sha1": sha1, "box_id": xattr_text(node, "box.id") or "", "snapshot": ref}
    )
    return ""
