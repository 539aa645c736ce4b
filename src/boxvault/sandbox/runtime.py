"""The server's shared state: the store plus the in-memory fault, statistics and rate-limit settings."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

from .faults import Faults
from .stats import RateLimiter, Stats
from .store import Store


class Sandbox:
    def __init__(self, data_dir: Path) -> None:
        self.store = Store(data_dir)
        self.faults = Faults()
        self.stats = Stats()
        self.limiter = RateLimiter()


def sandbox(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
