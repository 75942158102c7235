"""The database battery's exceptions; they sit in the tree of ``carboy.exceptions``."""

from __future__ import annotations

from carboy.exceptions import CarboyError

__all__ = ["FixtureError", "MigrationError"]


class MigrationError(CarboyError):
    """A migration command could not do its work; the message says why and what to do."""


class FixtureError(CarboyError, ValueError):
    """A fixture cannot be dumped or loaded; the message names the row and the reason."""
