"""What a handler sees of its job: progress, log, cancel, partial success.

Progress and log lines are buffered and written at most once a second (and at the end), so a handler may
call them per file without turning the run into a stream of small transactions; SQLite has one writer.
A background thread renews the lease; when the lease is lost (the reconciler gave the job to another
worker) `cancelled()` answers True so the handler stops, and nothing it does later is written.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import connection

from boxvault.jobs import conf, services
from boxvault.jobs.models import Job, JobLogLine

log = logging.getLogger("boxvault.jobs")

FLUSH_SECONDS = 1.0
CANCEL_CHECK_SECONDS = 1.0


class JobCancelled(Exception):
    """Raised by `ctx.raise_if_cancelled()`; the runner turns it into a Canceled job."""


class JobContext:
    def __init__(self, job: Job, worker_id: str) -> None:
        self.job = job
        self.worker_id = worker_id
        self.lost = False
        self.cancel_seen = False
        self.partial_reasons: list[str] = []
        self.result: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._fields: dict[str, Any] = {}
        self._lines: list[tuple[str, str]] = []
        self._last_flush = time.monotonic()
        self._last_cancel_check = 0.0
        self._cancel_flag = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # --- for handlers
    def progress(
        self,
        *,
        items_done: int | None = None,
        items_total: int | None = None,
        items_failed: int | None = None,
        bytes_done: int | None = None,
        bytes_total: int | None = None,
        message: str | None = None,
    ) -> None:
        values = {
            "items_done": items_done,
            "items_total": items_total,
            "items_failed": items_failed,
            "bytes_done": bytes_done,
            "bytes_total": bytes_total,
            "message": message[:1000] if message is not None else None,
        }
        with self._lock:
            for name, value in values.items():
                if value is not None:
                    self._fields[name] = value
                    setattr(self.job, name, value)
        self._maybe_flush()

    def log(self, message: str, level: str = "info") -> None:
        if level not in JobLogLine.Level.values:
            level = JobLogLine.Level.INFO
        with self._lock:
            self._lines.append((level, str(message)))
        self._maybe_flush()

    def partial(self, reason: str = "") -> None:
        """Some items failed: the job ends Partially succeeded instead of Succeeded."""
        self.partial_reasons.append(reason)
        if reason:
            self.log(reason, "warning")

    def set_result(self, **values: Any) -> None:
        """Merged into `job.result` when the job finishes (e.g. snapshot ids, a download URL)."""
        self.result.update(values)

    def cancelled(self) -> bool:
        """True once a cancel was requested (checked at most once a second) or the lease was lost."""
        now = time.monotonic()
        if not (self._cancel_flag or self.lost) and now - self._last_cancel_check >= CANCEL_CHECK_SECONDS:
            self._last_cancel_check = now
            self._cancel_flag = services.cancel_requested(self.job.pk)
        if self._cancel_flag or self.lost:
            self.cancel_seen = True
            return True
        return False

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def heartbeat(self) -> bool:
        """Renew the lease now (automatic in the background); False when the job is no longer ours."""
        alive, cancel = services.heartbeat(self.job.pk, self.worker_id)
        if not alive:
            self.lost = True
        if cancel:
            self._cancel_flag = True
        return alive

    # --- for the runner
    def start(self) -> None:
        self._beat = threading.Thread(target=self._beat_loop, name=f"job-{self.job.pk}-lease", daemon=True)
        self._beat.start()

    def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        self.flush()

    def flush(self) -> None:
        with self._lock:
            fields, lines = self._fields, self._lines
            self._fields, self._lines = {}, []
            self._last_flush = time.monotonic()
        if (fields or lines) and not self.lost:
            if not services.save_progress(self.job.pk, self.worker_id, fields, lines):
                self.lost = True

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def _beat_loop(self) -> None:
        interval = max(0.5, min(conf.lease_seconds() / 3, 10.0))
        try:
            while not self._stop.wait(interval):
                try:
                    if not self.heartbeat():
                        log.warning("job %s: lease lost, stopping", self.job.pk)
                        return
                    self.flush()
                except Exception:  # a failed beat is retried; the lease covers a few misses
                    log.exception("job %s: heartbeat failed", self.job.pk)
        finally:
            connection.close()  # this thread's own connection
