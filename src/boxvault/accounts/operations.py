"""Moved to `boxvault.core.operations`; kept so code written against the old place still imports."""

from boxvault.core.operations import ADMIN_ONLY, GRANTABLE, LABELS, SERVICES, Operation

__all__ = ["ADMIN_ONLY", "GRANTABLE", "LABELS", "SERVICES", "Operation"]
