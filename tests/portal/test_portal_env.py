"""Typed environment readers and first-run bootstrap (no database)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from boxvault.core import bootstrap
from boxvault.core.env import env_bool, env_int, env_list, env_opt, env_str


def test_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BV_T_BOOL", "yes")
    monkeypatch.setenv("BV_T_INT", "42")
    monkeypatch.setenv("BV_T_LIST", " a.example, ,b.example ")
    monkeypatch.setenv("BV_T_EMPTY", "")
    assert env_bool("BV_T_BOOL", False) is True
    assert env_bool("BV_T_MISSING", True) is True
    assert env_int("BV_T_INT", 1) == 42
    assert env_list("BV_T_LIST", []) == ["a.example", "b.example"]
    assert env_opt("BV_T_EMPTY") is None
    assert env_str("BV_T_MISSING", "default") == "default"


def test_file_variant_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    monkeypatch.setenv("BV_T_SECRET", "from-env")
    monkeypatch.setenv("BV_T_SECRET_FILE", str(secret))
    assert env_str("BV_T_SECRET") == "from-file"
    monkeypatch.setenv("BV_T_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("BV_T_SECRET")


@pytest.mark.parametrize(("reader", "value"), [(env_bool, "maybe"), (env_int, "12x")])
def test_bad_values_are_clear(monkeypatch: pytest.MonkeyPatch, reader: object, value: str) -> None:
    monkeypatch.setenv("BV_T_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="BV_T_BAD"):
        reader("BV_T_BAD", 0)  # type: ignore[operator]


def test_secret_key_is_generated_once_and_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BOXVAULT_SECRET_KEY", raising=False)
    monkeypatch.delenv("BOXVAULT_SECRET_KEY_FILE", raising=False)
    bootstrap.ensure_secret_key(tmp_path)
    key_file = tmp_path / "secret_key"
    first = key_file.read_text()
    assert len(first.strip()) >= 50
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    bootstrap.ensure_secret_key(tmp_path)
    assert key_file.read_text() == first


def test_locations_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from boxvault.portal import settings as portal_settings

    monkeypatch.setenv("BOXVAULT_LOCATIONS", '{"eu": {"label": "Europe", "url": "s3:https://s3.example/eu"}}')
    assert portal_settings._locations() == {"eu": {"label": "Europe", "url": "s3:https://s3.example/eu"}}
    for bad in ("not json", '["eu"]', '{"eu": {"label": "no url"}}'):
        monkeypatch.setenv("BOXVAULT_LOCATIONS", bad)
        with pytest.raises(ImproperlyConfigured, match="BOXVAULT_LOCATIONS"):
            portal_settings._locations()
