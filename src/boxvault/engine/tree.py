"""Nodes and trees exactly as restic serialises them (design.rst "Trees and Data"; internal/restic/node.go).

Field order and ``omitempty`` follow restic's Go struct; names go through strconv.Quote; times are RFC 3339
with nanoseconds and their UTC offset; ``content`` is ``null`` for anything but files and ``[]`` for an
empty file (``restic check`` rejects a file with a nil blob list).
"""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from . import gojson

# Go's os.FileMode bits (io/fs): type bits live above the permission bits
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20
ZERO_TIME = "0001-01-01T00:00:00Z"


def go_mode_from_stat(st_mode: int) -> int:
    """os.FileMode of a stat mode, masked as restic does (perm, type, setuid, setgid, sticky)."""
    mode = st_mode & 0o777
    if st_mode & stat.S_ISUID:
        mode |= MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= MODE_STICKY
    if stat.S_ISDIR(st_mode):
        mode |= MODE_DIR
    elif stat.S_ISLNK(st_mode):
        mode |= MODE_SYMLINK
    elif stat.S_ISCHR(st_mode):
        mode |= MODE_DEVICE | MODE_CHAR_DEVICE
    elif stat.S_ISBLK(st_mode):
        mode |= MODE_DEVICE
    elif stat.S_ISFIFO(st_mode):
        mode |= MODE_NAMED_PIPE
    elif stat.S_ISSOCK(st_mode):
        mode |= MODE_SOCKET
    return mode


def unix_perm(go_mode: int) -> int:
    """chmod bits of an os.FileMode."""
    perm = go_mode & 0o777
    if go_mode & MODE_SETUID:
        perm |= stat.S_ISUID
    if go_mode & MODE_SETGID:
        perm |= stat.S_ISGID
    if go_mode & MODE_STICKY:
        perm |= stat.S_ISVTX
    return perm


@dataclass
class Node:
    name: str
    type: str  # file, dir, symlink, dev, chardev, fifo, socket
    mode: int = 0
    mtime: str = ZERO_TIME
    atime: str = ZERO_TIME
    ctime: str = ZERO_TIME
    uid: int = 0
    gid: int = 0
    user: str = ""
    group: str = ""
    inode: int = 0
    device_id: int = 0
    size: int = 0
    links: int = 0
    linktarget: str = ""
    extended_attributes: list[tuple[str, bytes]] = field(default_factory=list)
    device: int = 0
    content: list[bytes] | None = None
    subtree: bytes | None = None
    error: str = ""
    # fields a newer restic wrote that this struct does not model, kept verbatim for re-serialisation
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mtime_dt(self) -> datetime:
        return gojson.parse_datetime(self.mtime)

    @property
    def mtime_ns(self) -> int:
        return gojson.parse_time(self.mtime)[0]

    @property
    def atime_ns(self) -> int:
        return gojson.parse_time(self.atime)[0]

    def xattr(self, name: str) -> bytes | None:
        for key, value in self.extended_attributes:
            if key == name:
                return value
        return None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": gojson.go_quote_inner(self.name), "type": self.type}
        if self.mode:
            d["mode"] = self.mode
        d["mtime"] = self.mtime
        d["atime"] = self.atime
        d["ctime"] = self.ctime
        d["uid"] = self.uid
        d["gid"] = self.gid
        for key in ("user", "group", "inode", "device_id", "size", "links"):
            value = getattr(self, key)
            if value:
                d[key] = value
        if self.linktarget:
            try:
                self.linktarget.encode("utf-8")
                d["linktarget"] = self.linktarget
            except UnicodeEncodeError:  # restic >= 0.16 stores undecodable targets raw
                raw = self.linktarget.encode("utf-8", "surrogateescape")
                d["linktarget"] = raw.decode("utf-8", "replace")
                d["linktarget_raw"] = base64.b64encode(raw).decode()
        if self.extended_attributes:
            d["extended_attributes"] = [
                {"name": k, "value": base64.b64encode(v).decode()} for k, v in self.extended_attributes
            ]
        if "generic_attributes" in self.extra:
            d["generic_attributes"] = self.extra["generic_attributes"]
        if self.device:
            d["device"] = self.device
        d["content"] = None if self.content is None else [c.hex() for c in self.content]
        if self.subtree is not None:
            d["subtree"] = self.subtree.hex()
        if self.error:
            d["error"] = self.error
        for key, value in self.extra.items():
            if key not in d:
                d[key] = value
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        known = {
            "name", "type", "mode", "mtime", "atime", "ctime", "uid", "gid", "user", "group", "inode",
            "device_id", "size", "links", "linktarget", "linktarget_raw", "extended_attributes", "device",
            "content", "subtree", "error",
        }  # fmt: skip
        target = d.get("linktarget") or ""
        if d.get("linktarget_raw"):
            target = base64.b64decode(d["linktarget_raw"]).decode("utf-8", "surrogateescape")
        content = d.get("content")
        subtree = d.get("subtree")
        return cls(
            name=gojson.go_unquote_inner(d["name"]),
            type=d["type"],
            mode=int(d.get("mode") or 0),
            mtime=d.get("mtime") or ZERO_TIME,
            atime=d.get("atime") or ZERO_TIME,
            ctime=d.get("ctime") or ZERO_TIME,
            uid=int(d.get("uid") or 0),
            gid=int(d.get("gid") or 0),
            user=d.get("user") or "",
            group=d.get("group") or "",
            inode=int(d.get("inode") or 0),
            device_id=int(d.get("device_id") or 0),
            size=int(d.get("size") or 0),
            links=int(d.get("links") or 0),
            linktarget=target,
            extended_attributes=[
                (a["name"], base64.b64decode(a.get("value") or ""))
                for a in d.get("extended_attributes") or ()
            ],
            device=int(d.get("device") or 0),
            content=None if content is None else [bytes.fromhex(c) for c in content],
            subtree=None if subtree is None else bytes.fromhex(subtree),
            error=d.get("error") or "",
            extra={k: v for k, v in d.items() if k not in known},
        )


def encode_tree(nodes: Iterable[Node]) -> bytes:
    """``{"nodes":[...]}\\n`` with nodes sorted by name, as restic's TreeJSONBuilder writes it."""
    ordered = sorted(nodes, key=lambda n: n.name.encode("utf-8", "surrogateescape"))
    parts = [gojson.dumps(n.to_json()) for n in ordered]
    return ('{"nodes":[' + ",".join(parts) + "]}\n").encode("utf-8", "surrogatepass")


def decode_tree(data: bytes) -> list[Node]:
    doc = orjson.loads(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        raise ValueError('tree is not a JSON object with a "nodes" list')
    return [Node.from_json(n) for n in doc["nodes"]]
