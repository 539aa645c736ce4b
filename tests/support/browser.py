"""Chromium for the browser tests: Debian's binary driven by Playwright, and axe-core's verdict on a page.

Registered for every test by the root conftest (`pytest_plugins`); the `browser` fixture and `chromium()` are
the one way tests start it, so its flags (no sandbox as root, no background networking on a closed network)
live in one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from support import missing

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@contextmanager
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, first target)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        targets = [str(node.get("target")) for node in violation.get("nodes", [])[:3]]
        found.append(f"{violation['id']} ({violation.get('impact')}): {page.url} {' '.join(targets)}")
    return found
