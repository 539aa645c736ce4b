"""Receivers of the jobs and backups signals (filled in below as the notification types land)."""
