"""Error responses: problem details (RFC 9457) for API clients, a page for browsers.

The page is a ``BuiltinPage``: it has no script and no style, and is served
under carboy's strict Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from carboy.datastructures import Headers
from carboy.middleware.security import BuiltinPage
from carboy.responses import JSONResponse, Response

__all__ = ["error_response", "prefers_html"]


class ProblemResponse(JSONResponse):
    """An ``application/problem+json`` response (RFC 9457)."""

    media_type = "application/problem+json"


def prefers_html(headers: Headers) -> bool:
    """Tell whether the client asked for HTML before JSON, as a browser does.

    Browsers send ``Accept: text/html,...``; API clients send JSON types,
    ``*/*``, or nothing, and get problem details.
    """
    # Media types are case-insensitive (RFC 9110 8.3.1).
    accept = headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    html_at = accept.find("text/html")
    json_at = accept.find("json")
    return json_at == -1 or html_at < json_at


def error_response(
    headers: Headers,
    status_code: int,
    title: str,
    detail: str,
    extra_headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Build the error response a client understands best.

    Args:
        headers: The request's headers, read for ``Accept``.
        status_code: The HTTP status.
        title: The status phrase, such as "Not Found".
        detail: What went wrong, for this request.
        extra_headers: Headers to send with it, such as ``Allow``.
        extensions: Extra members of the problem object (RFC 9457 3.2).
    """
    if prefers_html(headers):
        errors = (extensions or {}).get("errors") or ()
        return BuiltinPage(_page(status_code, title, detail, errors), status_code, extra_headers)
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if extensions:
        problem.update(extensions)
    return ProblemResponse(problem, status_code, extra_headers)


def _page(
    status_code: int, title: str, detail: str, errors: Sequence[Mapping[str, Any]] = ()
) -> str:
    from html import escape

    heading = escape(f"{status_code} {title}")
    paragraph = "" if detail == title else f"\n<p>{escape(detail)}</p>"
    if errors:
        items = "".join(
            f"\n<li><code>{escape(str(error.get('location', '')))}</code>: "
            f"{escape(str(error.get('message', '')))}</li>"
            for error in errors
        )
        paragraph += f"\n<ul>{items}\n</ul>"
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n</head>\n<body>\n<h1>{heading}</h1>{paragraph}\n"
        "</body>\n</html>\n"
    )
