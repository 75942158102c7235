from __future__ import annotations

import pytest

from carboy import Carboy
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit import MemoryBackend, RateLimits, RedisBackend, Usage
from carboy.testing import TestClient


class SpyBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


def test_the_backend_given_is_used() -> None:
    backend = MemoryBackend()
    extension = RateLimits(backend)
    Carboy(extensions=[extension])

    assert extension.backend is backend


def test_with_no_backend_and_no_setting_counts_are_kept_in_memory() -> None:
    extension = RateLimits()
    Carboy(extensions=[extension], settings=Settings(ratelimit_url=None))

    assert isinstance(extension.backend, MemoryBackend)


def test_the_setting_chooses_the_backend() -> None:
    memory, redis = RateLimits(), RateLimits()
    Carboy(extensions=[memory], settings=Settings(ratelimit_url="memory://"))
    Carboy(extensions=[redis], settings=Settings(ratelimit_url="redis://127.0.0.1:6379/0"))

    assert isinstance(memory.backend, MemoryBackend)
    assert isinstance(redis.backend, RedisBackend)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_RATELIMIT_URL", "redis://127.0.0.1:6379/3")

    url = Settings().ratelimit_url
    assert url is not None
    assert url.get_secret_value() == "redis://127.0.0.1:6379/3"
    assert "6379" not in repr(Settings())


def test_the_backend_is_closed_at_shutdown() -> None:
    backend = SpyBackend()
    app = Carboy(extensions=[RateLimits(backend)])

    with TestClient(app):
        assert backend.closed == 0

    assert backend.closed == 1


def test_a_backend_that_is_not_one_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        RateLimits("redis://localhost")  # type: ignore[arg-type]

    assert str(caught.value) == (
        "RateLimits(backend='redis://localhost') is not a rate limit backend: it needs async "
        "hit(), reset() and close() methods. Give MemoryBackend(), RedisBackend(url), or leave "
        "it out to use the setting CARBOY_RATELIMIT_URL."
    )


def test_any_object_with_the_three_methods_is_a_backend() -> None:
    class Unlimited:
        async def hit(self, key: str, limit: int, window_seconds: int) -> Usage:
            return Usage(1, limit, window_seconds, float(window_seconds))

        async def reset(self, key: str) -> None:
            pass

        async def close(self) -> None:
            pass

    backend = Unlimited()

    assert RateLimits(backend).backend is backend
