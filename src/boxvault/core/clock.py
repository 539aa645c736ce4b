"""The portal's clock, injectable so tests can move time (grace periods, trials, purges) without sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_source: Callable[[], datetime] = timezone.now


def now() -> datetime:
    return _source()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make `now()` answer `moment` inside the block (tests only)."""
    global _source
    previous = _source
    _source = lambda: moment  # noqa: E731 - a one-line clock is clearer inline
    try:
        yield
    finally:
        _source = previous
