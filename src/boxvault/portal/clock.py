"""Moved to `boxvault.core.clock`; kept so code written against the old place still imports."""

from boxvault.core.clock import frozen_at, now

__all__ = ["frozen_at", "now"]
