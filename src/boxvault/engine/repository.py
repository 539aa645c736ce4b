"""Opening, creating and reading a restic repository (format versions 1 and 2; writes version 2)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson
import zstandard

from . import compression, gojson
from .config import Config
from .crypto import AuthenticationError, Buffer, Key
from .errors import (
    AmbiguousId,
    BlobNotFound,
    CorruptObject,
    EngineError,
    MissingObject,
    NotARepository,
    RepositoryExists,
    SnapshotNotFound,
    WrongPassword,
)
from .index import KINDS, BlobLocation, MasterIndex, kind_code
from .keys import KeyFile, new_key_file
from .lock import Lock
from .snapshot import Snapshot
from .storage import Backend, NotFound, ShortRead, StorageError, data_name
from .tree import Node, decode_tree

if TYPE_CHECKING:
    from .reader import FileReader, RestoreStats
    from .writer import Writer

_log = logging.getLogger("boxvault.engine")
MAX_KEYS_TRIED = 20  # restic stops searching after 20 key files too


class Repository:
    def __init__(self, backend: Backend, key: Key, config: Config, key_id: str = "") -> None:
        self.backend = backend
        self.key = key
        self.config = config
        self.key_id = key_id
        self.compression = "auto"
        self.index = MasterIndex()
        self._index_loaded = False
        self._index_lock = threading.Lock()
        self.skipped_index_files: list[tuple[str, str]] = []  # (index file id, why it could not be used)

    # --- creation and opening ---------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        backend: Backend,
        password: str,
        *,
        compression: str = "auto",
        chunker_polynomial: int | None = None,
        version: int = 2,
    ) -> Repository:
        """Create a new repository: a key file first, then ``config`` (as ``restic init`` does)."""
        compression_mode = _check_compression(compression)
        try:
            if backend.exists("config"):
                raise RepositoryExists(backend.location)
            master = Key.random()
            config = Config.new(version, chunker_polynomial)
            key_id, raw = new_key_file(master, password)
            backend.write(f"keys/{key_id}", raw)
            repo = cls(backend, master, config, key_id)
            # design.rst: config is encrypted but never compressed, so every version can read its version
            repo._save_encrypted("config", gojson.dumps_bytes(config.to_json()))
        except StorageError as e:
            raise EngineError(f"cannot create repository at {backend.location}: {e}") from e
        repo.compression = compression_mode
        repo._index_loaded = True
        return repo

    @classmethod
    def open(cls, backend: Backend, password: str) -> Repository:
        try:
            if not backend.exists("config"):
                raise NotARepository(backend.location)
            key_ids = [name.rsplit("/", 1)[-1] for name, _ in backend.list("keys")]
        except StorageError as e:
            raise EngineError(f"cannot open repository at {backend.location}: {e}") from e
        master: Key | None = None
        used = ""
        for key_id in key_ids[:MAX_KEYS_TRIED]:
            try:
                master = KeyFile.parse(key_id, backend.read(f"keys/{key_id}")).open(password)
                used = key_id
                break
            except AuthenticationError:
                continue
            except (ValueError, KeyError, TypeError, StorageError):
                continue  # a damaged key file; another key may open the repository
        if master is None:
            if not key_ids:
                raise NotARepository(backend.location, "no key files")
            raise WrongPassword(backend.location)
        try:
            raw = backend.read("config")
        except StorageError as e:
            raise EngineError(f"cannot read config of {backend.location}: {e}") from e
        try:
            plain = master.decrypt_data(raw)
        except AuthenticationError as e:
            raise CorruptObject("config", str(e)) from e
        try:
            config = Config.from_json(orjson.loads(_decode_unpacked(plain)))
        except (orjson.JSONDecodeError, ValueError, zstandard.ZstdError) as e:
            raise CorruptObject("config", str(e)) from e
        return cls(backend, master, config, used)

    @property
    def id(self) -> str:
        return self.config.id

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- unpacked files (config, index, snapshots, locks) -----------------------------------------------

    def _save_encrypted(self, name: str, plain: bytes) -> None:
        self.backend.write(name, bytes(self.key.encrypt_data(plain)))

    def save_unpacked(self, directory: str, plain: bytes) -> str:
        """Encrypt (and compress in version 2) a JSON document; returns its storage id."""
        if self.config.version >= 2:
            level = compression.LEVELS["auto"]
            plain = bytes([compression.UNPACKED_V2]) + compression.compress(plain, level)
        data = bytes(self.key.encrypt_data(plain))
        file_id = hashlib.sha256(data).hexdigest()
        self.backend.write(f"{directory}/{file_id}", data)
        return file_id

    def save_json(self, directory: str, doc: Any) -> str:
        return self.save_unpacked(directory, gojson.dumps_bytes(doc))

    def load_unpacked(self, directory: str, file_id: str) -> bytes:
        """The plaintext JSON of ``directory/file_id``, verified against its name."""
        name = f"{directory}/{file_id}"
        try:
            raw = self.backend.read(name)
        except NotFound:
            raise MissingObject(name) from None
        except StorageError as e:
            raise EngineError(f"cannot read {name}: {e}") from e
        if hashlib.sha256(raw).hexdigest() != file_id:
            raise CorruptObject(name, "content does not match its name (SHA-256 mismatch)")
        try:
            return _decode_unpacked(self.key.decrypt_data(raw))
        except AuthenticationError as e:
            raise CorruptObject(name, str(e)) from e
        except zstandard.ZstdError as e:
            raise CorruptObject(name, f"cannot decompress: {e}") from e

    def load_json(self, directory: str, file_id: str) -> Any:
        data = self.load_unpacked(directory, file_id)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise CorruptObject(f"{directory}/{file_id}", f"invalid JSON: {e}") from e

    def list_ids(self, directory: str) -> list[str]:
        try:
            return [name.rsplit("/", 1)[-1] for name, _ in self.backend.list(directory)]
        except StorageError as e:
            raise EngineError(f"cannot list {directory}/ of {self.backend.location}: {e}") from e

    def find_id(self, directory: str, prefix: str) -> str:
        """restic accepts any unique prefix of a file name."""
        prefix = prefix.lower()
        if directory == "data":
            matches = [i for i in self.list_ids("data") if i.startswith(prefix)]
        else:
            matches = [i for i in self.list_ids(directory) if i.startswith(prefix)]
        if not matches:
            raise MissingObject(f"{directory}/{prefix}")
        if len(matches) > 1:
            raise AmbiguousId(directory, prefix)
        return matches[0]

    def iter_locks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for lock_id in self.list_ids("locks"):
            try:
                doc = self.load_json("locks", lock_id)
            except (MissingObject, CorruptObject):
                continue  # removed while listing, or being written
            if isinstance(doc, dict):
                yield lock_id, doc

    def lock(self, exclusive: bool = False) -> Lock:
        """A context manager holding a restic lock; shared for backups, exclusive for prune."""
        return Lock(self, exclusive)

    # --- index --------------------------------------------------------------------------------------------

    def load_index(self, *, force: bool = False) -> MasterIndex:
        with self._index_lock:
            if self._index_loaded and not force:
                return self.index
            ids = [i for i in self.list_ids("index") if i not in self.index.loaded_files]
            return self._load_index_files(ids)

    def refresh_index(self) -> int:
        """Bring a held index up to date: read only the index files it has not read yet (one listing).

        An index file it read that is gone means a prune rewrote the index (blobs may have moved to
        other packs): then the whole index is read again. Returns the number of index files read."""
        with self._index_lock:
            if not self._index_loaded:
                return 0  # nothing held: the first lookup loads it
            listed = self.list_ids("index")
            present = set(listed)
            if self.index.loaded_files - present:
                self.index = MasterIndex()
            ids = [i for i in listed if i not in self.index.loaded_files]
            self._load_index_files(ids)
            return len(ids)

    def _load_index_files(self, ids: list[str]) -> MasterIndex:
        def load(file_id: str) -> tuple[str, Any]:
            try:
                return file_id, self.load_json("index", file_id)
            except (CorruptObject, MissingObject) as e:
                return file_id, e

        with ThreadPoolExecutor(4) as pool:
            for file_id, doc in pool.map(load, ids):
                if isinstance(doc, EngineError):
                    self._skip_index(file_id, doc)
                    continue
                try:
                    self.index.add_index_document(doc, file_id, defer=True)
                except (KeyError, TypeError, ValueError) as e:
                    self._skip_index(
                        file_id, CorruptObject(f"index/{file_id}", f"invalid index document: {e}")
                    )
        self.index.finish_loading()
        self.index.compact()
        self._index_loaded = True
        return self.index

    def _skip_index(self, file_id: str, error: EngineError) -> None:
        """A damaged index file does not stop reading: the blobs other index files list are still found
        (``check`` reports the damage, ``repair index`` rebuilds it). A file removed while listing (by a
        concurrent prune) is skipped silently, as restic does."""
        if isinstance(error, MissingObject):
            return
        self.skipped_index_files.append((file_id, str(error)))
        _log.warning("warning: %s; index file skipped (boxvault repo repair index rebuilds it)", error)

    def lookup(self, blob_id: bytes, kind: str = "data") -> BlobLocation | None:
        return self.load_index().lookup(kind_code(kind), blob_id)

    def has_blob(self, blob_id: bytes, kind: str = "data") -> bool:
        return self.lookup(blob_id, kind) is not None

    # --- blobs --------------------------------------------------------------------------------------------

    def load_blob(self, blob_id: bytes, kind: str = "data", *, verify: bool = True) -> bytes:
        loc = self.lookup(blob_id, kind)
        if loc is None:
            raise BlobNotFound(kind, blob_id.hex())
        return self.read_blob_at(blob_id, kind, loc, verify=verify)

    def read_blob_at(
        self, blob_id: bytes, kind: str, loc: BlobLocation, *, verify: bool = True, raw: Buffer | None = None
    ) -> bytes:
        name = data_name(loc.pack_id.hex())
        what = f"{kind} blob {blob_id.hex()} in {name}"
        if raw is None:
            try:
                raw = self.backend.read(name, loc.offset, loc.length)
            except NotFound:
                raise MissingObject(name, f"{kind} blob {blob_id.hex()}") from None
            except ShortRead as e:
                raise CorruptObject(name, f"truncated ({e})") from e
            except StorageError as e:
                raise EngineError(f"cannot read {what}: {e}") from e
        try:
            plain = self.key.decrypt_data(raw)
            if loc.uncompressed_length:
                plain = compression.decompress(plain, loc.uncompressed_length)
        except AuthenticationError as e:
            raise CorruptObject(what, str(e)) from e
        except zstandard.ZstdError as e:
            raise CorruptObject(what, f"cannot decompress: {e}") from e
        if verify and hashlib.sha256(plain).digest() != blob_id:
            raise CorruptObject(what, "plaintext does not match its id (SHA-256 mismatch)")
        return plain

    # --- snapshots and trees ------------------------------------------------------------------------------

    def load_snapshot(self, snapshot_id: str) -> Snapshot:
        doc = self.load_json("snapshots", snapshot_id)
        try:
            return Snapshot.from_json(doc, snapshot_id)
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObject(f"snapshots/{snapshot_id}", f"invalid snapshot document: {e}") from e

    def list_snapshots(
        self, host: str | None = None, tags: list[str] | None = None, paths: list[str] | None = None
    ) -> list[Snapshot]:
        """Snapshots matching every given filter (all tags, all paths), oldest first."""
        found = []
        ids = self.list_ids("snapshots")
        with ThreadPoolExecutor(4) as pool:
            for snap in pool.map(self.load_snapshot, ids):
                if snap.matches(host, tags, paths):
                    found.append(snap)
        found.sort(key=lambda s: (s.time_ns, s.id))
        return found

    def find_snapshot(
        self, ref: str, host: str | None = None, tags: list[str] | None = None, paths: list[str] | None = None
    ) -> Snapshot:
        """``latest`` (among the filtered snapshots) or a unique id prefix."""
        if ref == "latest":
            snaps = self.list_snapshots(host, tags, paths)
            if not snaps:
                raise SnapshotNotFound(ref)
            return snaps[-1]
        try:
            return self.load_snapshot(self.find_id("snapshots", ref))
        except MissingObject:
            raise SnapshotNotFound(ref) from None

    def node_at(self, tree_id: bytes, path: str) -> Node | None:
        """The node at the slash-separated `path` below the tree `tree_id`; None when there is none (and for
        the tree itself, which is no node)."""
        tree: bytes | None = tree_id
        node: Node | None = None
        for part in (p for p in path.split("/") if p):
            if tree is None:
                return None
            node = next((n for n in self.load_tree(tree) if n.name == part), None)
            if node is None:
                return None
            tree = node.subtree
        return node

    def load_tree(self, tree_id: bytes) -> list[Node]:
        data = self.load_blob(tree_id, "tree")
        try:
            return decode_tree(data)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise CorruptObject(f"tree {tree_id.hex()}", f"invalid tree document: {e}") from e

    def save_snapshot(self, snap: Snapshot) -> str:
        snap.id = self.save_json("snapshots", snap.to_json())
        return snap.id

    # --- reading and writing (reader.py / writer.py) -------------------------------------------------------

    def walk(self, snapshot: Snapshot, include: list[str] | None = None) -> Iterator[tuple[str, Node]]:
        from .reader import walk

        return walk(self, snapshot, include)

    def open_file(self, node: Node) -> FileReader:
        from .reader import FileReader

        return FileReader(self, node)

    def iter_files(
        self, snapshot: Snapshot, include: list[str] | None = None
    ) -> Iterator[tuple[str, Node, FileReader]]:
        from .reader import iter_files

        return iter_files(self, snapshot, include)

    def restore(self, snapshot: Snapshot, target: str, include: list[str] | None = None) -> RestoreStats:
        from .reader import restore

        return restore(self, snapshot, target, include)

    def writer(self, *, pack_size: int = 16 * 2**20, lock: bool = True, workers: int | None = None) -> Writer:
        from .writer import Writer

        return Writer(self, pack_size=pack_size, lock=lock, workers=workers)


def _check_compression(mode: str) -> str:
    try:
        return compression.check_mode(mode)
    except ValueError as e:
        raise EngineError(str(e)) from e


def _decode_unpacked(plain: bytes) -> bytes:
    """design.rst "Unpacked Data Format": '{' or '[' is plain JSON; version byte 2 is zstd-compressed JSON."""
    if not plain:
        raise zstandard.ZstdError("empty document")
    first = plain[0]
    if first in (0x7B, 0x5B):
        return plain
    if first == compression.UNPACKED_V2:
        return compression.decompress(plain[1:])
    raise zstandard.ZstdError(f"unknown encoding version {first}")


__all__ = ["KINDS", "Repository"]
