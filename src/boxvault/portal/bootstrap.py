"""Moved to `boxvault.core.bootstrap`; kept so code written against the old place still imports."""

from boxvault.core.bootstrap import SETTINGS, data_dir, ensure_secret_key, setup

__all__ = ["SETTINGS", "data_dir", "ensure_secret_key", "setup"]
