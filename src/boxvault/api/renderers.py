"""Moved to `boxvault.core.renderers`; kept so code written against the old place still imports."""

from boxvault.core.renderers import CSVRenderer

__all__ = ["CSVRenderer"]
