"""restic's repository location syntax: ``/path``, ``local:``, ``s3:``, ``azure:``, ``gs:``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import StorageError

Kind = Literal["local", "s3", "azure", "gs"]

_UNSUPPORTED = ("sftp:", "rest:", "b2:", "swift:", "rclone:")


@dataclass(frozen=True)
class Location:
    kind: Kind
    # local: the directory; object stores: the key prefix inside the bucket/container (no slashes around it)
    path: str
    bucket: str = ""  # S3/GCS bucket or Azure container
    endpoint: str = ""  # S3 only: "http(s)://host[:port]"; empty means AWS


def parse_location(location: str) -> Location:
    """Parse a location exactly as restic spells it; a clear StorageError otherwise."""
    text = location.strip()
    if not text:
        raise StorageError("empty repository location")
    if text.startswith("local:"):
        return _local(text[len("local:") :], location)
    if text.startswith("s3:"):
        return _s3(text[len("s3:") :], location)
    if text.startswith("azure:"):
        return _container("azure", text[len("azure:") :], location)
    if text.startswith("gs:"):
        return _container("gs", text[len("gs:") :], location)
    if text.startswith(_UNSUPPORTED):
        scheme = text.split(":", 1)[0]
        raise StorageError(f"unsupported repository location {location!r}: boxvault has no {scheme} backend")
    # restic treats anything without a known scheme as a local path (even "C:\..." on Windows)
    return _local(text, location)


def _local(path: str, original: str) -> Location:
    if not path:
        raise StorageError(f"invalid repository location {original!r}: empty path")
    return Location("local", path)


def _s3(rest: str, original: str) -> Location:
    # restic: "s3:https://host[:port]/bucket[/prefix]", or "s3:host/bucket[/prefix]" meaning https
    scheme = "https"
    for candidate in ("https://", "http://"):
        if rest.startswith(candidate):
            scheme, rest = candidate[:-3], rest[len(candidate) :]
            break
    host, _, bucket_and_prefix = rest.partition("/")
    bucket, _, prefix = bucket_and_prefix.partition("/")
    if not host or not bucket:
        raise StorageError(
            f"invalid S3 location {original!r}: expected s3:http(s)://host[:port]/bucket[/prefix]"
        )
    endpoint = "" if host == "s3.amazonaws.com" and scheme == "https" else f"{scheme}://{host}"
    return Location("s3", prefix.strip("/"), bucket=bucket, endpoint=endpoint)


def _container(kind: Kind, rest: str, original: str) -> Location:
    # restic: "azure:container:/prefix" and "gs:bucket:/prefix"; the prefix may be "/" or empty
    bucket, sep, prefix = rest.partition(":")
    if not bucket or not sep:
        raise StorageError(f"invalid {kind} location {original!r}: expected {kind}:<bucket>:/<prefix>")
    return Location(kind, prefix.strip("/"), bucket=bucket)
