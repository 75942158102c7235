"""The middleware carboy ships: each one an ASGI app that wraps an ASGI app.

The built-in classes are imported on first use, so that an app pays only for
the middleware it adds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carboy.middleware.cors import CORSMiddleware
    from carboy.middleware.errors import ServerErrorMiddleware
    from carboy.middleware.gzip import GZipMiddleware
    from carboy.middleware.headerlimits import HeaderLimitsMiddleware
    from carboy.middleware.httpsredirect import HTTPSRedirectMiddleware
    from carboy.middleware.proxyheaders import ProxyHeadersMiddleware
    from carboy.middleware.trustedhost import TrustedHostMiddleware
    from carboy.types import ASGIApp

__all__ = [
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "HeaderLimitsMiddleware",
    "Middleware",
    "ProxyHeadersMiddleware",
    "ServerErrorMiddleware",
    "TrustedHostMiddleware",
]

_LAZY = {
    "CORSMiddleware": "carboy.middleware.cors",
    "GZipMiddleware": "carboy.middleware.gzip",
    "HeaderLimitsMiddleware": "carboy.middleware.headerlimits",
    "HTTPSRedirectMiddleware": "carboy.middleware.httpsredirect",
    "ProxyHeadersMiddleware": "carboy.middleware.proxyheaders",
    "ServerErrorMiddleware": "carboy.middleware.errors",
    "TrustedHostMiddleware": "carboy.middleware.trustedhost",
}


class Middleware:
    """An ASGI middleware class and its options, instantiated when the app starts.

    Example:
        ``Carboy(middleware=[Middleware(GZipMiddleware, minimum_size=1000)])``
    """

    __slots__ = ("cls", "options")

    def __init__(self, cls: Callable[..., ASGIApp], **options: Any) -> None:
        self.cls = cls
        self.options = options

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Return ``app`` wrapped in this middleware."""
        return self.cls(app, **self.options)

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"Middleware({name}{', ' if options else ''}{options})"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'carboy.middleware' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
