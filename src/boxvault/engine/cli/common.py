"""Options and helpers shared by every ``boxvault repo`` command: repository, password, errors, progress."""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from ..errors import EngineError
from ..storage import StorageError

P = ParamSpec("P")
R = TypeVar("R")

RepoOpt = Annotated[
    str | None,
    typer.Option(
        "-r", "--repo", envvar="RESTIC_REPOSITORY", help="repository location (or RESTIC_REPOSITORY)"
    ),
]
PasswordFileOpt = Annotated[
    str | None,
    typer.Option("--password-file", envvar="RESTIC_PASSWORD_FILE", help="file with the repository password"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]

_console: Any = None


def __getattr__(name: str) -> Any:
    # rich is loaded only when a progress bar is drawn: a short command should not pay for importing it
    global _console
    if name == "err_console":
        if _console is None:
            from rich.console import Console

            _console = Console(stderr=True)
        return _console
    raise AttributeError(name)


class CliError(Exception):
    """A user mistake found by the CLI itself (missing option, unreadable password file)."""


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Every failure becomes a one-line message and a non-zero exit status, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (EngineError, StorageError, CliError) as e:
            fail(str(e))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except OSError as e:
            fail(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        raise AssertionError("unreachable")

    return wrapper


def read_password(
    password_file: str | None, *, prompt: str = "enter password for repository: ", confirm: bool = False
) -> str:
    """RESTIC_PASSWORD, then --password-file / RESTIC_PASSWORD_FILE, then a prompt on a terminal."""
    env = os.environ.get("RESTIC_PASSWORD")
    if env is not None and not password_file:
        return env
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as e:
            raise CliError(f"cannot read password file {password_file}: {e.strerror or e}") from e
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise CliError("no password: set RESTIC_PASSWORD or RESTIC_PASSWORD_FILE, or use --password-file")
    password = getpass.getpass(prompt)
    if confirm and getpass.getpass("enter password again: ") != password:
        raise CliError("passwords do not match")
    return password


def require_repo(repo: str | None) -> str:
    if not repo:
        raise CliError("no repository given: use -r/--repo or set RESTIC_REPOSITORY")
    return repo


def open_repo(repo: str | None, password_file: str | None) -> Any:
    from ..repository import Repository
    from ..storage import open_backend

    location = require_repo(repo)
    return Repository.open(open_backend(location), read_password(password_file))


def show_progress() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on a terminal; a no-op otherwise. Yields ``advance(amount)``."""
    if not show_progress():
        yield lambda _amount: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=__getattr__("err_console"),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda amount: bar.advance(task, amount)
