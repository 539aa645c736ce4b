"""Fault injection, set at run time through `PUT /_sandbox/faults`; reproducible from a seed.

Every request that matches `paths` draws from one `random.Random(seed)`, in arrival order, so the same
sequence of requests meets the same faults on every run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

ERROR_STATUSES = (429, 500, 502, 503)


@dataclass
class FaultConfig:
    seed: int = 0
    # probability per matching request of each error status
    error_rates: dict[int, float] = field(default_factory=dict)
    # probability that a response body is cut half-way by closing the connection
    reset_rate: float = 0.0
    latency_ms: float = 0.0
    # probability that the request's access token is expired before it is checked
    token_expiry_rate: float = 0.0
    retry_after: int = 1
    # statuses answered to the next matching requests, one each, before any random draw
    fail_next: list[int] = field(default_factory=list)
    # reset the connection in the middle of the body of the next N matching downloads
    reset_next: int = 0
    # serve the next N matching downloads with one byte changed (same length): what a file whose content
    # changes during its download, or a damaged transfer, looks like to the client (its sha1 does not match)
    corrupt_next: int = 0
    # answer the next N downloads that ask for a Range with the whole body (200), as a server or proxy that
    # ignores Range may (RFC 9110 14.2): the client must skip what it already has
    ignore_range_next: int = 0
    # answer the next N content requests (`GET /2.0/files/{id}/content`) with 202 and Retry-After, as Box does
    # for a file not ready for download yet: the client must wait and ask again
    not_ready_next: int = 0
    # only requests whose path starts with one of these prefixes are affected (all when empty)
    paths: list[str] = field(default_factory=list)
    # user event streams: probability that an event is delivered again (in the same page, or in a later
    # page after its position was passed), and whether each page comes in a shuffled order. Box documents
    # its user stream as at-least-once and not always in order (docs/sandbox.md, "Events").
    event_redelivery: float = 0.0
    event_shuffle: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_rates"] = {str(k): v for k, v in self.error_rates.items()}
        return data


@dataclass
class Decision:
    status: int | None = None
    reset: bool = False
    latency: float = 0.0
    expire_token: bool = False
    corrupt: bool = False


class Faults:
    def __init__(self) -> None:
        self.config = FaultConfig()
        self._rng = random.Random(0)
        self._lock = threading.Lock()

    def configure(self, raw: dict[str, Any]) -> FaultConfig:
        """Validates and applies a JSON fault configuration; raises ValueError with a readable message."""
        allowed = set(FaultConfig.__dataclass_fields__)
        unknown = set(raw) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        cfg = FaultConfig()
        cfg.seed = _int(raw.get("seed", 0), "seed")
        rates = raw.get("error_rates", {})
        if not isinstance(rates, dict):
            raise ValueError("error_rates must be an object of status -> probability")
        for key, value in rates.items():
            status = _int(key, "error_rates key")
            if status not in ERROR_STATUSES:
                raise ValueError(f"error_rates: status {status} is not one of {ERROR_STATUSES}")
            cfg.error_rates[status] = _prob(value, f"error_rates[{status}]")
        cfg.reset_rate = _prob(raw.get("reset_rate", 0.0), "reset_rate")
        cfg.token_expiry_rate = _prob(raw.get("token_expiry_rate", 0.0), "token_expiry_rate")
        cfg.latency_ms = float(_num(raw.get("latency_ms", 0.0), "latency_ms"))
        cfg.retry_after = _int(raw.get("retry_after", 1), "retry_after")
        fail_next = raw.get("fail_next", [])
        if not isinstance(fail_next, list) or any(
            _int(s, "fail_next") not in ERROR_STATUSES for s in fail_next
        ):
            raise ValueError(f"fail_next must be a list of statuses among {ERROR_STATUSES}")
        cfg.fail_next = [int(s) for s in fail_next]
        cfg.reset_next = _int(raw.get("reset_next", 0), "reset_next")
        cfg.corrupt_next = _int(raw.get("corrupt_next", 0), "corrupt_next")
        cfg.ignore_range_next = _int(raw.get("ignore_range_next", 0), "ignore_range_next")
        cfg.not_ready_next = _int(raw.get("not_ready_next", 0), "not_ready_next")
        paths = raw.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("paths must be a list of path prefixes")
        cfg.paths = list(paths)
        cfg.event_redelivery = _prob(raw.get("event_redelivery", 0.0), "event_redelivery")
        shuffle = raw.get("event_shuffle", False)
        if not isinstance(shuffle, bool):
            raise ValueError("event_shuffle must be true or false")
        cfg.event_shuffle = shuffle
        with self._lock:
            self.config = cfg
            self._rng = random.Random(cfg.seed)
        return cfg

    def decide(self, path: str, is_download: bool) -> Decision:
        cfg = self.config
        if path.startswith("/_sandbox") or (cfg.paths and not any(path.startswith(p) for p in cfg.paths)):
            return Decision()
        with self._lock:
            decision = Decision(latency=cfg.latency_ms / 1000.0)
            if cfg.fail_next:
                decision.status = cfg.fail_next.pop(0)
                return decision
            if is_download and cfg.reset_next > 0:
                cfg.reset_next -= 1
                decision.reset = True
                return decision
            if is_download and cfg.corrupt_next > 0:
                cfg.corrupt_next -= 1
                decision.corrupt = True
                return decision
            # one draw per knob keeps the sequence stable when a probability changes from 0 to non-zero
            draw = self._rng.random()
            total = 0.0
            for status in ERROR_STATUSES:
                total += cfg.error_rates.get(status, 0.0)
                if draw < total:
                    decision.status = status
                    break
            decision.reset = is_download and self._rng.random() < cfg.reset_rate
            decision.expire_token = self._rng.random() < cfg.token_expiry_rate
            return decision

    def _count_down(self, path: str, setting: str) -> bool:
        """Whether the countdown `setting` (a `..._next` setting) applies to this request; counts it."""
        cfg = self.config
        if cfg.paths and not any(path.startswith(p) for p in cfg.paths):
            return False
        with self._lock:
            left: int = getattr(cfg, setting)
            if left <= 0:
                return False
            setattr(cfg, setting, left - 1)
            return True

    def ignore_range(self, path: str) -> bool:
        """Whether this ranged download is answered in full (`ignore_range_next`); counts it."""
        return self._count_down(path, "ignore_range_next")

    def not_ready(self, path: str) -> bool:
        """Whether this content request is answered 202, not ready yet (`not_ready_next`); counts it."""
        return self._count_down(path, "not_ready_next")

    def events_page(self, page: list[T], earlier: list[T]) -> list[T]:
        """A page of a user's event stream as an at-least-once, unordered stream delivers it: each event of
        `page` (and of `earlier`, events before the requested position) comes again with probability
        `event_redelivery`; with `event_shuffle` the page's order is random. Draws from the fault seed."""
        cfg = self.config
        if not cfg.event_redelivery and not cfg.event_shuffle:
            return page
        with self._lock:
            out = list(page)
            for row in [*earlier, *page]:
                if self._rng.random() < cfg.event_redelivery:
                    out.append(row)
            if cfg.event_shuffle:
                self._rng.shuffle(out)
            return out


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return float(value)


def _prob(value: Any, name: str) -> float:
    p = _num(value, name)
    if p > 1:
        raise ValueError(f"{name} must be a probability between 0 and 1")
    return p


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer") from None
    if result < 0:
        raise ValueError(f"{name} must not be negative")
    return result
