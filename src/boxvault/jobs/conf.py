"""Tunables of the job machinery, read from Django settings first (tests override them there), then from
the environment (docs/jobs.md)."""

from __future__ import annotations

from django.conf import settings

from boxvault.core.env import env_int


def _value(name: str, default: int) -> int:
    configured = getattr(settings, name, None)
    return int(configured) if configured is not None else env_int(name, default)


def lease_seconds() -> int:
    """How long a claim lives without a heartbeat; a dead worker's job is handed over after this."""
    return max(2, _value("BOXVAULT_JOB_LEASE_SECONDS", 60))


def max_attempts() -> int:
    """Claims a job may get before the reconciler gives up on it (a handler that kills its worker)."""
    return max(1, _value("BOXVAULT_JOB_MAX_ATTEMPTS", 3))


def reconcile_seconds() -> int:
    """How often each worker process runs the reconciler (0 = only the per-minute periodic task)."""
    return max(0, _value("BOXVAULT_JOB_RECONCILE_SECONDS", 15))


def retention_days() -> int:
    """Finished jobs and their logs older than this are deleted by the daily cleanup."""
    return max(7, _value("BOXVAULT_JOB_RETENTION_DAYS", 90))


def max_log_lines() -> int:
    return max(10, _value("BOXVAULT_JOB_MAX_LOG_LINES", 5000))
