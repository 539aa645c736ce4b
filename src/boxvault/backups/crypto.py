"""Envelope encryption for the secrets a task keeps in the database (Box credentials and tokens, the
repository password).

Each task has its own random data key (DEK); every secret is sealed with AES-256-GCM under the DEK and the
DEK is sealed under the server's key-encryption key (KEK). The KEK comes from `BOXVAULT_KEK` (or
`BOXVAULT_KEK_FILE`) and is never stored in the database: a database dump alone reveals no secret. Without a
configured KEK (a laptop, the demo) one is generated on first use into `<data>/kek`.

Every sealed value is bound to its task and field through the AEAD's associated data, so a ciphertext copied
into another row or column does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

_PREFIX = "v1:"
_NONCE = 12


class SecretError(Exception):
    """The secret cannot be opened: wrong or missing key-encryption key, or damaged data."""


def parse_kek(raw: str) -> bytes:
    """32 random bytes in base64 (what `generate_kek` writes), or any passphrase stretched with HKDF."""
    text = raw.strip()
    try:
        decoded = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == 32:
        return decoded
    if not text:
        raise SecretError("the key-encryption key is empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"boxvault-kek", info=b"kek").derive(text.encode())


def generate_kek() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def kek_file(data_dir: Path) -> Path:
    return data_dir / "kek"


def load_kek(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        return parse_kek(configured)
    path = kek_file(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race: read theirs
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(generate_kek() + "\n")
            log.warning(
                "no BOXVAULT_KEK configured: generated %s (keep a copy of it with your backups)", path
            )
    return parse_kek(path.read_text(encoding="utf-8"))


def fingerprint(kek: bytes) -> str:
    """Names a KEK without revealing it, so "wrong key" can be told apart from "damaged data"."""
    return hashlib.sha256(b"boxvault-kek-fingerprint" + kek).hexdigest()[:16]


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    return _PREFIX + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode()


def _open(key: bytes, sealed: str, aad: bytes) -> bytes:
    if not sealed.startswith(_PREFIX):
        raise SecretError("unknown secret format")
    try:
        raw = base64.b64decode(sealed[len(_PREFIX) :])
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise SecretError("the secret does not decrypt (damaged or moved)") from exc


def new_data_key(kek: bytes, owner: str) -> tuple[str, str]:
    """(sealed DEK, KEK fingerprint) for a new owner (a task's uuid)."""
    return _seal(kek, AESGCM.generate_key(bit_length=256), b"dek:" + owner.encode()), fingerprint(kek)


def open_data_key(kek: bytes, sealed_dek: str, owner: str, expected_fingerprint: str) -> bytes:
    if expected_fingerprint and expected_fingerprint != fingerprint(kek):
        raise SecretError(
            f"this server's key-encryption key (fingerprint {fingerprint(kek)}) is not the one the secrets "
            f"were sealed with (fingerprint {expected_fingerprint}): set BOXVAULT_KEK or BOXVAULT_KEK_FILE "
            "to that key"
        )
    return _open(kek, sealed_dek, b"dek:" + owner.encode())


def seal(dek: bytes, plaintext: str, *, owner: str, field: str) -> str:
    return _seal(dek, plaintext.encode(), f"{owner}:{field}".encode())


def unseal(dek: bytes, sealed: str, *, owner: str, field: str) -> str:
    return _open(dek, sealed, f"{owner}:{field}".encode()).decode()


def escrow_password(kek: bytes, owner: str) -> str:
    """A second repository password derived from the KEK and the task's uuid alone.

    Each repository gets a restic key file for it besides the random password, so an operator who lost the
    database still opens the repository with stock restic: the uuid is the repository folder's name.
    """
    return base64.urlsafe_b64encode(
        hmac.new(kek, b"boxvault-repository-escrow:" + owner.encode(), hashlib.sha256).digest()
    ).decode()
