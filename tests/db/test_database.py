"""carboy.db on SQLite, PostgreSQL and MariaDB, through sync and async handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from carboy import Carboy
from carboy.db import Database
from carboy.testing import TestClient

from ._app import Label, LedgerEntry, Shelf, Volume

Make = Callable[..., tuple[Carboy, Database]]

pytestmark = pytest.mark.anyio


def names(db: object, model: type) -> list[str]:
    """Read the names of every row of ``model`` straight from the database."""
    with db.session() as session:  # type: ignore[attr-defined]
        return sorted(session.scalars(select(model.name)))  # type: ignore[attr-defined]


def test_crud(make: Make, mode: str) -> None:
    app, db = make()
    with TestClient(app) as client:
        created = client.post(f"/{mode}/shelves", json={"name": "Poetry"})
        assert created.status_code == 201
        shelf_id = created.json()["id"]
        assert created.json() == {"id": shelf_id, "name": "Poetry"}
        assert names(db, Shelf) == ["Poetry"]

        read = client.get(f"/{mode}/shelves/{shelf_id}")
        assert read.status_code == 200
        assert read.json() == {"id": shelf_id, "name": "Poetry", "volumes": []}

        renamed = client.put(f"/{mode}/shelves/{shelf_id}", json={"name": "Verse"})
        assert renamed.json() == {"id": shelf_id, "name": "Verse"}
        assert names(db, Shelf) == ["Verse"]

        assert client.delete(f"/{mode}/shelves/{shelf_id}").status_code == 204
        assert names(db, Shelf) == []

        missing = client.get(f"/{mode}/shelves/{shelf_id}")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "No such shelf."
        gone = client.put(f"/{mode}/shelves/{shelf_id}", json={"name": "x"})
        assert gone.status_code == 404
        assert gone.json()["detail"] == "No Shelf has this id."


def test_timestamps_are_set_and_updated(make: Make, mode: str) -> None:
    app, db = make()
    with TestClient(app) as client:
        shelf_id = client.post(f"/{mode}/shelves", json={"name": "Poetry"}).json()["id"]
        with db.session() as session:
            first = session.get(Shelf, shelf_id)
            assert first is not None
            created, updated = first.created_at, first.updated_at
        client.put(f"/{mode}/shelves/{shelf_id}", json={"name": "Verse"})
        with db.session() as session:
            shelf = session.get(Shelf, shelf_id)
            assert shelf is not None
            assert shelf.created_at == created
            assert shelf.updated_at > updated


def test_one_to_many_and_many_to_many(make: Make, mode: str) -> None:
    app, db = make()
    with TestClient(app) as client:
        shelf_id = client.post(f"/{mode}/shelves", json={"name": "Novels"}).json()["id"]
        first = client.post(
            f"/{mode}/shelves/{shelf_id}/volumes", json={"title": "Emma", "labels": ["classic"]}
        )
        assert first.status_code == 201
        second = client.post(
            f"/{mode}/shelves/{shelf_id}/volumes",
            json={"title": "Dune", "labels": ["scifi", "classic"]},
        )
        assert second.json()["labels"] == ["scifi", "classic"]

        shelf = client.get(f"/{mode}/shelves/{shelf_id}").json()
        assert [v["title"] for v in shelf["volumes"]] == ["Emma", "Dune"]
        assert [v["labels"] for v in shelf["volumes"]] == [["classic"], ["classic", "scifi"]]
        assert client.get(f"/{mode}/labels/classic/volumes").json() == ["Emma", "Dune"]
        assert client.get(f"/{mode}/labels/scifi/volumes").json() == ["Dune"]
        # The label rows are shared, not copied.
        assert names(db, Label) == ["classic", "scifi"]

        # Deleting the shelf deletes its volumes and their label links.
        assert client.delete(f"/{mode}/shelves/{shelf_id}").status_code == 204
        with db.session() as session:
            assert session.scalars(select(Volume)).all() == []
        assert names(db, Label) == ["classic", "scifi"]


@pytest.mark.parametrize("how", ["error", "http"])
def test_a_handler_that_raises_rolls_back(make: Make, mode: str, how: str) -> None:
    app, db = make()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(f"/{mode}/fail?how={how}", json={"name": "Lost"})
        if how == "http":
            assert response.status_code == 409
            assert response.json()["detail"] == "Refused after writing."
        else:
            assert response.status_code == 500
    assert names(db, Shelf) == []


def test_savepoints_undo_only_their_block(make: Make, mode: str) -> None:
    app, db = make()
    with TestClient(app) as client:
        response = client.post(f"/{mode}/nested")
        assert response.status_code == 200
        assert response.json() == {"outcome": "duplicate refused"}
    assert names(db, Shelf) == ["after", "before"]
    assert names(db, Label) == ["taken"]


def test_a_failed_commit_is_an_error_response_not_a_success(make: Make, mode: str) -> None:
    app, db = make()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post(f"/{mode}/late-conflict").status_code == 200
        # The second insert breaks the unique constraint at the commit, which
        # runs before the response: the client is told, and nothing is kept.
        response = client.post(f"/{mode}/late-conflict")
        assert response.status_code == 500
        assert "ok" not in response.text
    assert names(db, Label) == ["taken"]


async def test_concurrent_updates_of_a_versioned_row_lose_nothing(
    make: Make, mode: str, backend: str
) -> None:
    app, db = make()
    with db.session() as session, session.begin():
        session.add(LedgerEntry(id=1, balance=0, version=1))
    async with TestClient(app) as client:
        first, second = await asyncio.gather(
            client.post(f"/{mode}/ledger/1?balance=10"),
            client.post(f"/{mode}/ledger/1?balance=20"),
        )
    statuses = sorted([first.status_code, second.status_code])
    # Both read version 1; one writer wins, the other is refused instead of
    # overwriting the winner. SQLite refuses the second writer itself (503),
    # the others through the version check (409).
    assert statuses == ([200, 503] if backend == "sqlite" else [200, 409])
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    if loser.status_code == 409:
        assert loser.json()["detail"] == (
            "The row was changed by another request while this one was working on it. "
            "Reload it and try again."
        )
    else:
        assert loser.headers["retry-after"] == "1"
    with db.session() as session:
        entry = session.get(LedgerEntry, 1)
        assert entry is not None
        assert (entry.balance, entry.version) == (winner.json()["balance"], 2)


async def test_row_locks_serialize_concurrent_increments(
    make: Make, mode: str, backend: str
) -> None:
    app, db = make()
    with db.session() as session, session.begin():
        session.add(LedgerEntry(id=1, balance=0, version=1))
    async with TestClient(app) as client:
        responses = await asyncio.gather(
            *(client.post(f"/{mode}/ledger/1/add?amount=1") for _ in range(5))
        )
    statuses = [response.status_code for response in responses]
    with db.session() as session:
        entry = session.get(LedgerEntry, 1)
        assert entry is not None
        balance = entry.balance
    if backend == "sqlite":
        # No row locks in SQLite: a transaction that read a row another one
        # then wrote is refused, never allowed to overwrite it.
        assert set(statuses) <= {200, 503}
        assert balance == statuses.count(200)
    else:
        assert statuses == [200] * 5
        assert sorted(response.json()["balance"] for response in responses) == [1, 2, 3, 4, 5]
        assert balance == 5


def test_pagination(make: Make, mode: str) -> None:
    app, db = make()
    with db.session() as session, session.begin():
        session.add_all(Label(name=f"label-{n:02}") for n in range(1, 8))
    with TestClient(app) as client:
        page = client.get(f"/{mode}/labels?page=2&per_page=3").json()
        assert page["items"] == ["label-04", "label-05", "label-06"]
        assert (page["total"], page["page"], page["per_page"], page["pages"]) == (7, 2, 3, 3)
        base = f"http://testserver/{mode}/labels"
        assert page["links"] == {
            "self": f"{base}?page=2&per_page=3",
            "first": f"{base}?page=1&per_page=3",
            "prev": f"{base}?page=1&per_page=3",
            "next": f"{base}?page=3&per_page=3",
            "last": f"{base}?page=3&per_page=3",
        }
        last = client.get(f"/{mode}/labels?page=3&per_page=3").json()
        assert last["items"] == ["label-07"]
        assert last["links"]["next"] is None
        exact = client.get(f"/{mode}/labels?page=1&per_page=7").json()
        assert (len(exact["items"]), exact["pages"], exact["links"]["next"]) == (7, 1, None)
        default = client.get(f"/{mode}/labels").json()
        assert (default["page"], default["per_page"], len(default["items"])) == (1, 20, 7)

        past = client.get(f"/{mode}/labels?page=4&per_page=3")
        assert past.status_code == 404
        assert past.json()["detail"] == "There is no page 4: the last page is 3."
        for query, location in [
            ("page=0", "query.page"),
            ("page=-1", "query.page"),
            ("page=abc", "query.page"),
            ("page=1e3", "query.page"),
            ("per_page=0", "query.per_page"),
            ("per_page=101", "query.per_page"),
            ("per_page=x", "query.per_page"),
        ]:
            response = client.get(f"/{mode}/labels?{query}")
            assert response.status_code == 422, query
            assert [e["location"] for e in response.json()["errors"]] == [location]


def test_pagination_of_an_empty_table(make: Make, mode: str) -> None:
    app, _ = make()
    with TestClient(app) as client:
        page = client.get(f"/{mode}/labels").json()
        assert (page["items"], page["total"], page["pages"]) == ([], 0, 1)
        assert client.get(f"/{mode}/labels?page=2").status_code == 404
