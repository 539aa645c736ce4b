from support import run_cli


def test_help_lists_the_areas() -> None:
    out = run_cli(["--help"]).stdout
    assert "Usage" in out


def test_unknown_command_fails() -> None:
    proc = run_cli(["no-such-command"], check=False)
    assert proc.returncode != 0
