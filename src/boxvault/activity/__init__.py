"""System activity: one row per finished job or notable operation, with the figures an administrator plots."""
