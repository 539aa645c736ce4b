"""Crypto and serialisation against restic: restic-written keys and config, round trips of every format."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from boxvault.engine import compression, gojson
from boxvault.engine.config import Config, is_irreducible
from boxvault.engine.crypto import AuthenticationError, Key
from boxvault.engine.index import MasterIndex, PackRecord, index_document
from boxvault.engine.keys import KeyFile
from boxvault.engine.pack import header_entry, header_trailer, read_header
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.tree import MODE_DIR, Node, decode_tree, encode_tree
from support.restic import PASSWORD, reopen, restic, restic_bytes, restic_json


def test_restic_written_key_and_config_decrypt(tmp_path: Path) -> None:
    repo_path = tmp_path / "r"
    restic(repo_path, "init")
    key_file = next((repo_path / "keys").iterdir())
    master = KeyFile.parse(key_file.name, key_file.read_bytes()).open(PASSWORD)
    assert master.to_json() == json.loads(restic_bytes(repo_path, "cat", "masterkey"))
    repo = reopen(repo_path)
    theirs = restic_json(repo_path, "cat", "config")
    assert repo.config.to_json() == theirs
    assert repo.config.version == 2
    assert is_irreducible(repo.config.chunker_polynomial)


def test_restic_reads_our_config_key_and_masterkey(repo: Repository, repo_path: Path) -> None:
    assert restic_json(repo_path, "cat", "config") == repo.config.to_json()
    assert json.loads(restic_bytes(repo_path, "cat", "masterkey")) == repo.key.to_json()


def test_encryption_round_trip_and_tamper_detection() -> None:
    key = Key.random()
    for size in (0, 1, 15, 16, 17, 4096, 1_000_003):
        data = os.urandom(size)
        sealed = bytes(key.encrypt_data(data))
        assert len(sealed) == size + 32
        assert key.decrypt_data(sealed) == data
        broken = bytearray(sealed)
        broken[len(broken) // 2] ^= 1
        try:
            key.decrypt_data(bytes(broken))
        except AuthenticationError:
            pass
        else:
            raise AssertionError(f"tampering with a {size}-byte message went unnoticed")
    try:
        Key.random().decrypt_data(key.encrypt_data(b"secret"))
    except AuthenticationError:
        pass
    else:
        raise AssertionError("another key decrypted the data")


def test_chunker_polynomials_are_irreducible_degree_53() -> None:
    assert is_irreducible(0x3DA3358B4DC173)  # restic's documented example polynomial
    assert not is_irreducible(0x3DA3358B4DC173 ^ 0b10)
    config = Config.new()
    assert config.chunker_polynomial.bit_length() == 54 and is_irreducible(config.chunker_polynomial)


@given(st.text(min_size=1, max_size=40))
def test_go_quote_round_trip(name: str) -> None:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return  # lone surrogates other than surrogateescape bytes cannot occur in file names
    assert gojson.go_unquote_inner(gojson.go_quote_inner(name)) == name


def test_go_quote_matches_strconv_quote() -> None:
    assert gojson.go_quote_inner('a"b\\c') == 'a\\"b\\\\c'
    assert gojson.go_quote_inner("tab\there\n") == "tab\\there\\n"
    assert gojson.go_quote_inner("日本🎉") == "日本🎉"
    assert gojson.go_quote_inner("\x7f\u200b") == "\\x7f\\u200b"
    raw = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert gojson.go_quote_inner(raw) == "caf\\xe9"
    assert gojson.dumps({"a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e"}'


@given(st.integers(min_value=-62135510400 * 10**9, max_value=253402214399 * 10**9),
       st.integers(min_value=-14 * 60, max_value=14 * 60))  # fmt: skip
def test_time_format_round_trip(ns: int, offset_minutes: int) -> None:
    text = gojson.format_time_ns(ns, offset_minutes * 60)
    assert gojson.parse_time(text) == (ns, offset_minutes * 60)


def test_time_format_like_go() -> None:
    assert gojson.format_time_ns(0) == "1970-01-01T00:00:00Z"
    assert gojson.format_time_ns(1_500_000_000, 3600) == "1970-01-01T01:00:01.5+01:00"
    tz = timezone(timedelta(hours=-5))
    assert (
        gojson.format_datetime(datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=tz))
        == "2024-01-02T03:04:05.0006-05:00"
    )
    assert gojson.parse_datetime("2014-12-22T14:47:59.912418701+01:00") == datetime(
        2014, 12, 22, 13, 47, 59, 912418, tzinfo=UTC
    )


names = st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s and s not in (".", ".."))
nodes = st.builds(
    Node,
    name=names,
    type=st.sampled_from(["file", "dir", "symlink"]),
    mode=st.integers(0, 2**32 - 1),
    uid=st.integers(0, 2**32 - 1),
    gid=st.integers(0, 2**32 - 1),
    user=st.text(max_size=8),
    size=st.integers(0, 2**63),
    inode=st.integers(0, 2**63),
    extended_attributes=st.lists(
        st.tuples(st.text(min_size=1, max_size=10), st.binary(max_size=20)), max_size=3
    ),
    content=st.none() | st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    subtree=st.none() | st.binary(min_size=32, max_size=32),
)


@settings(max_examples=60)
@given(st.lists(nodes, max_size=6, unique_by=lambda n: n.name))
def test_tree_round_trip(tree: list[Node]) -> None:
    if any(any(0xD800 <= ord(c) <= 0xDFFF for c in n.name) for n in tree):
        return
    data = encode_tree(tree)
    assert data.startswith(b'{"nodes":[') and data.endswith(b"]}\n")
    decoded = decode_tree(data)
    assert decoded == sorted(tree, key=lambda n: n.name.encode())
    assert encode_tree(decoded) == data  # deterministic: identical trees deduplicate


def test_node_json_field_order_and_omitempty() -> None:
    node = Node(name="d", type="dir", mode=MODE_DIR | 0o755, subtree=b"\x01" * 32)
    doc = node.to_json()
    assert list(doc) == [
        "name",
        "type",
        "mode",
        "mtime",
        "atime",
        "ctime",
        "uid",
        "gid",
        "content",
        "subtree",
    ]
    assert doc["content"] is None
    empty_file = Node(name="e", type="file", content=[]).to_json()
    assert empty_file["content"] == [] and "size" not in empty_file
    xattr = Node(name="x", type="file", content=[], extended_attributes=[("box.id", b"123")]).to_json()
    assert xattr["extended_attributes"] == [{"name": "box.id", "value": "MTIz"}]


@given(st.lists(st.tuples(st.integers(0, 1), st.binary(min_size=32, max_size=32), st.integers(32, 2**24),
                          st.integers(0, 2**24)), min_size=1, max_size=20))  # fmt: skip
def test_pack_header_round_trip(entries: list[tuple[int, bytes, int, int]]) -> None:
    key = Key.random()
    header = b"".join(header_entry(k, i, length, ulen) for k, i, length, ulen in entries)
    trailer = header_trailer(key, header)
    body_size = sum(e[2] for e in entries)
    blobs, used = read_header(key, trailer, body_size + len(trailer))
    assert used == len(trailer)
    offset = 0
    for blob, (kind, blob_id, length, ulen) in zip(blobs, entries, strict=True):
        assert (blob.kind, blob.blob_id, blob.offset, blob.length, blob.uncompressed_length) == (
            kind, blob_id, offset, length, ulen)  # fmt: skip
        offset += length


def test_index_document_and_master_index() -> None:
    ids = [hashlib.sha256(bytes([i])).digest() for i in range(10)]
    pack = hashlib.sha256(b"pack").digest()
    doc = index_document(
        [PackRecord(pack, [(i % 2, b, i * 100, 100, 300 if i % 3 else 0) for i, b in enumerate(ids)])]
    )
    assert doc["packs"][0]["blobs"][0] == {"id": ids[0].hex(), "type": "data", "offset": 0, "length": 100}
    assert doc["packs"][0]["blobs"][1]["uncompressed_length"] == 300
    index = MasterIndex()
    index.add_index_document(json.loads(json.dumps(doc)))
    for i, blob_id in enumerate(ids):
        loc = index.lookup(i % 2, blob_id)
        assert loc is not None and loc.pack_id == pack and loc.offset == i * 100
        assert index.lookup(1 - i % 2, blob_id) is None
    assert index.lookup(0, hashlib.sha256(b"missing").digest()) is None


def test_index_holds_a_million_blobs_compactly() -> None:
    n = 1_000_000
    ids = os.urandom(32 * n)
    pack = os.urandom(32)
    blobs = [
        {"id": ids[i * 32 : i * 32 + 32].hex(), "type": "data", "offset": i, "length": 64} for i in range(n)
    ]
    index = MasterIndex()
    index.add_index_document({"packs": [{"id": pack.hex(), "blobs": blobs}]})
    del blobs
    per_blob = index.nbytes() / n
    assert per_blob <= 48  # 10 million blobs: under 500 MB
    for i in range(0, n, 9973):
        loc = index.lookup(0, ids[i * 32 : i * 32 + 32])
        assert loc is not None and loc.offset == i
    for _ in range(100):
        index.add(0, os.urandom(32), pack, 1, 64, 0)
    assert len(index) == n + 100


def test_index_loaded_from_many_files_in_one_merge() -> None:
    index = MasterIndex()
    expected = {}
    for f in range(300):  # 90,000 blobs in 300 files: beyond the dict, so the columns are used
        pack = hashlib.sha256(b"pack%d" % f).digest()
        blobs = []
        for i in range(300):
            blob_id = hashlib.sha256(b"%d/%d" % (f, i)).digest()
            expected[blob_id] = (pack, i * 10)
            blobs.append(
                {
                    "id": blob_id.hex(),
                    "type": "tree" if i % 7 == 0 else "data",
                    "offset": i * 10,
                    "length": 40,
                }
            )
        index.add_index_document({"packs": [{"id": pack.hex(), "blobs": blobs}]}, f"file{f}", defer=True)
    assert len(index) == 0
    index.finish_loading()
    assert len(index) == 90_000 and index.nbytes() > 0
    for n, (blob_id, (pack, offset)) in enumerate(expected.items()):
        if n % 97:
            continue
        kind = 1 if (n % 300) % 7 == 0 else 0
        loc = index.lookup(kind, blob_id)
        assert loc is not None and (loc.pack_id, loc.offset) == (pack, offset)
        assert index.lookup(1 - kind, blob_id) is None


def test_unpacked_files_are_compressed_in_v2(repo: Repository, repo_path: Path) -> None:
    doc = {"hello": "world" * 100}
    file_id = repo.save_json("index", {"packs": [], **doc})
    raw = (repo_path / "index" / file_id).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == file_id
    plain = repo.key.decrypt_data(raw)
    assert plain[0] == 2
    assert json.loads(compression.decompress(plain[1:])) == {"packs": [], **doc}
    assert restic_json(repo_path, "cat", "index", file_id)["hello"] == doc["hello"]


def test_snapshot_json_fields() -> None:
    snap = Snapshot(time="2024-01-01T00:00:00Z", tree=b"\x02" * 32, paths=["/x"], hostname="h", tags=["a"])
    assert list(snap.to_json()) == ["time", "tree", "paths", "hostname", "tags"]
    again = Snapshot.from_json(snap.to_json(), "ab" * 32)
    assert again.to_json() == snap.to_json() and again.short_id == "abababab"
