"""The debug error page: what went wrong, where, and with which values.

Shown only when ``settings.debug`` is on, by ``ServerErrorMiddleware``. A
browser gets an HTML page with the exception chain, each frame's source and
local variables, and the request; an API client gets the plain traceback.

Values whose name looks secret (``password``, ``api_key``, ``Cookie``...)
are masked wherever a name sits next to them: local variables, dictionary
keys, ``(name, value)`` pairs such as raw headers, dataclass and model
fields, headers and query parameters. Anything else is shown as its
``repr``, so a secret held under an innocent name is shown too: the page is
for a developer's own machine, never for a public site.

The page is a ``BuiltinPage``, served under carboy's strict
Content-Security-Policy; its one style element carries the request's nonce,
and it has no script.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import linecache
import os
import re
import sysconfig
import traceback
from collections.abc import Iterable, Iterator
from html import escape
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import unquote_plus

from carboy.datastructures import URL, Headers
from carboy.middleware.security import BuiltinPage, csp_nonce
from carboy.problems import prefers_html
from carboy.responses import PlainTextResponse, Response
from carboy.types import Scope

__all__ = ["MASK", "debug_response", "is_secret_name"]

MASK = "*" * 20
"""What a secret-looking value is shown as."""

_SECRET_NAME = re.compile(
    r"password|passwd|secret|token|key|api|auth|credential|cookie|session|signature|private",
    re.IGNORECASE,
)
_CONTEXT_LINES = 5
_VALUE_LIMIT = 300
_ITEMS_LIMIT = 30
_DEPTH_LIMIT = 3
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
_NO_CACHE = {"cache-control": "no-store"}
_CARBOY_DIR = os.path.join(os.path.dirname(__file__), "")


def is_secret_name(name: str | bytes) -> bool:
    """Tell whether a variable, key, header or field name looks like it holds a secret.

    Example:
        ``is_secret_name("api_key") is True``; ``is_secret_name("user_id") is False``
    """
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return _SECRET_NAME.search(name) is not None


def debug_response(scope: Scope, exc: BaseException) -> Response:
    """Describe an unhandled exception to the developer: a page, or a plain traceback.

    A browser (``Accept: text/html`` before JSON) gets the HTML page; any
    other client gets a ``text/plain`` traceback without local variables.
    Both are answered with status 500 and ``Cache-Control: no-store``.

    Args:
        scope: The ASGI scope of the request that failed.
        exc: The exception it raised.
    """
    if prefers_html(Headers(scope=scope)):
        return BuiltinPage(_page(scope, exc), 500, _NO_CACHE)
    return PlainTextResponse("".join(traceback.format_exception(exc)), 500, _NO_CACHE)


# The page ------------------------------------------------------------------

_STYLE = """
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #1d1d1f; background: #fff; }
header { padding: 16px 24px; background: #fdecea; border-bottom: 1px solid #f0b4ae; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .message { margin: 0; font: 15px/1.4 ui-monospace, monospace; white-space: pre-wrap; }
header .where { margin: 6px 0 0; color: #555; }
main { padding: 8px 24px 32px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 16px 0 6px; font-family: ui-monospace, monospace; }
.link { margin: 16px 0; font-style: italic; color: #555; }
ol.frames { list-style: none; padding: 0; margin: 0; }
.frame { margin: 8px 0; border: 1px solid #ddd; border-radius: 4px; }
.frame.library { opacity: .7; }
.frame .location { margin: 0; padding: 6px 10px; background: #f5f5f7; }
pre { margin: 0; padding: 6px 0; overflow-x: auto; font: 13px/1.4 ui-monospace, monospace; }
.line { display: block; padding: 0 10px; }
.line.current { background: #fdecea; font-weight: bold; }
.lineno { display: inline-block; min-width: 4em; color: #888; user-select: none; }
details { padding: 4px 10px 8px; }
summary { cursor: pointer; color: #555; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; vertical-align: top; padding: 2px 12px 2px 0; }
td { font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
th { font-weight: 600; white-space: nowrap; }
pre.plain { padding: 10px; background: #f5f5f7; border-radius: 4px; }
"""


def _page(scope: Scope, exc: BaseException) -> str:
    method = str(scope.get("method", ""))
    path = str(scope.get("path", ""))
    parts = [
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="robots" content="noindex">\n',
        f"<title>{escape(type(exc).__name__)} at {escape(path)}</title>\n",
        f'<style nonce="{csp_nonce(scope)}">{_STYLE}</style>\n</head>\n<body>\n<header>\n',
        f"<h1>{escape(type(exc).__qualname__)}</h1>\n",
        f'<p class="message">{escape(_message(exc))}</p>\n',
        f'<p class="where">{escape(method)} {escape(_masked_url(scope))}',
    ]
    innermost = _innermost_frame(exc.__traceback__)
    if innermost is not None:
        frame, lineno = innermost
        parts.append(
            f", raised in <code>{escape(_function(frame))}</code>, "
            f"<code>{escape(frame.f_code.co_filename)}</code>, line {lineno}"
        )
    parts.append("</p>\n</header>\n<main>\n<h2>Traceback</h2>\n")
    for chained, link in _chain(exc):
        if link:
            parts.append(f'<p class="link">{escape(link)}</p>\n')
        parts.append(_exception_section(chained, is_raised=chained is exc))
    parts.append(_request_section(scope))
    parts.append(
        "<h2>Plain traceback</h2>\n"
        f'<pre class="plain">{escape("".join(traceback.format_exception(exc)))}</pre>\n'
        "</main>\n</body>\n</html>\n"
    )
    return "".join(parts)


def _chain(exc: BaseException) -> list[tuple[BaseException, str | None]]:
    """List ``exc`` and the exceptions before it, oldest first, as Python prints them.

    Each exception comes with the sentence that links it to the one above
    it. Exception groups are followed by their sub-exceptions.
    """
    newest_first: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        following: BaseException | None = None
        link = None
        if current.__cause__ is not None:
            following, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            following, link = current.__context__, _CONTEXT
        if following is not None and id(following) in seen:
            following, link = None, None
        newest_first.append((current, link))
        current = following
    chain: list[tuple[BaseException, str | None]] = []
    for exception, link in reversed(newest_first):
        chain.append((exception, link))
        if isinstance(exception, BaseExceptionGroup):
            count = len(exception.exceptions)
            for number, member in enumerate(exception.exceptions, 1):
                for index, (inner, inner_link) in enumerate(_chain(member)):
                    if index == 0:
                        inner_link = f"Exception {number} of {count} in the group above:"
                    chain.append((inner, inner_link))
    return chain


def _exception_section(exc: BaseException, *, is_raised: bool) -> str:
    frames = list(traceback.walk_tb(exc.__traceback__))
    parts = [f'<section class="exception">\n<h3>{escape(_exception_line(exc))}</h3>\n']
    if not frames:
        parts.append("<p>No traceback.</p>\n")
    else:
        parts.append('<ol class="frames">\n')
        for index, (frame, lineno) in enumerate(frames):
            is_innermost = is_raised and index == len(frames) - 1
            parts.append(_frame_item(frame, lineno, is_open=is_innermost))
        parts.append("</ol>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _frame_item(frame: FrameType, lineno: int, *, is_open: bool) -> str:
    filename = frame.f_code.co_filename
    kind = "frame library" if _is_library(filename) else "frame"
    parts = [
        f'<li class="{kind}">\n<p class="location"><code>{escape(filename)}</code>, '
        f"line {lineno}, in <code>{escape(_function(frame))}</code></p>\n",
    ]
    source = _source(frame, lineno)
    if source:
        parts.append(f'<pre class="source">{source}</pre>\n')
    parts.append(f"<details{' open' if is_open else ''}>\n<summary>Local variables</summary>\n")
    if frame.f_locals is frame.f_globals:
        parts.append("<p>Module-level code: its globals are not listed.</p>\n")
    else:
        rows = [(name, _local_value(name, value)) for name, value in frame.f_locals.items()]
        parts.append(_table(rows) if rows else "<p>None.</p>\n")
    parts.append("</details>\n</li>\n")
    return "".join(parts)


def _source(frame: FrameType, lineno: int) -> str:
    lines = linecache.getlines(frame.f_code.co_filename, frame.f_globals)
    if not lines:
        return ""
    first = max(lineno - _CONTEXT_LINES, 1)
    last = min(lineno + _CONTEXT_LINES, len(lines))
    rendered = []
    for number in range(first, last + 1):
        kind = "line current" if number == lineno else "line"
        text = escape(lines[number - 1].rstrip("\r\n"))
        rendered.append(f'<span class="{kind}"><span class="lineno">{number}</span>{text}</span>')
    # Each line is a block of its own: a newline between them would double the spacing.
    return "".join(rendered)


def _request_section(scope: Scope) -> str:
    client = scope.get("client")
    rows = [
        ("Method", str(scope.get("method", ""))),
        ("URL", _masked_url(scope)),
        ("Client", f"{client[0]}:{client[1]}" if client else "unknown"),
    ]
    path_params = scope.get("path_params")
    if path_params:
        rows.append(("Path parameters", _value(path_params)))
    headers = [
        (name.decode("latin-1"), _masked(name, value.decode("latin-1")))
        for name, value in scope.get("headers", [])
    ]
    query = [(name, _masked(name, value)) for name, value in _query_pairs(scope)]
    return (
        "<h2>Request</h2>\n"
        + _table(rows)
        + "<h3>Headers</h3>\n"
        + (_table(headers) if headers else "<p>None.</p>\n")
        + "<h3>Query parameters</h3>\n"
        + (_table(query) if query else "<p>None.</p>\n")
    )


def _table(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>\n" for name, value in rows
    )
    return f"<table>\n{body}</table>\n"


# Names, places and requests --------------------------------------------------


def _exception_line(exc: BaseException) -> str:
    message = _message(exc)
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the original error
        return f"<{type(exc).__name__} whose str() failed>"


def _function(frame: FrameType) -> str:
    return frame.f_code.co_qualname


def _innermost_frame(tb: TracebackType | None) -> tuple[FrameType, int] | None:
    frames = list(traceback.walk_tb(tb))
    return frames[-1] if frames else None


def _is_library(filename: str) -> bool:
    if filename.startswith(_CARBOY_DIR) or filename.startswith("<frozen "):
        return True
    return any(filename.startswith(root) for root in _library_roots())


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple({os.path.join(paths[name], "") for name in names if name in paths})


def _masked(name: str | bytes, value: str) -> str:
    return MASK if is_secret_name(name) else value


def _query_pairs(scope: Scope) -> list[tuple[str, str]]:
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def _masked_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if is_secret_name(unquote_plus(name)):
            part = f"{name}{equals or '='}{MASK}"
        parts.append(part)
    return "&".join(parts)


def _masked_url(scope: Scope) -> str:
    if "path" not in scope or "headers" not in scope:
        return ""
    url = str(URL.from_scope({**scope, "query_string": b""}))
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{url}?{_masked_query(query)}" if query else url


# Values ----------------------------------------------------------------------


class _Full(Exception):
    """The text being written reached its length limit."""


class _Writer:
    """Collect text up to a limit, so that a huge value costs no more than a small one."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.limit = limit

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)
        if self.length > self.limit:
            raise _Full

    def text(self) -> str:
        text = "".join(self.parts)
        return text if len(text) <= self.limit else text[: self.limit] + "…"


def _local_value(name: str, value: Any) -> str:
    return MASK if is_secret_name(name) else _value(value)


def _value(value: Any) -> str:
    """Return the ``repr`` of ``value``, cut to a few hundred characters, secrets masked."""
    writer = _Writer(_VALUE_LIMIT)
    with contextlib.suppress(_Full):
        _write(writer, value, 0)
    return writer.text()


def _write(writer: _Writer, value: Any, depth: int) -> None:
    if depth >= _DEPTH_LIMIT and isinstance(value, (dict, list, tuple, set, frozenset, Headers)):
        writer.write("...")
        return
    if isinstance(value, Headers):
        writer.write(f"{type(value).__name__}(")
        _write_pairs(writer, value.items(), depth)
        writer.write(")")
    elif isinstance(value, dict):
        _write_mapping(writer, value, depth)
    elif isinstance(value, tuple) and isinstance(names := getattr(value, "_fields", None), tuple):
        # A named tuple: its repr names its fields, which may be secret.
        _write_fields(writer, value, zip(names, value, strict=False), depth)
    elif isinstance(value, (list, tuple)) and _is_pairs(value):
        _write_pairs(writer, value, depth)
    elif isinstance(value, (list, tuple, set, frozenset)):
        _write_items(writer, value, depth)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = (
            (field.name, getattr(value, field.name, None))
            for field in dataclasses.fields(value)
            if field.repr
        )
        _write_fields(writer, value, fields, depth)
    elif isinstance(model_fields := getattr(type(value), "model_fields", None), dict):
        # A pydantic model, without importing pydantic.
        fields = (
            (name, getattr(value, name, None))
            for name, field in model_fields.items()
            if getattr(field, "repr", True)
        )
        _write_fields(writer, value, fields, depth)
    else:
        writer.write(_leaf(value))


def _write_mapping(writer: _Writer, mapping: dict[Any, Any], depth: int) -> None:
    writer.write("{")
    for index, (key, item) in enumerate(mapping.items()):
        if index:
            writer.write(", ")
        if index == _ITEMS_LIMIT:
            writer.write("...")
            break
        writer.write(_leaf(key) + ": ")
        if isinstance(key, (str, bytes)) and is_secret_name(key):
            writer.write(MASK)
        elif key == "query_string" and isinstance(item, bytes):
            # An ASGI scope's query: tokens travel there too.
            writer.write(repr(_masked_query(item.decode("latin-1")).encode("latin-1")))
        else:
            _write(writer, item, depth + 1)
    writer.write("}")


def _write_items(writer: _Writer, items: Iterable[Any], depth: int) -> None:
    if isinstance(items, list):
        opening, closing = "[", "]"
    elif isinstance(items, tuple):
        opening, closing = "(", ")"
    elif not items:
        writer.write(f"{type(items).__name__}()")
        return
    elif isinstance(items, frozenset):
        opening, closing = "frozenset({", "})"
    else:
        opening, closing = "{", "}"
    writer.write(opening)
    count = 0
    for count, item in enumerate(items, 1):
        if count > 1:
            writer.write(", ")
        if count > _ITEMS_LIMIT:
            writer.write("...")
            break
        _write(writer, item, depth + 1)
    if isinstance(items, tuple) and count == 1:
        writer.write(",")
    writer.write(closing)


def _is_pairs(items: list[Any] | tuple[Any, ...]) -> bool:
    """Tell whether ``items`` is a list of ``(name, value)`` pairs, as raw headers are."""
    return bool(items) and all(
        isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], (str, bytes))
        for item in items[:_ITEMS_LIMIT]
    )


def _write_pairs(writer: _Writer, pairs: Iterable[tuple[Any, Any]], depth: int) -> None:
    writer.write("[")
    for index, (name, item) in enumerate(pairs):
        if index:
            writer.write(", ")
        if index == _ITEMS_LIMIT:
            writer.write("...")
            break
        writer.write(f"({_leaf(name)}, ")
        if is_secret_name(name):
            writer.write(MASK)
        else:
            _write(writer, item, depth + 1)
        writer.write(")")
    writer.write("]")


def _write_fields(
    writer: _Writer, value: Any, fields: Iterator[tuple[str, Any]], depth: int
) -> None:
    writer.write(f"{type(value).__qualname__}(")
    for index, (name, item) in enumerate(fields):
        if index:
            writer.write(", ")
        writer.write(f"{name}=")
        if is_secret_name(name):
            writer.write(MASK)
        else:
            _write(writer, item, depth + 1)
    writer.write(")")


def _leaf(value: Any) -> str:
    if isinstance(value, (str, bytes)) and len(value) > _VALUE_LIMIT:
        value = value[:_VALUE_LIMIT]  # the repr of the first part is all that shows
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not hide the original error
        return f"<{type(value).__name__} whose repr() failed: {type(exc).__name__}>"
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "…"
