"""Flask's hello app, for the import-and-build time: one route, one dict."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> dict[str, str]:
    """Answer with a greeting."""
    return {"message": "Hello, World!"}
