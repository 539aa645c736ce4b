"""Key files: scrypt parameters plus the encrypted master key (design.rst "Keys, Encryption and MAC")."""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import gojson
from .crypto import AuthenticationError, Key, kdf

# restic calibrates scrypt to ~0.5 s and 60 MiB; fixed parameters in that range keep opening predictable
DEFAULT_N, DEFAULT_R, DEFAULT_P = 32768, 8, 1


@dataclass(frozen=True)
class KeyFile:
    id: str
    created: str
    username: str
    hostname: str
    kdf: str
    n: int
    r: int
    p: int
    salt: bytes
    data: bytes

    @classmethod
    def parse(cls, key_id: str, raw: bytes) -> KeyFile:
        doc: Any = json.loads(raw)
        return cls(
            id=key_id,
            created=str(doc.get("created", "")),
            username=str(doc.get("username", "")),
            hostname=str(doc.get("hostname", "")),
            kdf=str(doc["kdf"]),
            n=int(doc["N"]),
            r=int(doc["r"]),
            p=int(doc["p"]),
            salt=base64.b64decode(doc["salt"]),
            data=base64.b64decode(doc["data"]),
        )

    def open(self, password: str) -> Key:
        """The master key; AuthenticationError for a wrong password."""
        if self.kdf != "scrypt":
            raise ValueError(f"unsupported KDF {self.kdf!r} in key {self.id}")
        user_key = kdf(password, self.salt, self.n, self.r, self.p)
        plain = user_key.decrypt_data(self.data)
        return Key.from_json(json.loads(plain))


def new_key_file(
    master: Key,
    password: str,
    n: int = DEFAULT_N,
    r: int = DEFAULT_R,
    p: int = DEFAULT_P,
    *,
    username: str | None = None,
    hostname: str | None = None,
) -> tuple[str, bytes]:
    """(id, file content) of a new key file wrapping ``master`` under ``password``."""
    salt = os.urandom(64)
    user_key = kdf(password, salt, n, r, p)
    data = user_key.encrypt_data(json.dumps(master.to_json()).encode())
    doc = {
        "created": gojson.format_datetime(datetime.now().astimezone()),
        "username": username if username is not None else _username(),
        "hostname": hostname if hostname is not None else socket.gethostname(),
        "kdf": "scrypt",
        "N": n,
        "r": r,
        "p": p,
        "salt": base64.b64encode(salt).decode(),
        "data": base64.b64encode(bytes(data)).decode(),
    }
    raw = json.dumps(doc).encode()
    return hashlib.sha256(raw).hexdigest(), raw


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


__all__ = ["AuthenticationError", "KeyFile", "new_key_file"]
