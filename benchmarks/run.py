"""Measure carboy side by side with its peers: ``python benchmarks/run.py``.

Each app in ``benchmarks/apps/`` is served with one worker on 127.0.0.1
(uvicorn for the ASGI apps, gunicorn for the WSGI ones). Its answers are
checked, its idle memory is read, then every endpoint it serves is loaded with
wrk in interleaved rounds: round 1 measures every framework, then round 2 does
it again, and so on. An endpoint with a request body is loaded through a wrk
Lua script, generated from the body that its check sends. Import-and-build
time is measured in fresh interpreters. The report is printed as Markdown and
written to ``benchmarks/results/latest.json``.

The runner needs only the standard library and wrk. The frameworks and the
servers live in ``benchmarks/.venv``, created on the first run and reused.
The helpers beside this file (``_apps.py``, ``_servers.py``, ...) are
imported from this file's directory, which Python puts first on the path.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from _apps import (
    BODY_CONTENT_TYPE,
    ENDPOINTS,
    ENDPOINTS_BY_PATH,
    FRAMEWORKS,
    FRAMEWORKS_BY_KEY,
    Framework,
    check_answer,
    endpoints_of,
    measure_import,
)
from _report import EndpointResult, FrameworkResult, Results, render, to_json
from _servers import (
    GUNICORN_OPTIONS,
    UVICORN_OPTIONS,
    Server,
    exit_reason,
    rss_mib,
    serving_process,
    start_server,
    stop_server,
    wait_until_ready,
)
from _text import first_line
from _venv import REPO_ROOT, VENV_DIR, SetupError, ensure_venv, installed_versions
from _wrk import parse_wrk, request_script, run_wrk

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "latest.json"
IMPORT_RUNS = 7
MIN_ROUNDS = 2


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line; ``frameworks`` holds the chosen ones."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Measure carboy side by side with its peers. See benchmarks/README.md.",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement (5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warmup before each (1)")
    parser.add_argument(
        "--rounds", type=int, default=2, help=f"interleaved rounds, at least {MIN_ROUNDS} (2)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument(
        "--only",
        default=",".join(FRAMEWORKS_BY_KEY),
        help=f"comma-separated frameworks to measure, from: {','.join(FRAMEWORKS_BY_KEY)}",
    )
    options = parser.parse_args(argv)
    if options.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}, so that rounds can be compared")
    if options.duration < 1 or options.connections < 1 or options.warmup < 0:
        parser.error("--duration and --connections must be at least 1, --warmup at least 0")
    keys = {key.strip() for key in options.only.split(",") if key.strip()}
    if unknown := sorted(keys - FRAMEWORKS_BY_KEY.keys()):
        parser.error(
            f"--only: unknown {', '.join(unknown)}; choose from {', '.join(FRAMEWORKS_BY_KEY)}"
        )
    if not keys:
        parser.error("--only: name at least one framework")
    # The canonical order, so that the table always reads the same way.
    options.frameworks = [framework for framework in FRAMEWORKS if framework.key in keys]
    return options


def measure_imports(frameworks: Sequence[Framework], results: Results) -> None:
    """Time each framework's import-and-build, before any server takes CPU."""
    print(f"Import and build time (median of {IMPORT_RUNS} fresh interpreters):", flush=True)
    for framework in frameworks:
        result = results[framework.key]
        if result.import_error is not None:
            continue
        result.import_ms_runs, result.startup_ms_runs, result.import_error = measure_import(
            framework, IMPORT_RUNS
        )
        if result.import_error is not None:
            print(f"  {framework.label}: FAILED: {result.import_error}", flush=True)
        else:
            print(
                f"  {framework.label}: {result.import_ms:.1f} ms, "
                f"{result.startup_ms:.1f} ms with startup",
                flush=True,
            )


def start_and_check(
    frameworks: Sequence[Framework], results: Results, servers: dict[str, Server], log_dir: Path
) -> None:
    """Start each server, check its answers, then read its idle memory.

    A server goes into ``servers`` as soon as it is started, so that the
    caller stops it even if this is interrupted halfway.
    """
    print("Starting the servers and checking their answers:", flush=True)
    for framework in frameworks:
        result = results[framework.key]
        if result.error is not None:
            continue
        server = start_server(framework, log_dir)
        servers[framework.key] = server
        problem = wait_until_ready(server)
        if problem is not None:
            print(f"  {framework.label}: FAILED to start: {problem}", flush=True)
            result.error = problem
            result.fail(first_line(problem))
            continue
        for endpoint in endpoints_of(framework.key):
            error = check_answer(server.url(endpoint.path), endpoint)
            result.endpoints[endpoint.path].error = error
            verdict = "ok" if error is None else f"FAILED check: {error}"
            print(f"  {framework.label} {endpoint.label}: {verdict}", flush=True)
        # A server that crashed on a request shows as checks that failed to connect.
        if (reason := exit_reason(server)) is not None:
            print(f"  {framework.label}: FAILED, the server exited: {reason}", flush=True)
            result.error = reason
            result.fail(first_line(reason))
            continue
        try:
            pid, process = serving_process(server)
            result.idle_rss_mib = rss_mib(pid)
            result.rss_process = process
        except OSError as error:
            print(f"  {framework.label}: idle RSS not measured: {error}", flush=True)


def wrk_scripts(results: Results) -> dict[str, str]:
    """Return the wrk Lua script of each measured endpoint that sends a body, by path."""
    measured = {path for result in results.values() for path in result.endpoints}
    return {
        endpoint.path: request_script(endpoint.method, endpoint.body, BODY_CONTENT_TYPE)
        for endpoint in ENDPOINTS
        if endpoint.body is not None and endpoint.path in measured
    }


def write_wrk_scripts(scripts: dict[str, str], directory: Path) -> dict[str, Path]:
    """Write each script of ``wrk_scripts`` to a file in ``directory``; return the files."""
    files = {}
    for number, (path, script) in enumerate(scripts.items(), start=1):
        files[path] = directory / f"request-{number}.lua"
        files[path].write_text(script)
    return files


def measure_rounds(
    options: argparse.Namespace,
    results: Results,
    servers: dict[str, Server],
    scripts: dict[str, Path],
) -> None:
    """Load every endpoint that passed its check, round after round, frameworks interleaved.

    ``scripts`` holds the wrk script file of each endpoint that needs one, by path.
    """
    for number in range(1, options.rounds + 1):
        print(f"Round {number} of {options.rounds}:", flush=True)
        for key, server in servers.items():
            for path, endpoint in results[key].endpoints.items():
                if endpoint.error is None:
                    url = server.url(path)
                    _measure(options, results[key].label, url, endpoint, scripts.get(path))


def _measure(
    options: argparse.Namespace,
    label: str,
    url: str,
    endpoint: EndpointResult,
    script: Path | None,
) -> None:
    """Warm ``url`` up, load it once and append the result to ``endpoint``.

    ``script`` is the wrk Lua script that sets the request's method and body, if any.
    """
    name = ENDPOINTS_BY_PATH[endpoint.path].label
    connections = options.connections
    try:
        if options.warmup:
            run_wrk(
                url, seconds=options.warmup, connections=connections, latency=False, script=script
            )
        report = run_wrk(url, seconds=options.duration, connections=connections, script=script)
        measured = parse_wrk(report)
    except (RuntimeError, ValueError) as error:
        print(f"  {label} {name}: wrk failed: {error}", flush=True)
        endpoint.rounds.append(None)
        return
    endpoint.rounds.append(measured)
    flags = f"  ⚠ {measured.non_2xx} non-2xx" if measured.non_2xx else ""
    if errors := sum(measured.socket_errors.values()):
        flags += f"  ⚠ {errors} socket errors"
    print(f"  {label:<10} {name:<28} {measured.requests_per_second:>10,.0f} req/s{flags}")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that the servers are stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the whole benchmark, print the report and return the exit status."""
    options = parse_arguments(argv)
    frameworks: list[Framework] = options.frameworks
    if shutil.which("wrk") is None:
        print("wrk is not installed. On Debian or Ubuntu: apt-get install wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    results: Results = {
        framework.key: FrameworkResult(
            framework.key,
            framework.label,
            framework.server,
            endpoints={
                endpoint.path: EndpointResult(endpoint.path)
                for endpoint in endpoints_of(framework.key)
            },
        )
        for framework in frameworks
    }

    try:
        carboy_error = ensure_venv(with_carboy="carboy" in results)
    except (SetupError, subprocess.TimeoutExpired) as error:
        print(f"Cannot set up {VENV_DIR}: {error}", file=sys.stderr)
        return 2
    if carboy_error is not None:
        print(f"carboy: FAILED to install, so its rows are FAILED.\n{carboy_error}", flush=True)
        results["carboy"].error = results["carboy"].import_error = carboy_error
        results["carboy"].fail("carboy is not installed in benchmarks/.venv")
    versions = installed_versions()
    print("Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))

    measure_imports(frameworks, results)
    scripts = wrk_scripts(results)
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="carboy-bench-") as work_dir:
        script_files = write_wrk_scripts(scripts, Path(work_dir))
        try:
            start_and_check(frameworks, results, servers, Path(work_dir))
            measure_rounds(options, results, servers, script_files)
        finally:
            for server in servers.values():
                stop_server(server)

    settings: dict[str, Any] = {
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "rounds": options.rounds,
        "connections": options.connections,
        "wrk_threads": 1,
        "import_runs": IMPORT_RUNS,
        "uvicorn_options": list(UVICORN_OPTIONS),
        "gunicorn_options": list(GUNICORN_OPTIONS),
        "wrk_scripts": scripts,
    }
    print("\n" + render(results, versions, settings))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(to_json(results, versions, settings), indent=2) + "\n")
    print(f"\nWrote {RESULTS_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted; every server started was stopped.", file=sys.stderr)
        sys.exit(130)
