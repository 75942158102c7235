"""carboy's hello app, for the import-and-build time: one route, one dict."""

from __future__ import annotations

from carboy import Carboy

app = Carboy()


@app.get("/")
async def hello() -> dict[str, str]:
    """Answer with a greeting."""
    return {"message": "Hello, World!"}
