"""Copying a snapshot selection out of the repository: into a zip file or into the customer's object store.

No Django here. Every file is streamed blob by blob from the engine, hashed on the way (sha1, as Box
computes it) and checked against the sha1 recorded at backup time; a mismatch is a failed item, never a
silent bad copy. A manifest (`.boxvault-manifest.json`: path, size, sha1, Box id, snapshot) goes with the
files.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import opendal
from opendal.layers import TimeoutLayer

from boxvault.box.restore import VERSIONS_DIR, node_kind, xattr_text
from boxvault.core import egress
from boxvault.engine.reader import FileReader
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.storage.base import StorageError
from boxvault.engine.storage.location import parse_location
from boxvault.engine.tree import Node
from boxvault.recovery import s3export
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


def target_operator(target: Mapping[str, Any], timeout: float = 60.0) -> opendal.Operator:
    """An OpenDAL operator for an Azure or GCS export target as the dialog/API gives it (docs/recovery.md).

    Exactly the tenant's credentials, every default credential chain off (environment, config files,
    instance metadata, GOOGLE_APPLICATION_CREDENTIALS): missing ones are refused before any connection.
    The endpoint is the cloud's own; another (an emulator) only inside a network the operator allows
    (`BOXVAULT_EGRESS_ALLOW`), because OpenDAL resolves names itself and follows redirects."""
    kind = str(target.get("kind") or "")
    location = _checked_location(target)
    if kind == "s3":
        raise StorageError("S3 targets are written through s3_target(), never OpenDAL")
    parsed = parse_location(location)
    root = "/" + parsed.path + ("/" if parsed.path else "")
    options: dict[str, str]
    if kind == "azure":
        account = str(target.get("account_name") or "")
        if not _AZURE_ACCOUNT.fullmatch(account):
            raise StorageError(
                "an Azure export needs the storage account's name (3-24 lower-case letters/digits)"
            )
        key, sas = str(target.get("account_key") or ""), str(target.get("sas_token") or "")
        if not key and not sas:
            raise StorageError("an Azure export needs the account key or a SAS token")
        endpoint = _operator_endpoint(target) or f"https://{account}.blob.core.windows.net"
        options = {"container": parsed.bucket, "root": root, "account_name": account, "endpoint": endpoint}
        if key:
            options["account_key"] = key
        else:
            options["sas_token"] = sas.lstrip("?")
        scheme = "azblob"
    else:
        token = str(target.get("access_token") or "")
        if not token:
            raise StorageError(
                "a GCS export needs an OAuth access token (the server's own credentials are never used)"
            )
        options = {
            "bucket": parsed.bucket,
            "root": root,
            "token": token,
            "disable_config_load": "true",
            "disable_vm_metadata": "true",
        }
        endpoint = _operator_endpoint(target)
        if endpoint:
            options["endpoint"] = endpoint
        scheme = "gcs"
    try:
        operator = opendal.Operator(scheme, **options)
    except Exception as exc:  # OpenDAL's configuration errors become one clear message
        raise StorageError(f"cannot use {location}: the target's settings are not valid") from exc
    # every request ends: a storage that accepts and never answers fails the file (or the probe), not the job
    return operator.layer(TimeoutLayer(timeout=timeout, io_timeout=max(timeout, 300.0)))


_AZURE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


def _checked_location(target: Mapping[str, Any]) -> str:
    kind = str(target.get("kind") or "")
    location = str(target.get("location") or "").strip()
    expected = {"s3": "s3:", "azure": "azure:", "gcs": "gs:"}.get(kind)
    if expected is None:
        raise StorageError(f"unknown export target kind {kind!r} (s3, azure or gcs)")
    if not location.startswith(expected):
        raise StorageError(f"a {kind} location starts with '{expected}' (e.g. {_EXAMPLES[kind]})")
    return location


def _operator_endpoint(target: Mapping[str, Any]) -> str:
    """A tenant's Azure/GCS endpoint (an emulator's), pinned to its checked address, if the operator allows
    its network; "" when none is given."""
    raw = str(target.get("endpoint") or "").strip()
    if not raw:
        return ""
    if "://" not in raw:
        raw = "http://" + raw
    try:
        pinned = egress.check_url(raw, allow=None)
        egress.require_allowed_network(pinned)
    except egress.EgressRefused as exc:
        raise StorageError(str(exc)) from None
    path = urlsplit(raw).path.rstrip("/")
    # http: the checked address itself goes into the URL (OpenDAL would resolve the name again); https keeps
    # the name for its certificate, inside a network the operator vouches for
    return (pinned.pinned_url if pinned.scheme == "http" else pinned.url) + path


def s3_target(
    target: Mapping[str, Any], timeouts: tuple[float, float] = egress.TIMEOUTS
) -> s3export.S3Target:
    location = parse_location(_checked_location(target))
    return s3export.from_target(location, dict(target), timeouts=timeouts)


# the probe runs while a person waits for the dialog: seconds, not minutes
PROBE_TIMEOUTS = (5.0, 15.0)


_EXAMPLES = {
    "s3": "s3:https://s3.amazonaws.com/bucket/prefix",
    "azure": "azure:container:/prefix",
    "gcs": "gs:bucket:/prefix",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _safe(exc: BaseException) -> str:
    """What a tenant may read of a storage failure: our own messages, never the remote side's words."""
    if isinstance(exc, StorageError):
        return _first_line(exc)
    return "the storage refused the request"


def probe(target: Mapping[str, Any]) -> None:
    """Write and delete a small object, so wrong credentials fail here and not after an hour of work."""
    name = f".boxvault-probe-{secrets.token_hex(8)}"
    if str(target.get("kind") or "") == "s3":
        s3 = s3_target(target, timeouts=PROBE_TIMEOUTS)
        try:
            s3.put(name, b"boxvault export probe")
            s3.delete(name)
        except StorageError as exc:
            raise StorageError(f"the storage refused a test write: {_first_line(exc)}") from None
        finally:
            s3.close()
        return
    op = target_operator(target, timeout=PROBE_TIMEOUTS[1])
    try:
        op.write(name, b"boxvault export probe", content_type=_CONTENT_TYPE)
        op.delete(name)
    except Exception:  # noqa: BLE001 - every OpenDAL error means: this target cannot take the export
        raise StorageError(
            "the storage refused a test write (check the location and the credentials)"
        ) from None


class ObjectStoreSink:
    def __init__(self, target: Mapping[str, Any]) -> None:
        self.s3 = s3_target(target) if str(target.get("kind") or "") == "s3" else None
        self.op = None if self.s3 is not None else target_operator(target)

    def add_dir(self, rel: str, node: Node) -> None:
        return  # object stores have no folders; the files' keys carry the paths

    def add_file(self, rel: str, node: Node, chunks: Iterator[bytes]) -> tuple[int, str]:
        digest, counter = hashlib.sha1(usedforsecurity=False), [0]
        if self.s3 is not None:
            self.s3.upload(rel, _hashing(chunks, digest, counter), node.size)
            return counter[0], digest.hexdigest()
        assert self.op is not None
        try:
            with self.op.open(rel, "wb", content_type=_CONTENT_TYPE) as out:
                for chunk in _hashing(chunks, digest, counter):
                    out.write(chunk)
        except (OSError, StorageError, ValueError):
            raise
        except Exception:  # noqa: BLE001 - OpenDAL's text may quote the remote side's answer
            raise StorageError("the storage refused the request") from None
        return counter[0], digest.hexdigest()

    def add_bytes(self, rel: str, data: bytes) -> None:
        if self.s3 is not None:
            self.s3.put(rel, data, "application/json")
            return
        assert self.op is not None
        try:
            self.op.write(rel, data, content_type="application/json")
        except Exception:  # noqa: BLE001 - as above
            raise StorageError("the storage refused the request") from None

    def close(self) -> None:
        if self.s3 is not None:
            self.s3.close()


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
            error = f"{type(exc).__name__}: the storage or the repository failed"
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
