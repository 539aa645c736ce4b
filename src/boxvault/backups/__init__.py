"""Backup tasks: a Box connection, its users, their schedule and the repository their snapshots go to."""
