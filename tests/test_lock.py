"""requirements.lock pins every dependency pyproject.toml declares (regenerate it with pip-compile when adding
one: `pip-compile --extra=test --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock
pyproject.toml`)."""

from __future__ import annotations

import re
import tomllib

from support import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;\s]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for r in project["optional-dependencies"]["test"]}
    pinned = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pinned[match.group(1).lower().replace("_", "-")] = match.group(2)
    missing = sorted(declared - set(pinned))
    assert missing == [], f"not in requirements.lock (run pip-compile): {missing}"
