"""StaticFiles: serve a directory's files, as an ASGI app to mount.

``app.mount("/static", StaticFiles(directory="static"), name="static")``
serves ``static/css/site.css`` at ``/static/css/site.css``. Files go out as
``FileResponse``, so ETags, 304s and byte ranges work as they do there.
"""

from __future__ import annotations

import os
import stat
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
    """Serve the files under ``directory``; mount it at a path prefix.

    The file's path is ``scope["path"]`` below ``scope["root_path"]`` (the
    mount prefix), such as ``/css/site.css``. Only GET and HEAD are answered
    (405 otherwise). A path that would leave the directory (``..``, a
    backslash, a drive, a symlink pointing outside) gets the same 404 as a
    missing file, so nothing is revealed about what lies outside it.

    Args:
        directory: The folder to serve.
        html: Serve ``index.html`` for a directory, and redirect ``/docs`` to
            ``/docs/`` (308) when ``docs/index.html`` exists.
        follow_symlinks: Serve symlinks that point outside ``directory``.
            Off by default: a symlink is served only if its target is inside.
        check_dir: Check at construction that ``directory`` exists.

    Raises:
        ImproperlyConfigured: if ``check_dir`` is on and ``directory`` is
            missing or not a directory.

    Example:
        ``app.mount("/static", StaticFiles(directory="static"), name="static")``
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        html: bool = False,
        follow_symlinks: bool = False,
        check_dir: bool = True,
    ) -> None:
        self.directory = os.fspath(directory)
        self.html = html
        self.follow_symlinks = follow_symlinks
        if check_dir and not os.path.isdir(self.directory):
            if os.path.exists(self.directory):
                raise ImproperlyConfigured(
                    f"The static directory {self.directory!r} is a file, not a directory. "
                    "Pass the path of a directory."
                )
            raise ImproperlyConfigured(
                f"The static directory {self.directory!r} does not exist. "
                "Create it, or pass check_dir=False."
            )

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
        name = parts[-1] if parts and not path.endswith("/") else _INDEX
        file = FileResponse(found.path, media_type=_guess_media_type(name), stat_result=found.stat)
        await file(scope, receive, send)

    def _lookup(
        self, parts: list[str], wants_directory: bool
    ) -> _Found | Literal["redirect"] | None:
        # The directory is resolved on every request, not once: a deploy
        # that swaps a symlink above it must take effect at once.
        root = os.path.realpath(self.directory)
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
