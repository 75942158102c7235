"""An app's static files: their URLs, serving them, and collecting them for production.

Where the files come from, first match winning, so that an app overrides a
router's or a battery's file by having its own at the same path:

1. the app's ``static_dirs`` setting (relative to the working folder;
   missing folders are skipped);
2. the routers' ``Router(static_folder=...)``, in the order the routers
   were included;
3. the batteries' package folders, registered with ``add_static_package``
   in their ``init_app``.

All of them share one URL space under ``static_url``, so a router or battery
keeps its files in a folder of its own name (``static/carboy/admin/...``).

In development, and in production before ``carboy collectstatic`` has run,
the files are served from those folders with ``Cache-Control: no-cache``:
browsers keep them but ask each time, and get a 304 when the ETag still
matches. ``carboy collectstatic`` copies them into ``static_root`` under
content-hashed names (``css/site.css`` becomes ``css/site.3f2a9c1b04de.css``,
the first 12 hex digits of its SHA-256) and writes the map from one to the
other into ``static_root/staticfiles.json``. When that manifest exists and
debug is off, ``static()`` gives the hashed URLs and ``static_root`` alone is
served, the hashed files with ``Cache-Control: public, max-age=31536000,
immutable``: a changed file gets a new name, so a cached one never goes stale.
In debug the manifest is ignored, so edited files show at once.

``url()`` references inside CSS files are not rewritten: a stylesheet that
refers to ``../img/logo.png`` gets the unhashed copy, which collectstatic keeps
beside the hashed one, served with ``no-cache``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from carboy._folders import Folder, app_folders, package_folder, router_folders
from carboy.exceptions import ImproperlyConfigured
from carboy.routing import Mount

if TYPE_CHECKING:
    from carboy.app import Carboy

__all__ = [
    "IMMUTABLE",
    "MANIFEST_NAME",
    "REVALIDATE",
    "add_static_package",
    "collect_static",
    "mount_static",
    "static_url",
]

MANIFEST_NAME = "staticfiles.json"
"""The manifest's file name in ``static_root``."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""The Cache-Control of hashed files: a year, never revalidated (RFC 8246)."""

REVALIDATE = "no-cache"
"""The Cache-Control of other files: kept, but revalidated with their ETag each time."""

_HASH_LENGTH = 12
_STATE_NAME = "_carboy_static"
_state_lock = threading.Lock()


class _AppStatic:
    """What one app keeps about its static files, in ``app.state``."""

    def __init__(self) -> None:
        self.packages: list[Folder] = []
        self.is_mounted = False
        self.manifest: dict[str, str] | None = None
        self.is_manifest_read = False


def _state(app: Carboy) -> _AppStatic:
    state = app.state
    if _STATE_NAME not in state:
        with _state_lock:
            if _STATE_NAME not in state:
                setattr(state, _STATE_NAME, _AppStatic())
    found: _AppStatic = getattr(state, _STATE_NAME)
    return found


def add_static_package(app: Carboy, package: str, folder: str = "static") -> None:
    """Serve and collect the static files in ``folder`` of the installed ``package``.

    For batteries and other extensions, in their ``init_app``. The folder
    comes after the app's and the routers' folders, so the app can override
    any of its files. Adding the same folder twice adds it once.

    Example::

        def init_app(self, app: Carboy) -> None:
            add_static_package(app, "carboy.admin")   # carboy/admin/static/

    Raises:
        ImproperlyConfigured: if the package or its folder is missing, the
            folder is not a plain folder on disk, or the app has already
            mounted its static files.
    """
    state = _state(app)
    if state.is_mounted:
        raise ImproperlyConfigured(
            f"Cannot add the static folder {folder!r} of the package {package!r}: the app's "
            "static files were mounted when it started. Call add_static_package() in an "
            "extension's init_app(), before the app serves."
        )
    found = package_folder(package, folder, "static")
    if not isinstance(found, Path):
        raise ImproperlyConfigured(
            f"The static folder {folder!r} of the package {package!r} is not a single folder "
            "on disk (the package is zipped, or a namespace package), so it cannot be served. "
            "Install the package unzipped, as a regular package."
        )
    entry = Folder(str(found), f"package {package!r}", True)
    if entry not in state.packages:
        state.packages.append(entry)


def _source_folders(app: Carboy) -> list[Folder]:
    """Return the folders the app's static files come from, in lookup order.

    Missing folders are included, marked as such.
    """
    settings = app.settings
    return [
        *app_folders(settings.static_dirs),
        *router_folders(app, "static_folder"),
        *_state(app).packages,
    ]


def static_url(app: Carboy, path: str) -> str:
    """Return the URL of the static file ``path``, such as ``css/site.css``.

    The ``static()`` of templates. With a manifest in ``static_root`` and
    debug off, the URL names the hashed file: ``/static/css/site.3f2a9c1b04de.css``.

    Raises:
        ImproperlyConfigured: if a manifest is in use and ``path`` is not in
            it: the file was added after the last ``carboy collectstatic``,
            or the path is wrong.
    """
    name = path.lstrip("/")
    manifest = _manifest(app)
    if manifest is not None:
        hashed = manifest.get(name)
        if hashed is None:
            raise ImproperlyConfigured(
                f"The static file {name!r} is not in the manifest {_manifest_path(app)}: it was "
                "added after the last collectstatic, or its path is wrong. Run "
                "`carboy collectstatic`, or fix the path."
            )
        name = hashed
    return f"{app.settings.static_url.rstrip('/')}/{quote(name)}"


def mount_static(app: Carboy) -> None:
    """Mount the app's static files at ``static_url``, once; call it before the app serves.

    Nothing is mounted when ``static_url`` is on another host (a CDN, such as
    ``https://cdn.example.com/static``), when the app has mounted an app of
    its own at that path, or when there is no static folder. Calling it
    again does nothing.

    Raises:
        ImproperlyConfigured: if ``static_url`` is ``/`` (the files would
            shadow every route), or the app has already started serving.
    """
    state = _state(app)
    if state.is_mounted:
        return
    url = app.settings.static_url
    prefix = url.rstrip("/")
    if not url.startswith("/") or any(
        isinstance(item, Mount) and item.path == prefix for item in app.routes
    ):
        state.is_mounted = True
        return
    if not prefix:
        raise ImproperlyConfigured(
            "The static_url setting is '/', so static files would be looked up before "
            "every route. Set CARBOY_STATIC_URL to a path of their own, such as /static."
        )
    from carboy.staticfiles import StaticFiles

    manifest = _manifest(app)
    if manifest is not None:
        hashed = frozenset(manifest.values())
        files = StaticFiles(
            directory=_static_root(app),
            cache_control=lambda name: IMMUTABLE if name in hashed else REVALIDATE,
        )
    else:
        folders = [folder.path for folder in _source_folders(app) if folder.exists]
        if not folders:
            state.is_mounted = True
            return
        files = StaticFiles(directories=folders, cache_control=REVALIDATE)
    app.mount(prefix, files)
    state.is_mounted = True


def collect_static(app: Carboy) -> int:
    """Copy the app's static files into ``static_root``, hashed, and write the manifest.

    Each file is copied twice: under its own name, and under a name with
    the first 12 hex digits of its SHA-256 before the extension
    (``site.3f2a9c1b04de.css``). Where several folders hold the same path,
    the first in lookup order wins. Names starting with ``.`` and ending with
    ``~`` (editor backups) are skipped. Files already in ``static_root`` are
    kept, so pages cached with older hashed names still find their files.

    Returns:
        The number of files collected.

    Raises:
        ImproperlyConfigured: if ``static_root`` is not set, or lies inside
            one of the static folders.
    """
    root = _static_root(app)
    folders = [folder for folder in _source_folders(app) if folder.exists]
    real_root = os.path.realpath(root)
    for folder in folders:
        real_folder = os.path.realpath(folder.path)
        if os.path.commonpath([real_root, real_folder]) == real_folder:
            raise ImproperlyConfigured(
                f"The static_root {root} is inside the static folder {folder.path}, so "
                "collecting would copy the collected files again. Set CARBOY_STATIC_ROOT to a "
                "folder outside every static folder."
            )
    os.makedirs(root, exist_ok=True)
    sources: dict[str, str] = {}
    for folder in folders:
        for name, path in _files(folder.path):
            sources.setdefault(name, path)
    paths: dict[str, str] = {}
    for name, path in sorted(sources.items()):
        hashed = _hashed_name(name, path)
        for target in (name, hashed):
            destination = os.path.join(root, *target.split("/"))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(path, destination)
        paths[name] = hashed
    _write_manifest(os.path.join(root, MANIFEST_NAME), paths)
    return len(paths)


def _static_root(app: Carboy) -> str:
    static_root = app.settings.static_root
    if static_root is None:
        raise ImproperlyConfigured(
            "The static_root setting is not set, so there is no folder to collect static files "
            "into. Set CARBOY_STATIC_ROOT to one, such as CARBOY_STATIC_ROOT=/srv/site/static."
        )
    return os.path.abspath(static_root)


def _manifest_path(app: Carboy) -> str:
    return os.path.join(_static_root(app), MANIFEST_NAME)


def _manifest(app: Carboy) -> dict[str, str] | None:
    """Return the manifest's paths when hashed files are served, else None.

    Read once per app: a new collectstatic takes effect when the app restarts.
    """
    settings = app.settings
    if settings.debug or settings.static_root is None:
        return None
    state = _state(app)
    if not state.is_manifest_read:
        path = _manifest_path(app)
        state.manifest = _read_manifest(path) if os.path.isfile(path) else None
        state.is_manifest_read = True
    return state.manifest


def _read_manifest(path: str) -> dict[str, str]:
    problem = "it is not valid JSON"
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except ValueError:
        document = None
    else:
        problem = "it lacks the map of paths carboy collectstatic writes"
        paths = document.get("paths") if isinstance(document, dict) else None
        if isinstance(paths, dict) and all(
            isinstance(key, str) and isinstance(value, str) for key, value in paths.items()
        ):
            return paths
    raise ImproperlyConfigured(
        f"The static manifest {path} cannot be read: {problem}. Run `carboy collectstatic` "
        "to write it again."
    )


def _write_manifest(path: str, paths: dict[str, str]) -> None:
    text = json.dumps({"version": 1, "paths": paths}, indent=2, sort_keys=True) + "\n"
    # Written aside, then moved in place: a server starting meanwhile reads
    # the old manifest or the new one, never half of one.
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def _files(folder: str) -> list[tuple[str, str]]:
    """Return ``(name below the folder with / separators, path)`` of each file to collect."""
    found: list[tuple[str, str]] = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if not _is_skipped(name))
        relative = os.path.relpath(directory, folder)
        prefix = "" if relative == os.curdir else relative.replace(os.sep, "/") + "/"
        found.extend(
            (prefix + name, os.path.join(directory, name))
            for name in sorted(files)
            if not _is_skipped(name)
        )
    return found


def _is_skipped(name: str) -> bool:
    return name.startswith(".") or name.endswith("~")


def _hashed_name(name: str, path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(64 * 1024):
            digest.update(chunk)
    directory, _, base = name.rpartition("/")
    stem, extension = os.path.splitext(base)
    hashed = f"{stem}.{digest.hexdigest()[:_HASH_LENGTH]}{extension}"
    return f"{directory}/{hashed}" if directory else hashed
