"""boxvault: self-hosted backup and recovery for Box, stored in the restic repository format."""

__version__ = "0.1.0"
