"""The Redis backend against a real Redis, in one process and shared by two servers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from carboy import Carboy
from carboy.config import Settings
from carboy.ratelimit import RateLimits, RedisBackend, limit
from carboy.testing import TestClient
from tests._services import redis_url

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


@pytest.fixture
def url() -> str:
    return redis_url()


@pytest.fixture
def prefix(url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"carboy:test:{uuid.uuid4().hex}:"
    yield prefix
    delete_keys(url, prefix + "*")


@pytest.fixture
def raw(url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def backend(url: str, prefix: str) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend(url, prefix=prefix)
    yield backend
    await backend.close()


def delete_keys(url: str, pattern: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.anyio
async def test_hits_are_counted_in_redis_and_refused_past_the_limit(
    backend: RedisBackend, raw: redis.Redis, prefix: str
) -> None:
    usages = [await backend.hit("k", 3, 60) for _ in range(4)]

    assert [(u.count, u.remaining, u.allowed) for u in usages] == [
        (1, 2, True),
        (2, 1, True),
        (3, 0, True),
        (4, 0, False),
    ]
    assert all(59 < u.reset_after <= 60 for u in usages)
    assert raw.get(prefix + "k") == "4"
    assert 59_000 < raw.pttl(prefix + "k") <= 60_000


@pytest.mark.anyio
async def test_the_count_starts_again_when_the_key_expires(
    backend: RedisBackend, raw: redis.Redis, prefix: str
) -> None:
    await backend.hit("k", 1, 60)
    await backend.hit("k", 1, 60)
    raw.pexpire(prefix + "k", 20)
    await asyncio.sleep(0.1)

    usage = await backend.hit("k", 1, 60)

    assert (usage.count, usage.allowed) == (1, True)
    assert 59 < usage.reset_after <= 60


@pytest.mark.anyio
async def test_a_counter_left_without_an_expiry_gets_one(
    backend: RedisBackend, raw: redis.Redis, prefix: str
) -> None:
    raw.set(prefix + "k", 7)

    usage = await backend.hit("k", 10, 30)

    assert usage.count == 8
    assert 29_000 < raw.pttl(prefix + "k") <= 30_000


@pytest.mark.anyio
async def test_reset_deletes_the_counter(
    backend: RedisBackend, raw: redis.Redis, prefix: str
) -> None:
    await backend.hit("k", 1, 60)

    await backend.reset("k")

    assert raw.exists(prefix + "k") == 0
    assert (await backend.hit("k", 1, 60)).count == 1


@pytest.mark.anyio
async def test_concurrent_hits_are_counted_atomically(backend: RedisBackend) -> None:
    usages = await asyncio.gather(*(backend.hit("k", 5, 60) for _ in range(50)))

    assert sorted(u.count for u in usages) == list(range(1, 51))
    assert sum(u.allowed for u in usages) == 5


@pytest.mark.anyio
async def test_a_closed_backend_reconnects_on_the_next_hit(backend: RedisBackend) -> None:
    await backend.hit("k", 5, 60)
    await backend.close()

    assert (await backend.hit("k", 5, 60)).count == 2


def test_an_app_counts_in_redis_and_keys_stay_short_whatever_the_client_sends(
    url: str, prefix: str, raw: redis.Redis
) -> None:
    app = Carboy(extensions=[RateLimits(RedisBackend(url, prefix=prefix))])

    @app.get("/search")
    @limit("2/minute", key=lambda connection: connection.headers.get("x-key", ""))
    async def search() -> str:
        return "found"

    hostile = ["x" * 8000, "\u2603 snow*man?[a-z]", "carboy:ratelimit:*", "", "a\\b\"c'd"]
    with TestClient(app) as client:
        statuses = {
            key: [
                client.get("/search", headers={b"x-key": key.encode()}).status_code
                for _ in range(3)
            ]
            for key in hostile
        }
        plain = client.get("/search", headers={"x-key": "10.1.2.3"})

    assert statuses == {key: [200, 200, 429] for key in hostile}
    assert plain.headers["ratelimit-remaining"] == "1"
    keys = sorted(raw.scan_iter(match=prefix + "*"))
    assert len(keys) == len(hostile) + 1
    assert max(len(key) for key in keys) <= len(prefix) + 200
    name = "tests.ratelimit.test_redis." + (
        "test_an_app_counts_in_redis_and_keys_stay_short_whatever_the_client_sends.<locals>.search"
    )
    assert f"{prefix}{name}:2/60:10.1.2.3" in keys


def test_the_setting_points_the_battery_at_redis(url: str, raw: redis.Redis) -> None:
    scope = f"test-{uuid.uuid4().hex}"
    app = Carboy(extensions=[RateLimits()], settings=Settings(ratelimit_url=url))

    @app.get("/")
    @limit("1/minute", scope=scope)
    async def home() -> str:
        return "home"

    try:
        with TestClient(app) as client:
            statuses = [client.get("/").status_code for _ in range(2)]

        assert statuses == [200, 429]
        assert raw.get(f"carboy:ratelimit:{scope}:1/60:testclient") == "2"
    finally:
        delete_keys(url, f"carboy:ratelimit:{scope}:*")


def test_the_key_prefix_setting_keeps_two_sites_on_one_redis_apart(
    url: str, raw: redis.Redis, prefix: str
) -> None:
    def site(key_prefix: str) -> Carboy:
        settings = Settings(ratelimit_url=url, ratelimit_key_prefix=key_prefix)
        app = Carboy(extensions=[RateLimits()], settings=settings)

        @app.get("/")
        @limit("1/minute", scope="home")
        async def home() -> str:
            return "home"

        return app

    with TestClient(site(prefix + "one:")) as one, TestClient(site(prefix + "two:")) as two:
        statuses = [one.get("/").status_code, one.get("/").status_code, two.get("/").status_code]

    assert statuses == [200, 429, 200]
    assert raw.get(f"{prefix}one:home:1/60:testclient") == "2"
    assert raw.get(f"{prefix}two:home:1/60:testclient") == "1"


SERVED_APP = """
import os

from carboy import Carboy
from carboy.ratelimit import RateLimits, limit

app = Carboy(extensions=[RateLimits()])


@app.get("/health")
async def health() -> str:
    return "ok"


@app.get("/ping")
@limit("4/minute", scope={scope!r})
async def ping() -> dict[str, int]:
    return {{"pid": os.getpid()}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(app_dir: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "served_app:app",
        "--app-dir",
        str(app_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as output:
        return subprocess.Popen(
            command, cwd=app_dir, env=env, stdout=output, stderr=subprocess.STDOUT
        )


def wait_until_serving(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The server at {base} exited:\n{log.read_text()}", pytrace=False)
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"The server at {base} did not start in {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def test_two_server_processes_share_one_limit_through_redis(url: str, tmp_path: Path) -> None:
    scope = f"test-{uuid.uuid4().hex}"
    (tmp_path / "served_app.py").write_text(textwrap.dedent(SERVED_APP.format(scope=scope)))
    env = {**os.environ, "CARBOY_RATELIMIT_URL": url}
    env.pop("CARBOY_DEBUG", None)
    servers: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for number in range(2):
            port = free_port()
            log = tmp_path / f"server-{number}.log"
            servers.append((serve(tmp_path, port, env, log), f"http://127.0.0.1:{port}", log))
        for process, base, log in servers:
            wait_until_serving(process, base, log)

        with httpx.Client(timeout=5.0) as client:
            responses = [client.get(f"{servers[n % 2][1]}/ping") for n in range(6)]
    finally:
        for process, _, _ in servers:
            stop(process)
        delete_keys(url, f"carboy:ratelimit:{scope}:*")

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429, 429]
    assert len({r.json()["pid"] for r in responses[:4]}) == 2
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["3", "2", "1", "0", "0", "0"]
    assert (
        responses[5]
        .json()["detail"]
        .startswith("Too many requests: the limit here is 4 per minute. Try again in ")
    )
