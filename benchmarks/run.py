"""Measure carboy side by side with its peers: ``python benchmarks/run.py``.

Each app in ``benchmarks/apps/`` is served with one worker on 127.0.0.1
(uvicorn for the ASGI apps, gunicorn for the WSGI ones). Its answers are
checked, its idle memory is read, then every endpoint it serves is loaded with
wrk in interleaved rounds: round 1 measures every framework, then round 2 does
it again, and so on. An endpoint with a request body is loaded through a wrk
Lua script, generated from the body that its check sends. Import-and-build
time is measured in fresh interpreters. The report is printed as Markdown and
written to ``benchmarks/results/latest.json``.

The database endpoints (TechEmpower's /db, /queries and /fortunes) are served
by a second app of carboy, FastAPI and Django, on PostgreSQL. Before any of
them starts, the runner fills the tables (``_database.py``, run in the venv);
when PostgreSQL cannot be reached, it says why and measures the rest.

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
    APP_KINDS,
    BODY_CONTENT_TYPE,
    ENDPOINTS,
    ENDPOINTS_BY_PATH,
    FRAMEWORKS,
    FRAMEWORKS_BY_KEY,
    AppKind,
    Framework,
    check_answer,
    endpoints_of,
    measure_import,
)
from _database import (
    POOL_SIZE_VARIABLE,
    URL_VARIABLE,
    DatabaseUnavailable,
    database_url,
    pool_size,
    prepare,
    safe_url,
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
from _venv import (
    REPO_ROOT,
    VENV_DIR,
    SetupError,
    ensure_venv,
    installed_versions,
    venv_python,
)
from _wrk import REQUEST_TIMEOUT_S, parse_wrk, request_script, run_wrk

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
    parser.add_argument(
        "--endpoints",
        default=",".join(APP_KINDS),
        help="comma-separated endpoint groups to measure, from: web,db (web,db); "
        "db is /db, /queries and /fortunes on PostgreSQL",
    )
    parser.add_argument(
        "--database-url",
        default=database_url(),
        help=f"the PostgreSQL database of the db endpoints (${URL_VARIABLE}, "
        "else postgresql://postgres@127.0.0.1:5432/test)",
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
    kinds = {kind.strip() for kind in options.endpoints.split(",") if kind.strip()}
    if unknown := sorted(kinds - set(APP_KINDS)):
        parser.error(f"--endpoints: unknown {', '.join(unknown)}; choose from web, db")
    if not kinds:
        parser.error("--endpoints: name at least one group, web or db")
    if not options.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url: give a postgresql:// URL")
    # The canonical order, so that the table always reads the same way.
    options.kinds = tuple(kind for kind in APP_KINDS if kind in kinds)
    options.frameworks = [
        framework
        for framework in FRAMEWORKS
        if framework.key in keys and endpoints_of(framework.key, options.kinds)
    ]
    if not options.frameworks:
        parser.error(
            f"--only {options.only} --endpoints {options.endpoints}: none of these frameworks "
            "serves these endpoints; the db endpoints are served by carboy, fastapi and django"
        )
    # A group that none of the chosen frameworks serves is not prepared for.
    options.kinds = tuple(
        kind
        for kind in options.kinds
        if any(endpoints_of(framework.key, (kind,)) for framework in options.frameworks)
    )
    return options


def prepare_database(url: str) -> tuple[str | None, str | None]:
    """Create and fill the database endpoints' tables, and say what happened.

    Returns:
        PostgreSQL's version and None, or None and why the database
        endpoints cannot be measured.
    """
    print(f"Filling the tables of {safe_url(url)} ...", flush=True)
    try:
        version = prepare(url, venv_python())
    except DatabaseUnavailable as error:
        reason = f"PostgreSQL at {safe_url(url)} is not usable: {error}"
        print(f"  {reason}\n  The database endpoints are skipped.", flush=True)
        return None, reason
    print(f"  PostgreSQL {version}: world and fortune hold the standard rows.", flush=True)
    return version, None


def measure_imports(frameworks: Sequence[Framework], results: Results) -> None:
    """Time each framework's import-and-build, before any server takes CPU.

    The runs take turns, one interpreter of each framework after another,
    so that a moment of load elsewhere on the machine falls on all of them
    alike rather than on whichever framework was being timed.
    """
    print(f"Import and build time (median of {IMPORT_RUNS} fresh interpreters):", flush=True)
    timed = [framework for framework in frameworks if results[framework.key].import_error is None]
    # One untimed run each first, which writes any missing bytecode and warms
    # the file cache.
    for framework in timed:
        if isinstance(warmup := measure_import(framework), str):
            results[framework.key].import_error = warmup
    for _ in range(IMPORT_RUNS):
        for framework in timed:
            result = results[framework.key]
            if result.import_error is not None:
                continue
            measured = measure_import(framework)
            if isinstance(measured, str):
                result.import_error = measured
                continue
            result.import_ms_runs.append(measured[0])
            result.startup_ms_runs.append(measured[1])
    for framework in timed:
        result = results[framework.key]
        if result.import_error is not None:
            print(f"  {framework.label}: FAILED: {result.import_error}", flush=True)
        else:
            print(
                f"  {framework.label}: {result.import_ms:.1f} ms, "
                f"{result.startup_ms:.1f} ms with startup",
                flush=True,
            )


def start_and_check(
    frameworks: Sequence[Framework],
    results: Results,
    servers: dict[tuple[str, AppKind], Server],
    log_dir: Path,
    db_environment: dict[str, str],
) -> None:
    """Start each app's server, check its answers, then read the web app's idle memory.

    A server goes into ``servers`` as soon as it is started, so that the
    caller stops it even if this is interrupted halfway.

    Args:
        frameworks: The frameworks of the run.
        results: Where each check's verdict goes.
        servers: Where each started server goes, by framework key and app kind.
        log_dir: Where the servers write their output.
        db_environment: The variables that give the database apps their database.
    """
    print("Starting the servers and checking their answers:", flush=True)
    for framework in frameworks:
        result = results[framework.key]
        if result.error is not None:
            continue
        for kind in APP_KINDS:
            paths = [path for path in result.endpoints if ENDPOINTS_BY_PATH[path].app == kind]
            if paths:
                environment = db_environment if kind == "db" else {}
                server = start_server(framework, log_dir, kind, environment)
                servers[framework.key, kind] = server
                _check_server(server, result, paths)


def _check_server(server: Server, result: FrameworkResult, paths: Sequence[str]) -> None:
    """Wait for ``server``, check its answers on ``paths``, and read a web app's memory."""
    framework, kind = server.framework, server.kind
    label = framework.label if kind == "web" else f"{framework.label} (database app)"
    problem = wait_until_ready(server)
    if problem is not None:
        print(f"  {label}: FAILED to start: {problem}", flush=True)
        if kind == "web":
            result.error = problem
        result.fail(first_line(problem), kind)
        return
    for path in paths:
        endpoint = ENDPOINTS_BY_PATH[path]
        error = check_answer(server.url, endpoint)
        result.endpoints[path].error = error
        verdict = "ok" if error is None else f"FAILED check: {error}"
        print(f"  {framework.label} {endpoint.label}: {verdict}", flush=True)
    # A server that crashed on a request shows as checks that failed to connect.
    if (reason := exit_reason(server)) is not None:
        print(f"  {label}: FAILED, the server exited: {reason}", flush=True)
        if kind == "web":
            result.error = reason
        result.fail(first_line(reason), kind)
        return
    if kind != "web":
        return
    try:
        pid, process = serving_process(server)
        result.idle_rss_mib = rss_mib(pid)
        result.rss_process = process
    except OSError as error:
        print(f"  {label}: idle RSS not measured: {error}", flush=True)


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
    servers: dict[tuple[str, AppKind], Server],
    scripts: dict[str, Path],
) -> None:
    """Load every endpoint that passed its check, round after round, frameworks interleaved.

    ``scripts`` holds the wrk script file of each endpoint that needs one, by path.
    """
    for number in range(1, options.rounds + 1):
        print(f"Round {number} of {options.rounds}:", flush=True)
        for (key, kind), server in servers.items():
            for path, endpoint in results[key].endpoints.items():
                if endpoint.error is None and ENDPOINTS_BY_PATH[path].app == kind:
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
    kinds: tuple[AppKind, ...] = options.kinds
    if shutil.which("wrk") is None:
        print("wrk is not installed. On Debian or Ubuntu: apt-get install wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    try:
        carboy_error = ensure_venv(with_carboy=any(f.key == "carboy" for f in frameworks))
    except (SetupError, subprocess.TimeoutExpired) as error:
        print(f"Cannot set up {VENV_DIR}: {error}", file=sys.stderr)
        return 2
    versions = installed_versions()
    print("Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))

    database: dict[str, Any] | None = None
    if "db" in kinds:
        database = {"url": safe_url(options.database_url), "skipped": None}
        version, database["skipped"] = prepare_database(options.database_url)
        if version is not None:
            versions["postgresql"] = version
            database["pool_size"] = pool_size()
        else:
            kinds = tuple(kind for kind in kinds if kind != "db")
            frameworks = [f for f in frameworks if endpoints_of(f.key, kinds)]
            if not frameworks:
                print(
                    "Nothing is left to measure: the chosen endpoints all need the database.",
                    file=sys.stderr,
                )
                return 2
    db_environment = {URL_VARIABLE: options.database_url, POOL_SIZE_VARIABLE: str(pool_size())}

    results: Results = {
        framework.key: FrameworkResult(
            framework.key,
            framework.label,
            framework.server,
            endpoints={
                endpoint.path: EndpointResult(endpoint.path)
                for endpoint in endpoints_of(framework.key, kinds)
            },
        )
        for framework in frameworks
    }
    if carboy_error is not None and "carboy" in results:
        print(f"carboy: FAILED to install, so its rows are FAILED.\n{carboy_error}", flush=True)
        results["carboy"].error = results["carboy"].import_error = carboy_error
        results["carboy"].fail("carboy is not installed in benchmarks/.venv")

    # Import time and idle memory are the web apps' (the hello apps' and the
    # benchmark apps'), so a database-only run leaves them out.
    if "web" in kinds:
        measure_imports(frameworks, results)
    scripts = wrk_scripts(results)
    servers: dict[tuple[str, AppKind], Server] = {}
    with tempfile.TemporaryDirectory(prefix="carboy-bench-") as work_dir:
        script_files = write_wrk_scripts(scripts, Path(work_dir))
        try:
            start_and_check(frameworks, results, servers, Path(work_dir), db_environment)
            measure_rounds(options, results, servers, script_files)
        finally:
            for server in servers.values():
                stop_server(server)

    settings: dict[str, Any] = {
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "rounds": options.rounds,
        "connections": options.connections,
        "endpoints": list(kinds),
        "wrk_threads": 1,
        "wrk_timeout_s": REQUEST_TIMEOUT_S,
        "import_runs": IMPORT_RUNS,
        "uvicorn_options": list(UVICORN_OPTIONS),
        "gunicorn_options": list(GUNICORN_OPTIONS),
        "wrk_scripts": scripts,
        "database": database,
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
