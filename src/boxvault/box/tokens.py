"""Token storage and refresh serialisation for the SDK's authentication classes.

Box rotates OAuth refresh tokens on every use and a used one is dead: two workers refreshing at once
lose the connection, and a process killed between "Box answered" and "token saved" loses it too. So:

- a refresh runs under a :class:`RefreshLock` (a threading lock for one process, an `flock` for the
  CLI, a database row lock in the portal);
- under the lock the stored token is read again: if another worker already refreshed, its token is
  used and no refresh is sent;
- the SDK stores a new token through its `TokenStorage` *before* it returns it, and our storages
  write durably (fsync, atomic rename), so the new refresh token is on disk before the new access
  token is used.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from box_sdk_gen.box.token_storage import InMemoryTokenStorage, TokenStorage
from box_sdk_gen.networking.auth import Authentication
from box_sdk_gen.networking.network import NetworkSession
from box_sdk_gen.schemas.access_token import AccessToken


class RefreshLock(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[None]: ...


class ThreadRefreshLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            yield


class FileRefreshLock:
    """An exclusive `flock` on a file, plus a thread lock (flock is per open file, not per thread)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._thread = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock


class ReloadableTokenStorage(TokenStorage):
    """A `TokenStorage` that can drop its cache and read the shared copy again (under the lock)."""

    def reload(self) -> AccessToken | None:
        return self.get()


class FileTokenStorage(ReloadableTokenStorage):
    """Tokens as JSON in one file, written atomically and fsynced; optionally Fernet-encrypted.

    `key` is a Fernet key (urlsafe base64 of 32 bytes); without one the file is only protected by
    its 0600 mode.
    """

    def __init__(self, path: str | os.PathLike[str], key: bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
        self._cached: AccessToken | None = None
        self._lock = threading.Lock()

    def _fernet(self) -> object | None:
        if self._key is None:
            return None
        from cryptography.fernet import Fernet

        return Fernet(self._key)

    def store(self, token: AccessToken) -> None:
        data = json.dumps(token.to_dict()).encode()
        fernet = self._fernet()
        if fernet is not None:
            data = fernet.encrypt(data)  # type: ignore[attr-defined]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dirfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        with self._lock:
            self._cached = token

    def reload(self) -> AccessToken | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            token = None
        else:
            fernet = self._fernet()
            if fernet is not None:
                data = fernet.decrypt(data)  # type: ignore[attr-defined]
            token = AccessToken.from_dict(json.loads(data))
        with self._lock:
            self._cached = token
        return token

    def get(self) -> AccessToken | None:
        with self._lock:
            cached = self._cached
        return cached if cached is not None else self.reload()

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            self._cached = None


def new_fernet_key() -> bytes:
    return base64.urlsafe_b64encode(os.urandom(32))


class SerializedAuth(Authentication):
    """Wraps any SDK `Authentication` (CCG, JWT, OAuth) so that refreshes never race.

    Each thread remembers the access token it last sent. When a request of that thread fails with
    401, the SDK's retry strategy calls :meth:`refresh_token`; under the lock we look at the stored
    token again, and if it is not the one this thread sent, somebody refreshed meanwhile and we
    simply use theirs (for OAuth, refreshing again would burn the already rotated refresh token).
    """

    def __init__(self, inner: Authentication, storage: TokenStorage, lock: RefreshLock | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.inner = inner
        self.storage = storage
        self.lock: RefreshLock = lock if lock is not None else ThreadRefreshLock()
        self._seen = threading.local()
        self.refreshes = 0

    def _stored(self) -> AccessToken | None:
        if isinstance(self.storage, ReloadableTokenStorage):
            return self.storage.reload()
        return self.storage.get()

    def retrieve_token(self, *, network_session: NetworkSession | None = None) -> AccessToken:
        token = self.storage.get()
        if token is None:
            with self.lock.hold():
                token = self._stored()
                if token is None:
                    token = self.inner.retrieve_token(network_session=network_session)
                    self.refreshes += 1
        self._seen.token = token.access_token
        return token

    def refresh_token(self, *, network_session: NetworkSession | None = None) -> AccessToken:
        sent = getattr(self._seen, "token", None)
        with self.lock.hold():
            current = self._stored()
            if current is not None and current.access_token is not None and current.access_token != sent:
                self._seen.token = current.access_token
                return current
            token = self.inner.refresh_token(network_session=network_session)
            self.refreshes += 1
        self._seen.token = token.access_token
        return token

    def retrieve_authorization_header(self, *, network_session: NetworkSession | None = None) -> str:
        return "Bearer " + str(self.retrieve_token(network_session=network_session).access_token)

    def revoke_token(self, *, network_session: NetworkSession | None = None) -> None:
        with self.lock.hold():
            self.inner.revoke_token(network_session=network_session)

    def downscope_token(
        self,
        scopes: list[str],
        *,
        resource: str | None = None,
        shared_link: str | None = None,
        network_session: NetworkSession | None = None,
    ) -> AccessToken:
        return self.inner.downscope_token(
            scopes, resource=resource, shared_link=shared_link, network_session=network_session
        )


__all__ = [
    "FileRefreshLock",
    "FileTokenStorage",
    "InMemoryTokenStorage",
    "RefreshLock",
    "ReloadableTokenStorage",
    "SerializedAuth",
    "ThreadRefreshLock",
    "new_fernet_key",
]
