"""Page views' gate; it lives in `boxvault.core.access` so every app can use it without importing accounts."""

from boxvault.core.access import requires

__all__ = ["requires"]
