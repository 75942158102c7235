"""Starlette's hello app, for the import-and-build time: one route, one dict."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    """Answer with a greeting."""
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route("/", hello)])
