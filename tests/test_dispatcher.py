from typing import Any

from support import run_cli


def test_help_lists_the_areas() -> None:
    out = run_cli(["--help"]).stdout
    assert "Usage" in out


def test_unknown_command_fails() -> None:
    proc = run_cli(["no-such-command"], check=False)
    assert proc.returncode != 0


def test_every_area_is_reachable_from_the_dispatcher() -> None:
    out = run_cli(["--help"]).stdout
    groups = ("repo", "sandbox", "box", "account", "token", "task", "jobs", "recovery", "serve", "worker")
    for group in groups:
        assert group in out, group


def test_recovery_lists_search_beside_restore_and_export() -> None:
    out = run_cli(["recovery", "--help"]).stdout
    for command in ("snapshots", "tree", "restore", "export", "search"):
        assert command in out, command


def test_an_area_that_fails_to_import_is_an_error_not_a_missing_entry(monkeypatch: Any) -> None:
    import pytest

    from boxvault import cli

    monkeypatch.setitem(cli.GROUPS, "broken", ("boxvault.no_such_area.cli:app", "an area that cannot load"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_app()


def _main_in_a_subprocess(argv1: str, setup: str = "") -> str:
    """Output of `cli.main()` run for `boxvault <argv1>` in a fresh interpreter, after `setup`."""
    import subprocess
    import sys

    from support import cli_env

    code = (
        "import gc, sys\n"
        "from boxvault import cli\n"
        f"{setup}\n"
        f"sys.argv = ['boxvault', {argv1!r}]\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "except ModuleNotFoundError:\n"
        "    print('after a failed import', gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    return out.stdout.strip() or out.stderr


def test_the_collector_is_off_only_while_the_area_loads() -> None:
    """`main` turns the cyclic garbage collector off while the command's area is imported, then freezes what
    was loaded and turns it on again, also when the import fails: no command runs without it."""
    during = (
        "cli._version = lambda: print('during the command', gc.isenabled(), gc.get_freeze_count() > 10_000)"
    )
    assert _main_in_a_subprocess("version", during) == "during the command True True"
    broken = "cli.GROUPS['broken'] = ('boxvault.no_such_area.cli:app', 'cannot load')"
    assert _main_in_a_subprocess("broken", broken) == "after a failed import True"
