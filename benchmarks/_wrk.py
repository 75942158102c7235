"""Loading one URL with wrk and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from _text import last_lines

REQUEST_TIMEOUT_S = 10
"""wrk's limit on one request, past which it counts a timeout error.

wrk's default, 2 s, is too short for the database endpoints on a small
machine: behind 63 other connections, a ``/queries?queries=20`` answer can
wait that long in the queue while the server is healthy. No other endpoint
comes near it.
"""
# Bounds a wrk that hangs; wrk itself stops after its duration.
_GRACE_SECONDS = 30
_LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    """What one wrk run reports."""

    requests_per_second: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)


def request_script(method: str, body: str, content_type: str) -> str:
    """Return a wrk Lua script that sends every request with ``method`` and ``body``.

    The script only sets fields and defines no ``request()`` function, so wrk
    builds the request once and sends the same bytes every time, as it does
    for a plain GET.
    """
    return (
        f"wrk.method = {_lua_string(method)}\n"
        f"wrk.body = {_lua_string(body)}\n"
        f'wrk.headers["Content-Type"] = {_lua_string(content_type)}\n'
    )


def _lua_string(text: str) -> str:
    """Quote ``text`` as a Lua string literal of the same UTF-8 bytes."""
    parts = []
    for byte in text.encode("utf-8"):
        if byte in b'"\\':
            parts.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            parts.append(chr(byte))
        else:
            # Lua's decimal escape; three digits, so a digit after it is not absorbed.
            parts.append(f"\\{byte:03d}")
    return '"' + "".join(parts) + '"'


def run_wrk(
    url: str, *, seconds: int, connections: int, latency: bool = True, script: Path | None = None
) -> str:
    """Load ``url`` with one wrk thread and return what wrk printed.

    Args:
        url: The URL to load, query string included.
        seconds: How long to load it.
        connections: How many connections to keep open.
        latency: Whether to print the latency distribution (``--latency``).
        script: A Lua script (``-s``) that sets the method and body, as from
            ``request_script``; None sends a plain GET.

    Raises:
        RuntimeError: wrk failed or did not finish in time.
    """
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S}s",
    ]
    if latency:
        command.append("--latency")
    if script is not None:
        command += ["-s", str(script)]
    timeout = seconds + _GRACE_SECONDS
    try:
        completed = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"wrk did not finish within {timeout} s") from error
    if completed.returncode != 0:
        raise RuntimeError(
            f"wrk exited with {completed.returncode}:\n{last_lines(completed.stderr)}"
        )
    return completed.stdout


def _latency_ms(report: str, percentile: str) -> float | None:
    """Read one line of wrk's latency distribution, in milliseconds."""
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", report, re.MULTILINE)
    if match is None:
        return None
    return float(match.group(1)) * _LATENCY_UNITS_MS[match.group(2)]


def parse_wrk(report: str) -> WrkResult:
    """Read requests/sec, latency percentiles and failures from wrk's report.

    wrk counts non-2xx answers and socket errors as requests, so they are kept
    to flag a rate that is not made of real answers.

    Raises:
        ValueError: The report has no Requests/sec line.
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    if rate is None:
        raise ValueError(f"wrk printed no Requests/sec line:\n{last_lines(report, 10)}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", report)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    kinds = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        latency_p50_ms=_latency_ms(report, "50"),
        latency_p99_ms=_latency_ms(report, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=(
            dict(zip(kinds, map(int, socket_errors.groups()), strict=True)) if socket_errors else {}
        ),
    )
