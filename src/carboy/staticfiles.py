"""StaticFiles: serve the files of one or more folders, as an ASGI app to mount.

``app.mount("/static", StaticFiles(directory="static"), name="static")``
serves ``static/css/site.css`` at ``/static/css/site.css``. Files go out as
``FileResponse``, so ETags, 304s and byte ranges work as they do there.
``StaticFiles(directories=["static", "vendor/static"])`` serves several
folders as one: the first that has a file serves it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple
from urllib.parse import quote

import anyio

from carboy._fileresponse import FileResponse, _guess_media_type
from carboy.exceptions import ImproperlyConfigured
from carboy.responses import PlainTextResponse, RedirectResponse
from carboy.types import Receive, Scope, Send

__all__ = ["StaticFiles"]

_INDEX = "index.html"


class _Found(NamedTuple):
    path: str
    stat: os.stat_result


class StaticFiles:
    """Serve the files under ``directory``, or under several ``directories``; mount it.

    The file's path is ``scope["path"]`` below ``scope["root_path"]`` (the
    mount prefix), such as ``/css/site.css``. Only GET and HEAD are answered
    (405 otherwise). A path that would leave the directory (``..``, a
    backslash, a drive, a symlink pointing outside) gets the same 404 as a
    missing file, so nothing is revealed about what lies outside it.

    Args:
        directory: The folder to serve.
        directories: Several folders to serve as one, instead of
            ``directory``: a path is looked up in each in turn, and the
            first folder that has it serves it.
        html: Serve ``index.html`` for a directory, and redirect ``/docs`` to
            ``/docs/`` (308) when ``docs/index.html`` exists.
        follow_symlinks: Serve symlinks that point outside their folder.
            Off by default: a symlink is served only if its target is inside.
        check_dir: Check at construction that each folder exists.
        cache_control: The ``Cache-Control`` header of the files: one value
            for all, or a function of the file's path below the mount (such
            as ``css/site.css``) returning the value, or ``None`` for none.

    Raises:
        ImproperlyConfigured: if neither or both of ``directory`` and
            ``directories`` are given, or ``check_dir`` is on and a folder
            is missing or not a directory.

    Example:
        ``app.mount("/static", StaticFiles(directory="static"), name="static")``
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        directories: Sequence[str | os.PathLike[str]] | None = None,
        html: bool = False,
        follow_symlinks: bool = False,
        check_dir: bool = True,
        cache_control: str | Callable[[str], str | None] | None = None,
    ) -> None:
        if (directory is None) == (directories is None):
            raise ImproperlyConfigured(
                "StaticFiles takes the folder to serve as directory=, or several as "
                "directories=. Pass one of the two."
            )
        if directories is not None and not directories:
            raise ImproperlyConfigured(
                "StaticFiles(directories=[]) has no folder to serve. Pass at least one."
            )
        given = [directory] if directory is not None else list(directories or ())
        self.directories = [os.fspath(folder) for folder in given]
        self.html = html
        self.follow_symlinks = follow_symlinks
        self.cache_control = cache_control
        if check_dir:
            for folder in self.directories:
                _check_directory(folder)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request under the mount (ASGI)."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # ASGI: a close before accept refuses the handshake with a 403.
                await send({"type": "websocket.close", "code": 1000})
                return
            raise RuntimeError(
                f"StaticFiles received a {scope['type']!r} scope, but it answers HTTP "
                "requests only. Pass it HTTP scopes, as a mount does."
            )
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed: static files answer GET and HEAD only.",
                405,
                {"allow": "GET, HEAD"},
            )
            await response(scope, receive, send)
            return
        path = _path_under_mount(scope)
        if "\x00" in path:
            # No file name can hold NUL, and os functions raise on it.
            response = PlainTextResponse("The path holds a NUL byte, which no file name can.", 400)
            await response(scope, receive, send)
            return
        parts = _path_parts(path)
        found = None
        if parts is not None:
            found = await anyio.to_thread.run_sync(self._lookup, parts, path.endswith("/"))
        if found is None:
            await PlainTextResponse("Not Found", 404)(scope, receive, send)
            return
        if found == "redirect":
            await _redirect_to_directory(scope, parts or [])(scope, receive, send)
            return
        served = parts if parts and not path.endswith("/") else [*(parts or []), _INDEX]
        cache_control = self.cache_control
        if callable(cache_control):
            cache_control = cache_control("/".join(served))
        file = FileResponse(
            found.path,
            headers={"cache-control": cache_control} if cache_control else None,
            media_type=_guess_media_type(served[-1]),
            stat_result=found.stat,
        )
        await file(scope, receive, send)

    def _lookup(
        self, parts: list[str], wants_directory: bool
    ) -> _Found | Literal["redirect"] | None:
        for directory in self.directories:
            found = self._lookup_in(directory, parts, wants_directory)
            if found is not None:
                return found
        return None

    def _lookup_in(
        self, directory: str, parts: list[str], wants_directory: bool
    ) -> _Found | Literal["redirect"] | None:
        # The directory is resolved on every request, not once: a deploy
        # that swaps a symlink above it must take effect at once.
        root = os.path.realpath(directory)
        candidate = os.path.join(root, *parts)
        found = self._stat_inside(root, candidate)
        if found is None:
            return None
        if stat.S_ISREG(found.stat.st_mode):
            # One URL per file: "/site.css/" is not "/site.css".
            return None if wants_directory else found
        if self.html and stat.S_ISDIR(found.stat.st_mode):
            index = self._stat_inside(root, os.path.join(candidate, _INDEX))
            if index is not None and stat.S_ISREG(index.stat.st_mode):
                # Without the slash, relative links in the page would resolve
                # against the parent directory.
                return index if wants_directory else "redirect"
        # Directories without an index, pipes and devices are not served.
        return None

    def _stat_inside(self, root: str, candidate: str) -> _Found | None:
        # abspath still folds "..", so even with symlinks followed a path is
        # checked against the directory after normalisation.
        path = os.path.abspath(candidate) if self.follow_symlinks else os.path.realpath(candidate)
        try:
            if os.path.commonpath([root, path]) != root:
                return None
            return _Found(path, os.stat(path))
        except (OSError, ValueError):
            # ValueError: paths on different Windows drives have no common path.
            return None


def _check_directory(directory: str) -> None:
    if os.path.isdir(directory):
        return
    if os.path.exists(directory):
        raise ImproperlyConfigured(
            f"The static directory {directory!r} is a file, not a directory. "
            "Pass the path of a directory."
        )
    raise ImproperlyConfigured(
        f"The static directory {directory!r} does not exist. Create it, or pass check_dir=False."
    )


def _path_under_mount(scope: Scope) -> str:
    """Return the part of the path below the mount.

    ASGI servers and carboy's Mount pass the full ``path`` with the prefix in
    ``root_path``; a mount that strips the prefix passes only the rest.
    Both are accepted.
    """
    path: str = scope["path"]
    root = scope.get("root_path", "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :]
    return path


def _path_parts(path: str) -> list[str] | None:
    """Split a request path into file name parts, or None if it tries to climb out.

    A backslash is a separator on every OS, so a path written for Windows
    cannot slip through on POSIX or the other way round.
    """
    parts = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == ".." or os.path.splitdrive(part)[0]:
            return None
        parts.append(part)
    return parts


def _redirect_to_directory(scope: Scope, parts: list[str]) -> RedirectResponse:
    # Built from the checked parts, never the raw path: a raw "//host" would
    # make a protocol-relative Location that leaves the site.
    prefix = scope.get("root_path", "").rstrip("/")
    location = quote(prefix + "/" + "".join(part + "/" for part in parts))
    query = scope.get("query_string", b"")
    if query:
        location += "?" + query.decode("latin-1")
    # RFC 9110 15.4.9: 308 keeps the method, unlike 301/302.
    return RedirectResponse(location, 308)
