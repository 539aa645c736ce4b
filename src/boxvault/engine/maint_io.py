"""Raw repository access for the maintenance commands (check, forget, prune, rewrite).

These commands must see the repository as it is stored, not as the in-memory master index presents it: every
index file separately (a damaged one must be named), every copy of a duplicated blob, every pack header. So
they read through the backend and the master key directly, with the format primitives of ``pack``/``tree``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import zstandard

from . import gojson
from .crypto import AuthenticationError, Key
from .index import KINDS, PackRecord, index_document
from .pack import header_entry, header_trailer
from .storage.base import Backend

# design.rst "Repository Format" v2: an unpacked file's plaintext starts with a version byte; 2 means a zstd
# frame follows. A plaintext starting with '{' or '[' is plain JSON (version 1 or an uncompressed v2 file).
_COMPRESSED_V2 = 2


class RepoLike(Protocol):
    """What maintenance needs of an open repository: its storage, its master key and its format version."""

    @property
    def backend(self) -> Backend: ...
    @property
    def key(self) -> Key: ...


class ObjectDamaged(Exception):
    """A stored object failed to decrypt, decompress, hash or parse; the message names the object."""


def object_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def decode_unpacked(key: Key, name: str, raw: bytes) -> bytes:
    try:
        plain = key.decrypt_data(raw)
    except AuthenticationError as e:
        raise ObjectDamaged(f"{name}: {e}") from e
    if plain[:1] in (b"{", b"["):
        return plain
    if plain[:1] == bytes([_COMPRESSED_V2]):
        try:
            return zstandard.ZstdDecompressor().decompress(plain[1:], max_output_size=1 << 30)
        except zstandard.ZstdError as e:
            raise ObjectDamaged(f"{name}: decompression failed: {e}") from e
    raise ObjectDamaged(f"{name}: unknown plaintext format byte {plain[:1]!r}")


def load_json(repo: RepoLike, name: str) -> Any:
    """Read, verify and decode an unpacked file (index, snapshot): its name is the SHA-256 of its bytes."""
    raw = repo.backend.read(name)
    if name.startswith(("index/", "snapshots/")) and hashlib.sha256(raw).hexdigest() != object_id(name):
        raise ObjectDamaged(
            f"{name}: content does not match its name (hash mismatch, file damaged or truncated)"
        )
    plain = decode_unpacked(repo.key, name, raw)
    try:
        return orjson.loads(plain)
    except orjson.JSONDecodeError as e:
        raise ObjectDamaged(f"{name}: invalid JSON: {e}") from e


def save_json(repo: RepoLike, directory: str, doc: Any, *, compress: bool = True) -> str:
    """Encrypt and store an unpacked JSON file under the SHA-256 of its ciphertext; returns its id."""
    plain = gojson.dumps_bytes(doc)
    if compress:
        plain = bytes([_COMPRESSED_V2]) + zstandard.ZstdCompressor(level=3).compress(plain)
    data = bytes(repo.key.encrypt_data(plain))
    file_id = hashlib.sha256(data).hexdigest()
    repo.backend.write(f"{directory}/{file_id}", data)
    return file_id


_ID = re.compile(r"[0-9a-f]{64}")


def list_ids(repo: RepoLike, directory: str) -> Iterator[tuple[str, int]]:
    """(id, size) of every object; names that are not restic ids (stray files) are skipped, as restic does."""
    for name, size in repo.backend.list(directory):
        file_id = object_id(name)
        if _ID.fullmatch(file_id):
            yield file_id, size


def pack_name(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """One blob entry of one index file."""

    kind: str
    blob_id: bytes
    pack_id: str
    offset: int
    length: int
    uncompressed_length: int


def parse_index(doc: Any, name: str) -> tuple[list[IndexRecord], list[str]]:
    """An index document's entries and the index ids it supersedes."""
    try:
        records: list[IndexRecord] = []
        packs = doc["packs"] if isinstance(doc, dict) else doc  # format v0 was a bare list of packs
        for pack in packs or ():
            pack_id = str(pack["id"])
            bytes.fromhex(pack_id)
            for blob in pack.get("blobs") or ():
                kind = blob["type"]
                if kind not in KINDS:
                    raise ValueError(f"unknown blob type {kind!r}")
                records.append(
                    IndexRecord(
                        kind,
                        bytes.fromhex(blob["id"]),
                        pack_id,
                        int(blob["offset"]),
                        int(blob["length"]),
                        int(blob.get("uncompressed_length") or 0),
                    )
                )
        supersedes = [str(s) for s in (doc.get("supersedes") or ())] if isinstance(doc, dict) else []
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ObjectDamaged(f"{name}: not a valid index: {e}") from e
    return records, supersedes


def decode_blob(
    key: Key, kind: str, blob_id: bytes, raw: bytes, uncompressed_length: int, where: str
) -> bytes:
    """Decrypt (and decompress) a blob's stored bytes and verify that its plaintext hashes to its id."""
    try:
        plain = key.decrypt_data(raw)
    except AuthenticationError as e:
        raise ObjectDamaged(f"{kind} blob {blob_id.hex()} in {where}: {e}") from e
    if uncompressed_length:
        try:
            plain = zstandard.ZstdDecompressor().decompress(plain, max_output_size=uncompressed_length)
        except zstandard.ZstdError as e:
            raise ObjectDamaged(f"{kind} blob {blob_id.hex()} in {where}: decompression failed: {e}") from e
        if len(plain) != uncompressed_length:
            raise ObjectDamaged(f"{kind} blob {blob_id.hex()} in {where}: wrong uncompressed length")
    if hashlib.sha256(plain).digest() != blob_id:
        raise ObjectDamaged(f"{kind} blob {blob_id.hex()} in {where}: content does not match its id")
    return plain


def read_blob(repo: RepoLike, rec: IndexRecord) -> bytes:
    name = pack_name(rec.pack_id)
    raw = repo.backend.read(name, rec.offset, rec.length)
    if len(raw) != rec.length:
        raise ObjectDamaged(f"{rec.kind} blob {rec.blob_id.hex()} in {name}: pack is truncated")
    return decode_blob(repo.key, rec.kind, rec.blob_id, raw, rec.uncompressed_length, name)


class PackBuilder:
    """Writes packs of already-encrypted blobs (copied verbatim when repacking) plus their index records.

    A blob's ciphertext carries its own IV and MAC, so a verified blob can move to a new pack unchanged.
    """

    def __init__(self, repo: RepoLike, target_size: int) -> None:
        self._repo = repo
        self._target = target_size
        self._open: dict[str, tuple[list[bytes], list[tuple[int, bytes, int, int, int]], int]] = {}
        self.written: list[PackRecord] = []

    def add_encrypted(self, kind: str, blob_id: bytes, ciphertext: bytes, uncompressed_length: int) -> None:
        parts, entries, size = self._open.get(kind, ([], [], 0))
        entries.append((KINDS.index(kind), blob_id, size, len(ciphertext), uncompressed_length))
        parts.append(ciphertext)
        size += len(ciphertext)
        self._open[kind] = (parts, entries, size)
        if size >= self._target:
            self._flush(kind)

    def add_plain(self, kind: str, plain: bytes, *, compress: bool = True, always: bool = False) -> bytes:
        """Compress (repository v2), encrypt and add a new blob; returns its id.

        ``always`` compresses even when that does not shrink the blob: restic's prune repacks every tree pack
        holding an uncompressed blob, so a repacked tree must come out compressed or it is repacked forever.
        """
        blob_id = hashlib.sha256(plain).digest()
        ulen = 0
        payload = plain
        if compress:
            packed = zstandard.ZstdCompressor(level=3).compress(plain)
            if always or len(packed) < len(plain):
                payload, ulen = packed, len(plain)
        self.add_encrypted(kind, blob_id, bytes(self._repo.key.encrypt_data(payload)), ulen)
        return blob_id

    def _flush(self, kind: str) -> None:
        parts, entries, _ = self._open.pop(kind, ([], [], 0))
        if not entries:
            return
        header = b"".join(header_entry(k, i, length, ulen) for k, i, _, length, ulen in entries)
        data = b"".join(parts) + header_trailer(self._repo.key, header)
        pack_id = hashlib.sha256(data).digest()
        self._repo.backend.write(pack_name(pack_id.hex()), data)
        self.written.append(PackRecord(pack_id, list(entries)))

    def finish(self) -> list[PackRecord]:
        for kind in list(self._open):
            self._flush(kind)
        return self.written


MAX_INDEX_ENTRIES = 50_000


def write_index(repo: RepoLike, packs: Iterable[PackRecord], supersedes: Sequence[str] = ()) -> list[str]:
    """Write index files for ``packs`` (at most ~50,000 blobs each, like restic); returns their ids."""
    ids: list[str] = []
    batch: list[PackRecord] = []
    count = 0
    for pack in packs:
        batch.append(pack)
        count += len(pack.blobs)
        if count >= MAX_INDEX_ENTRIES:
            ids.append(save_json(repo, "index", index_document(batch, supersedes)))
            batch, count = [], 0
    if batch or not ids:
        ids.append(save_json(repo, "index", index_document(batch, supersedes)))
    return ids


@dataclass
class SnapshotDoc:
    """A snapshot file as stored: its id and raw JSON (kept verbatim so rewrite preserves unknown fields)."""

    id: str
    doc: dict[str, Any]

    @property
    def time(self) -> datetime:
        return gojson.parse_datetime(str(self.doc.get("time")))

    @property
    def hostname(self) -> str:
        return str(self.doc.get("hostname") or "")

    @property
    def paths(self) -> list[str]:
        return [str(p) for p in self.doc.get("paths") or ()]

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in self.doc.get("tags") or ()]

    @property
    def tree(self) -> bytes | None:
        tree = self.doc.get("tree")
        return bytes.fromhex(tree) if isinstance(tree, str) else None

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def to_json(self) -> dict[str, Any]:
        """restic's `snapshots --json` shape: the stored fields plus id and short_id."""
        return {**self.doc, "id": self.id, "short_id": self.short_id}


def load_snapshots(repo: RepoLike) -> tuple[list[SnapshotDoc], list[str]]:
    """Every readable snapshot, and an error sentence for every unreadable one."""
    good: list[SnapshotDoc] = []
    errors: list[str] = []
    for sid, _ in sorted(list_ids(repo, "snapshots")):
        try:
            doc = load_json(repo, f"snapshots/{sid}")
            if not isinstance(doc, dict) or "time" not in doc:
                raise ObjectDamaged(f"snapshots/{sid}: not a snapshot document")
            gojson.parse_datetime(str(doc["time"]))
            good.append(SnapshotDoc(sid, doc))
        except (ObjectDamaged, ValueError) as e:
            errors.append(str(e))
        except Exception as e:  # noqa: BLE001 - a storage error names the object too
            errors.append(f"snapshots/{sid}: {e}")
    return good, errors
