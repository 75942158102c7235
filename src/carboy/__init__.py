"""carboy: one file to start, batteries when you need them, async and fast.

The daily vocabulary is importable from here; everything else from its module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carboy.__about__ import __version__
from carboy.app import Carboy
from carboy.background import BackgroundTasks
from carboy.controllers import Controller
from carboy.datastructures import URL, Headers, QueryParams, State
from carboy.dependencies import Depends
from carboy.exceptions import HTTPException, ImproperlyConfigured, WebSocketDisconnect
from carboy.middleware import Middleware
from carboy.openapi_config import OpenAPIConfig
from carboy.params import Body, Cookie, File, Form, Header, Path, Query
from carboy.requests import Request
from carboy.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from carboy.routing import Mount, Route, Router, WebSocketRoute
from carboy.websockets import WebSocket

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.formparsers import UploadFile
    from carboy.responses import FileResponse
    from carboy.sse import EventSourceResponse, ServerSentEvent
    from carboy.templating import render

__all__ = [
    "URL",
    "BackgroundTasks",
    "Body",
    "Carboy",
    "Controller",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "FileResponse",
    "Form",
    "HTMLResponse",
    "HTTPException",
    "Header",
    "Headers",
    "ImproperlyConfigured",
    "JSONResponse",
    "Middleware",
    "Mount",
    "OpenAPIConfig",
    "Path",
    "PlainTextResponse",
    "Query",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "Response",
    "Route",
    "Router",
    "ServerSentEvent",
    "Settings",
    "State",
    "StreamingResponse",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketRoute",
    "__version__",
    "render",
]

# Names whose modules cost import time (pydantic-settings, file I/O helpers)
# load on first use, so that an app pays only for what it touches.
_LAZY = {
    "Settings": "carboy.config",
    "FileResponse": "carboy.responses",
    "EventSourceResponse": "carboy.sse",
    "ServerSentEvent": "carboy.sse",
    "UploadFile": "carboy.formparsers",
    "render": "carboy.templating",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'carboy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
