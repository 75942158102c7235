"""Conduit's own tests: every endpoint, its status codes and errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from sqlalchemy import event

from carboy.config import Settings
from carboy.db.migrations import upgrade
from carboy.testing import TestClient
from examples.conduit.app import create_app
from tests._services import fresh_database

JSON = dict[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own, migrated by the test's app."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'conduit.sqlite3'}"
        return
    with fresh_database("postgresql", prefix="conduit") as url:
        yield url


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(database_url, Settings(secret_key="conduit-tests"))  # type: ignore[arg-type]
    upgrade(app.extensions["db"])  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client
    app.extensions["db"].engine.dispose()  # type: ignore[attr-defined]


def register(client: TestClient, name: str) -> str:
    response = client.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@example.com", "password": "secret"}},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["user"]["token"]
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def write(client: TestClient, token: str, title: str, tags: list[str] | None = None) -> JSON:
    article = {
        "title": title,
        "description": "About it",
        "body": "It is so.",
        "tagList": tags or [],
    }
    response = client.post("/api/articles", json={"article": article}, headers=auth(token))
    assert response.status_code == 201, response.text
    found: JSON = response.json()["article"]
    return found


# Users ----------------------------------------------------------------------------------


def test_registration_answers_the_user_with_a_token_that_signs_in(client: TestClient) -> None:
    response = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "Jake@Example.com", "password": "jakejake"}},
    )

    assert response.status_code == 201
    user = response.json()["user"]
    assert {key: user[key] for key in ("email", "username", "bio", "image")} == {
        "email": "jake@example.com",
        "username": "jake",
        "bio": None,
        "image": None,
    }
    me = client.get("/api/user", headers=auth(user["token"]))
    assert me.status_code == 200
    assert me.json()["user"] == user


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"username": "jake", "email": "other@example.com", "password": "x"}, "username"),
        ({"username": "other", "email": "JAKE@example.com", "password": "x"}, "email"),
    ],
)
def test_a_taken_username_or_email_is_a_409_naming_it(
    client: TestClient, user: JSON, field: str
) -> None:
    register(client, "jake")

    response = client.post("/api/users", json={"user": user})

    assert response.status_code == 409
    assert response.json() == {"errors": {field: ["has already been taken"]}}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"user": {"username": "jake", "password": "x"}}, {"email": ["Field required"]}),
        ({"user": {"username": "", "email": "a@b.c", "password": "x"}}, None),
        ({"user": {"username": "j k", "email": "a@b.c", "password": "x"}}, None),
        ({"user": {"username": "jake", "email": "not-an-email", "password": "x"}}, None),
        ({"username": "jake"}, {"user": ["Field required"]}),
    ],
)
def test_invalid_registrations_are_422_naming_the_field(
    client: TestClient, body: JSON, errors: JSON | None
) -> None:
    response = client.post("/api/users", json=body)

    assert response.status_code == 422
    found = response.json()["errors"]
    if errors is not None:
        assert found == errors
    else:
        assert len(found) == 1 and next(iter(found)) in ("username", "email")


def test_malformed_json_is_a_422_and_nothing_is_made(client: TestClient) -> None:
    response = client.post(
        "/api/users", content=b'{"user": {', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert "errors" in response.json()
    assert client.get("/api/profiles/jake").status_code == 404


def test_login_answers_a_token_and_a_wrong_password_is_401(client: TestClient) -> None:
    register(client, "jake")

    good = client.post(
        "/api/users/login", json={"user": {"email": "JAKE@example.com", "password": "secret"}}
    )
    bad = client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": "nope"}}
    )

    assert good.status_code == 200
    assert client.get("/api/user", headers=auth(good.json()["user"]["token"])).status_code == 200
    assert bad.status_code == 401
    assert bad.json() == {"errors": {"credentials": ["invalid"]}}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "is missing"),
        ({"Authorization": "Token not-a-token"}, "is invalid"),
        ({"Authorization": "Token ' OR 1=1 --"}, "is invalid"),
    ],
)
def test_without_a_valid_token_the_current_user_is_401(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    response = client.get("/api/user", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": [message]}}


def test_updating_the_user_changes_what_is_sent_and_the_password(client: TestClient) -> None:
    token = register(client, "jake")

    response = client.put(
        "/api/user",
        json={
            "user": {
                "bio": "I like to skateboard",
                "image": "https://i.example/j.png",
                "password": "new password",
            }
        },
        headers=auth(token),
    )

    assert response.status_code == 200
    user = response.json()["user"]
    assert (user["bio"], user["image"], user["token"]) == (
        "I like to skateboard",
        "https://i.example/j.png",
        token,
    )
    login = client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": "new password"}}
    )
    assert login.status_code == 200
    register(client, "anna")
    taken = client.put("/api/user", json={"user": {"username": "anna"}}, headers=auth(token))
    assert taken.status_code == 409
    assert taken.json() == {"errors": {"username": ["has already been taken"]}}


# Profiles -------------------------------------------------------------------------------


def test_following_shows_in_the_profile_and_unfollowing_undoes_it(client: TestClient) -> None:
    token = register(client, "jake")
    register(client, "anna")

    followed = client.post("/api/profiles/anna/follow", headers=auth(token))
    again = client.post("/api/profiles/anna/follow", headers=auth(token))
    seen = client.get("/api/profiles/anna", headers=auth(token))
    anonymous = client.get("/api/profiles/anna")
    unfollowed = client.delete("/api/profiles/anna/follow", headers=auth(token))

    expected = {"username": "anna", "bio": None, "image": None, "following": True}
    assert (followed.status_code, followed.json()["profile"]) == (200, expected)
    assert again.json()["profile"] == expected
    assert seen.json()["profile"] == expected
    assert anonymous.json()["profile"]["following"] is False
    assert unfollowed.json()["profile"]["following"] is False


def test_unknown_profiles_are_404_and_following_needs_a_token(client: TestClient) -> None:
    register(client, "anna")

    missing = client.get("/api/profiles/nobody")
    anonymous = client.post("/api/profiles/anna/follow")

    assert missing.status_code == 404
    assert missing.json() == {"errors": {"profile": ["not found"]}}
    assert anonymous.status_code == 401
    assert anonymous.json() == {"errors": {"token": ["is missing"]}}


# Articles -------------------------------------------------------------------------------


def test_an_article_gets_a_slug_from_its_title_and_reads_back(client: TestClient) -> None:
    token = register(client, "jake")

    article = write(client, token, "How to train your dragon", ["dragons", "training"])
    second = write(client, token, "How to train your dragon")
    read = client.get(f"/api/articles/{article['slug']}")

    assert article["slug"] == "how-to-train-your-dragon"
    assert second["slug"] == "how-to-train-your-dragon-2"
    assert read.status_code == 200
    body = read.json()["article"]
    assert {key: body[key] for key in ("title", "description", "body", "tagList")} == {
        "title": "How to train your dragon",
        "description": "About it",
        "body": "It is so.",
        "tagList": ["dragons", "training"],
    }
    assert (body["favorited"], body["favoritesCount"]) == (False, 0)
    assert body["author"] == {"username": "jake", "bio": None, "image": None, "following": False}
    assert client.get("/api/articles/no-such-slug").json() == {"errors": {"article": ["not found"]}}


def test_only_the_author_changes_or_deletes_an_article(client: TestClient) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    slug = write(client, jake, "Dragons")["slug"]

    forbidden = client.put(
        f"/api/articles/{slug}", json={"article": {"body": "Mine now"}}, headers=auth(anna)
    )
    not_deleted = client.delete(f"/api/articles/{slug}", headers=auth(anna))
    renamed = client.put(
        f"/api/articles/{slug}", json={"article": {"title": "Tamed dragons"}}, headers=auth(jake)
    )
    deleted = client.delete("/api/articles/tamed-dragons", headers=auth(jake))

    assert forbidden.status_code == 403
    assert forbidden.json() == {"errors": {"article": ["forbidden"]}}
    assert not_deleted.status_code == 403
    assert renamed.status_code == 200
    assert renamed.json()["article"]["slug"] == "tamed-dragons"
    assert deleted.status_code == 204
    assert client.get("/api/articles/tamed-dragons").status_code == 404


def test_article_lists_filter_page_and_count_everything_matching(client: TestClient) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    for number in range(1, 6):
        write(client, jake, f"Jake {number}", ["dragons"] if number % 2 else ["cats"])
    write(client, anna, "Anna 1", ["dragons"])
    client.post("/api/articles/jake-2/favorite", headers=auth(anna))

    everything = client.get("/api/articles").json()
    page = client.get("/api/articles?limit=2&offset=1").json()
    by_tag = client.get("/api/articles?tag=dragons").json()
    by_author = client.get("/api/articles?author=anna").json()
    by_favorite = client.get("/api/articles?favorited=anna").json()

    assert [a["slug"] for a in everything["articles"]] == [
        "anna-1",
        "jake-5",
        "jake-4",
        "jake-3",
        "jake-2",
        "jake-1",
    ]
    assert "body" not in everything["articles"][0]
    assert everything["articlesCount"] == 6
    assert ([a["slug"] for a in page["articles"]], page["articlesCount"]) == (
        ["jake-5", "jake-4"],
        6,
    )
    assert [a["slug"] for a in by_tag["articles"]] == ["anna-1", "jake-5", "jake-3", "jake-1"]
    assert by_tag["articlesCount"] == 4
    assert [a["slug"] for a in by_author["articles"]] == ["anna-1"]
    assert [a["slug"] for a in by_favorite["articles"]] == ["jake-2"]
    assert by_favorite["articles"][0]["favoritesCount"] == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=101", "offset=-1"])
def test_bad_paging_is_a_422(client: TestClient, query: str) -> None:
    response = client.get(f"/api/articles?{query}")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [query.split("=")[0]]


@pytest.mark.parametrize("value", ["' OR 1=1 --", "%", "<script>alert(1)</script>"])
def test_hostile_filters_find_nothing(client: TestClient, value: str) -> None:
    write(client, register(client, "jake"), "Dragons", ["dragons"])

    for name in ("tag", "author", "favorited"):
        response = client.get("/api/articles", params={name: value})
        assert response.status_code == 200
        assert response.json() == {"articles": [], "articlesCount": 0}


def test_the_feed_holds_the_articles_of_followed_users(client: TestClient) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    register(client, "bob")
    write(client, anna, "Anna writes")
    client.post("/api/profiles/anna/follow", headers=auth(jake))
    bob_token = client.post(
        "/api/users/login", json={"user": {"email": "bob@example.com", "password": "secret"}}
    ).json()["user"]["token"]
    write(client, bob_token, "Bob writes")

    feed = client.get("/api/articles/feed", headers=auth(jake))

    assert feed.status_code == 200
    assert [a["slug"] for a in feed.json()["articles"]] == ["anna-writes"]
    assert feed.json()["articles"][0]["author"]["following"] is True
    assert client.get("/api/articles/feed").status_code == 401


def test_favorites_count_every_user_and_unfavoriting_undoes_one(client: TestClient) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    slug = write(client, jake, "Dragons")["slug"]

    first = client.post(f"/api/articles/{slug}/favorite", headers=auth(jake))
    client.post(f"/api/articles/{slug}/favorite", headers=auth(jake))
    second = client.post(f"/api/articles/{slug}/favorite", headers=auth(anna))
    undone = client.delete(f"/api/articles/{slug}/favorite", headers=auth(jake))

    assert (first.json()["article"]["favorited"], first.json()["article"]["favoritesCount"]) == (
        True,
        1,
    )
    assert second.json()["article"]["favoritesCount"] == 2
    assert (undone.json()["article"]["favorited"], undone.json()["article"]["favoritesCount"]) == (
        False,
        1,
    )


def test_comments_are_added_listed_and_deleted_by_their_author_only(client: TestClient) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    slug = write(client, jake, "Dragons")["slug"]

    added = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": "Nice"}}, headers=auth(anna)
    )
    listed = client.get(f"/api/articles/{slug}/comments")
    ident = added.json()["comment"]["id"]
    forbidden = client.delete(f"/api/articles/{slug}/comments/{ident}", headers=auth(jake))
    missing = client.delete(f"/api/articles/{slug}/comments/999", headers=auth(anna))
    deleted = client.delete(f"/api/articles/{slug}/comments/{ident}", headers=auth(anna))

    assert added.status_code == 201
    assert added.json()["comment"]["body"] == "Nice"
    assert added.json()["comment"]["author"]["username"] == "anna"
    assert [c["id"] for c in listed.json()["comments"]] == [ident]
    assert forbidden.status_code == 403
    assert forbidden.json() == {"errors": {"comment": ["forbidden"]}}
    assert missing.status_code == 404
    assert missing.json() == {"errors": {"comment": ["not found"]}}
    assert deleted.status_code == 204
    assert client.get(f"/api/articles/{slug}/comments").json() == {"comments": []}
    empty = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": ""}}, headers=auth(anna)
    )
    assert empty.status_code == 422
    assert list(empty.json()["errors"]) == ["body"]


def test_tags_lists_the_tags_in_use(client: TestClient) -> None:
    token = register(client, "jake")
    write(client, token, "One", ["dragons", "cats"])
    write(client, token, "Two", ["dragons"])

    assert client.get("/api/tags").json() == {"tags": ["cats", "dragons"]}


@pytest.mark.anyio
async def test_articles_posted_at_once_with_one_new_tag_all_succeed_and_share_it(
    database_url: str,
) -> None:
    app = create_app(database_url, Settings(secret_key="conduit-tests"))  # type: ignore[arg-type]
    upgrade(app.extensions["db"])  # type: ignore[arg-type]
    async with TestClient(app) as client:
        registered = await client.post(
            "/api/users",
            json={"user": {"username": "jake", "email": "jake@example.com", "password": "x"}},
        )
        token = registered.json()["user"]["token"]

        async def post(number: int) -> int:
            article = {
                "title": f"Race {number}",
                "description": "About it",
                "body": "It is so.",
                "tagList": ["fresh", f"own-{number}"],
            }
            response = await client.post(
                "/api/articles", json={"article": article}, headers=auth(token)
            )
            return response.status_code

        statuses = await asyncio.gather(*(post(number) for number in range(20)))
        tagged = await client.get("/api/articles?tag=fresh&limit=100")
        tags = await client.get("/api/tags")

    # SQLite takes one writer at a time and refuses a transaction that read
    # before another wrote (503, to be retried); none fails on the tag.
    if database_url.startswith("sqlite"):
        assert set(statuses) <= {201, 503}
    else:
        assert statuses == [201] * 20
    assert tagged.json()["articlesCount"] == statuses.count(201)
    assert tags.json()["tags"].count("fresh") == 1


def test_an_article_list_costs_the_same_queries_for_2_articles_as_for_12(
    client: TestClient,
) -> None:
    jake = register(client, "jake")
    anna = register(client, "anna")
    engine = client.app.extensions["db"].async_engine.sync_engine  # type: ignore[attr-defined]

    def selects() -> int:
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get("/api/articles", headers=auth(anna))
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert response.status_code == 200
        return sum(s.lstrip().upper().startswith("SELECT") for s in statements)

    for number in range(2):
        write(client, jake, f"First {number}", ["a", "b"])
    few = selects()
    for number in range(10):
        write(client, anna if number % 2 else jake, f"More {number}", ["c"])
    client.post("/api/articles/more-1/favorite", headers=auth(jake))

    assert selects() == few


def test_the_openapi_document_describes_the_api_and_docs_are_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    assert document["info"]["title"] == "Conduit"
    assert {
        "/api/users/login",
        "/api/users",
        "/api/user",
        "/api/profiles/{username}",
        "/api/profiles/{username}/follow",
        "/api/articles/feed",
        "/api/articles",
        "/api/articles/{slug}",
        "/api/articles/{slug}/comments",
        "/api/articles/{slug}/comments/{comment_id}",
        "/api/articles/{slug}/favorite",
        "/api/tags",
    } <= set(document["paths"])
    assert document["components"]["securitySchemes"]["Token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "'Token <token>', the token that registration and login answer with.",
    }
    assert client.get("/docs").status_code == 200


# The contract, checked by schemathesis ------------------------------------------------------

MAX_EXAMPLES = 15


def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'fuzz.sqlite3'}", Settings(secret_key="conduit-fuzz"))  # type: ignore[arg-type]
    upgrade(app.extensions["db"])  # type: ignore[arg-type]
    with TestClient(app) as client:
        token = register(client, "fuzzer")
        write(client, token, "Fuzzed", ["fuzz"])
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 19
        for operation in operations:

            @hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=auth(token), checks=[not_a_server_error], timeout=10)

            check()
    app.extensions["db"].engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_following_and_favoriting_at_once_all_succeed_and_count_once(
    database_url: str,
) -> None:
    app = create_app(database_url, Settings(secret_key="conduit-tests"))  # type: ignore[arg-type]
    upgrade(app.extensions["db"])  # type: ignore[arg-type]
    async with TestClient(app) as client:
        tokens = []
        for name in ("jake", "anna"):
            registered = await client.post(
                "/api/users",
                json={"user": {"username": name, "email": f"{name}@example.com", "password": "x"}},
            )
            tokens.append(registered.json()["user"]["token"])
        jake, anna = tokens
        article = {"title": "Liked", "description": "d", "body": "b"}
        posted = await client.post("/api/articles", json={"article": article}, headers=auth(jake))
        slug = posted.json()["article"]["slug"]

        follows = await asyncio.gather(
            *(client.post("/api/profiles/jake/follow", headers=auth(anna)) for _ in range(10))
        )
        favorites = await asyncio.gather(
            *(client.post(f"/api/articles/{slug}/favorite", headers=auth(anna)) for _ in range(10))
        )
        profile = await client.get("/api/profiles/jake", headers=auth(anna))
        liked = await client.get(f"/api/articles/{slug}", headers=auth(anna))

    statuses = [response.status_code for response in follows + favorites]
    if database_url.startswith("sqlite"):
        # One writer at a time: a transaction that read before another wrote is a 503.
        assert set(statuses) <= {200, 503} and 200 in statuses
    else:
        assert statuses == [200] * 20
    assert profile.json()["profile"]["following"] is True
    assert (liked.json()["article"]["favorited"], liked.json()["article"]["favoritesCount"]) == (
        True,
        1,
    )
