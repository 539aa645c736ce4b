"""`boxvault` command line: a thin dispatcher over each domain's own typer app.

Each area (engine, sandbox, box, portal) owns its commands in its own module; they are imported only when
their command is called, so `boxvault repo ...` never pays for loading Django and vice versa.
"""

from __future__ import annotations

import gc
import importlib
import sys

import typer

# group name -> "module:attribute" of a typer.Typer
GROUPS: dict[str, tuple[str, str]] = {
    "repo": (
        "boxvault.engine.cli:app",
        "restic-format repositories: init, backup, restore, check, prune ...",
    ),
    "sandbox": ("boxvault.sandbox.cli:app", "the Box API sandbox: serve, seed, mutate"),
    "box": ("boxvault.box.cli:app", "back up a Box enterprise into a repository (no portal needed)"),
    "account": ("boxvault.portal.cli:account_app", "operator commands for accounts"),
    "token": ("boxvault.portal.cli:token_app", "operator commands for API tokens"),
    "task": ("boxvault.backups.cli:app", "backup tasks of the portal"),
    "jobs": ("boxvault.jobs.cli:jobs_app", "jobs of the portal"),
    "recovery": ("boxvault.recovery.cli:app", "browse, search, restore and export backed-up data"),
    "notifications": ("boxvault.notifications.cli:app", "e-mail reports and alerts: send-due, preview"),
    "billing": ("boxvault.billing.cli:app", "billing: mark invoices paid, run the daily billing pass"),
}
# single commands -> "module:function"
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("boxvault.portal.cli:serve", "run the portal: migrations, web server, worker and scheduler"),
    "worker": ("boxvault.portal.cli:worker", "run one more queue worker (scale-out on Redis + PostgreSQL)"),
    "manage": ("boxvault.portal.cli:manage", "Django's manage.py for operators"),
}


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_app(only: str | None = None) -> typer.Typer:
    app = typer.Typer(
        no_args_is_help=True, add_completion=False, help="boxvault: backup and recovery for Box."
    )
    app.callback()(_root)  # keeps `boxvault` a command group even with a single sub-command loaded
    app.command(name="version", help="print the version")(_version)
    for name, (target, help_text) in GROUPS.items():
        if only is not None and name != only:
            continue
        # An area that fails to import is a bug to see at once, not an entry to leave out of the help text.
        app.add_typer(_load(target), name=name, help=help_text)  # type: ignore[arg-type]
    for name, (target, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        fn = _load(target)
        app.command(
            name=name,
            help=help_text,
            context_settings={
                "allow_extra_args": name == "manage",
                "ignore_unknown_options": name == "manage",
            },
        )(fn)  # type: ignore[arg-type]
    return app


def _root() -> None:
    """boxvault: backup and recovery for Box."""


def _version() -> None:
    from boxvault import __version__

    typer.echo(__version__)


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    only = first if first in GROUPS or first in COMMANDS else None
    # The command's area is imported now (the Box SDK alone makes ~60,000 objects, all kept until the
    # process ends): the cyclic collector would walk them again and again while they are made, and at each
    # full collection after. Off while they load, then set aside for good: 0.08-0.1 s of a Box backup
    # process's ~0.55 s start-up (docs/box.md). The ~700 unreachable objects frozen with them are a few KB.
    gc.disable()
    try:
        app = build_app(only)
    finally:
        gc.freeze()
        gc.enable()
    app()


if __name__ == "__main__":
    main()
