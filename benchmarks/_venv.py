"""The benchmark virtualenv, ``benchmarks/.venv``: the peers, the servers, carboy.

It is created on the first run and reused after. Nothing is pinned; the
installed versions are read back and printed with every report.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from _text import last_lines

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"

PEER_REQUIREMENTS = (
    "starlette",
    "fastapi",
    "litestar",
    "flask",
    "django",
    # The typed endpoint's models, in the carboy, FastAPI and Litestar apps.
    "pydantic",
    # The database apps: SQLAlchemy with asyncpg for FastAPI (carboy gets
    # the same from its postgres extra), psycopg for Django and for filling
    # the tables.
    "sqlalchemy[asyncio]",
    "asyncpg",
    "psycopg[binary]",
    "uvicorn[standard]",
    "gunicorn",
)
# carboy from the repository root, editable, with the drivers of its
# database battery for PostgreSQL.
CARBOY_REQUIREMENT = f"{REPO_ROOT}[postgres]"
# Distributions whose installed versions go in the report header.
REPORTED_DISTRIBUTIONS = (
    "carboy",
    "starlette",
    "fastapi",
    "litestar",
    "flask",
    "django",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "uvicorn",
    "uvloop",
    "httptools",
    "gunicorn",
)
PIP_TIMEOUT = 900.0
PROBE_TIMEOUT = 60.0

_VERSIONS_PROBE = """\
import json, platform, sys
from importlib import metadata
versions = {"python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        versions[name] = "not installed"
print(json.dumps(versions))
"""


class SetupError(Exception):
    """The virtualenv or the peers could not be installed."""


def venv_python() -> Path:
    """Return the path of the benchmark virtualenv's interpreter."""
    return VENV_DIR / "bin" / "python"


def _pip_install(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``pip install`` in the virtualenv and return the finished process."""
    return subprocess.run(
        [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )


def ensure_venv(*, with_carboy: bool) -> str | None:
    """Create or update the virtualenv with the peers, the servers and carboy.

    The peers are installed once; a marker file remembers the requirement
    list, so that a changed list installs again. Carboy is installed editable
    from the repository root, with its ``postgres`` extra, and again whenever
    ``pyproject.toml`` changes, so that its dependencies follow.

    Args:
        with_carboy: Whether carboy is measured, and so must be installed.

    Returns:
        None when carboy is installed or not wanted, else why its install failed.

    Raises:
        SetupError: The virtualenv or the peers could not be installed.
    """
    if not venv_python().exists():
        print(f"Creating {VENV_DIR.relative_to(REPO_ROOT)} ...", flush=True)
        created = subprocess.run(
            [sys.executable, "-m", "venv", str(VENV_DIR)],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
            check=False,
        )
        if created.returncode != 0:
            raise SetupError(f"python -m venv failed:\n{last_lines(created.stderr)}")

    peers_marker = VENV_DIR / ".peers-installed"
    wanted_peers = "\n".join(PEER_REQUIREMENTS)
    if not peers_marker.exists() or peers_marker.read_text() != wanted_peers:
        print("Installing the peers, uvicorn and gunicorn into the venv ...", flush=True)
        installed = _pip_install(PEER_REQUIREMENTS)
        if installed.returncode != 0:
            raise SetupError(f"pip install of the peers failed:\n{last_lines(installed.stderr)}")
        peers_marker.write_text(wanted_peers)

    if not with_carboy:
        return None
    carboy_marker = VENV_DIR / ".carboy-installed"
    pyproject = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted_carboy = f"{CARBOY_REQUIREMENT}\n{pyproject}"
    if carboy_marker.exists() and carboy_marker.read_text() == wanted_carboy:
        return None
    print("Installing carboy (editable) into the venv ...", flush=True)
    installed = _pip_install(["-e", CARBOY_REQUIREMENT])
    if installed.returncode != 0:
        carboy_marker.unlink(missing_ok=True)
        return f"pip install -e {CARBOY_REQUIREMENT} failed:\n{last_lines(installed.stderr)}"
    carboy_marker.write_text(wanted_carboy)
    return None


def installed_versions() -> dict[str, str]:
    """Return the versions of Python, wrk and each reported distribution."""
    completed = subprocess.run(
        [str(venv_python()), "-c", _VERSIONS_PROBE, *REPORTED_DISTRIBUTIONS],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=True,
    )
    versions: dict[str, str] = json.loads(completed.stdout)
    # wrk prints its version on -v, then its usage, and exits 1.
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    lines = (wrk.stdout or wrk.stderr).strip().splitlines()
    banner = lines[0].split(" Copyright")[0] if lines else "unknown"
    versions["wrk"] = banner.removeprefix("wrk ").strip()
    return versions
