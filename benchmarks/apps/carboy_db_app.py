"""The database benchmark app on carboy: TechEmpower's /db, /queries and /fortunes.

The ``carboy.db`` battery gives each handler an ``AsyncSession`` by
annotation, one transaction per request, committed when the handler returns;
its engine runs asyncpg on the URL in ``BENCH_DATABASE_URL``, with a pool of
``BENCH_DB_POOL_SIZE`` connections and no overflow, the same pool as the
FastAPI app's. The tables are filled by the runner (``benchmarks/_database.py``).

``/fortunes`` renders ``templates/fortunes.html`` with Jinja2 through
``carboy.templating.render``, which escapes every value.

Serve with ``uvicorn --app-dir benchmarks/apps carboy_db_app:app``.
"""

from __future__ import annotations

import os
from operator import attrgetter
from pathlib import Path
from random import randint

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column

from carboy import Carboy, HTMLResponse, Request
from carboy.config import Settings
from carboy.db import AsyncSession, Database, Model, Pool
from carboy.templating import render

TEMPLATES = Path(__file__).resolve().parent / "templates"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
POOL_SIZE = int(os.environ.get("BENCH_DB_POOL_SIZE") or 16)
WORLD_SIZE = 10_000
MAX_QUERIES = 500

db = Database(DATABASE_URL, pool=Pool(size=POOL_SIZE, max_overflow=0))
# Default middleware stays on, as in carboy_app.py; a fixed secret key is
# harmless here, where nothing signed is worth forging.
app = Carboy(
    settings=Settings(
        secret_key=SecretStr("benchmark-only-not-a-secret"), template_dirs=[str(TEMPLATES)]
    ),
    extensions=[db],
)


class World(Model):
    """A row of TechEmpower's ``world`` table."""

    __tablename__ = "world"

    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(Model):
    """A row of TechEmpower's ``fortune`` table."""

    __tablename__ = "fortune"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str]


def query_count(queries: str | None) -> int:
    """Read the ``queries`` parameter as TechEmpower asks: 1 unless a number, at most 500."""
    try:
        count = int(queries or 1)
    except ValueError:
        return 1
    return min(max(count, 1), MAX_QUERIES)


@app.get("/db")
async def single_query(session: AsyncSession) -> dict[str, int]:
    """Answer with one random row of ``world``."""
    world = await session.get_one(World, randint(1, WORLD_SIZE))
    return {"id": world.id, "randomNumber": world.randomnumber}


@app.get("/queries")
async def multiple_queries(
    session: AsyncSession, queries: str | None = None
) -> list[dict[str, int]]:
    """Answer with ``queries`` random rows of ``world``, read one query at a time."""
    worlds = []
    for _ in range(query_count(queries)):
        # A repeated id would come from the session's identity map without a
        # query; TechEmpower's rules ask for one query per row, so always query.
        world = await session.get_one(World, randint(1, WORLD_SIZE), populate_existing=True)
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return worlds


@app.get("/fortunes")
async def fortunes(request: Request, session: AsyncSession) -> HTMLResponse:
    """Render every fortune, plus one added now, sorted by message, as an HTML table."""
    rows = list(await session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=attrgetter("message"))
    return render(request, "fortunes.html", {"fortunes": rows})
