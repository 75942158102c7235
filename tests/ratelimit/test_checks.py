from __future__ import annotations

import sys

import pytest

from carboy import Carboy
from carboy.checks import CheckMessage, run_checks
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit import MemoryBackend, RateLimits, RedisBackend
from carboy.testing import TestClient

SECRET = "s3cr3t-pa55"


def start(app: Carboy) -> str:
    with pytest.raises(ImproperlyConfigured) as caught, TestClient(app):
        pass
    message = str(caught.value)
    assert SECRET not in message
    return message


def ratelimit_messages(app: Carboy, *, deploy: bool = False) -> list[CheckMessage]:
    return [m for m in run_checks(app, deploy=deploy) if m.id.startswith("ratelimit.")]


def test_an_unusable_setting_stops_the_app_at_startup() -> None:
    settings = Settings(ratelimit_url=f"memcached://admin:{SECRET}@cache:11211")

    message = start(Carboy(extensions=[RateLimits()], settings=settings))

    assert message == (
        "carboy found 1 problem at startup:\n"
        "  ratelimit.E001: The rate limit URL (the setting CARBOY_RATELIMIT_URL) has the scheme "
        "'memcached', which names no rate limit backend. Set it to memory:// (counts in each "
        "process) or redis://host:6379/0 (counts shared by every process)."
    )


def test_a_redis_url_redis_cannot_read_stops_the_app_without_showing_it() -> None:
    settings = Settings(ratelimit_url=f"redis://admin:{SECRET}/0")

    message = start(Carboy(extensions=[RateLimits()], settings=settings))

    assert message == (
        "carboy found 1 problem at startup:\n"
        "  ratelimit.E001: The Redis URL (the setting CARBOY_RATELIMIT_URL) cannot be read. "
        "Give one such as redis://localhost:6379/0, with rediss:// for TLS."
    )


def test_a_missing_redis_package_stops_the_app_and_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    settings = Settings(ratelimit_url="redis://127.0.0.1:6379/0")

    message = start(Carboy(extensions=[RateLimits()], settings=settings))

    assert message == (
        "carboy found 1 problem at startup:\n"
        "  ratelimit.E001: The Redis rate limit backend (the setting CARBOY_RATELIMIT_URL) "
        "needs the redis package, which is not installed. Install it: "
        "pip install 'carboy[redis]'."
    )


def test_a_good_setup_has_no_problem() -> None:
    app = Carboy(extensions=[RateLimits()], settings=Settings(ratelimit_url="memory://"))

    assert ratelimit_messages(app) == []


def test_deploy_warns_that_memory_counts_are_per_process() -> None:
    app = Carboy(extensions=[RateLimits(MemoryBackend())])

    messages = ratelimit_messages(app, deploy=True)

    assert [str(m) for m in messages] == [
        "ratelimit.W001: Rate limits are counted in this process's memory: limits are per "
        "process, so a site served by several workers allows each client the limit once per "
        "worker. HINT: Use Redis when serving with several workers: set "
        "CARBOY_RATELIMIT_URL=redis://host:6379/0."
    ]
    assert messages[0].level == "warning"


def test_deploy_is_quiet_with_redis() -> None:
    app = Carboy(extensions=[RateLimits(RedisBackend("redis://127.0.0.1:6379/0"))])

    assert ratelimit_messages(app, deploy=True) == []


def test_deploy_leaves_a_bad_setting_to_e001() -> None:
    app = Carboy(extensions=[RateLimits()], settings=Settings(ratelimit_url="nonsense"))

    assert [m.id for m in ratelimit_messages(app, deploy=True)] == ["ratelimit.E001"]
