"""Errors every layer may raise and every surface (page, API, CLI) knows how to show."""

from __future__ import annotations


class ServiceError(ValueError):
    """A request the service refuses, with a message meant for the person who made it."""
