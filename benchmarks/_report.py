"""The results of a run, and their rendering as Markdown tables and JSON.

Rates are reported as the median over rounds. Ratios to raw ASGI and to
carboy are taken within each round and only then aggregated (median), so that
drift between rounds, from heat or other load on the machine, cancels out.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from _apps import ENDPOINTS, ENDPOINTS_BY_PATH, TYPED_ENDPOINT, AppKind
from _text import first_line
from _venv import REPORTED_DISTRIBUTIONS
from _wrk import WrkResult


@dataclass
class EndpointResult:
    """The check and the measurements of one endpoint of one framework."""

    path: str
    error: str | None = None
    # One entry per round; None where wrk itself failed.
    rounds: list[WrkResult | None] = field(default_factory=list)

    @property
    def rates(self) -> list[float | None]:
        """Requests/sec per round, None where wrk failed."""
        return [run.requests_per_second if run else None for run in self.rounds]

    @property
    def median_rate(self) -> float | None:
        """Median requests/sec over the rounds that produced a number."""
        rates = [rate for rate in self.rates if rate is not None]
        return statistics.median(rates) if rates else None

    @property
    def median_p99_ms(self) -> float | None:
        """Median over rounds of wrk's 99th percentile latency, in milliseconds."""
        p99s = [
            run.latency_p99_ms
            for run in self.rounds
            if run is not None and run.latency_p99_ms is not None
        ]
        return statistics.median(p99s) if p99s else None


@dataclass
class FrameworkResult:
    """Everything measured for one framework."""

    key: str
    label: str
    server: str
    endpoints: dict[str, EndpointResult]
    error: str | None = None
    import_ms_runs: list[float] = field(default_factory=list)
    startup_ms_runs: list[float] = field(default_factory=list)
    import_error: str | None = None
    idle_rss_mib: float | None = None
    rss_process: str = ""

    @property
    def import_ms(self) -> float | None:
        """Median import-and-build time, None when it was not measured."""
        return statistics.median(self.import_ms_runs) if self.import_ms_runs else None

    @property
    def startup_ms(self) -> float | None:
        """Median import, build and lifespan startup time, None when not measured."""
        return statistics.median(self.startup_ms_runs) if self.startup_ms_runs else None

    def fail(self, reason: str, kind: AppKind | None = None) -> None:
        """Mark every endpoint of this framework, or of its app of ``kind``, as failed."""
        for path, endpoint in self.endpoints.items():
            if kind is None or ENDPOINTS_BY_PATH[path].app == kind:
                endpoint.error = reason


Results = dict[str, FrameworkResult]


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return value / base


def round_ratio(results: Results, key: str, path: str, base_key: str) -> float | None:
    """Return the median over rounds of ``key``'s rate on ``path`` over ``base_key``'s.

    None when ``base_key`` was not run, does not serve ``path`` or has no rate.
    """
    if base_key not in results or path not in results[base_key].endpoints:
        return None
    mine = results[key].endpoints[path].rates
    base = results[base_key].endpoints[path].rates
    ratios = [r for a, b in zip(mine, base, strict=False) if (r := _ratio(a, b)) is not None]
    return statistics.median(ratios) if ratios else None


def _fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, spec)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _load_notes(endpoint: EndpointResult) -> str:
    """Flag a rate that counts failed requests, so it is not read as real."""
    runs = [run for run in endpoint.rounds if run is not None]
    notes = []
    if non_2xx := sum(run.non_2xx for run in runs):
        notes.append(f"⚠ {non_2xx} non-2xx")
    if socket_errors := sum(sum(run.socket_errors.values()) for run in runs):
        notes.append(f"⚠ {socket_errors} socket errors")
    if len(runs) < len(endpoint.rounds):
        notes.append("⚠ a wrk run failed")
    return ", ".join(notes)


def throughput_table(results: Results, rounds: int) -> str:
    """Render requests/sec per framework and endpoint as a Markdown table."""
    header = ["framework", "endpoint", *(f"round {n}" for n in range(1, rounds + 1))]
    header += ["median req/s", "vs raw", "vs carboy", "p99 ms", "notes"]
    lines = [_row(header), _row(["---"] * len(header))]
    for result in results.values():
        for path, endpoint in result.endpoints.items():
            cells = [result.label, f"`{ENDPOINTS_BY_PATH[path].label}`"]
            if endpoint.error is not None:
                cells += ["—"] * rounds + ["**FAILED**", "—", "—", "—", first_line(endpoint.error)]
            else:
                rates = [_fmt(rate, ",.0f", "error") for rate in endpoint.rates]
                cells += rates + ["—"] * (rounds - len(rates))
                cells += [
                    _fmt(endpoint.median_rate, ",.0f", "error"),
                    _fmt(round_ratio(results, result.key, path, "raw"), ".2f"),
                    _fmt(round_ratio(results, result.key, path, "carboy"), ".2f"),
                    _fmt(endpoint.median_p99_ms, ".1f"),
                    _load_notes(endpoint),
                ]
            lines.append(_row(cells))
    return "\n".join(lines)


def footprint_table(results: Results) -> str:
    """Render the hello app's import-and-build time, with startup, and idle memory."""
    carboy = results.get("carboy")
    carboy_ms = carboy.import_ms if carboy else None
    carboy_start = carboy.startup_ms if carboy else None
    carboy_mib = carboy.idle_rss_mib if carboy else None
    header = ["framework", "import+build ms", "vs carboy", "+startup ms", "vs carboy"]
    header += ["idle RSS MiB", "vs carboy", "RSS of"]
    lines = [_row(header), _row(["---"] * len(header))]
    for result in results.values():
        failed = result.import_error is not None
        import_cell = "**FAILED**" if failed else _fmt(result.import_ms, ".1f")
        startup_cell = "**FAILED**" if failed else _fmt(result.startup_ms, ".1f")
        rss_cell = _fmt(result.idle_rss_mib, ".1f", "**FAILED**")
        cells = [
            result.label,
            import_cell,
            _fmt(_ratio(result.import_ms, carboy_ms), ".2f"),
            startup_cell,
            _fmt(_ratio(result.startup_ms, carboy_start), ".2f"),
            rss_cell,
            _fmt(_ratio(result.idle_rss_mib, carboy_mib), ".2f"),
            result.rss_process or "—",
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


RAW_FLOOR = 0.65
"""carboy, default middleware on, must reach this share of raw ASGI's rate, where raw serves."""

BEATEN_PEERS = ("starlette", "litestar")
"""Peers carboy must be faster than, on every endpoint they serve, in the same run."""

TYPED_FASTAPI_FLOOR = 1.5
"""On the typed endpoint, carboy must reach this multiple of FastAPI's rate."""

DB_BEATEN_PEERS = ("fastapi", "django")
"""Peers carboy must be faster than on every database endpoint, in the same run."""


def goals_table(results: Results) -> str:
    """Render carboy's goals, each checked against this run, as a Markdown table.

    A goal against a peer is checked on the endpoints that peer serves, and
    only if the peer was part of the run.
    """
    header = ["goal", "endpoint", "measured", "result"]
    lines = [_row(header), _row(["---"] * len(header))]
    carboy = results.get("carboy")
    if carboy is None:
        return "carboy was not part of this run (--only), so its goals were not checked."

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "**FAIL**")

    def speed_goal(goal: str, path: str, peer: str, floor: float, *, strictly: bool) -> str:
        # carboy's rate over the peer's, round by round, then the median.
        ratio = round_ratio(results, "carboy", path, peer)
        ok = None if ratio is None else (ratio > floor if strictly else ratio >= floor)
        measured = "n/a" if ratio is None else f"{ratio:.2f}x"
        return _row([goal, f"`{ENDPOINTS_BY_PATH[path].label}`", measured, verdict(ok)])

    for endpoint in ENDPOINTS:
        path = endpoint.path
        if path not in carboy.endpoints:
            continue
        # Raw ASGI is the floor even when it was not run: its goal then reads n/a.
        if endpoint.is_served_by("raw"):
            goal = f"carboy ≥ {RAW_FLOOR}x raw ASGI"
            lines.append(speed_goal(goal, path, "raw", RAW_FLOOR, strictly=False))
        if endpoint is TYPED_ENDPOINT and "fastapi" in results:
            goal = f"carboy ≥ {TYPED_FASTAPI_FLOOR}x {results['fastapi'].label}"
            lines.append(speed_goal(goal, path, "fastapi", TYPED_FASTAPI_FLOOR, strictly=False))
        peers = DB_BEATEN_PEERS if endpoint.app == "db" else BEATEN_PEERS
        for peer in peers:
            if peer in results and endpoint.is_served_by(peer):
                goal = f"carboy faster than {results[peer].label}"
                lines.append(speed_goal(goal, path, peer, 1.0, strictly=True))
    starlette = results.get("starlette")
    if starlette is not None:
        mine, theirs = carboy.import_ms, starlette.import_ms
        ok = None if mine is None or theirs is None else mine < theirs
        measured = f"{_fmt(mine, '.1f')} ms vs {_fmt(theirs, '.1f')} ms"
        lines.append(_row(["import+build faster than Starlette", "—", measured, verdict(ok)]))
    return "\n".join(lines)


def header_text(versions: dict[str, str], settings: dict[str, Any]) -> str:
    """Render the machine, the versions and the run's settings as Markdown."""
    installed = ", ".join(f"{name} {versions.get(name, '?')}" for name in REPORTED_DISTRIBUTIONS)
    scripts_note = ""
    if scripts := settings.get("wrk_scripts"):
        labels = ", ".join(f"`{ENDPOINTS_BY_PATH[path].label}`" for path in scripts)
        scripts_note = (
            f"{labels}: the same load, with `-s` and a Lua script that sets the method, "
            "the JSON body and its content type (the script is in latest.json).\n"
        )
    database = settings.get("database") or {}
    database_note = ""
    if database.get("pool_size") is not None:
        database_note = (
            f"Database endpoints: PostgreSQL {versions.get('postgresql', '?')} on the same "
            f"machine; carboy and FastAPI keep a pool of {database['pool_size']} asyncpg "
            "connections (no overflow), Django one persistent psycopg connection "
            "(its one sync worker serves one request at a time).\n"
        )
    return (
        f"Python {versions.get('python', '?')}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, wrk {versions.get('wrk', '?')}.\n"
        f"Installed: {installed}.\n"
        f"Load: `wrk -t1 -c{settings['connections']} -d{settings['duration_s']}s "
        f"--timeout {settings['wrk_timeout_s']}s --latency`, "
        f"{settings['warmup_s']} s of warmup before each run, "
        f"{settings['rounds']} interleaved rounds, one server worker.\n"
        f"{scripts_note}"
        f"{database_note}"
        f"median req/s is the median over rounds; vs raw and vs carboy are per-round "
        f"ratios, then their median; import+build ms is the median of "
        f"{settings['import_runs']} fresh interpreters importing each framework's hello app "
        f"(`apps/hello/`, one route); +startup ms adds an ASGI app's lifespan startup."
    )


def render(results: Results, versions: dict[str, str], settings: dict[str, Any]) -> str:
    """Render the whole report as Markdown."""
    sections = [
        "## Throughput (requests/sec, higher is better)",
        header_text(versions, settings),
        throughput_table(results, settings["rounds"]),
    ]
    if skipped := (settings.get("database") or {}).get("skipped"):
        sections.append(f"**The database endpoints were not measured:** {skipped}")
    sections.append("## Import+build time and idle memory (lower is better)")
    if "web" in settings.get("endpoints", ["web"]):
        sections.append(footprint_table(results))
    else:
        sections.append("Not measured: they are the web apps', left out by `--endpoints`.")
    sections += ["## carboy's goals", goals_table(results)]
    return "\n\n".join(sections)


def to_json(results: Results, versions: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    """Return everything measured, with the derived numbers, as a JSON-ready dict."""
    frameworks = {}
    for key, result in results.items():
        data = asdict(result)
        data["import_ms"] = result.import_ms
        data["startup_ms"] = result.startup_ms
        for path, endpoint in result.endpoints.items():
            data["endpoints"][path].update(
                median_requests_per_second=endpoint.median_rate,
                median_p99_ms=endpoint.median_p99_ms,
                vs_raw=round_ratio(results, key, path, "raw"),
                vs_carboy=round_ratio(results, key, path, "carboy"),
            )
        frameworks[key] = data
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions,
        "settings": settings,
        "frameworks": frameworks,
    }
