"""S3 object lock (immutable backups): retain-until dates on packs and snapshot files.

Why botocore and not OpenDAL: OpenDAL 0.47's Python write takes no object-lock options and its stat returns
no retain-until date, so on a location that requires object lock the writes of ``data/`` and
``snapshots/`` and every delete go through a botocore S3 client (SigV4-signed, same endpoint, credentials and
path style as the OpenDAL operator). Each object gets its own ``x-amz-object-lock-mode`` and
``x-amz-object-lock-retain-until-date`` (write time + the policy's days), rather than relying on a bucket
default retention: the date is then explicit, the same on every S3 service, and readable back per object.

Deleting a locked object on a versioned bucket without a version id "succeeds" by adding a delete marker
while the bytes stay, so this backend checks the retain-until date itself and refuses (``ObjectLocked``,
naming the date) before anything is deleted; once a lock has expired it deletes every version of the key so
the bytes really leave the bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .base import StorageError

MODES = ("compliance", "governance")
# Packs and snapshots carry a retention: they are the backup. Index files do not, deliberately: they are
# derived data (``restic repair index`` rebuilds them from the locked packs), and every prune replaces all of
# them, so locking them would refuse every prune for N days after each backup. locks/ are rewritten; keys/
# and config are written once and never deleted by boxvault.
LOCKED_DIRECTORIES = ("data/", "snapshots/")

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ObjectLocked(StorageError):
    """A delete was refused: the object (or several) is under object lock until ``until``."""

    def __init__(self, names: list[str], until: dt.datetime) -> None:
        first = names[0]
        more = f" and {len(names) - 1} more object(s)" if len(names) > 1 else ""
        super().__init__(
            f"object lock: {first}{more} cannot be deleted before {until.isoformat(timespec='seconds')}",
            first,
        )
        self.names = names
        self.until = until


@dataclass(frozen=True)
class LockPolicy:
    mode: str  # "compliance" or "governance"
    days: int

    def retain_until(self, now: dt.datetime) -> dt.datetime:
        return (now + dt.timedelta(days=self.days)).replace(microsecond=0)


def lock_policy(env: Mapping[str, str], kind: str) -> LockPolicy | None:
    """The operator's ``BOXVAULT_S3_OBJECT_LOCK_MODE`` / ``_DAYS``; None when not required."""
    mode = env.get("BOXVAULT_S3_OBJECT_LOCK_MODE", "").strip().lower()
    days_text = env.get("BOXVAULT_S3_OBJECT_LOCK_DAYS", "").strip()
    if not mode and not days_text:
        return None
    if kind != "s3":
        raise StorageError("BOXVAULT_S3_OBJECT_LOCK_MODE applies to S3 locations only")
    if mode not in MODES:
        raise StorageError(f"BOXVAULT_S3_OBJECT_LOCK_MODE must be compliance or governance, not {mode!r}")
    try:
        days = int(days_text)
    except ValueError:
        days = 0
    if not 1 <= days <= 36500:
        raise StorageError(
            f"BOXVAULT_S3_OBJECT_LOCK_DAYS must be a whole number of days >= 1, not {days_text!r}"
        )
    return LockPolicy(mode, days)


def is_locked_kind(name: str) -> bool:
    return name.startswith(LOCKED_DIRECTORIES)


class S3LockClient:
    """The few S3 calls OpenDAL cannot make: locked PUT, retention HEAD, versioned DELETE."""

    def __init__(
        self, options: Mapping[str, str], policy: LockPolicy, clock: Clock | None = None, prefix: str = ""
    ) -> None:
        import botocore.config  # loaded only for locations that require object lock
        import botocore.session

        session = botocore.session.get_session()
        path_style = options.get("enable_virtual_host_style") != "true"
        self._client: Any = session.create_client(
            "s3",
            region_name=options.get("region"),
            endpoint_url=options.get("endpoint") or None,
            aws_access_key_id=options.get("access_key_id"),
            aws_secret_access_key=options.get("secret_access_key"),
            aws_session_token=options.get("session_token"),
            config=botocore.config.Config(
                s3={"addressing_style": "path" if path_style else "virtual"},
                retries={"max_attempts": 8, "mode": "standard"},
                # restic objects are small enough for one PUT; the MD5/CRC header object lock requires is sent
                request_checksum_calculation="when_supported",
            ),
        )
        self.bucket = options["bucket"]
        self.prefix = prefix.strip("/")
        self.policy = policy
        self.clock: Clock = clock or _utcnow

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, action: str, name: str, error: Exception) -> StorageError:
        return StorageError(f"cannot {action} {name} (object lock): {error}", name)

    def put(self, name: str, data: bytes, *, if_not_exists: bool) -> None:
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if if_not_exists else {}
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self.key(name),
                Body=data,
                ContentType="application/octet-stream",
                ObjectLockMode=self.policy.mode.upper(),
                ObjectLockRetainUntilDate=self.policy.retain_until(self.clock()),
                **extra,
            )
        except Exception as e:  # botocore's ClientError and connection errors
            code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise FileExistsError(name) from e
            raise self._fail("write", name, e) from e

    def retain_until(self, name: str) -> dt.datetime | None:
        """The newest retain-until date over the key's versions; None when none is locked (or no key)."""
        latest: dt.datetime | None = None
        for version_id in self._versions(name):
            try:
                head = self._client.head_object(Bucket=self.bucket, Key=self.key(name), VersionId=version_id)
            except Exception as e:
                if getattr(e, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "405"):
                    continue  # a delete marker
                raise self._fail("stat", name, e) from e
            until = head.get("ObjectLockRetainUntilDate")
            if until is not None and (latest is None or until > latest):
                latest = until
        return latest

    def locked(self, names: Iterable[str]) -> dict[str, dt.datetime]:
        """Names among ``names`` whose lock has not expired, with their retain-until dates."""
        now = self.clock()
        wanted = [name for name in names if is_locked_kind(name)]
        # two requests per object (version listing, HEAD): in parallel, a prune may ask about many packs
        with ThreadPoolExecutor(max_workers=min(8, len(wanted) or 1)) as pool:
            dates = list(pool.map(self.retain_until, wanted))
        return {
            name: until
            for name, until in zip(wanted, dates, strict=True)
            if until is not None and until > now
        }

    def _versions(self, name: str) -> list[str]:
        key = self.key(name)
        out: list[str] = []
        try:
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if entry["Key"] == key:
                        out.append(entry["VersionId"])
        except Exception as e:
            raise self._fail("list versions of", name, e) from e
        return out

    def delete(self, name: str) -> None:
        """Refuse while locked; otherwise remove every version so no bytes stay behind."""
        locked = self.locked([name])
        if locked:
            raise ObjectLocked([name], locked[name])
        for version_id in self._versions(name):
            try:
                self._client.delete_object(Bucket=self.bucket, Key=self.key(name), VersionId=version_id)
            except Exception as e:
                raise self._fail("delete", name, e) from e


def lock_enabled(backend: object) -> bool:
    """Whether the backend (or one it wraps) writes with object lock."""
    current: object | None = backend
    while current is not None:
        if isinstance(getattr(current, "lock", None), S3LockClient):
            return True
        current = getattr(current, "inner", None)
    return False


def check_deletable(backend: object, names: Iterable[str]) -> None:
    """Raise ``ObjectLocked`` (naming the latest retain-until date) if any of ``names`` is locked.

    Called by prune, forget and rewrite before their first write or delete, so a refusal changes nothing.
    Backends without object lock have no ``locked_until`` and pass.
    """
    locked_until = getattr(backend, "locked_until", None)
    if locked_until is None:
        return
    found: dict[str, dt.datetime] = locked_until(list(names))
    if found:
        until = max(found.values())
        raise ObjectLocked(sorted(found, key=lambda n: found[n], reverse=True), until)


__all__ = ["LockPolicy", "ObjectLocked", "S3LockClient", "check_deletable", "lock_enabled", "lock_policy"]
