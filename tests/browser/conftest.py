"""Fixtures for pages driven in Debian's headless Chromium through Playwright.

Playwright drives `/usr/bin/chromium` from Debian's `chromium` package; its own
browser download (`playwright install`) cannot work on a machine without a
network, so it is never used.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Response, Route, sync_playwright

from carboy.types import ASGIApp
from tests._live import LOOPBACK, live_server

CHROMIUM = Path("/usr/bin/chromium")
# The machine reaches no network but loopback: without the background-networking
# flags Chromium keeps trying Google's hosts and floods the log with refusals.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a loaded 2-core CI machine, short enough that a missing
# element fails the test well before Playwright's own 30 seconds.
TIMEOUT_MS = 15_000


@dataclass
class Traffic:
    """Every request a test's browser context made, and how each ended."""

    requests: list[Request] = field(default_factory=list)
    failed: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    @property
    def network_urls(self) -> list[str]:
        """Return the URL of every request that went over the network, in order.

        `data:` and `blob:` URLs are read from memory, never from a host, so
        they are left out.
        """
        return [
            request.url
            for request in self.requests
            if urlsplit(request.url).scheme not in ("data", "blob")
        ]


class Serve(Protocol):
    """The `serve` fixture's type."""

    def __call__(self, app: ASGIApp, host: str = LOOPBACK) -> str: ...


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Serve apps under uvicorn on loopback: `base_url = serve(app)`.

    Every server started by a test is stopped after it.
    """
    with ExitStack() as stack:

        def start(app: ASGIApp, host: str = LOOPBACK) -> str:
            return stack.enter_context(live_server(app, host))

        yield start


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Launch Debian's headless Chromium once per test module.

    Playwright's `launch` gives the browser a new, empty profile in a temporary
    directory of its own (it refuses a `--user-data-dir` argument) and deletes
    it on close.
    """
    if not CHROMIUM.exists():
        message = (
            f"Debian's chromium is not installed ({CHROMIUM} is missing): apt-get install chromium"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def traffic() -> Traffic:
    """Record the requests of the test's `page`."""
    return Traffic()


@pytest.fixture
def page(browser: Browser, traffic: Traffic) -> Iterator[Page]:
    """Open a page in a new browser context, recording its requests in `traffic`."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)

    # Playwright tags each handler with an attribute, so a builtin such as
    # `list.append` cannot be one.
    def on_request(request: Request) -> None:
        traffic.requests.append(request)

    def on_request_failed(request: Request) -> None:
        traffic.failed.append(request)

    def on_response(response: Response) -> None:
        traffic.responses.append(response)

    # Context-wide, so requests of popups and workers are recorded too.
    context.on("request", on_request)
    context.on("requestfailed", on_request_failed)
    context.on("response", on_response)
    context.route("**/*", _loopback_only)
    yield context.new_page()
    context.close()


def _loopback_only(route: Route) -> None:
    # A test sends nothing off the machine: a request for any other host is
    # aborted, and so is recorded as failed as well as made.
    if _is_loopback(urlsplit(route.request.url).hostname or ""):
        route.continue_()
    else:
        route.abort("blockedbyclient")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Return the screenshots folder, made if missing: ``$CARBOY_SCREENSHOTS`` or a temporary."""
    configured = os.environ.get("CARBOY_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
