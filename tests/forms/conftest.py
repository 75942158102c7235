from __future__ import annotations

from typing import Any

import pytest

from carboy import Carboy, Request

CSRF_TOKEN = "token-from-csrf"


@pytest.fixture(autouse=True)
def known_csrf_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make rendered forms hold a known token (each real one is freshly masked)."""

    def csrf_token(request: Request) -> str:
        return CSRF_TOKEN

    monkeypatch.setattr("carboy.csrf.csrf_token", csrf_token)


def make_request(app: Carboy) -> Request:
    """Return a GET request of ``app``, for rendering forms outside a handler."""

    async def never(*_: Any) -> Any:
        raise RuntimeError("The request has no body to read.")

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "app": app}
    return Request(scope, never, never)
