"""The database benchmark app on FastAPI: TechEmpower's /db, /queries and /fortunes.

Written as FastAPI's documentation advises for SQL databases, with SQLAlchemy
2's asyncio extension: a module-level async engine and session factory, an
async dependency that opens one session per request (``SessionDep``), models
declared with ``Mapped``, and a lifespan that disposes of the engine at
shutdown. The engine runs asyncpg on the URL in ``BENCH_DATABASE_URL``, with a
pool of ``BENCH_DB_POOL_SIZE`` connections and no overflow, the same pool as
the carboy app's. The tables are filled by the runner
(``benchmarks/_database.py``).

``/fortunes`` renders ``templates/fortunes.html`` with Starlette's
``Jinja2Templates``, which FastAPI re-exports and whose autoescape is on.

Serve with ``uvicorn --app-dir benchmarks/apps fastapi_db_app:app``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from operator import attrgetter
from pathlib import Path
from random import randint
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TEMPLATES = Path(__file__).resolve().parent / "templates"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
POOL_SIZE = int(os.environ.get("BENCH_DB_POOL_SIZE") or 16)
WORLD_SIZE = 10_000
MAX_QUERIES = 500

# The runner gives a driverless postgresql:// URL to all three apps; asyncpg
# is the async driver FastAPI users pair with SQLAlchemy.
engine = create_async_engine(
    make_url(DATABASE_URL).set(drivername="postgresql+asyncpg"),
    pool_size=POOL_SIZE,
    max_overflow=0,
)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
templates = Jinja2Templates(directory=TEMPLATES)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close the pooled connections when the server stops."""
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_session() -> AsyncIterator[AsyncSession]:
    """Open one session for the request, closed once the handler is done."""
    async with SessionLocal() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class Base(DeclarativeBase):
    """The models' declarative base."""


class World(Base):
    """A row of TechEmpower's ``world`` table."""

    __tablename__ = "world"

    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(Base):
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
async def single_query(session: SessionDep) -> dict[str, int]:
    """Answer with one random row of ``world``."""
    world = await session.get_one(World, randint(1, WORLD_SIZE))
    return {"id": world.id, "randomNumber": world.randomnumber}


@app.get("/queries")
async def multiple_queries(session: SessionDep, queries: str | None = None) -> list[dict[str, int]]:
    """Answer with ``queries`` random rows of ``world``, read one query at a time."""
    worlds = []
    for _ in range(query_count(queries)):
        # A repeated id would come from the session's identity map without a
        # query; TechEmpower's rules ask for one query per row, so always query.
        world = await session.get_one(World, randint(1, WORLD_SIZE), populate_existing=True)
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return worlds


@app.get("/fortunes", response_class=HTMLResponse)
async def fortunes(request: Request, session: SessionDep) -> HTMLResponse:
    """Render every fortune, plus one added now, sorted by message, as an HTML table."""
    rows = list(await session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=attrgetter("message"))
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})
