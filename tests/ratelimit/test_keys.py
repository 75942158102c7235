from __future__ import annotations

from typing import Any

import pytest

from carboy.ratelimit import by_ip, by_user
from carboy.ratelimit.keys import key_of, storage_key
from carboy.ratelimit.rates import parse_rate
from carboy.requests import HTTPConnection


class User:
    def __init__(self, user_id: Any, is_authenticated: bool) -> None:
        self.id = user_id
        self.is_authenticated = is_authenticated


def connection(**scope: Any) -> HTTPConnection:
    return HTTPConnection({"type": "http", "headers": [], **scope}, _never, _never)


async def _never(*_: Any) -> Any:
    raise AssertionError("not called")


def test_by_ip_is_the_address_the_server_saw() -> None:
    forwarded = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-real-ip", b"198.51.100.2")]

    assert by_ip(connection(client=("203.0.113.9", 5000), headers=forwarded)) == "203.0.113.9"
    assert by_ip(connection(client=("::1", 5000))) == "::1"


def test_by_ip_of_a_client_without_an_address_is_unknown() -> None:
    assert by_ip(connection(client=None)) == "unknown"
    assert by_ip(connection()) == "unknown"


def test_by_user_is_the_signed_in_users_id() -> None:
    signed_in = connection(client=("203.0.113.9", 1), user=User(42, True))

    assert by_user(signed_in) == "user:42"


@pytest.mark.parametrize(
    "user", [None, User(None, False), User(7, False), User(None, True), object()]
)
def test_by_user_falls_back_to_the_address(user: Any) -> None:
    extra = {} if user is None else {"user": user}

    assert by_user(connection(client=("203.0.113.9", 1), **extra)) == "203.0.113.9"


@pytest.mark.anyio
async def test_key_of_awaits_async_key_functions() -> None:
    async def by_header(connection: HTTPConnection) -> str:
        return connection.headers.get("x-team", "")

    value = await key_of(by_header, connection(headers=[(b"x-team", b"red")]))

    assert value == "red"


def test_plain_keys_are_stored_as_they_are() -> None:
    rate = parse_rate("5/minute")

    assert storage_key("auth.login", rate, "203.0.113.9") == "auth.login:5/60:203.0.113.9"
    assert storage_key("api", rate, "::1") == "api:5/60:::1"
    assert storage_key("api", rate, "user:42") == "api:5/60:user:42"


@pytest.mark.parametrize(
    "value",
    ["a@example.com", "x" * 65, "", "two words", "caf\u00e9", "\udcff", "sha256-" + "0" * 64],
)
def test_other_keys_are_stored_as_their_sha256(value: str) -> None:
    key = storage_key("api", parse_rate("5/minute"), value)

    assert key.startswith("api:5/60:sha256-")
    assert len(key) == len("api:5/60:sha256-") + 64


def test_the_rate_keeps_two_limits_of_one_scope_apart() -> None:
    assert storage_key("api", parse_rate("5/minute"), "k") != storage_key(
        "api", parse_rate("100/day"), "k"
    )
