"""zstd as restic uses it: a standard frame per blob or unpacked file (design.rst "Unpacked Data Format")."""

from __future__ import annotations

import threading

import zstandard

from .crypto import Buffer

# restic's "auto" is klauspost/compress SpeedDefault (about zstd level 3) and "max" SpeedBestCompression
# (about level 11); any standard frame decodes the same, so only speed and ratio depend on this choice.
# libzstd's level 1 is ~2x faster than level 3 here and compresses office-like text as well (0.38 vs 0.39
# on the benchmark corpus), so "auto" uses it.
LEVELS = {"auto": 1, "max": 11, "off": 0}
_PROBE = 64 * 1024  # bytes compressed to decide whether a large blob is worth compressing at all
_PROBE_MIN_GAIN = 0.97
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


def looks_incompressible(data: Buffer, level: int) -> bool:
    """True when a sample of a large blob does not shrink (random, encrypted or already compressed data);
    such a blob is stored uncompressed, which design.rst allows to mix with compressed ones in a pack."""
    if len(data) < 4 * _PROBE:
        return False
    view = memoryview(data)
    middle = len(view) // 2
    sample = view[middle : middle + _PROBE]
    return len(_compressor(level).compress(sample)) > _PROBE * _PROBE_MIN_GAIN


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
