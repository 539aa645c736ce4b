"""Pack files: encrypted blobs, then the encrypted header, then its length (design.rst "Pack Format")."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .crypto import OVERHEAD, AuthenticationError, Key

_PLAIN = struct.Struct("<BI32s")  # type, Length(encrypted_blob), Hash(plaintext)
_COMPRESSED = struct.Struct("<BII32s")  # type, Length(encrypted_blob), Length(plaintext_blob), Hash
# restic refuses headers above 16 MiB and reads the tail of a pack speculatively
MAX_HEADER_SIZE = 16 * 1024 * 1024
TAIL_READ = 15 * 1024 + 4


class PackError(Exception):
    """The pack's header is unreadable; the caller names the pack."""


@dataclass(frozen=True, slots=True)
class PackedBlob:
    kind: int  # 0 data, 1 tree
    blob_id: bytes
    offset: int
    length: int
    uncompressed_length: int  # 0 when stored uncompressed


def header_entry(kind: int, blob_id: bytes, length: int, uncompressed_length: int) -> bytes:
    if uncompressed_length:
        return _COMPRESSED.pack(kind | 0b10, length, uncompressed_length, blob_id)
    return _PLAIN.pack(kind, length, blob_id)


def header_trailer(key: Key, entries: bytes) -> bytes:
    """EncryptedHeader || Header_Length (uint32 little-endian)."""
    encrypted = key.encrypt_data(entries)
    return bytes(encrypted) + struct.pack("<I", len(encrypted))


def parse_header(plain: bytes) -> list[PackedBlob]:
    blobs: list[PackedBlob] = []
    pos = offset = 0
    while pos < len(plain):
        kind = plain[pos]
        if kind in (0, 1):
            if pos + _PLAIN.size > len(plain):
                raise PackError("truncated header entry")
            _, length, blob_id = _PLAIN.unpack_from(plain, pos)
            ulen = 0
            pos += _PLAIN.size
        elif kind in (2, 3):
            if pos + _COMPRESSED.size > len(plain):
                raise PackError("truncated header entry")
            _, length, ulen, blob_id = _COMPRESSED.unpack_from(plain, pos)
            pos += _COMPRESSED.size
        else:
            raise PackError(f"invalid blob type {kind} in header")
        if length < OVERHEAD:
            raise PackError(f"blob length {length} shorter than the encryption overhead")
        blobs.append(PackedBlob(kind & 1, blob_id, offset, length, ulen))
        offset += length
    return blobs


def read_header(key: Key, tail: bytes, pack_size: int) -> tuple[list[PackedBlob], int]:
    """Decode the header from the last bytes of a pack; returns (blobs, bytes needed) when ``tail`` is short.

    When the header is longer than ``tail``, the list is empty and the second value says how many trailing
    bytes to read instead.
    """
    if len(tail) < 4 or pack_size < 4 + OVERHEAD:
        raise PackError(f"pack of {pack_size} bytes is too short")
    (hlen,) = struct.unpack("<I", tail[-4:])
    if hlen > MAX_HEADER_SIZE or hlen + 4 > pack_size or hlen < OVERHEAD:
        raise PackError(f"invalid header length {hlen}")
    if hlen + 4 > len(tail):
        return [], hlen + 4
    try:
        plain = key.decrypt_data(tail[-4 - hlen : -4])
    except AuthenticationError as e:
        raise PackError(f"header: {e}") from e
    blobs = parse_header(plain)
    if blobs and blobs[-1].offset + blobs[-1].length != pack_size - hlen - 4:
        raise PackError("header does not describe the pack's size")
    return blobs, hlen + 4
