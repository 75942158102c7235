"""``BatteryMigrations``: how a battery ships the migrations of its own tables.

A battery that owns tables declares them, and the folder of migrations that
creates them, on its extension object::

    class Auth:
        name = "auth"
        migrations = BatteryMigrations(
            package="carboy.auth",
            folder="migrations",
            branch="auth",
            tables=frozenset({"auth_user", "auth_group"}),
        )

``carboy db`` finds it on every installed extension: ``carboy db migrate``
applies the battery's migrations beside the app's own, and ``carboy db
makemigrations`` leaves the battery's tables to them. The battery's first
migration carries ``branch_labels = ("auth",)`` and ``down_revision =
None``, so that ``carboy db downgrade auth@base`` reverts them all.

This module imports nothing heavy: a battery reads it at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["BatteryMigrations", "installed_migrations"]


@dataclass(frozen=True)
class BatteryMigrations:
    """The migrations a battery ships, and the tables they own.

    Args:
        package: The battery's package, such as ``"carboy.auth"``.
        folder: The folder of migrations inside ``package``.
        branch: The branch label of the battery's first migration; also the
            name to downgrade by, ``carboy db downgrade auth@base``.
        tables: The tables the migrations create. The app's own
            ``makemigrations`` never creates, changes or drops them.
    """

    package: str
    folder: str
    branch: str
    tables: frozenset[str]


def installed_migrations(extensions: Iterable[object]) -> Iterator[BatteryMigrations]:
    """Yield the ``BatteryMigrations`` of the ``extensions`` that declare one, in order.

    An extension declares its migrations with a ``migrations`` attribute of
    this type; attributes of that name of any other type (the ``Database``'s
    folder) are not battery migrations.
    """
    for extension in extensions:
        migrations = getattr(extension, "migrations", None)
        if isinstance(migrations, BatteryMigrations):
            yield migrations
