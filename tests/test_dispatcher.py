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
