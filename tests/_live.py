"""Serve an ASGI app under a real uvicorn on loopback, for tests that need a socket."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from carboy.types import ASGIApp

LOOPBACK = "127.0.0.1"
# Generous for a loaded 2-core CI machine; a healthy start takes milliseconds.
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


@contextlib.contextmanager
def live_server(app: ASGIApp, host: str = LOOPBACK) -> Iterator[str]:
    """Serve `app` on a free port of a loopback address in a background thread.

    Args:
        app: The ASGI app.
        host: An address in 127.0.0.0/8.

    Yields:
        The base URL, `http://<host>:<port>`, once the app's lifespan has
        started and the socket accepts connections.

    Raises:
        ValueError: `host` is not a loopback address.
        RuntimeError: the server did not start, or did not stop, in time.
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"live_server serves on loopback only, and {host} is not in 127.0.0.0/8.")
    # Binding here and handing the socket to uvicorn leaves no window in
    # which another process could take a port picked as free.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        # A browser's keep-alive or a streaming response must not hold the
        # shutdown open forever.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"live-server-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_until_started(server, thread, host, port)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(SHUTDOWN_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(
                f"The live server on {host}:{port} did not stop within "
                f"{2 * SHUTDOWN_TIMEOUT:.0f} seconds of should_exit and force_exit."
            )


def _wait_until_started(
    server: uvicorn.Server, thread: threading.Thread, host: str, port: int
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(
                f"The live server on {host}:{port} stopped during startup; "
                "uvicorn's log above says why (a failing lifespan startup, most often)."
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"The live server on {host}:{port} did not start "
                f"within {STARTUP_TIMEOUT:.0f} seconds."
            )
        time.sleep(0.01)
    # `started` is set once uvicorn listens; a connection proves it.
    with socket.create_connection((host, port), timeout=STARTUP_TIMEOUT):
        pass
