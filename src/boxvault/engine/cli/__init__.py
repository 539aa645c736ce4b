"""``boxvault repo ...``: one typer app; each command group lives in its own module and registers itself.

Modules listed in ``_MODULES`` are imported here; one that does not exist yet (a command group still being
written) is skipped, so adding a group is a one-line change.
"""

from __future__ import annotations

import importlib
import os
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="restic-format repositories: init, backup, restore, check, prune ...",
)


@app.callback()
def _global_options(
    repo: Annotated[
        str | None, typer.Option("-r", "--repo", help="repository location (or RESTIC_REPOSITORY)")
    ] = None,
    password_file: Annotated[
        str | None, typer.Option("--password-file", help="file with the password")
    ] = None,
) -> None:
    """restic-format repositories: init, backup, restore, check, prune ..."""
    # restic accepts -r before the command too; the commands read these through their envvar fallbacks
    if repo:
        os.environ["RESTIC_REPOSITORY"] = repo
    if password_file:
        os.environ["RESTIC_PASSWORD_FILE"] = password_file


_MODULES = ("basic", "browse", "keys", "cat", "maintenance")

for _name in _MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise

__all__ = ["app"]
