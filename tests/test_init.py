from __future__ import annotations

import carboy


def test_the_public_names_are_pinned() -> None:
    assert sorted(carboy.__all__) == [
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
        "URL",
        "UploadFile",
        "WebSocket",
        "WebSocketDisconnect",
        "WebSocketRoute",
        "__version__",
        "render",
    ]


def test_every_public_name_resolves() -> None:
    missing = [name for name in carboy.__all__ if getattr(carboy, name, None) is None]

    assert missing == []


def test_lazy_names_come_from_their_modules() -> None:
    from carboy.config import Settings
    from carboy.responses import FileResponse
    from carboy.sse import EventSourceResponse

    assert carboy.Settings is Settings
    assert carboy.FileResponse is FileResponse
    assert carboy.EventSourceResponse is EventSourceResponse
