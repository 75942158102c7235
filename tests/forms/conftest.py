from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from carboy import Carboy, Request

CSRF_TOKEN = "token-from-csrf"


@pytest.fixture(autouse=True)
def csrf_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for carboy.csrf, so that rendered forms hold a known token."""
    module = types.ModuleType("carboy.csrf")

    def csrf_token(request: Request) -> str:
        return CSRF_TOKEN

    module.csrf_token = csrf_token  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "carboy.csrf", module)


def make_request(app: Carboy) -> Request:
    """Return a GET request of ``app``, for rendering forms outside a handler."""

    async def never(*_: Any) -> Any:
        raise RuntimeError("The request has no body to read.")

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "app": app}
    return Request(scope, never, never)
