from __future__ import annotations

import sys

import pytest

from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit import Backend, MemoryBackend, RedisBackend, Usage
from carboy.ratelimit.backends import backend_from_url
from tests.ratelimit.conftest import FakeClock

pytestmark = pytest.mark.anyio


async def test_hits_are_allowed_up_to_the_limit_then_refused(backend: MemoryBackend) -> None:
    usages = [await backend.hit("k", 3, 60) for _ in range(4)]

    assert [(u.count, u.remaining, u.allowed) for u in usages] == [
        (1, 2, True),
        (2, 1, True),
        (3, 0, True),
        (4, 0, False),
    ]
    assert {u.reset_after for u in usages} == {60.0}


async def test_the_window_starts_at_the_first_hit_and_ends_after_its_length(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    await backend.hit("k", 2, 60)
    clock.advance(45)
    second = await backend.hit("k", 2, 60)
    clock.advance(14.5)
    third = await backend.hit("k", 2, 60)
    clock.advance(0.5)
    after = await backend.hit("k", 2, 60)

    assert (second.count, second.reset_after) == (2, 15.0)
    assert (third.count, third.allowed, third.reset_after, third.retry_after) == (3, False, 0.5, 1)
    assert (after.count, after.allowed, after.reset_after) == (1, True, 60.0)


async def test_keys_count_apart(backend: MemoryBackend) -> None:
    await backend.hit("a", 1, 60)
    refused = await backend.hit("a", 1, 60)
    other = await backend.hit("b", 1, 60)

    assert (refused.allowed, other.allowed) == (False, True)


async def test_reset_forgets_a_count(backend: MemoryBackend) -> None:
    await backend.hit("a", 1, 60)
    await backend.hit("a", 1, 60)

    await backend.reset("a")

    assert (await backend.hit("a", 1, 60)).count == 1


async def test_ended_windows_are_pruned(backend: MemoryBackend, clock: FakeClock) -> None:
    for number in range(1000):
        await backend.hit(f"client-{number}", 5, 60)
    await backend.hit("hourly", 5, 3600)
    clock.advance(60)

    await backend.hit("newcomer", 5, 60)

    assert len(backend) == 2


async def test_a_key_reset_and_hit_again_keeps_its_new_window(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    await backend.hit("a", 5, 60)
    clock.advance(30)
    await backend.reset("a")
    await backend.hit("a", 5, 60)
    clock.advance(30)

    usage = await backend.hit("a", 5, 60)

    assert (usage.count, usage.reset_after) == (2, 30.0)


async def test_past_max_keys_the_windows_nearest_their_end_are_dropped(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock, max_keys=2)
    await backend.hit("first", 5, 60)
    clock.advance(1)
    await backend.hit("second", 5, 60)
    await backend.hit("second", 5, 60)

    await backend.hit("third", 5, 60)

    assert len(backend) == 2
    assert (await backend.hit("second", 5, 60)).count == 3
    assert (await backend.hit("first", 5, 60)).count == 1


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError) as caught:
        MemoryBackend(max_keys=0)

    assert str(caught.value) == "max_keys must be 1 or more, not 0."


def test_the_backends_are_backends() -> None:
    assert isinstance(MemoryBackend(), Backend)
    assert isinstance(RedisBackend("redis://127.0.0.1:6379/0"), Backend)


@pytest.mark.parametrize(
    ("reset_after", "retry_after"), [(60.0, 60), (59.2, 60), (0.2, 1), (0.0, 1), (1.0, 1)]
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    reset_after: float, retry_after: int
) -> None:
    assert Usage(6, 5, 60, reset_after).retry_after == retry_after


def test_usage_headers_follow_the_ietf_draft() -> None:
    usage = Usage(2, 5, 600, 42.3)

    assert usage.headers() == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "3",
        "RateLimit-Reset": "43",
        "RateLimit-Policy": "5;w=600",
    }


def test_a_memory_url_makes_a_memory_backend() -> None:
    assert isinstance(backend_from_url("memory://"), MemoryBackend)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache.example.com:6380/1", "unix:///run/r.sock"]
)
def test_redis_urls_make_a_redis_backend(url: str) -> None:
    backend = backend_from_url(url)

    assert isinstance(backend, RedisBackend)
    assert backend.prefix == "carboy:ratelimit:"


FIX = (
    "Set it to memory:// (counts in each process) or redis://host:6379/0 (counts shared by "
    "every process)."
)


def test_an_unknown_scheme_is_named_and_the_url_is_not_shown() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        backend_from_url("memcached://user:s3cret@cache:11211")

    assert str(caught.value) == (
        "The rate limit URL (the setting CARBOY_RATELIMIT_URL) has the scheme 'memcached', "
        f"which names no rate limit backend. {FIX}"
    )


@pytest.mark.parametrize("url", ["", "localhost:6379", "s3cret", "a b://host", "://host"])
def test_a_value_that_is_not_a_url_is_refused_without_being_shown(url: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        backend_from_url(url)

    assert str(caught.value) == (
        f"The rate limit URL (the setting CARBOY_RATELIMIT_URL) is not a URL. {FIX}"
    )


def test_a_redis_url_redis_cannot_read_is_refused_without_its_password() -> None:
    # The password, with no host after it, reads as a port.
    with pytest.raises(ImproperlyConfigured) as caught:
        backend_from_url("redis://admin:s3cret/0")

    assert "s3cret" not in str(caught.value)
    assert str(caught.value) == (
        "The Redis URL (the setting CARBOY_RATELIMIT_URL) cannot be read. Give one such as "
        "redis://localhost:6379/0, with rediss:// for TLS."
    )


def test_a_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)

    with pytest.raises(ImproperlyConfigured) as caught:
        RedisBackend("redis://127.0.0.1:6379/0")

    assert str(caught.value) == (
        "The Redis rate limit backend (the url given to RedisBackend()) needs the redis "
        "package, which is not installed. Install it: pip install 'carboy[redis]'."
    )
