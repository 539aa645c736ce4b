"""zstd as restic uses it: a standard frame per blob or unpacked file (design.rst "Unpacked Data Format")."""

from __future__ import annotations

import threading

import zstandard

from .crypto import Buffer

# restic's "auto" is klauspost/compress SpeedDefault (about zstd level 3) and "max" SpeedBestCompression
# (about level 11); any standard frame decodes the same, so only speed and ratio depend on this choice.
LEVELS = {"auto": 3, "max": 11, "off": 0}
UNPACKED_V2 = 2  # encoding_version byte of a compressed unpacked file

_local = threading.local()


def check_mode(mode: str) -> str:
    if mode not in LEVELS:
        raise ValueError(f"unknown compression mode {mode!r}: use auto, max or off")
    return mode


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "c", None)
    if cache is None:
        cache = _local.c = {}
    comp = cache.get(level)
    if comp is None:
        # no checksum: the MAC and the SHA-256 id already protect the data, as restic also disables the CRC
        comp = cache[level] = zstandard.ZstdCompressor(
            level=level, write_checksum=False, write_content_size=True
        )
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def compress(data: Buffer, level: int) -> bytes:
    return _compressor(level).compress(data)


def decompress(data: Buffer, size: int | None = None) -> bytes:
    """Decode a whole frame; ``size`` (the blob's uncompressed length) bounds the output when known."""
    d = _decompressor()
    if size is not None:
        out = d.decompress(data, max_output_size=size)
        if len(out) != size:
            raise zstandard.ZstdError(f"decompressed {len(out)} bytes, expected {size}")
        return out
    parts = []
    obj = d.decompressobj()
    parts.append(obj.decompress(data))
    return b"".join(parts)
