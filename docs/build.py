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
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
BENCHMARK = DOCS / "_data" / "benchmark.json"

SCREENSHOT_TESTS = [
    "tests/browser/test_admin.py::test_a_superuser_manages_the_blog_through_a_whole_admin_session",
    "tests/browser/test_docs_page.py",
]
SCREENSHOTS = ["admin-01-dashboard.png", "docs-page.png"]

# The endpoints the chart shows, by path, and their labels: a panel for the
# endpoints that only the framework answers, one for those on PostgreSQL.
CHART_PANELS = {
    "Served by the framework alone": {
        "/plaintext": "plain text",
        "/json": "JSON",
        "/users/42/posts/hello-world": "path parameters",
    },
    "On PostgreSQL": {"/db": "one row", "/fortunes": "fortunes template"},
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
        sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-b", "html",
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


def draw_benchmark_chart(results: dict[str, Any], path: Path) -> None:
    """Draw the median requests per second of each framework, a panel per endpoint group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(len(CHART_PANELS), 1, figsize=(11, 8), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    keys = list(results["frameworks"])
    for axes, (title, endpoints) in zip(panels, CHART_PANELS.items(), strict=True):
        shown = [
            key for key in keys if all(_rate(results, key, endpoint) for endpoint in endpoints)
        ]
        height = 0.8 / len(shown)
        for index, key in enumerate(shown):
            axes.barh(
                [position + index * height for position in range(len(endpoints))],
                [_rate(results, key, endpoint) for endpoint in endpoints],
                height=height,
                label=results["frameworks"][key].get("label") or key,
                color=colours[keys.index(key) % len(colours)],
            )
        axes.set_yticks([position + 0.4 - height / 2 for position in range(len(endpoints))])
        axes.set_yticklabels(endpoints.values())
        axes.invert_yaxis()
        axes.set_title(title, loc="left", fontsize="medium")
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
        axes.grid(axis="x", alpha=0.3)
    panels[-1].set_xlabel("requests per second, median of the rounds (more is better)")
    figure.suptitle(
        f"carboy and its peers, one worker each, wrk on 127.0.0.1 ({results['date'][:10]})"
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _rate(results: dict[str, Any], key: str, endpoint: str) -> float:
    found = results["frameworks"][key]["endpoints"].get(endpoint) or {}
    return float(found.get("median_requests_per_second") or 0)


if __name__ == "__main__":
    main()
