"""The apps under test: which they are, what they must answer, how fast they import."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from _text import last_lines
from _venv import venv_python

APPS_DIR = Path(__file__).resolve().parent / "apps"
CHECK_TIMEOUT = 5.0
IMPORT_TIMEOUT = 60.0

# Runs in a fresh interpreter; argv holds the apps directory, the module and
# the attribute that holds the built app. Interpreter startup is not timed.
_IMPORT_PROBE = """\
import sys, time
sys.path.insert(0, sys.argv[1])
start = time.perf_counter()
module = __import__(sys.argv[2])
getattr(module, sys.argv[3])
print(f"{(time.perf_counter() - start) * 1000:.3f}")
"""


@dataclass(frozen=True)
class Framework:
    """One benchmark app and the server that runs it."""

    key: str
    label: str
    module: str
    attribute: str
    server: Literal["uvicorn", "gunicorn"]


@dataclass(frozen=True)
class Endpoint:
    """One measured endpoint and the answer every app must give."""

    path: str
    content_type: str
    text: str | None = None
    json: dict[str, Any] | None = None


# The order of the report's rows.
FRAMEWORKS = (
    Framework("raw", "raw ASGI", "raw_asgi_app", "app", "uvicorn"),
    Framework("carboy", "carboy", "carboy_app", "app", "uvicorn"),
    Framework("starlette", "Starlette", "starlette_app", "app", "uvicorn"),
    Framework("fastapi", "FastAPI", "fastapi_app", "app", "uvicorn"),
    Framework("litestar", "Litestar", "litestar_app", "app", "uvicorn"),
    Framework("flask", "Flask", "flask_app", "app", "gunicorn"),
    Framework("django", "Django", "django_app", "application", "gunicorn"),
)
FRAMEWORKS_BY_KEY = {framework.key: framework for framework in FRAMEWORKS}

ENDPOINTS = (
    Endpoint("/plaintext", "text/plain; charset=utf-8", text="Hello, World!"),
    Endpoint("/json", "application/json", json={"message": "Hello, World!"}),
    Endpoint(
        "/users/42/posts/hello-world",
        "application/json",
        json={"id": 42, "slug": "hello-world"},
    ),
)


def _canonical_json(value: object) -> str:
    """Return ``value`` as JSON text in which 42, 42.0 and "42" all differ."""
    return json.dumps(value, sort_keys=True)


def check_answer(url: str, endpoint: Endpoint) -> str | None:
    """Request ``url`` once and compare the answer with what ``endpoint`` expects.

    Returns:
        None when the answer is right, else what is wrong with it.
    """
    try:
        with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT) as response:
            status: int = response.status
            content_type: str = response.headers.get("content-type", "")
            body: bytes = response.read()
    except urllib.error.HTTPError as error:
        return f"status {error.code}, expected 200"
    except OSError as error:
        return f"request failed: {error}"
    if status != 200:
        return f"status {status}, expected 200"
    if not content_type.startswith(endpoint.content_type):
        return f"content-type {content_type!r}, expected {endpoint.content_type!r}"
    if endpoint.text is not None:
        expected = endpoint.text.encode("utf-8")
        return None if body == expected else f"body {body[:200]!r}, expected {expected!r}"
    try:
        answer = _canonical_json(json.loads(body))
    except ValueError:
        return f"body {body[:200]!r} is not JSON"
    expected_json = _canonical_json(endpoint.json)
    return None if answer == expected_json else f"JSON {answer}, expected {expected_json}"


def measure_import(framework: Framework, runs: int) -> tuple[list[float], str | None]:
    """Time importing and building ``framework``'s app in ``runs`` fresh interpreters.

    Every app builds itself at import (Django's calls ``get_wsgi_application()``
    at module level), so importing the module and reading its app is the
    whole of import-and-build.

    Returns:
        The times in milliseconds, and why a run failed if one did.
    """
    times: list[float] = []
    command = [
        str(venv_python()),
        "-c",
        _IMPORT_PROBE,
        str(APPS_DIR),
        framework.module,
        framework.attribute,
    ]
    for _ in range(runs):
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=IMPORT_TIMEOUT,
                check=False,
                cwd=APPS_DIR,
            )
        except subprocess.TimeoutExpired:
            return [], f"import did not finish within {IMPORT_TIMEOUT:.0f} s"
        if completed.returncode != 0:
            return [], f"import failed:\n{last_lines(completed.stderr, 6)}"
        times.append(float(completed.stdout.strip().splitlines()[-1]))
    return times, None
