"""The ``config`` file and its random irreducible chunker polynomial (design.rst "Repository Format")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from .errors import UnsupportedVersion

SUPPORTED_VERSIONS = (1, 2)
_POL_DEGREE = 53  # restic/chunker draws a random irreducible polynomial of degree 53 over GF(2)


def _deg(p: int) -> int:
    return p.bit_length() - 1


def _mod(a: int, m: int) -> int:
    dm = _deg(m)
    while a and _deg(a) >= dm:
        a ^= m << (_deg(a) - dm)
    return a


def _mulmod(a: int, b: int, m: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a = _mod(a << 1, m)
    return _mod(result, m)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, _mod(a, b)
    return a


def is_irreducible(pol: int) -> bool:
    """Ben-Or's test: gcd(pol, x^(2^i) - x mod pol) == 1 for every i up to deg/2."""
    x = 2
    power = x
    for _ in range(_deg(pol) // 2):
        power = _mulmod(power, power, pol)
        if _gcd(pol, power ^ x) != 1:
            return False
    return True


def random_polynomial() -> int:
    while True:
        pol = secrets.randbits(_POL_DEGREE) | (1 << _POL_DEGREE) | 1
        if is_irreducible(pol):
            return pol


@dataclass(frozen=True)
class Config:
    version: int
    id: str
    chunker_polynomial: int

    @classmethod
    def new(cls, version: int = 2, chunker_polynomial: int | None = None) -> Config:
        pol = random_polynomial() if chunker_polynomial is None else chunker_polynomial
        if not is_irreducible(pol) or _deg(pol) != _POL_DEGREE:
            raise ValueError(f"chunker polynomial {pol:x} is not an irreducible polynomial of degree 53")
        return cls(version, secrets.token_hex(32), pol)

    def to_json(self) -> dict[str, Any]:
        # restic's chunker.Pol marshals as a hex string without 0x
        return {"version": self.version, "id": self.id, "chunker_polynomial": f"{self.chunker_polynomial:x}"}

    @classmethod
    def from_json(cls, doc: Any) -> Config:
        if not isinstance(doc, dict) or "version" not in doc:
            raise ValueError("config is not a JSON object with a version")
        version = doc["version"]
        if version not in SUPPORTED_VERSIONS:
            raise UnsupportedVersion(version)
        return cls(int(version), str(doc.get("id", "")), int(str(doc.get("chunker_polynomial", "0")), 16))
