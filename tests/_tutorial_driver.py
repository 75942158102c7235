"""Drive the tutorial's project from the inside: requests through TestClient, SQL on its database.

tests/test_tutorial.py runs this file as a fresh Python process in the
project's folder, so that each check imports the project as ``carboy run``
would (``app.py`` from the current folder) and its models never meet the
models of other tests in one interpreter. It reads a JSON list of steps on
stdin and writes what it saw as JSON on stdout; the assertions stay in the
test. A step is either a request::

    {"method": "POST", "path": "/notes/new", "data": {...}, "csrf": true}

(``data`` is a form, ``json`` a JSON body, ``headers`` extra headers;
``csrf`` adds the ``csrf_token`` of the last HTML page to ``data``;
redirects are not followed unless ``"follow": true``), or SQL on the app's
database::

    {"sql": "SELECT title FROM note ORDER BY id", "params": {}}

which is committed, and gives the rows as lists.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from carboy._discovery import find_app
from carboy.db import Database
from carboy.testing import TestClient

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def run(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the steps against the app of the current folder; return one result per step."""
    app: Any = find_app(None).app
    results: list[dict[str, Any]] = []
    last_html = ""
    with TestClient(app) as client:
        database = app.extensions.get("db")
        for step in steps:
            if "sql" in step:
                if not isinstance(database, Database):
                    raise SystemExit("The app has no Database extension to run SQL on.")
                with database.session() as session:
                    found = session.execute(text(step["sql"]), step.get("params", {}))
                    rows = [list(row) for row in found] if found.returns_rows else []
                    session.commit()
                results.append({"rows": rows})
                continue
            data = dict(step.get("data", {}))
            if step.get("csrf"):
                token = CSRF_INPUT.search(last_html)
                if token is None:
                    raise SystemExit(f"No csrf_token in the page before {step['path']}.")
                data["csrf_token"] = token.group(1)
            response = client.request(
                step["method"],
                step["path"],
                data=data or None,
                json=step.get("json"),
                headers=step.get("headers"),
                follow_redirects=step.get("follow", False),
            )
            if "html" in response.headers.get("content-type", ""):
                last_html = response.text
            results.append(
                {
                    "status": response.status_code,
                    "reason": response.reason_phrase,
                    "headers": dict(response.headers),
                    "text": response.text,
                    "url": str(response.url.path),
                }
            )
    return results


if __name__ == "__main__":
    # This file's folder (the repository's tests/) must not shadow the project's modules.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry != here]
    json.dump(run(json.load(sys.stdin)), sys.stdout)
