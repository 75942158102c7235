"""The folders an app draws templates and static files from.

There are three sources, searched in this order so that an app overrides
what a router or a battery brings: the app's own folders (from its
settings), the folders of its included routers (in the order they were
included), then folders inside installed packages, which batteries register
in their ``init_app``.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Literal

from carboy.exceptions import ImproperlyConfigured
from carboy.routing import Include, Router


@dataclass(frozen=True)
class Folder:
    """One folder of a search path, and how error messages name it."""

    path: str
    """The absolute path."""
    origin: str
    """Where it comes from, such as ``router 'blog'``; empty for the app's own."""
    exists: bool
    """Whether the folder was there when the search path was made."""

    def describe(self) -> str:
        """Name the folder for a message: ``/srv/site/blog/templates (router 'blog')``."""
        notes = [self.origin] if self.origin else []
        if not self.exists:
            notes.append("missing")
        return f"{self.path} ({', '.join(notes)})" if notes else self.path


def app_folders(paths: Iterable[str]) -> list[Folder]:
    """Return the app's own folders, relative ones taken from the working folder."""
    return [_folder(path, "") for path in paths]


def router_folders(
    app: Router, attribute: Literal["template_folder", "static_folder"]
) -> list[Folder]:
    """Return the routers' folders of one kind, in the order the routers were included."""
    folders = []
    for router in included_routers(app):
        path = getattr(router, attribute)
        if path is not None:
            label = f"router {router.namespace!r}" if router.namespace else "a router"
            folders.append(_folder(path, label))
    return folders


def _folder(path: str, origin: str) -> Folder:
    absolute = os.path.abspath(path)
    return Folder(absolute, origin, os.path.isdir(absolute))


def included_routers(router: Router) -> Iterator[Router]:
    """Yield the routers included in ``router``, each before its own, once each."""
    seen: set[int] = set()

    def walk(parent: Router) -> Iterator[Router]:
        for item in parent.routes:
            if isinstance(item, Include) and id(item.router) not in seen:
                seen.add(id(item.router))
                yield item.router
                yield from walk(item.router)

    return walk(router)


def package_folder(package: str, folder: str, kind: str) -> Traversable:
    """Return the folder ``folder`` inside the installed package ``package``.

    Raises:
        ImproperlyConfigured: if the package cannot be imported, is a module
            rather than a package, or has no such folder.
    """
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        # An import failing inside the package is its own error, not a missing package.
        if exc.name is None or not (package == exc.name or package.startswith(exc.name + ".")):
            raise
        raise ImproperlyConfigured(
            f"The package {package!r} is not installed, so its {kind} folder {folder!r} "
            "cannot be added. Install it, or fix the package name."
        ) from None
    except TypeError:
        raise ImproperlyConfigured(
            f"{package!r} is a module, not a package, so it has no {kind} folder "
            f"{folder!r}. Pass the name of the package that holds the folder."
        ) from None
    found = root.joinpath(folder)
    if not found.is_dir():
        raise ImproperlyConfigured(
            f"The package {package!r} has no {kind} folder {folder!r}. Create "
            f"{package.replace('.', '/')}/{folder}/ in it, or pass folder= its actual name."
        )
    return found
