"""`boxvault sandbox serve|seed|mutate` (a contract: see the issue's CLI section and docs/sandbox.md)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="The Box API sandbox: serve, seed, mutate."
)


T = TypeVar("T")


def _open(factory: Callable[[], T], data: Path) -> T:
    """Opens the data directory, turning an unusable one into a one-line error instead of a traceback."""
    try:
        return factory()
    except (OSError, sqlite3.Error) as e:
        typer.echo(f"error: cannot use {data} as the sandbox data directory: {e}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    data: Path = typer.Option(..., "--data", help="data directory (SQLite database and uploaded content)"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    requests_per_minute: int = typer.Option(
        0, "--rate-limit", help="per-user API requests a minute (0: off)"
    ),
    uploads_per_minute: int = typer.Option(
        0, "--upload-rate-limit", help="per-user uploads a minute (0: off)"
    ),
    box_limits: bool = typer.Option(
        False, "--box-limits", help="Box's own limits: 1,000 requests and 240 uploads a minute per user"
    ),
    log_level: str = typer.Option("warning", "--log-level"),
) -> None:
    """Run the sandbox until stopped; ready when GET /_sandbox/health answers 200."""
    import uvicorn

    from .app import create_app

    asgi = _open(lambda: create_app(data), data)
    if box_limits:
        requests_per_minute = requests_per_minute or 1000
        uploads_per_minute = uploads_per_minute or 240
    if requests_per_minute or uploads_per_minute:
        asgi.sandbox.limiter.configure(requests_per_minute, uploads_per_minute)
    typer.echo(f"Box sandbox on http://{host}:{port} (data in {data})", err=True)
    config = uvicorn.Config(
        asgi,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http="httptools",
        loop="uvloop",
        timeout_keep_alive=30,
        # long polls and slow clients must not hold a shutdown for long
        timeout_graceful_shutdown=3,
    )
    logging.getLogger("uvicorn.error").addFilter(_quiet_injected_resets)
    uvicorn.Server(config).run()


def _quiet_injected_resets(record: logging.LogRecord) -> bool:
    """Connection resets injected as faults are expected: keep their tracebacks out of the log."""
    from .routes.download import InjectedReset

    return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


@app.command()
def seed(
    data: Path = typer.Option(..., "--data"),
    users: int = typer.Option(..., "--users", min=0),
    files_per_user: int = typer.Option(..., "--files-per-user", min=0),
    seed: int = typer.Option(1, "--seed"),
    large_files: int = typer.Option(
        1, "--large-files", min=0, help="how many large files (generated content)"
    ),
    large_size_mb: int = typer.Option(62, "--large-size-mb", min=1, help="size of each large file in MiB"),
    as_json: bool = typer.Option(False, "--json", help="JSON output (the default output is JSON too)"),
) -> None:
    """Generate an enterprise (deterministic from --seed) and print its credentials as JSON."""
    from .seed import SeedOptions
    from .seed import seed as do_seed
    from .store import Store

    store = _open(lambda: Store(data), data)
    try:
        options = SeedOptions(users=users, files_per_user=files_per_user, seed=seed, large_files=large_files)
        options.large_size = large_size_mb * 1024 * 1024
        result = do_seed(store, options)
    finally:
        store.close()
    typer.echo(json.dumps(result, ensure_ascii=False, indent=None if as_json else 2))


@app.command()
def mutate(
    data: Path = typer.Option(..., "--data"),
    fraction: float = typer.Option(..., "--fraction", min=0.0, max=1.0),
    seed: int = typer.Option(1, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
    mode: str = typer.Option(
        "ordinary",
        "--mode",
        help="ordinary | encrypt (ransomware-like, one user) | delete (mass delete, one user)",
    ),
    user: str = typer.Option("", "--user", help="Box user id or login (encrypt and delete modes)"),
    extension: str = typer.Option(
        ".locked", "--extension", help="encrypt mode: appended to each name ('' keeps names)"
    ),
) -> None:
    """Change a fraction of the files; print the counts per kind and the ids of files whose content
    changed. `--mode encrypt|delete --user U` attacks one user's files instead.
    """
    from .mutate import MODES, attack
    from .mutate import mutate as do_mutate
    from .store import Store

    if not (data / "sandbox.sqlite3").exists():
        typer.echo(
            f"error: {data} holds no sandbox: run `boxvault sandbox seed --data {data}` first", err=True
        )
        raise typer.Exit(2)
    if mode not in MODES:
        typer.echo(f"error: --mode must be one of {', '.join(MODES)}", err=True)
        raise typer.Exit(2)
    if mode != "ordinary" and not user:
        typer.echo(f"error: --mode {mode} needs --user (a Box user id or login)", err=True)
        raise typer.Exit(2)
    store = _open(lambda: Store(data), data)
    try:
        if mode == "ordinary":
            report = do_mutate(store, fraction, seed)
        else:
            try:
                report = attack(store, mode, user, fraction, seed, extension)
            except ValueError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(json.dumps(report, ensure_ascii=False, indent=None if as_json else 2))
