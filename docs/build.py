"""Build carboy's documentation site: ``python docs/build.py``.

1. The browser tests take the screenshots the pages show (the admin and the
   API docs page), in Debian's Chromium, into ``docs/_generated/``.
2. The benchmark chart is drawn from ``docs/_data/benchmark.json``, the
   results of a ``python benchmarks/run.py`` run, copied there when the
   numbers on the site are brought up to date.
3. Sphinx builds ``docs/_build/html`` with warnings as errors (``-W``) and
   every reference checked (``nitpicky``), so a broken link, a missing
   reference or a broken docstring fails the build.

``--no-screenshots`` reuses the screenshots in ``docs/_generated/`` when they
are there, for a quick rebuild of the text.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
BENCHMARK = DOCS / "_data" / "benchmark.json"

SCREENSHOT_TESTS = [
    "tests/browser/test_admin.py::test_a_superuser_manages_the_blog_through_a_whole_admin_session",
    "tests/browser/test_docs_page.py",
]
SCREENSHOTS = ["admin-01-dashboard.png", "docs-page.png"]

# The endpoints the chart shows, by path, and their labels.
CHART_ENDPOINTS = {
    "/plaintext": "plain text",
    "/json": "JSON",
    "/users/42/posts/hello-world": "path parameters",
    "/db": "one row (PostgreSQL)",
    "/fortunes": "fortunes template (PostgreSQL)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-screenshots", action="store_true", help="reuse the screenshots")
    parser.add_argument("--out", type=Path, default=DOCS / "_build" / "html", help="the output")
    options = parser.parse_args()
    GENERATED.mkdir(exist_ok=True)
    missing = [name for name in SCREENSHOTS if not (GENERATED / name).exists()]
    if not options.no_screenshots or missing:
        take_screenshots()
    draw_benchmark_chart(json.loads(BENCHMARK.read_text()), GENERATED / "benchmark.png")
    shutil.rmtree(options.out, ignore_errors=True)
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
        "-d", str(options.out.parent / "doctrees"), str(DOCS), str(options.out),
    ]  # fmt: skip
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    pictures = [*SCREENSHOTS, "benchmark.png", "pipeline.svg"]
    shown = {path.name for path in options.out.rglob("*") if path.name in pictures}
    if shown != set(pictures):
        raise SystemExit(f"The site shows none of {sorted(set(pictures) - shown)}.")
    print(f"Built the site in {options.out}; open {options.out / 'index.html'}.")


def take_screenshots() -> None:
    """Run the browser tests that take the site's screenshots, into ``_generated``."""
    environment = {**os.environ, "CARBOY_SCREENSHOTS": str(GENERATED)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SCREENSHOT_TESTS]
    print("+ CARBOY_SCREENSHOTS=docs/_generated", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, env=environment)
    missing = [name for name in SCREENSHOTS if not (GENERATED / name).exists()]
    if missing:
        raise SystemExit(f"The browser tests took no {', '.join(missing)}.")


def draw_benchmark_chart(results: dict, path: Path) -> None:  # type: ignore[type-arg]
    """Draw requests per second relative to carboy, per endpoint and framework."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frameworks = [
        (key, data)
        for key, data in results["frameworks"].items()
        if any(
            (data["endpoints"].get(path) or {}).get("median_requests_per_second")
            for path in CHART_ENDPOINTS
        )
    ]
    figure, axes = plt.subplots(figsize=(10, 5.5), dpi=110)
    height = 0.8 / max(len(frameworks), 1)
    positions = range(len(CHART_ENDPOINTS))
    for index, (key, data) in enumerate(frameworks):
        rates = [
            (data["endpoints"].get(path) or {}).get("median_requests_per_second") or 0
            for path in CHART_ENDPOINTS
        ]
        axes.barh(
            [position + index * height for position in positions],
            rates,
            height=height,
            label=data.get("name", key),
        )
    axes.set_yticks([position + 0.4 - height / 2 for position in positions])
    axes.set_yticklabels(CHART_ENDPOINTS.values())
    axes.invert_yaxis()
    axes.set_xlabel("requests per second, median of the rounds (more is better)")
    date = results["date"][:10]
    axes.set_title(f"carboy and its peers, one worker each, wrk on 127.0.0.1 ({date})")
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main()
