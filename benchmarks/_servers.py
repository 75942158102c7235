"""Serving one app with one worker on 127.0.0.1, and reading its memory.

ASGI apps run under uvicorn and WSGI apps under gunicorn's sync worker, each
with the same options for every framework. Every server runs in a process
group of its own so that stopping it also stops whatever it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _apps import APPS_DIR, AppKind, Framework
from _text import last_lines
from _venv import venv_python

UVICORN_OPTIONS = (
    "--loop", "uvloop",
    "--http", "httptools",
    "--no-access-log",
    "--log-level", "warning",
    "--workers", "1",
)  # fmt: skip
# gunicorn writes no access log unless --access-logfile is given.
GUNICORN_OPTIONS = (
    "--workers", "1",
    "--worker-class", "sync",
    "--log-level", "warning",
)  # fmt: skip
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Server:
    """A started server process, which of the framework's apps it serves, and where."""

    framework: Framework
    kind: AppKind
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(framework: Framework, port: int, kind: AppKind = "web") -> list[str]:
    """Return the command line that serves ``framework``'s app of ``kind`` on ``port``."""
    target = f"{framework.module_of(kind)}:{framework.attribute}"
    python = str(venv_python())
    if framework.server == "uvicorn":
        return [
            python, "-m", "uvicorn", "--app-dir", str(APPS_DIR),
            "--host", "127.0.0.1", "--port", str(port), *UVICORN_OPTIONS, target,
        ]  # fmt: skip
    return [
        python, "-m", "gunicorn", "--chdir", str(APPS_DIR),
        "--bind", f"127.0.0.1:{port}", *GUNICORN_OPTIONS, target,
    ]  # fmt: skip


def start_server(
    framework: Framework,
    log_dir: Path,
    kind: AppKind = "web",
    environment: dict[str, str] | None = None,
) -> Server:
    """Start serving ``framework``'s app of ``kind`` on a free port; do not wait for it.

    Args:
        framework: The framework.
        log_dir: Where to write the server's output, in ``<key>-<kind>.log``.
        kind: Its benchmark app (``web``) or its database app (``db``).
        environment: Variables to add to the runner's environment, such as
            the database URL.
    """
    port = free_port()
    log_path = log_dir / f"{framework.key}-{kind}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(framework, port, kind),
            env={**os.environ, **(environment or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=APPS_DIR,
            # A group of its own: stop_server ends gunicorn's worker with its
            # master, and Ctrl-C in the terminal reaches only the runner,
            # which then stops every server itself.
            start_new_session=True,
        )
    return Server(framework, kind, process, port, log_path)


def wait_until_ready(server: Server, timeout: float = STARTUP_TIMEOUT) -> str | None:
    """Wait until ``server`` answers HTTP, with any status.

    An open port is not enough: gunicorn's master listens before its worker
    has imported the app, and a worker that fails to boot shows only as a
    reset connection and then a master that exits.

    Returns:
        None once it answers, else why it never did, with the end of its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (reason := exit_reason(server)) is not None:
            return reason
        try:
            with urllib.request.urlopen(server.url("/"), timeout=2.0):
                return None
        except urllib.error.HTTPError:
            return None
        except OSError:
            time.sleep(0.1)
    # The last attempt may have seen the server die.
    return (
        exit_reason(server) or f"server did not answer on port {server.port} within {timeout:.0f} s"
    )


def exit_reason(server: Server) -> str | None:
    """Return why ``server`` exited, from the end of its log, or None if it runs.

    The first line names the status and the log's last line, which is where
    uvicorn and gunicorn say what went wrong; the log's tail follows.
    """
    if server.process.poll() is None:
        return None
    log = server.log_path.read_text(errors="replace").strip()
    last = log.splitlines()[-1].strip() if log else "(empty log)"
    return f"server exited with status {server.process.returncode}: {last}\n{last_lines(log, 10)}"


def stop_server(server: Server) -> None:
    """Stop ``server`` and every process in its group, politely, then by force."""
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=STOP_TIMEOUT)
    # A gunicorn worker can outlive a master that died first.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    """Return the pids of the direct children of ``pid``, read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name, in parentheses, may itself hold spaces or ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def rss_mib(pid: int) -> float:
    """Return the resident set size of ``pid`` in MiB, from VmRSS in /proc."""
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"/proc/{pid}/status has no VmRSS line")


def serving_process(server: Server) -> tuple[int, str]:
    """Return the pid of the process that runs the app, and what it is.

    uvicorn with one worker serves from the process it was started as.
    gunicorn's master only supervises and, without ``--preload``, never
    imports the app; the worker is where the app's memory is.

    Raises:
        OSError: gunicorn has not exactly one worker.
    """
    if server.framework.server == "uvicorn":
        return server.process.pid, "uvicorn process"
    workers = child_pids(server.process.pid)
    if len(workers) != 1:
        raise OSError(f"expected 1 gunicorn worker, found {len(workers)}")
    return workers[0], "gunicorn worker (master not counted)"
