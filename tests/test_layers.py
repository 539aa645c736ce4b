"""The house's layers, checked by walking every import of every module (function-level imports included):

- `core/` is the ground floor: it imports no other part of boxvault;
- `engine/`, `box/` and `sandbox/` stand alone: no Django, no portal app (box may use the engine);
- no app imports `portal/` (the project on top: settings, urls, serve), and the apps' graph has no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import boxvault

ROOT = Path(boxvault.__file__).parent
STANDALONE = {"engine": set(), "box": {"engine"}, "sandbox": set()}
TOP = {"portal", "cli", "__main__", "__init__"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "boxvault":
                found.update(f"boxvault.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """part -> parts of boxvault it imports; part -> third-party top-level modules it imports."""
    parts: dict[str, set[str]] = defaultdict(set)
    outside: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        part = rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")
        for module in _imports(path):
            names = module.split(".")
            if names[0] == "boxvault" and len(names) > 1 and names[1] != part:
                parts[part].add(names[1])
            elif names[0] != "boxvault":
                outside[part].add(names[0])
    return parts, outside


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_core_imports_no_other_part() -> None:
    parts, _ = _graph()
    assert parts.get("core", set()) == set()


def test_engine_box_sandbox_stand_alone() -> None:
    parts, outside = _graph()
    for part, allowed in STANDALONE.items():
        assert parts.get(part, set()) <= allowed, (part, parts[part] - allowed)
        assert not {"django", "rest_framework", "huey"} & outside.get(part, set()), part


def test_no_app_imports_the_portal_and_apps_form_no_cycle() -> None:
    parts, _ = _graph()
    apps = {p: deps - TOP for p, deps in parts.items() if p not in TOP}
    offenders = {p: "portal" for p, deps in parts.items() if p not in TOP and "portal" in deps}
    assert offenders == {}
    assert _cycles(apps) == []


def test_the_walker_sees_a_cycle() -> None:
    # The check above must be able to fail: a two-app loop and a three-app loop are found.
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
