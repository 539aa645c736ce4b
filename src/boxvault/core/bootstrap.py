"""Getting a process ready to run Django from the CLI: data directory, first-run secret key, settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SETTINGS = "boxvault.portal.settings"


def data_dir(data: Path | None = None) -> Path:
    if data is not None:
        os.environ["BOXVAULT_DATA"] = str(data)
    return Path(os.environ.get("BOXVAULT_DATA", "./data")).expanduser().resolve()


def ensure_secret_key(directory: Path) -> None:
    """First run: a random key in the data directory, readable by its owner only, reused ever after."""
    if os.environ.get("BOXVAULT_SECRET_KEY") or os.environ.get("BOXVAULT_SECRET_KEY_FILE"):
        return
    path = directory / "secret_key"
    if path.exists():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")


def restrict_data_dir(directory: Path) -> None:
    """The data directory holds the database, the queue, exports and repositories: its owner's only.

    A umask of 077 makes everything this process creates from now on 0600/0700 (SQLite files, zips,
    repository packs, whichever module writes them); the directory itself and what already lies at its top
    level (from a release before this rule) are tightened too. A 0700 directory alone keeps other users out.
    """
    os.umask(0o077)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for entry in directory.iterdir():
        if entry.is_symlink():
            continue
        entry.chmod(0o700 if entry.is_dir() else 0o600)


def setup(data: Path | None = None, *, create: bool = True) -> Path:
    directory = data_dir(data)
    if create:
        restrict_data_dir(directory)
        ensure_secret_key(directory)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()
    if create:
        from huey.contrib.djhuey import HUEY

        if hasattr(HUEY.storage, "initialize_schema"):  # SqliteHuey: tables in the data directory
            # The queue file follows the settings' data directory, which may have been fixed before this call
            # (an in-process caller that imported the settings first); its folder must exist either way.
            Path(HUEY.storage.filename).parent.mkdir(parents=True, exist_ok=True)
            HUEY.storage.initialize_schema()
    return directory
