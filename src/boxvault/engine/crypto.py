"""AES-256-CTR + Poly1305-AES, restic's authenticated encryption (design.rst "Keys, Encryption and MAC").

Every encrypted object is ``IV || CIPHERTEXT || MAC``. The MAC is Poly1305 keyed with ``r`` (the last 16
bytes of the MAC key, clamped by Poly1305 itself) and ``s = AES-128_k(nonce)``, computed over the ciphertext.
"""

from __future__ import annotations

import base64
import hmac
import os
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.poly1305 import Poly1305

IV_SIZE = 16
MAC_SIZE = 16
OVERHEAD = IV_SIZE + MAC_SIZE

Buffer = bytes | bytearray | memoryview
_local = threading.local()


class AuthenticationError(Exception):
    """The MAC did not match: wrong key or damaged data."""


@dataclass(frozen=True)
class Key:
    """A restic key: 32 bytes for AES-256 plus the 16-byte ``k`` and ``r`` of Poly1305-AES."""

    encrypt: bytes
    mac_k: bytes
    mac_r: bytes

    @classmethod
    def random(cls) -> Key:
        # restic stores r already clamped (as Poly1305 would clamp it), so `cat masterkey` matches restic's
        return cls(os.urandom(32), os.urandom(16), clamp_r(os.urandom(16)))

    @classmethod
    def from_kdf(cls, derived: bytes) -> Key:
        # design.rst: the first 32 bytes encrypt, the last 32 are the MAC key: k (AES-128) then r
        return cls(derived[:32], derived[32:48], derived[48:64])

    def to_json(self) -> dict[str, Any]:
        """restic's master key document (``restic cat masterkey``)."""
        return {
            "mac": {"k": _b64(self.mac_k), "r": _b64(self.mac_r)},
            "encrypt": _b64(self.encrypt),
        }

    @classmethod
    def from_json(cls, doc: Any) -> Key:
        try:
            key = cls(
                base64.b64decode(doc["encrypt"]),
                base64.b64decode(doc["mac"]["k"]),
                base64.b64decode(doc["mac"]["r"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"invalid master key document: {e}") from e
        if len(key.encrypt) != 32 or len(key.mac_k) != 16 or len(key.mac_r) != 16:
            raise ValueError("invalid master key document: wrong key lengths")
        if not any(key.encrypt) or not any(key.mac_k) or not any(key.mac_r):
            raise ValueError("invalid master key document: zero key")
        return key

    def _mac(self, nonce: Buffer, ciphertext: Buffer) -> bytes:
        # one AES block per message (Poly1305-AES's s); the ECB context is reused per thread, as creating
        # a Cipher costs more than the block itself
        cache: dict[bytes, Any] | None = getattr(_local, "ecb", None)
        if cache is None:
            cache = _local.ecb = {}
        aes = cache.get(self.mac_k)
        if aes is None:
            aes = cache[self.mac_k] = Cipher(algorithms.AES(self.mac_k), modes.ECB()).encryptor()  # noqa: S305  # nosec B305
        s = aes.update(bytes(nonce))
        return Poly1305.generate_tag(self.mac_r + s, ciphertext)

    def encrypt_data(self, plaintext: Buffer) -> bytearray:
        """IV || AES-256-CTR(plaintext) || MAC in one new buffer (no copy of the ciphertext)."""
        nonce = os.urandom(IV_SIZE)
        size = len(plaintext)
        out = bytearray(IV_SIZE + size + MAC_SIZE)
        out[:IV_SIZE] = nonce
        view = memoryview(out)
        enc = Cipher(algorithms.AES(self.encrypt), modes.CTR(nonce)).encryptor()
        if size:
            enc.update_into(plaintext, view[IV_SIZE : IV_SIZE + size + 15])
        enc.finalize()
        view[IV_SIZE + size :] = self._mac(nonce, view[IV_SIZE : IV_SIZE + size])
        view.release()
        return out

    def decrypt_data(self, data: Buffer) -> bytes:
        """Verify the MAC, then decrypt; AuthenticationError if either the key or the data is wrong."""
        out = self.decrypt_into(data)
        # a large plaintext stays a bytearray (no copy): every consumer accepts any buffer
        return bytes(out) if len(out) < 4096 else out  # type: ignore[return-value]

    def decrypt_into(self, data: Buffer) -> bytearray:
        """As decrypt_data, into a new bytearray without intermediate copies."""
        view = memoryview(data)
        if len(view) < OVERHEAD:
            raise AuthenticationError("ciphertext too short")
        nonce = bytes(view[:IV_SIZE])
        body = view[IV_SIZE:-MAC_SIZE]
        tag = self._mac(nonce, body)
        if not hmac.compare_digest(tag, bytes(view[-MAC_SIZE:])):
            raise AuthenticationError("ciphertext verification failed")
        out = bytearray(len(body) + 15)
        dec = Cipher(algorithms.AES(self.encrypt), modes.CTR(nonce)).decryptor()
        n = dec.update_into(body, out) if len(body) else 0
        del out[n:]
        return out


def clamp_r(r: bytes) -> bytes:
    """Poly1305's clamping of r: the top 4 bits of bytes 3, 7, 11, 15 and the low 2 of 4, 8, 12 cleared."""
    out = bytearray(r)
    for i in (3, 7, 11, 15):
        out[i] &= 0x0F
    for i in (4, 8, 12):
        out[i] &= 0xFC
    return bytes(out)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def kdf(password: str, salt: bytes, n: int, r: int, p: int) -> Key:
    """scrypt with the key file's parameters, 64 bytes out."""
    derived = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(password.encode("utf-8"))
    return Key.from_kdf(derived)
