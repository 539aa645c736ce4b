"""File content: generated from a key (seeded files, never stored) or read from disk (uploaded files).

Generated content is an AES-128-CTR keystream keyed by the content reference: ~1 GB/s, random access
(the counter of byte `o` is `o // 16`, which makes `Range` cheap) and identical on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 1 << 20
# the plaintext of every keystream: allocated once, not per download (a megabyte zeroed for each small file
# was a tenth of the sandbox's CPU in the Box benchmark)
_ZEROS = memoryview(bytes(CHUNK))


def _cipher_at(ref: str, block: int) -> Cipher[modes.CTR]:
    key = hashlib.sha256(b"boxvault-sandbox:" + ref.encode()).digest()[:16]
    return Cipher(algorithms.AES(key), modes.CTR(block.to_bytes(16, "big")))


def generate(
    ref: str, size: int, start: int = 0, end: int | None = None, chunk: int = CHUNK
) -> Iterator[bytes]:
    """Bytes [start, end) of the generated content `ref` of length `size`."""
    stop = size if end is None else min(end, size)
    if start >= stop:
        return
    encryptor = _cipher_at(ref, start // 16).encryptor()
    skip = start % 16
    pos = start - skip
    zeros = _ZEROS if chunk <= CHUNK else memoryview(bytes(chunk))
    while pos < stop:
        n = min(chunk, stop - pos)
        data = encryptor.update(zeros[:n])
        if skip:
            data = data[skip:]
            skip = 0
        pos += n
        yield data


def generated_sha1(ref: str, size: int) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for part in generate(ref, size):
        h.update(part)
    return h.hexdigest()


def read_file(path: Path, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        remaining = None if end is None else end - start
        while remaining is None or remaining > 0:
            data = f.read(chunk if remaining is None else min(chunk, remaining))
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data
